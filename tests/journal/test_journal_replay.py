"""replay and recover: checkpoints reproduce, snapshots plus tails match full replays."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harbour.journal import FileJournal, JournalLocked, Sequencer, SnapshotStore, recover, replay
from harbour.kernel.errors import InvariantBroken, JournalCorrupt

from journal_kit import CODEC, FACTORY, FakeClock, flip_byte, frame_spans, run_sequencer
from toy_engine import Put, ToyEngine, ToyEngineFactory, make_commands


def test_replay_reproduces_every_checkpoint(tmp_path: Path) -> None:
    engine = run_sequencer(tmp_path, 200, checkpoint_every=7)

    report = replay(tmp_path / "journal.log", FACTORY, CODEC)

    assert report.commands_applied == 200
    assert report.checkpoints_checked == 200 // 7
    assert report.mismatched_seqs == ()
    assert report.is_consistent
    assert report.final_state_hash == engine.state_hash().hex()
    assert report.last_seq == 200
    assert not report.torn_tail_truncated


def test_replay_different_engine_reports_mismatching_seqs(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 60, checkpoint_every=10)

    report = replay(tmp_path / "journal.log", ToyEngineFactory(add_bias=1), CODEC)

    assert not report.is_consistent
    assert report.mismatched_seqs == (20, 30, 40, 50, 60)
    assert report.commands_applied == 60


def test_replay_torn_tail_reported_and_rest_replayed(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 30, checkpoint_every=None)
    path = tmp_path / "journal.log"
    os.truncate(path, path.stat().st_size - 3)

    report = replay(path, FACTORY, CODEC)

    assert report.torn_tail_truncated
    assert report.last_seq == 29
    assert report.commands_applied == 29


def test_replay_live_journal_raises_journal_locked(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log"), pytest.raises(JournalLocked):
        replay(tmp_path / "journal.log", FACTORY, CODEC)


def test_recover_empty_directory_fresh_engine(tmp_path: Path) -> None:
    engine, journal, last_seq = recover(tmp_path / "new", FACTORY, CODEC)
    journal.close()

    assert last_seq == 0
    assert engine.state_hash() == FACTORY.new().state_hash()
    assert (tmp_path / "new" / "journal.log").exists()


def test_recover_snapshot_plus_tail_equals_full_replay(tmp_path: Path) -> None:
    engine = run_sequencer(tmp_path, 237, checkpoint_every=9, snapshot_every=50)

    recovered, journal, last_seq = recover(tmp_path, FACTORY, CODEC)
    journal.close()
    report = replay(tmp_path / "journal.log", FACTORY, CODEC)

    assert SnapshotStore(tmp_path / "snapshots").latest().seq == 200  # type: ignore[union-attr]
    assert last_seq == 237
    assert recovered.state_hash() == engine.state_hash()
    assert recovered.state_hash().hex() == report.final_state_hash


@pytest.mark.parametrize("damaged", [1, 2, 3], ids=["newest", "two-newest", "all"])
def test_recover_corrupt_snapshots_fall_back(tmp_path: Path, damaged: int) -> None:
    engine = run_sequencer(tmp_path, 160, checkpoint_every=8, snapshot_every=40)
    store = SnapshotStore(tmp_path / "snapshots")
    for path in sorted(store.directory.iterdir(), reverse=True)[:damaged]:
        flip_byte(path, 40)
    expected_seq = {1: 120, 2: 80, 3: None}[damaged]

    latest = store.latest()
    recovered, journal, last_seq = recover(tmp_path, FACTORY, CODEC)
    journal.close()

    assert (latest.seq if latest else None) == expected_seq
    assert last_seq == 160
    assert recovered.state_hash() == engine.state_hash()


class _LossyFactory(ToyEngineFactory):
    """Restores snapshots wrongly: the state gains a key the snapshot never had."""

    def restore(self, data: bytes) -> ToyEngine:
        engine = super().restore(data)
        engine.apply(0, 0, Put("ghost", 1))
        return engine


def test_recover_checkpoint_at_snapshot_seq_checked_against_restored_state(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 20, checkpoint_every=20, snapshot_every=20)

    with pytest.raises(InvariantBroken, match="20"):
        recover(tmp_path, _LossyFactory(), CODEC)


def test_recover_tail_checkpoint_mismatch_raises_invariant_broken(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 60, checkpoint_every=10, snapshot_every=25)

    with pytest.raises(InvariantBroken, match="60"):
        recover(tmp_path, ToyEngineFactory(add_bias=1), CODEC)


def test_recover_snapshot_from_other_history_raises_corrupt(tmp_path: Path) -> None:
    run_sequencer(tmp_path / "a", 60, snapshot_every=30)
    run_sequencer(tmp_path / "b", 61, checkpoint_every=None)
    shutil.copy(tmp_path / "b" / "journal.log", tmp_path / "a" / "journal.log")

    with pytest.raises(JournalCorrupt, match="chain"):
        recover(tmp_path / "a", FACTORY, CODEC)


def test_recover_rewritten_history_caught_by_snapshot_anchor(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 40, checkpoint_every=None, snapshot_every=20)
    path = tmp_path / "journal.log"
    _rechain(path, ts_shift_ns=1)
    with FileJournal.open(path):
        pass

    with pytest.raises(JournalCorrupt, match="chain"):
        recover(tmp_path, FACTORY, CODEC)


def test_recover_snapshot_ahead_of_journal_raises_corrupt(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 60, snapshot_every=50)
    path = tmp_path / "journal.log"
    os.truncate(path, frame_spans(path)[30][0])

    with pytest.raises(JournalCorrupt, match="ahead"):
        recover(tmp_path, FACTORY, CODEC)


def test_recover_snapshot_without_journal_raises_corrupt(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 30, snapshot_every=10)
    (tmp_path / "journal.log").unlink()

    with pytest.raises(JournalCorrupt):
        recover(tmp_path, FACTORY, CODEC)

    assert not (tmp_path / "journal.log").exists()


def test_recover_failure_releases_journal(tmp_path: Path) -> None:
    run_sequencer(tmp_path, 60, checkpoint_every=10, snapshot_every=25)
    with pytest.raises(InvariantBroken):
        recover(tmp_path, ToyEngineFactory(add_bias=1), CODEC)

    _, journal, last_seq = recover(tmp_path, FACTORY, CODEC)
    journal.close()

    assert last_seq == 60


def test_recover_then_sequencer_resumes_to_same_state_as_one_run(tmp_path: Path) -> None:
    commands = make_commands(0, 90)
    engine, journal, _ = recover(tmp_path / "split", FACTORY, CODEC)
    store = SnapshotStore(tmp_path / "split" / "snapshots")
    with journal:
        Sequencer(
            engine, journal, CODEC, FakeClock(), snapshot_every=20, snapshots=store
        ).submit_many(commands[:45])
    engine, journal, last_seq = recover(tmp_path / "split", FACTORY, CODEC)
    with journal:
        Sequencer(
            engine, journal, CODEC, FakeClock(), snapshot_every=20, snapshots=store
        ).submit_many(commands[45:])
    split = replay(tmp_path / "split" / "journal.log", FACTORY, CODEC)
    whole = run_sequencer(tmp_path / "whole", 90)

    assert last_seq == 45
    assert split.last_seq == 90
    assert split.is_consistent
    assert isinstance(engine, ToyEngine)
    assert engine.state_hash().hex() == split.final_state_hash
    assert engine.values == whole.values


def _rechain(path: Path, ts_shift_ns: int) -> None:
    """Shift every ts and recompute every link and check, as a forger rewriting history would."""
    from harbour.journal.records import (
        BODY_HEAD,
        FILE_HEADER,
        FRAME_HEADER,
        GENESIS_CHAIN_HASH,
        encode_frame,
    )

    data = path.read_bytes()
    out = bytearray(data[: FILE_HEADER.size])
    prev = GENESIS_CHAIN_HASH
    for start, end in frame_spans(path):
        body = data[start + FRAME_HEADER.size : end]
        kind, seq, ts_ns, _ = BODY_HEAD.unpack_from(body)
        frame, prev = encode_frame(kind, seq, ts_ns + ts_shift_ns, prev, body[BODY_HEAD.size :])
        out += frame
    path.write_bytes(bytes(out))
