"""FileJournal: append, group commit, reading back, torn tails, locking, failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harbour.journal import FileJournal, JournalFailed, JournalLocked, RecordKind
from harbour.journal.records import GENESIS_CHAIN_HASH
from harbour.journal.writer import INDEX_EVERY_COMMANDS

from journal_kit import frame_spans, write_commands


def test_writer_new_file_empty_at_genesis(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        assert journal.last_seq == 0
        assert journal.last_ts_ns == 0
        assert journal.last_chain_hash == GENESIS_CHAIN_HASH
        assert list(journal.records()) == []
        assert journal.torn_bytes_truncated == 0


def test_writer_committed_records_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    with FileJournal.open(path) as journal:
        journal.append_command(1, 10, b"one")
        journal.append_command(2, 10, b"two")
        journal.append_checkpoint(2, 11, b"state-hash")
        journal.commit()
        written = list(journal.records())
        chain = journal.last_chain_hash

    with FileJournal.open(path) as reopened:
        read = list(reopened.records())

        assert read == written
        assert [(r.kind, r.seq, r.ts_ns, r.payload) for r in read] == [
            (RecordKind.COMMAND, 1, 10, b"one"),
            (RecordKind.COMMAND, 2, 10, b"two"),
            (RecordKind.CHECKPOINT, 2, 11, b"state-hash"),
        ]
        assert reopened.last_chain_hash == chain == read[-1].chain_hash
        assert (reopened.last_seq, reopened.last_ts_ns) == (2, 11)
        assert [r.prev_chain_hash for r in read[1:]] == [r.chain_hash for r in read[:-1]]


def test_writer_uncommitted_records_not_read(tmp_path: Path) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        journal.append_command(1, 10, b"one")
        journal.commit()
        journal.append_command(2, 10, b"two")

        assert journal.has_pending
        assert [r.seq for r in journal.records()] == [1]
        assert journal.last_seq == 2


def test_writer_close_commits_pending(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    journal = FileJournal.open(path)
    journal.append_command(1, 10, b"one")

    journal.close()
    journal.close()

    with FileJournal.open(path) as reopened:
        assert [r.payload for r in reopened.records()] == [b"one"]


def test_writer_one_commit_writes_whole_group(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    with FileJournal.open(path) as journal:
        for seq in range(1, 101):
            journal.append_command(seq, seq, b"p")
        size_before = path.stat().st_size

        journal.commit()

        assert len(list(journal.records())) == 100
        assert path.stat().st_size > size_before


def _append_numbered(journal: FileJournal, first: int, last: int) -> None:
    for seq in range(first, last + 1):
        journal.append_command(seq, seq, seq.to_bytes(4, "little"))
        if seq % 100 == 0:
            journal.append_checkpoint(seq, seq, b"h")
    journal.commit()


def test_writer_records_after_seq_same_through_seek_index(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    count = 3 * INDEX_EVERY_COMMANDS + 7
    probes = [0, 1, 99, 100, 1023, 1024, 1025, 2000, 2048, 2500, 3078, count - 1, count, count + 5]
    with FileJournal.open(path) as journal:
        _append_numbered(journal, 1, 2000)
    with FileJournal.open(path) as journal:
        _append_numbered(journal, 2001, count)
        indexed_while_appending = {after: list(journal.records(after)) for after in probes}

    with FileJournal.open(path) as reopened:
        everything = list(reopened.records())
        indexed_while_opening = {after: list(reopened.records(after)) for after in probes}

    assert len([r for r in everything if r.kind is RecordKind.COMMAND]) == count
    for after in probes:
        expected = [r for r in everything if r.seq > after]
        assert indexed_while_appending[after] == expected
        assert indexed_while_opening[after] == expected


@pytest.mark.parametrize(
    ("seq", "ts_ns"),
    [(3, 50), (2, 60), (4, 49)],
    ids=["seq-repeated", "seq-backwards", "ts-backwards"],
)
def test_writer_command_going_backwards_raises_value_error(
    tmp_path: Path, seq: int, ts_ns: int
) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        journal.append_command(3, 50, b"x")

        with pytest.raises(ValueError):
            journal.append_command(seq, ts_ns, b"y")

        assert journal.last_seq == 3


@pytest.mark.parametrize("seq", [2, 4])
def test_writer_checkpoint_not_at_last_seq_raises_value_error(tmp_path: Path, seq: int) -> None:
    with FileJournal.open(tmp_path / "journal.log") as journal:
        journal.append_command(3, 50, b"x")

        with pytest.raises(ValueError):
            journal.append_checkpoint(seq, 50, b"h")


def test_writer_torn_tail_at_every_offset_dropped_and_appending_continues(tmp_path: Path) -> None:
    original = tmp_path / "original.log"
    payloads = write_commands(original, 4)
    start, end = frame_spans(original)[-1]
    data = original.read_bytes()

    for cut in range(start + 1, end):
        path = tmp_path / f"cut-{cut}.log"
        path.write_bytes(data[:cut])

        with FileJournal.open(path) as journal:
            assert journal.torn_bytes_truncated == cut - start
            assert journal.last_seq == 3
            assert [r.payload for r in journal.records()] == payloads[:3]
            journal.append_command(4, 4_000, b"replacement")
            journal.append_command(5, 5_000, b"next")
            journal.commit()

        with FileJournal.open(path) as reopened:
            assert reopened.torn_bytes_truncated == 0
            assert [r.payload for r in reopened.records()] == [
                *payloads[:3],
                b"replacement",
                b"next",
            ]


def test_writer_cut_at_record_boundary_not_torn(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    write_commands(path, 4)
    start, _ = frame_spans(path)[-1]
    os.truncate(path, start)

    with FileJournal.open(path) as journal:
        assert journal.torn_bytes_truncated == 0
        assert journal.last_seq == 3


def test_writer_second_open_raises_journal_locked(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    with FileJournal.open(path), pytest.raises(JournalLocked):
        FileJournal.open(path)

    with FileJournal.open(path) as reopened:
        assert reopened.last_seq == 0


def test_writer_closed_journal_refuses_use(tmp_path: Path) -> None:
    journal = FileJournal.open(tmp_path / "journal.log")
    journal.close()

    with pytest.raises(ValueError):
        journal.append_command(1, 1, b"x")
    with pytest.raises(ValueError):
        journal.commit()
    with pytest.raises(ValueError):
        journal.records()


def test_writer_failed_write_refuses_further_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.log"
    journal = FileJournal.open(path)
    journal.append_command(1, 1, b"durable")
    journal.commit()
    journal.append_command(2, 2, b"lost")

    def fail_write(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("harbour.journal.writer.os.write", fail_write)
        with pytest.raises(OSError):
            journal.commit()

    with pytest.raises(JournalFailed):
        journal.commit()
    with pytest.raises(JournalFailed):
        journal.append_command(3, 3, b"x")
    journal.close()
    with FileJournal.open(path) as reopened:
        assert [r.payload for r in reopened.records()] == [b"durable"]


def test_writer_file_changed_after_open_raises_corrupt_on_read(tmp_path: Path) -> None:
    from harbour.kernel.errors import JournalCorrupt

    path = tmp_path / "journal.log"
    write_commands(path, 3)
    with FileJournal.open(path) as journal:
        start, _ = frame_spans(path)[1]
        with open(path, "r+b") as file:
            file.seek(start + 20)
            file.write(b"\xff\xff")

        with pytest.raises(JournalCorrupt):
            list(journal.records())


def test_writer_records_larger_than_read_chunk_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    payloads = [bytes([n]) * size for n, size in enumerate([70_000] * 30 + [1_500_000, 10])]
    with FileJournal.open(path) as journal:
        for seq, payload in enumerate(payloads, start=1):
            journal.append_command(seq, seq, payload)

    with FileJournal.open(path) as reopened:
        assert [r.payload for r in reopened.records()] == payloads
        assert [r.payload for r in reopened.records(after_seq=30)] == payloads[30:]
