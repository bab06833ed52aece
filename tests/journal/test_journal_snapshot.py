"""SnapshotStore: atomic saves, checksum verification, fallback and pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.journal import Snapshot, SnapshotStore

from journal_kit import flip_byte

CHAIN = bytes(range(32))


def test_snapshot_saved_then_latest_returns_it(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")

    store.save(42, CHAIN, b"state-bytes")

    assert store.latest() == Snapshot(seq=42, chain_hash=CHAIN, state=b"state-bytes")


def test_snapshot_empty_store_latest_none(tmp_path: Path) -> None:
    assert SnapshotStore(tmp_path / "snapshots").latest() is None


def test_snapshot_latest_picks_highest_seq(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for seq in (900, 80, 1000, 7):
        store.save(seq, CHAIN, str(seq).encode())

    latest = store.latest()

    assert latest is not None
    assert latest.seq == 1000


@pytest.mark.parametrize("offset", [0, 7, 20, 60, -40, -1])
def test_snapshot_corrupt_newest_falls_back_to_previous(tmp_path: Path, offset: int) -> None:
    store = SnapshotStore(tmp_path)
    store.save(10, CHAIN, b"older state")
    newest = store.save(20, CHAIN, b"newer state")
    flip_byte(newest, offset % newest.stat().st_size)

    latest = store.latest()

    assert latest is not None
    assert (latest.seq, latest.state) == (10, b"older state")


def test_snapshot_truncated_newest_falls_back_to_previous(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save(10, CHAIN, b"older state")
    newest = store.save(20, CHAIN, b"newer state")
    newest.write_bytes(newest.read_bytes()[:-5])

    latest = store.latest()

    assert latest is not None
    assert latest.seq == 10


def test_snapshot_renamed_file_rejected(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    saved = store.save(10, CHAIN, b"state")
    saved.rename(tmp_path / "00000000000000000099.snapshot")

    assert store.latest() is None


def test_snapshot_all_corrupt_latest_none(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for seq in (1, 2):
        flip_byte(store.save(seq, CHAIN, b"state"), 30)

    assert store.latest() is None


def test_snapshot_prunes_to_newest_keep(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=2)

    for seq in range(1, 6):
        store.save(seq * 10, CHAIN, b"s")

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "00000000000000000040.snapshot",
        "00000000000000000050.snapshot",
    ]


def test_snapshot_leftover_temp_file_ignored_then_removed(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    leftover = tmp_path / "00000000000000000099.snapshot.tmp"
    leftover.write_bytes(b"half written")

    assert store.latest() is None
    store.save(5, CHAIN, b"s")

    assert not leftover.exists()


def test_snapshot_bad_arguments_raise_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SnapshotStore(tmp_path, keep=0)
    with pytest.raises(ValueError):
        SnapshotStore(tmp_path).save(1, b"short", b"s")
