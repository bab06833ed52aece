"""The journal: sequencing, an append-only hash-chained log, snapshots, replay, recovery.

Generic over engines: it knows the ``Engine`` / ``EngineFactory`` protocols and a
``CommandCodec`` built from an engine's command union, never any venue or broker
type. The ``Journal`` protocol names what the sequencer and recovery need from a
log; ``FileJournal`` is the local implementation, and a replicated log can take its
place later.

Flow: ``Sequencer.submit`` stamps seq and ts, appends the encoded command, then
applies it; ``Sequencer.commit`` makes everything submitted durable with one fsync,
and only then may commands be acknowledged. ``recover`` rebuilds an engine from the
newest valid snapshot plus the journal tail; ``replay`` rebuilds one from scratch
and checks every checkpoint.
"""

from harbour.journal.codec import CommandCodec
from harbour.journal.engine import Engine, EngineFactory
from harbour.journal.log import Journal
from harbour.journal.records import JournalRecord, RecordKind
from harbour.journal.replay import ReplayReport, recover, replay
from harbour.journal.sequencer import Sequencer
from harbour.journal.snapshot import Snapshot, SnapshotStore
from harbour.journal.writer import FileJournal
from harbour.kernel.errors import JournalFailed, JournalLocked

__all__ = [
    "CommandCodec",
    "Engine",
    "EngineFactory",
    "FileJournal",
    "Journal",
    "JournalFailed",
    "JournalLocked",
    "JournalRecord",
    "RecordKind",
    "ReplayReport",
    "Sequencer",
    "Snapshot",
    "SnapshotStore",
    "recover",
    "replay",
]
