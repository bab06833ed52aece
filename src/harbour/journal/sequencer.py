"""``Sequencer``: the single entry point that orders, journals and applies commands.

Owns the seq and ts counters. For each command, in this order: stamp the next seq
and a ts, encode, append to the journal, then ``engine.apply``. Journaling first
means the engine never holds state the journal cannot reproduce.

Invariants:

* seq is ``journal.last_seq + 1``, ``+ 2``, ... with no gaps, also across restarts.
* ts_ns never decreases: it is ``max(last ts, clock())``, so a clock that steps back
  (or a restart with a slower clock) cannot reorder time.
* A CHECKPOINT with ``engine.state_hash()`` follows every command whose seq is a
  multiple of ``checkpoint_every``; a snapshot is saved after every command whose
  seq is a multiple of ``snapshot_every``, after committing the journal so that a
  snapshot never points past what is durable.

Durability (group commit): ``submit`` only buffers. A caller must not acknowledge a
command, or publish its events, to anyone outside the process before ``commit`` has
returned: until then a crash loses the command, and recovery will not reproduce its
events. Submit many, then commit once; one fsync covers them all.

If ``engine.apply`` raises (a bug, not a business reject), the sequencer halts: the
command is already in the journal, the engine state is suspect, and every later
``submit`` raises ``InvariantBroken``. Restart from ``recover`` once the engine is
fixed; the journaled command is then replayed by the fixed engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from harbour.journal.codec import CommandCodec
from harbour.journal.engine import Engine
from harbour.journal.log import Journal
from harbour.journal.snapshot import SnapshotStore
from harbour.kernel.errors import InvariantBroken


class Sequencer:
    """Stamp, journal and apply commands for one engine."""

    def __init__(
        self,
        engine: Engine,
        journal: Journal,
        codec: CommandCodec,
        clock: Callable[[], int],
        *,
        checkpoint_every: int | None = 1_000,
        snapshot_every: int | None = None,
        snapshots: SnapshotStore | None = None,
    ) -> None:
        """Continue after ``journal.last_seq``; ``engine`` must hold the state as of it.

        ``clock`` returns integer nanoseconds (``time.time_ns`` live, a fake in tests).
        ``checkpoint_every`` / ``snapshot_every`` of None disable checkpoints / snapshots.
        """
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
        if snapshot_every is not None:
            if snapshot_every < 1:
                raise ValueError(f"snapshot_every must be at least 1, got {snapshot_every}")
            if snapshots is None:
                raise ValueError("snapshot_every needs a SnapshotStore")
        self._engine = engine
        self._journal = journal
        self._encode_checked = codec.encode_checked
        self._clock = clock
        self._checkpoint_every = checkpoint_every or 0
        self._snapshot_every = snapshot_every or 0
        self._snapshots = snapshots
        self._last_seq = journal.last_seq
        self._last_ts_ns = journal.last_ts_ns
        self._halt_reason: BaseException | None = None

    @property
    def engine(self) -> Engine:
        """The engine this sequencer drives."""
        return self._engine

    @property
    def journal(self) -> Journal:
        """The journal this sequencer appends to."""
        return self._journal

    @property
    def last_seq(self) -> int:
        """Seq of the last submitted command (0 before any)."""
        return self._last_seq

    @property
    def last_ts_ns(self) -> int:
        """ts_ns stamped on the last submitted command."""
        return self._last_ts_ns

    @property
    def is_halted(self) -> bool:
        """Whether an engine failure stopped this sequencer."""
        return self._halt_reason is not None

    def submit(self, command: Any) -> tuple[int, list[Any]]:
        """Stamp, journal and apply ``command``; return its seq and events (not yet durable)."""
        if self._halt_reason is not None:
            raise InvariantBroken("sequencer halted after an engine failure") from self._halt_reason
        # the applied command is the one decoded back from its payload: exactly what replay applies
        payload, command = self._encode_checked(command)
        seq = self._last_seq + 1
        now_ns = self._clock()
        ts_ns = now_ns if now_ns > self._last_ts_ns else self._last_ts_ns
        self._journal.append_command(seq, ts_ns, payload)
        self._last_seq = seq
        self._last_ts_ns = ts_ns
        try:
            events = self._engine.apply(seq, ts_ns, command)
        except BaseException as error:
            self._halt_reason = error
            raise
        if self._checkpoint_every and seq % self._checkpoint_every == 0:
            self._journal.append_checkpoint(seq, ts_ns, self._engine.state_hash())
        if self._snapshot_every and seq % self._snapshot_every == 0:
            self._save_snapshot(seq)
        return seq, events

    def submit_many(self, commands: Iterable[Any]) -> list[tuple[int, list[Any]]]:
        """Submit each command, then ``commit`` once; the results are durable on return."""
        submit = self.submit
        results = [submit(command) for command in commands]
        self.commit()
        return results

    def commit(self) -> None:
        """Make every submitted command durable (one fsync). Acknowledge only after this."""
        self._journal.commit()

    def _save_snapshot(self, seq: int) -> None:
        snapshots = self._snapshots
        if snapshots is None:
            raise InvariantBroken("snapshot due but no SnapshotStore is configured")
        self._journal.commit()
        snapshots.save(seq, self._journal.last_chain_hash, self._engine.snapshot())
