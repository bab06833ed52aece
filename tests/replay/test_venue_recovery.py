"""Recovery of the venue after a crash: nothing acknowledged is lost, the state hash is reproduced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harbour.journal import CommandCodec, recover, replay
from harbour.venue import VenueEngineFactory, check_all
from harbour.venue.commands import VenueCommand

sys.path.insert(0, str(Path(__file__).parent))
from venue_writer import commands  # noqa: E402

WRITER = Path(__file__).with_name("venue_writer.py")
CODEC = CommandCodec(VenueCommand)


def _run_and_kill(directory: Path, seed: int, min_acked: int) -> int:
    """Start the writer, read acknowledgements until ``min_acked``, SIGKILL it; return the last ack."""
    proc = subprocess.Popen([sys.executable, str(WRITER), str(directory), str(seed)], stdout=subprocess.PIPE, text=True)
    last_ack = 0
    deadline = time.monotonic() + 60
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ACK "):
                last_ack = int(line.split()[1])
            if last_ack >= min_acked or time.monotonic() > deadline:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert last_ack >= min_acked, "writer did not acknowledge enough commands in time"
    return last_ack


def test_venue_killed_mid_run_recovers_every_acknowledged_command_with_same_state_hash(tmp_path: Path) -> None:
    last_ack = _run_and_kill(tmp_path, seed=11, min_acked=6_000)

    engine, journal, last_seq = recover(tmp_path, VenueEngineFactory(), CODEC)
    recovered_hash = engine.state_hash()
    journal.close()
    report = replay(tmp_path / "journal.log", VenueEngineFactory(), CODEC)

    assert last_seq >= last_ack
    assert report.last_seq == last_seq
    assert report.is_consistent and report.checkpoints_checked > 0
    assert report.final_state_hash == recovered_hash.hex()
    assert check_all(engine.state) == []  # type: ignore[attr-defined]


def test_venue_killed_twice_equals_uninterrupted_application_of_the_same_commands(tmp_path: Path) -> None:
    first_ack = _run_and_kill(tmp_path, seed=5, min_acked=3_000)
    _run_and_kill(tmp_path, seed=5, min_acked=first_ack + 3_000)

    report = replay(tmp_path / "journal.log", VenueEngineFactory(), CODEC)
    direct = VenueEngineFactory().new()
    for seq, command in enumerate(commands(5)[: report.last_seq], start=1):
        direct.apply(seq, seq, command)

    assert report.is_consistent
    assert report.final_state_hash == direct.state_hash().hex()
