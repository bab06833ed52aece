"""The ``Journal`` protocol: what the sequencer, replay and recovery need from a log.

``FileJournal`` (in ``writer``) is the local, fsync-backed implementation. The
protocol exists so that a replicated log (for example one that acknowledges a commit
only once a quorum of replicas holds it) can be plugged in later without touching
the sequencer. An implementation must keep the invariants documented in
``records``: strictly increasing command seqs, checkpoints at the last command's
seq, non-decreasing ts_ns and a blake2b hash chain over the records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from harbour.journal.records import JournalRecord


class Journal(Protocol):
    """An append-only, hash-chained log of commands and checkpoints with group commit."""

    @property
    def last_seq(self) -> int:
        """Seq of the last appended record (0 for an empty log)."""
        ...

    @property
    def last_ts_ns(self) -> int:
        """ts_ns of the last appended record (0 for an empty log)."""
        ...

    @property
    def last_chain_hash(self) -> bytes:
        """Chain hash of the last appended record (the genesis hash for an empty log)."""
        ...

    def append_command(self, seq: int, ts_ns: int, payload: bytes) -> None:
        """Buffer a COMMAND record; it is durable only after ``commit``."""
        ...

    def append_checkpoint(self, seq: int, ts_ns: int, state_hash: bytes) -> None:
        """Buffer a CHECKPOINT record taken after the command with this seq."""
        ...

    def commit(self) -> None:
        """Make every record appended so far durable; return only once it is."""
        ...

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        """Yield the committed records whose seq is greater than ``after_seq``, in order."""
        ...

    def close(self) -> None:
        """Commit what is pending and release the log."""
        ...
