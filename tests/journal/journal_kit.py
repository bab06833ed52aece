"""Builders and byte-level helpers shared by the journal tests."""

from __future__ import annotations

import struct
from pathlib import Path

from harbour.journal import CommandCodec, FileJournal, Sequencer, SnapshotStore
from harbour.journal.records import BODY_HEAD, CHECK_SIZE, FILE_HEADER, FRAME_HEADER, chain_hash

from toy_engine import ToyCommand, ToyEngine, ToyEngineFactory, make_commands

CODEC = CommandCodec(ToyCommand)
FACTORY = ToyEngineFactory()


class FakeClock:
    """A deterministic clock: each call returns the next value of a fixed script."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000, step_ns: int = 1_000) -> None:
        self._now_ns = start_ns
        self._step_ns = step_ns

    def __call__(self) -> int:
        self._now_ns += self._step_ns
        return self._now_ns


def write_commands(path: Path, count: int, payload_size: int = 12) -> list[bytes]:
    """Write ``count`` committed command records with distinct payloads; return the payloads."""
    payloads = [bytes([seq % 256]) * payload_size for seq in range(1, count + 1)]
    with FileJournal.open(path) as journal:
        for seq, payload in enumerate(payloads, start=1):
            journal.append_command(seq, 1_000 * seq, payload)
        journal.commit()
    return payloads


def run_sequencer(
    directory: Path,
    count: int,
    *,
    checkpoint_every: int | None = 10,
    snapshot_every: int | None = None,
    batch: int = 25,
) -> ToyEngine:
    """Submit ``count`` toy commands through a Sequencer into ``directory``; return the engine."""
    directory.mkdir(parents=True, exist_ok=True)
    engine = FACTORY.new()
    snapshots = SnapshotStore(directory / "snapshots") if snapshot_every else None
    with FileJournal.open(directory / "journal.log") as journal:
        sequencer = Sequencer(
            engine,
            journal,
            CODEC,
            FakeClock(),
            checkpoint_every=checkpoint_every,
            snapshot_every=snapshot_every,
            snapshots=snapshots,
        )
        commands = make_commands(0, count)
        for start in range(0, count, batch):
            sequencer.submit_many(commands[start : start + batch])
    return engine


def frame_spans(path: Path) -> list[tuple[int, int]]:
    """Return (start, end) byte offsets of every frame, read from the raw lengths."""
    data = path.read_bytes()
    spans: list[tuple[int, int]] = []
    offset = FILE_HEADER.size
    while offset < len(data):
        (body_len, _, _) = FRAME_HEADER.unpack_from(data, offset)
        end = offset + FRAME_HEADER.size + body_len
        spans.append((offset, end))
        offset = end
    return spans


def rewrite_payload(path: Path, frame: tuple[int, int], payload: bytes) -> None:
    """Replace one frame's payload (same length) and recompute that frame's check,
    as a forger would: only the hash chain can still tell."""
    data = bytearray(path.read_bytes())
    start, end = frame
    body_start = start + FRAME_HEADER.size
    payload_start = body_start + BODY_HEAD.size
    assert len(payload) == end - payload_start
    data[payload_start:end] = payload
    body = bytes(data[body_start:end])
    (_, _, _, link) = BODY_HEAD.unpack_from(body)
    check = chain_hash(link, body)[:CHECK_SIZE]
    struct.pack_into("<8s", data, start + 8, check)
    path.write_bytes(bytes(data))


def flip_byte(path: Path, offset: int) -> None:
    """Invert every bit of the byte at ``offset``."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
