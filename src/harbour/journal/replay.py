"""Replay and recovery: rebuild an engine from a journal, with or without a snapshot.

Owns the rules for turning journal records back into engine state:

* COMMAND records are decoded and applied with their recorded seq and ts_ns, never
  with fresh ones, so the engine sees exactly what it saw the first time.
* At each CHECKPOINT the engine's ``state_hash()`` must equal the recorded hash.
  ``replay`` reports mismatches; ``recover`` refuses to hand back a diverged engine.
* A snapshot is used only if its chain hash equals the chain hash of a journal
  record at the snapshot's seq: a snapshot taken from another history (or a journal
  that lost or rewrote records behind it) raises ``JournalCorrupt``.

Directory layout used by ``recover``: ``<dir>/journal.log`` and ``<dir>/snapshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harbour.journal.codec import CommandCodec
from harbour.journal.engine import Engine, EngineFactory
from harbour.journal.records import GENESIS_CHAIN_HASH, JournalRecord, RecordKind
from harbour.journal.snapshot import Snapshot, SnapshotStore
from harbour.journal.writer import FileJournal
from harbour.kernel.errors import InvariantBroken, JournalCorrupt

JOURNAL_FILE_NAME: Final = "journal.log"
SNAPSHOT_DIRECTORY_NAME: Final = "snapshots"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """What a full replay found."""

    commands_applied: int
    checkpoints_checked: int
    mismatched_seqs: tuple[int, ...]
    final_state_hash: str
    last_seq: int
    torn_tail_truncated: bool

    @property
    def is_consistent(self) -> bool:
        """Whether every checkpoint matched the replayed state."""
        return not self.mismatched_seqs


@dataclass(frozen=True, slots=True, kw_only=True)
class _Tally:
    commands_applied: int
    checkpoints_checked: int
    mismatched_seqs: tuple[int, ...]


def replay(
    path: str | os.PathLike[str], factory: EngineFactory, codec: CommandCodec
) -> ReplayReport:
    """Replay the journal at ``path`` into a fresh engine and check every checkpoint.

    Opens the journal as its writer would (so a torn tail is truncated, and a journal
    held open by a live writer raises ``JournalLocked``), then closes it.
    """
    engine = factory.new()
    with FileJournal.open(path) as journal:
        tally = _apply_records(engine, journal.records(), codec)
        return ReplayReport(
            commands_applied=tally.commands_applied,
            checkpoints_checked=tally.checkpoints_checked,
            mismatched_seqs=tally.mismatched_seqs,
            final_state_hash=engine.state_hash().hex(),
            last_seq=journal.last_seq,
            torn_tail_truncated=journal.torn_bytes_truncated > 0,
        )


def recover(
    directory: str | os.PathLike[str], factory: EngineFactory, codec: CommandCodec
) -> tuple[Engine, FileJournal, int]:
    """Rebuild the engine from the newest valid snapshot plus the journal tail.

    Returns the engine, the open journal (ready for a ``Sequencer``) and the last seq.
    Creates an empty journal when the directory holds neither journal nor snapshot.
    Raises ``JournalCorrupt`` if the snapshot does not belong to the journal, and
    ``InvariantBroken`` if a checkpoint disagrees with the rebuilt state.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    snapshot = SnapshotStore(root / SNAPSHOT_DIRECTORY_NAME).latest()
    journal_path = root / JOURNAL_FILE_NAME
    if snapshot is not None and not journal_path.exists():
        raise JournalCorrupt(f"snapshot at seq {snapshot.seq} but no journal in {root}")
    journal = FileJournal.open(journal_path)
    try:
        engine = _recover_into(journal, snapshot, factory, codec)
    except BaseException:
        journal.close()
        raise
    return engine, journal, journal.last_seq


def _apply_records(engine: Engine, records: Iterable[JournalRecord], codec: CommandCodec) -> _Tally:
    """Apply COMMAND records to ``engine`` and compare it with each CHECKPOINT."""
    decode = codec.decode
    commands_applied = 0
    checkpoints_checked = 0
    mismatched_seqs: list[int] = []
    for record in records:
        if record.kind is RecordKind.COMMAND:
            engine.apply(record.seq, record.ts_ns, decode(record.payload))
            commands_applied += 1
        else:
            checkpoints_checked += 1
            if engine.state_hash() != record.payload:
                mismatched_seqs.append(record.seq)
    return _Tally(
        commands_applied=commands_applied,
        checkpoints_checked=checkpoints_checked,
        mismatched_seqs=tuple(mismatched_seqs),
    )


def _recover_into(
    journal: FileJournal, snapshot: Snapshot | None, factory: EngineFactory, codec: CommandCodec
) -> Engine:
    if snapshot is None:
        engine = factory.new()
        records: Iterable[JournalRecord] = journal.records()
    else:
        if snapshot.seq > journal.last_seq:
            raise JournalCorrupt(
                f"snapshot at seq {snapshot.seq} is ahead of the journal "
                f"(last seq {journal.last_seq})"
            )
        engine = factory.restore(snapshot.state)
        records = _anchored_tail(journal.records(after_seq=snapshot.seq - 1), snapshot)
    tally = _apply_records(engine, records, codec)
    if tally.mismatched_seqs:
        raise InvariantBroken(
            f"replayed state differs from checkpoints at seqs {list(tally.mismatched_seqs)}"
        )
    return engine


def _anchored_tail(records: Iterable[JournalRecord], snapshot: Snapshot) -> Iterator[JournalRecord]:
    """Yield what to apply on top of ``snapshot``, after checking it is anchored in the chain.

    ``records`` starts at the snapshot's seq. Records at that seq are not applied
    again (checkpoints there are still checked); one of them, or the genesis for a
    snapshot at seq 0, must carry the snapshot's chain hash.
    """
    is_anchored = snapshot.seq == 0 and snapshot.chain_hash == GENESIS_CHAIN_HASH
    for record in records:
        if record.seq == snapshot.seq:
            is_anchored = is_anchored or record.chain_hash == snapshot.chain_hash
            if record.kind is RecordKind.CHECKPOINT:
                yield record
            continue
        if not is_anchored:
            break
        yield record
    if not is_anchored:
        raise JournalCorrupt(
            f"snapshot at seq {snapshot.seq} does not match the journal's hash chain"
        )
