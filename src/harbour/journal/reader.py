"""Sequential, verifying reads of journal frames.

Owns the verification pass: every frame read is checked for its length fields, its
check, its hash-chain link and its ordering (see ``records``), and the decision of
what counts as a torn tail versus corruption.

Torn tail (an append that was never acknowledged because its fsync never returned;
it is reported, and the writer truncates it away):

* fewer bytes left than a frame header;
* a sound frame header whose body runs past the end of the file;
* a damaged frame (its two length fields disagree, or its check fails while the
  frame is not internally consistent) that reaches exactly the end of the file (by
  either length field), or after which nothing but zero bytes follows. This covers
  a last record damaged in flight, and filesystems that extend a file with
  zero-filled blocks on a crash.

Anything else raises ``JournalCorrupt``: damage with real data after it, a broken
chain, a non-increasing seq or a decreasing ts_ns. A frame whose check fails but
matches its own link field is intact but follows an edited record: that is a broken
chain, never a torn tail, so editing the second-to-last record cannot pass for a
crash. Assumes bytes never change once their fsync has returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from harbour.journal.records import (
    BODY_HEAD,
    CHECK_SIZE,
    FRAME_HEADER,
    LENGTH_MASK,
    JournalRecord,
    RecordKind,
    chain_hash,
    order_violation,
)
from harbour.kernel.errors import JournalCorrupt

_READ_CHUNK: Final = 1 << 20
_KINDS: Final = {kind.value: kind for kind in RecordKind}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainPosition:
    """A point between two frames: where it is and what the chain says there."""

    offset: int
    chain_hash: bytes
    last_seq: int
    last_ts_ns: int


class RecordScanner:
    """Iterate verified records of one file from ``start`` up to offset ``end``.

    Iterating yields ``(frame_offset, record)``. Once iteration ends, ``position``
    is the point after the last good record and ``torn_bytes`` the length of the
    torn tail found after it (0 if none).
    """

    def __init__(self, file: BinaryIO, start: ChainPosition, end: int) -> None:
        self._file = file
        self._end = end
        self.position = start
        self.torn_bytes = 0

    def __iter__(self) -> Iterator[tuple[int, JournalRecord]]:
        end = self._end
        position = self.position
        offset = position.offset
        prev_chain = position.chain_hash
        last_seq = position.last_seq
        last_ts = position.last_ts_ns
        window = _Window(self._file, offset, end)
        header_size = FRAME_HEADER.size
        head_size = BODY_HEAD.size
        unpack_header = FRAME_HEADER.unpack_from
        unpack_head = BODY_HEAD.unpack_from
        kinds = _KINDS
        try:
            while offset < end:
                if end - offset < header_size:
                    self.torn_bytes = end - offset
                    return
                buf, index = window.at(offset, header_size)
                body_len, inverted_len, check = unpack_header(buf, index)
                if body_len ^ inverted_len != LENGTH_MASK or body_len < head_size:
                    self._settle_bad_header(offset, body_len, inverted_len)
                    return
                frame_end = offset + header_size + body_len
                if frame_end > end:
                    self.torn_bytes = end - offset
                    return
                buf, index = window.at(offset, header_size + body_len)
                body = buf[index + header_size : index + header_size + body_len]
                record_hash = chain_hash(prev_chain, body)
                if record_hash[:CHECK_SIZE] != check:
                    self._settle_bad_check(offset, frame_end, body, check)
                    return
                kind, seq, ts_ns, link = unpack_head(body)
                if link != prev_chain:
                    raise JournalCorrupt(f"hash chain broken at offset {offset} (seq {seq})")
                if kind != RecordKind.COMMAND or seq <= last_seq or ts_ns < last_ts:
                    violation = order_violation(kind, seq, ts_ns, last_seq, last_ts)
                    if violation is not None:
                        raise JournalCorrupt(f"{violation} at offset {offset}")
                record = JournalRecord(
                    kinds[kind], seq, ts_ns, prev_chain, record_hash, body[head_size:]
                )
                prev_chain = record_hash
                last_seq = seq
                last_ts = ts_ns
                frame_offset = offset
                offset = frame_end
                yield frame_offset, record
        finally:
            self.position = ChainPosition(
                offset=offset, chain_hash=prev_chain, last_seq=last_seq, last_ts_ns=last_ts
            )

    def _settle_bad_header(self, offset: int, body_len: int, inverted_len: int) -> None:
        """Classify a frame whose length fields disagree: a torn tail or damage.

        If either copy of the length says the frame ends exactly at the end of the
        file, this is the last record, damaged: a torn tail.
        """
        ends = {
            offset + FRAME_HEADER.size + length for length in (body_len, inverted_len ^ LENGTH_MASK)
        }
        if self._end in ends:
            self.torn_bytes = self._end - offset
            return
        self._settle_damage(offset, offset, "damaged frame header")

    def _settle_bad_check(self, offset: int, frame_end: int, body: bytes, check: bytes) -> None:
        """Classify a frame whose check failed: a broken chain, a torn tail or damage."""
        (_, _, _, link) = BODY_HEAD.unpack_from(body)
        if chain_hash(link, body)[:CHECK_SIZE] == check:
            raise JournalCorrupt(
                f"hash chain broken at offset {offset}: an earlier record was changed"
            )
        self._settle_damage(offset, frame_end, "check mismatch")

    def _settle_damage(self, frame_offset: int, zeros_from: int, what: str) -> None:
        """Accept damage as a torn tail if only zeros follow, else raise JournalCorrupt."""
        if not self._is_zero_through_end(zeros_from):
            raise JournalCorrupt(f"{what} at offset {frame_offset} with data after it")
        self.torn_bytes = self._end - frame_offset

    def _is_zero_through_end(self, offset: int) -> bool:
        self._file.seek(offset)
        remaining = self._end - offset
        while remaining > 0:
            chunk = self._file.read(min(remaining, _READ_CHUNK))
            if not chunk or chunk.count(0) != len(chunk):
                return False
            remaining -= len(chunk)
        return True


class _Window:
    """A forward-only buffered view of the file, read in large chunks."""

    def __init__(self, file: BinaryIO, offset: int, end: int) -> None:
        self._file = file
        self._end = end
        self._buf = b""
        self._start = offset
        file.seek(offset)

    def at(self, offset: int, size: int) -> tuple[bytes, int]:
        """Return a buffer and the index in it where ``size`` bytes at ``offset`` start."""
        index = offset - self._start
        available = len(self._buf) - index
        if size <= available:
            return self._buf, index
        read_from = self._start + len(self._buf)
        wanted = max(size - available, _READ_CHUNK)
        chunk = self._file.read(min(wanted, self._end - read_from))
        self._buf = self._buf[index:] + chunk
        self._start = offset
        if len(self._buf) < size:
            raise JournalCorrupt(f"journal file shrank while reading offset {offset}")
        return self._buf, 0
