"""Verification on open: checks, the hash chain, ordering and the file header."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.journal import FileJournal
from harbour.journal.records import BODY_HEAD, FILE_HEADER, FRAME_HEADER, encode_frame, file_header
from harbour.kernel.errors import JournalCorrupt

from journal_kit import flip_byte, frame_spans, rewrite_payload, write_commands


def _read_payloads(path: Path) -> list[bytes]:
    with FileJournal.open(path) as journal:
        return [record.payload for record in journal.records()]


def test_record_flipped_byte_anywhere_in_middle_record_raises_corrupt(tmp_path: Path) -> None:
    original = tmp_path / "original.log"
    write_commands(original, 5)
    start, end = frame_spans(original)[2]

    for offset in range(start, end):
        damaged = tmp_path / f"damaged-{offset}.log"
        damaged.write_bytes(original.read_bytes())
        flip_byte(damaged, offset)

        with pytest.raises(JournalCorrupt):
            FileJournal.open(damaged)


def test_record_flipped_byte_anywhere_never_yields_altered_records(tmp_path: Path) -> None:
    original = tmp_path / "original.log"
    payloads = write_commands(original, 4)
    size = original.stat().st_size
    last_start, _ = frame_spans(original)[-1]

    for offset in range(size):
        damaged = tmp_path / f"damaged-{offset}.log"
        damaged.write_bytes(original.read_bytes())
        flip_byte(damaged, offset)

        try:
            found = _read_payloads(damaged)
        except JournalCorrupt:
            assert offset < last_start
            continue
        assert offset >= last_start
        assert found == payloads[:-1]


def test_record_flipped_byte_in_last_record_truncated_as_torn(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    payloads = write_commands(path, 5)
    start, end = frame_spans(path)[-1]
    flip_byte(path, start + FRAME_HEADER.size + BODY_HEAD.size)

    with FileJournal.open(path) as journal:
        found = [record.payload for record in journal.records()]
        torn = journal.torn_bytes_truncated

    assert found == payloads[:-1]
    assert torn == end - start
    assert path.stat().st_size == start


def test_record_edited_middle_with_recomputed_check_breaks_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    payloads = write_commands(path, 6)
    frame = frame_spans(path)[2]
    rewrite_payload(path, frame, b"\xee" * len(payloads[2]))

    with pytest.raises(JournalCorrupt, match="chain"):
        FileJournal.open(path)


def test_record_edited_second_to_last_not_mistaken_for_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    payloads = write_commands(path, 6)
    frame = frame_spans(path)[-2]
    rewrite_payload(path, frame, b"\xee" * len(payloads[-2]))

    with pytest.raises(JournalCorrupt, match="chain"):
        FileJournal.open(path)


def test_record_seq_not_increasing_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    first, first_hash = encode_frame(1, 5, 100, bytes(32), b"a")
    second, _ = encode_frame(1, 5, 200, first_hash, b"b")
    path.write_bytes(file_header() + first + second)

    with pytest.raises(JournalCorrupt, match="seq"):
        FileJournal.open(path)


def test_record_ts_going_back_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    first, first_hash = encode_frame(1, 1, 200, bytes(32), b"a")
    second, _ = encode_frame(1, 2, 100, first_hash, b"b")
    path.write_bytes(file_header() + first + second)

    with pytest.raises(JournalCorrupt, match="ts_ns"):
        FileJournal.open(path)


def test_record_checkpoint_seq_not_last_command_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    first, first_hash = encode_frame(1, 1, 100, bytes(32), b"a")
    checkpoint, _ = encode_frame(2, 2, 100, first_hash, b"hash")
    path.write_bytes(file_header() + first + checkpoint)

    with pytest.raises(JournalCorrupt, match="checkpoint"):
        FileJournal.open(path)


def test_record_unknown_kind_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    first, first_hash = encode_frame(1, 1, 100, bytes(32), b"a")
    unknown, _ = encode_frame(9, 2, 100, first_hash, b"b")
    path.write_bytes(file_header() + first + unknown)

    with pytest.raises(JournalCorrupt, match="kind"):
        FileJournal.open(path)


def test_record_zero_filled_tail_truncated_as_torn(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    payloads = write_commands(path, 3)
    size = path.stat().st_size
    with open(path, "ab") as file:
        file.write(bytes(4096))

    with FileJournal.open(path) as journal:
        found = [record.payload for record in journal.records()]
        torn = journal.torn_bytes_truncated

    assert found == payloads
    assert torn == 4096
    assert path.stat().st_size == size


def test_record_garbage_after_zeros_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    write_commands(path, 3)
    with open(path, "ab") as file:
        file.write(bytes(100) + b"\x01")

    with pytest.raises(JournalCorrupt):
        FileJournal.open(path)


def test_record_wrong_magic_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    path.write_bytes(b"NOTAJOURNAL")

    with pytest.raises(JournalCorrupt, match="not a journal"):
        FileJournal.open(path)


def test_record_unknown_format_version_raises_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    path.write_bytes(FILE_HEADER.pack(b"HBRJNL", 99))

    with pytest.raises(JournalCorrupt, match="format"):
        FileJournal.open(path)


@pytest.mark.parametrize("kept", range(FILE_HEADER.size))
def test_record_torn_file_header_recreated_empty(tmp_path: Path, kept: int) -> None:
    path = tmp_path / "journal.log"
    path.write_bytes(file_header()[:kept])

    with FileJournal.open(path) as journal:
        assert journal.last_seq == 0
        journal.append_command(1, 1, b"x")

    assert _read_payloads(path) == [b"x"]
