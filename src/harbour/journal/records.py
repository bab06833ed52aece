"""The on-disk record format of the journal: framing, checksums and the hash chain.

Owns the byte layout and the rules a sequence of records must obey; it does no I/O.

File layout::

    file   := FILE_HEADER frame*
    FILE_HEADER := magic b"HBRJNL" (6 bytes) | format version u16
    frame  := FRAME_HEADER body
    FRAME_HEADER := body_len u32 | body_len xor 0xFFFFFFFF u32 | check (8 bytes)
    body   := kind u8 | seq u64 | ts_ns i64 | prev_chain_hash (32 bytes) | payload

All integers are little-endian. The payload is the encoded command for a COMMAND
record and the engine's state hash for a CHECKPOINT record.

* chain_hash(record) = blake2b-256(prev_chain_hash || body); the first record's
  prev_chain_hash is GENESIS_CHAIN_HASH (32 zero bytes).
* ``check`` is the first 8 bytes of the record's chain hash: a blake2b-based
  checksum of the body (and of the link it continues from), which costs nothing
  beyond the chain hash itself. The inverted copy of ``body_len`` lets a reader
  tell a damaged length from a real one before trusting it (a trusted bad length
  could make a scan take the rest of the file for a torn tail).

Invariants:

* Each body repeats the previous record's chain hash, so editing any record breaks
  the chain at the next one even when the editor recomputes that record's check:
  tamper evidence comes from the chain, the check only catches damage. The last
  record's chain hash is anchored outside the file (snapshots record it).
* A COMMAND's seq is strictly greater than every earlier seq (and at least 1).
* A CHECKPOINT carries the seq of the command after which it was taken, so its seq
  equals the last command's seq (0 before any command).
* ts_ns never decreases from one record to the next.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from hashlib import blake2b
from typing import Final

import msgspec

FILE_MAGIC: Final = b"HBRJNL"
FORMAT_VERSION: Final = 1
FILE_HEADER: Final = struct.Struct("<6sH")
FRAME_HEADER: Final = struct.Struct("<II8s")
BODY_HEAD: Final = struct.Struct("<BQq32s")
CHAIN_HASH_SIZE: Final = 32
CHECK_SIZE: Final = 8
GENESIS_CHAIN_HASH: Final = bytes(CHAIN_HASH_SIZE)
LENGTH_MASK: Final = 0xFFFFFFFF

_pack_body_head = BODY_HEAD.pack
_pack_frame_header = FRAME_HEADER.pack
_blake2b_256 = blake2b(digest_size=CHAIN_HASH_SIZE)


class RecordKind(IntEnum):
    """What a record holds; the numeric values are part of the file format."""

    COMMAND = 1
    CHECKPOINT = 2


class JournalRecord(msgspec.Struct, frozen=True):
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
    digest = _blake2b_256.copy()
    digest.update(prev_chain_hash + body)
    return digest.digest()


def encode_frame(
    kind: int, seq: int, ts_ns: int, prev_chain_hash: bytes, payload: bytes
) -> tuple[bytes, bytes]:
    """Return the framed bytes of one record and the record's chain hash."""
    body = _pack_body_head(kind, seq, ts_ns, prev_chain_hash) + payload
    digest = _blake2b_256.copy()
    digest.update(prev_chain_hash + body)
    record_hash = digest.digest()
    body_len = len(body)
    header = _pack_frame_header(body_len, body_len ^ LENGTH_MASK, record_hash[:CHECK_SIZE])
    return header + body, record_hash


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
