"""Sequencer: stamping, journal-then-apply, checkpoints, snapshots, halting."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.journal import FileJournal, RecordKind, Sequencer, SnapshotStore, recover
from harbour.kernel.errors import InvariantBroken, MalformedCommand, RejectCode

from journal_kit import CODEC, FACTORY, FakeClock
from toy_engine import Add, CommandRejected, Explode, Put, ValueSet, make_commands


def _sequencer(journal: FileJournal, **options: object) -> Sequencer:
    return Sequencer(FACTORY.new(), journal, CODEC, FakeClock(), **options)  # type: ignore[arg-type]


def test_sequencer_submit_stamps_consecutive_seqs_and_returns_events(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = Sequencer(FACTORY.new(), journal, CODEC, FakeClock(start_ns=0, step_ns=5))

        first = sequencer.submit(Put("a", 1))
        second = sequencer.submit(Add("b", 1))

    assert first == (1, [ValueSet(1, 5, "a", 1)])
    assert second == (2, [CommandRejected(2, 10, "b", "unknown key")])


def test_sequencer_journals_command_before_applying(tmp_path: Path) -> None:
    seen: list[int] = []

    class Spy:
        def __init__(self, journal: FileJournal) -> None:
            self.journal = journal

        def apply(self, seq: int, ts_ns: int, command: object) -> list[object]:
            seen.append(self.journal.last_seq)
            return []

        def state_hash(self) -> bytes:
            return b""

        def snapshot(self) -> bytes:
            return b""

    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = Sequencer(Spy(journal), journal, CODEC, FakeClock())

        sequencer.submit(Put("a", 1))
        sequencer.submit(Put("a", 2))

    assert seen == [1, 2]


def test_sequencer_clock_going_back_keeps_ts_non_decreasing(tmp_path: Path) -> None:
    readings = iter([100, 90, 95, 120, 50])
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = Sequencer(FACTORY.new(), journal, CODEC, lambda: next(readings))

        sequencer.submit_many([Put("a", i) for i in range(5)])
        stamps = [record.ts_ns for record in journal.records()]

    assert stamps == [100, 100, 100, 120, 120]


def test_sequencer_checkpoint_every_n_carries_state_hash(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = _sequencer(journal, checkpoint_every=4)
        hashes = {}
        for seq, command in enumerate(make_commands(0, 10), start=1):
            sequencer.submit(command)
            hashes[seq] = sequencer.engine.state_hash()
        sequencer.commit()

        checkpoints = [r for r in journal.records() if r.kind is RecordKind.CHECKPOINT]

    assert [(r.seq, r.payload) for r in checkpoints] == [(4, hashes[4]), (8, hashes[8])]


def test_sequencer_checkpoints_disabled_writes_none(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        _sequencer(journal, checkpoint_every=None).submit_many(make_commands(0, 30))

        kinds = {record.kind for record in journal.records()}

    assert kinds == {RecordKind.COMMAND}


def test_sequencer_snapshot_every_m_commits_then_saves(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = _sequencer(journal, checkpoint_every=5, snapshot_every=10, snapshots=store)
        for command in make_commands(0, 25):
            sequencer.submit(command)

        latest = store.latest()
        durable = {record.seq: record.chain_hash for record in journal.records()}

        assert journal.has_pending
        assert latest is not None
        assert latest.seq == 20
        assert durable[20] == latest.chain_hash
        assert max(durable) == 20


def test_sequencer_submit_many_durable_on_return(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        results = _sequencer(journal).submit_many(make_commands(0, 7))

        assert [seq for seq, _ in results] == list(range(1, 8))
        assert not journal.has_pending
        assert [r.seq for r in journal.records() if r.kind is RecordKind.COMMAND] == list(
            range(1, 8)
        )


def test_sequencer_after_recover_continues_seq_ts_and_chain(tmp_path: Path) -> None:
    clock = FakeClock()
    engine, journal, last_seq = recover(tmp_path, FACTORY, CODEC)
    with journal:
        Sequencer(engine, journal, CODEC, clock).submit_many(make_commands(0, 12))
        last_ts = journal.last_ts_ns
    engine, journal, last_seq = recover(tmp_path, FACTORY, CODEC)

    with journal:
        sequencer = Sequencer(engine, journal, CODEC, FakeClock(start_ns=0))
        seq, _ = sequencer.submit(Put("z", 1))
        sequencer.commit()

    assert last_seq == 12
    assert seq == 13
    assert sequencer.last_ts_ns == last_ts
    with FileJournal.open(tmp_path / "journal.log") as reopened:
        assert reopened.last_seq == 13


def test_sequencer_engine_failure_halts(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = _sequencer(journal)
        sequencer.submit(Put("a", 1))

        with pytest.raises(RuntimeError):
            sequencer.submit(Explode())

        assert sequencer.is_halted
        assert journal.last_seq == 2
        with pytest.raises(InvariantBroken):
            sequencer.submit(Put("b", 2))


def test_sequencer_unencodable_command_consumes_no_seq(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = _sequencer(journal)

        with pytest.raises(TypeError):
            sequencer.submit("not a command")
        seq, _ = sequencer.submit(Put("a", 1))

    assert seq == 1


def test_sequencer_command_with_a_wrongly_typed_field_is_refused_and_nothing_is_journaled(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        sequencer = _sequencer(journal)
        sequencer.submit(Put("a", 1))
        before = sequencer.engine.state_hash()

        with pytest.raises(MalformedCommand) as refused:
            sequencer.submit(Put("a", 1.5))  # type: ignore[arg-type]

        assert refused.value.code == RejectCode.MALFORMED_COMMAND
        assert (journal.last_seq, sequencer.last_seq) == (1, 1)
        assert sequencer.engine.state_hash() == before


@pytest.mark.parametrize(
    "options",
    [
        {"checkpoint_every": 0},
        {"snapshot_every": 0, "snapshots": None},
        {"snapshot_every": 10, "snapshots": None},
    ],
)
def test_sequencer_bad_options_raise_value_error(
    tmp_path: Path, options: dict[str, object]
) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal, pytest.raises(ValueError):
        _sequencer(journal, **options)
