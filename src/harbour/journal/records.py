"""The on-disk record format of the journal: framing, checksums and the hash chain.

Owns the byte layout and the rules a sequence of records must obey; it does no I/O.

File layout::

    file   := FILE_HEADER frame*
    FILE_HEADER := magic b"HBRJNL" (6 bytes) | format version u16
    frame  := FRAME_HEADER body
    FRAME_HEADER := body_len u32 | body_crc u32 | header_crc u32
    body   := kind u8 | seq u64 | ts_ns i64 | prev_chain_hash (32 bytes) | payload

All integers are little-endian. ``body_crc`` is CRC32 of the body; ``header_crc`` is
CRC32 of the first eight header bytes, so a damaged length field is recognised as
damage instead of being trusted (a trusted bad length could make a scan take the
whole rest of the file for a torn tail). The payload is the encoded command for a
COMMAND record and the engine's state hash for a CHECKPOINT record.

Invariants:

* chain_hash(record) = blake2b-256(prev_chain_hash || body); the first record's
  prev_chain_hash is GENESIS_CHAIN_HASH (32 zero bytes). Each body repeats the
  previous record's chain hash, so editing any record breaks the chain at the next
  one even when the editor recomputes the CRCs: tamper evidence comes from the
  chain, the CRCs only catch accidental damage. The last record's chain hash is
  anchored outside the file (snapshots record it).
* A COMMAND's seq is strictly greater than every earlier seq (and at least 1).
* A CHECKPOINT carries the seq of the command after which it was taken, so its seq
  equals the last command's seq (0 before any command).
* ts_ns never decreases from one record to the next.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum
from hashlib import blake2b
from typing import Final

FILE_MAGIC: Final = b"HBRJNL"
FORMAT_VERSION: Final = 1
FILE_HEADER: Final = struct.Struct("<6sH")
FRAME_HEADER: Final = struct.Struct("<III")
FRAME_HEADER_PREFIX_SIZE: Final = 8
BODY_HEAD: Final = struct.Struct("<BQq32s")
CHAIN_HASH_SIZE: Final = 32
GENESIS_CHAIN_HASH: Final = bytes(CHAIN_HASH_SIZE)

_pack_body_head = BODY_HEAD.pack
_pack_length_and_crc = struct.Struct("<II").pack
_pack_u32 = struct.Struct("<I").pack


class RecordKind(IntEnum):
    """What a record holds; the numeric values are part of the file format."""

    COMMAND = 1
    CHECKPOINT = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    """One decoded, verified record."""

    kind: RecordKind
    seq: int
    ts_ns: int
    prev_chain_hash: bytes
    chain_hash: bytes
    payload: bytes


def file_header() -> bytes:
    """Return the bytes every journal file starts with."""
    return FILE_HEADER.pack(FILE_MAGIC, FORMAT_VERSION)


def chain_hash(prev_chain_hash: bytes, body: bytes) -> bytes:
    """Return blake2b-256(prev_chain_hash || body)."""
    return blake2b(prev_chain_hash + body, digest_size=CHAIN_HASH_SIZE).digest()


def encode_frame(
    kind: RecordKind, seq: int, ts_ns: int, prev_chain_hash: bytes, payload: bytes
) -> tuple[bytes, bytes]:
    """Return the framed bytes of one record and the record's chain hash."""
    body = _pack_body_head(kind, seq, ts_ns, prev_chain_hash) + payload
    length_and_crc = _pack_length_and_crc(len(body), zlib.crc32(body))
    frame = length_and_crc + _pack_u32(zlib.crc32(length_and_crc)) + body
    return frame, blake2b(prev_chain_hash + body, digest_size=CHAIN_HASH_SIZE).digest()


def is_frame_header_valid(header: bytes) -> bool:
    """Return whether the header's own CRC matches its length and body-CRC fields."""
    (_, _, header_crc) = FRAME_HEADER.unpack(header)
    return zlib.crc32(header[:FRAME_HEADER_PREFIX_SIZE]) == header_crc


def order_violation(kind: int, seq: int, ts_ns: int, last_seq: int, last_ts_ns: int) -> str | None:
    """Return why a record may not follow the given position, or None if it may."""
    if kind == RecordKind.COMMAND:
        if seq <= last_seq:
            return f"command seq {seq} does not exceed previous seq {last_seq}"
    elif kind == RecordKind.CHECKPOINT:
        if seq != last_seq:
            return f"checkpoint seq {seq} is not the last command seq {last_seq}"
    else:
        return f"unknown record kind {kind}"
    if ts_ns < last_ts_ns:
        return f"ts_ns {ts_ns} is before previous ts_ns {last_ts_ns}"
    return None
