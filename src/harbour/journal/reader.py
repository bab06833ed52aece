"""Sequential, verifying reads of journal frames.

Owns the verification pass: every frame read is checked for its header CRC, body
CRC, hash-chain link and ordering (see ``records``), and the decision of what counts
as a torn tail versus corruption.

Torn tail (an append that was never acknowledged because its fsync never returned;
it is reported, and the writer truncates it away):

* fewer bytes left than a frame header;
* a valid frame header whose body runs past the end of the file;
* a frame whose header or body CRC fails, when nothing but zero bytes follows the
  end of that frame (for a damaged header: nothing but zeros from its start). This
  covers a last record that is damaged and reaches the end of the file, and
  filesystems that extend a file with zero-filled blocks on a crash.

Anything else that fails verification raises ``JournalCorrupt``: a CRC failure with
real data after it, a broken chain, a non-increasing seq or a decreasing ts_ns.
Assumes the durable part of the file never changes after its fsync returned.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from harbour.journal.records import (
    BODY_HEAD,
    FRAME_HEADER,
    JournalRecord,
    RecordKind,
    chain_hash,
    is_frame_header_valid,
    order_violation,
)
from harbour.kernel.errors import JournalCorrupt

_ZERO_CHECK_CHUNK: Final = 1 << 16


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
        file = self._file
        end = self._end
        position = self.position
        offset = position.offset
        prev_chain = position.chain_hash
        last_seq = position.last_seq
        last_ts = position.last_ts_ns
        header_size = FRAME_HEADER.size
        file.seek(offset)
        try:
            while offset < end:
                if end - offset < header_size:
                    self.torn_bytes = end - offset
                    return
                header = file.read(header_size)
                if not is_frame_header_valid(header):
                    self._settle_damage(offset, offset, "frame header CRC mismatch")
                    return
                body_len, body_crc, _ = FRAME_HEADER.unpack(header)
                frame_end = offset + header_size + body_len
                if frame_end > end:
                    self.torn_bytes = end - offset
                    return
                body = file.read(body_len)
                if len(body) != body_len:
                    raise JournalCorrupt(f"file shrank while reading frame at offset {offset}")
                if body_len < BODY_HEAD.size or zlib.crc32(body) != body_crc:
                    self._settle_damage(offset, frame_end, "body CRC mismatch")
                    return
                kind, seq, ts_ns, link = BODY_HEAD.unpack_from(body)
                if link != prev_chain:
                    raise JournalCorrupt(f"hash chain broken at offset {offset} (seq {seq})")
                violation = order_violation(kind, seq, ts_ns, last_seq, last_ts)
                if violation is not None:
                    raise JournalCorrupt(f"{violation} at offset {offset}")
                record_hash = chain_hash(prev_chain, body)
                record = JournalRecord(
                    kind=RecordKind(kind),
                    seq=seq,
                    ts_ns=ts_ns,
                    prev_chain_hash=prev_chain,
                    chain_hash=record_hash,
                    payload=body[BODY_HEAD.size :],
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

    def _settle_damage(self, frame_offset: int, zeros_from: int, what: str) -> None:
        """Accept damage as a torn tail if only zeros follow, else raise JournalCorrupt."""
        if not self._is_zero_through_end(zeros_from):
            raise JournalCorrupt(f"{what} at offset {frame_offset} with data after it")
        self.torn_bytes = self._end - frame_offset

    def _is_zero_through_end(self, offset: int) -> bool:
        self._file.seek(offset)
        remaining = self._end - offset
        while remaining > 0:
            chunk = self._file.read(min(remaining, _ZERO_CHECK_CHUNK))
            if not chunk or chunk.count(0) != len(chunk):
                return False
            remaining -= len(chunk)
        return True
