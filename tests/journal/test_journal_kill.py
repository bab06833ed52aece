"""Kill test: SIGKILL a journaling process mid-run; nothing acknowledged is lost.

A child process (``crash_writer.py``) submits batches through a Sequencer and prints
each committed seq. The test kills it without warning, twice (the second run resumes
from ``recover``), then recovers and checks that every acknowledged seq is present
and that the recovered state equals a fresh replay of the journal, both of the file
as the crash left it and after recovery truncated it.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from harbour.journal import RecordKind, recover, replay

from journal_kit import CODEC, FACTORY

WRITER = Path(__file__).resolve().parent / "crash_writer.py"
SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src"


def _run_and_kill(directory: Path, min_acks: int, deadline_s: float) -> list[int]:
    """Start the writer, read acknowledged seqs until ``min_acks``, SIGKILL it, return them."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")])
    )
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    acked: list[int] = []
    pending = b""
    deadline = time.monotonic() + deadline_s
    try:
        while len(acked) < min_acks:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"writer too slow: {len(acked)} acks"
            ready, _, _ = select.select([process.stdout], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, f"writer exited early: {process.stderr.read()!r}"  # type: ignore[union-attr]
            pending += chunk
            *lines, pending = pending.split(b"\n")
            acked.extend(int(line) for line in lines)
    finally:
        process.send_signal(signal.SIGKILL)
        tail, _ = process.communicate(timeout=10)
    *lines, _ = (pending + tail).split(b"\n")
    acked.extend(int(line) for line in lines)
    assert process.returncode == -signal.SIGKILL
    return acked


def test_kill_during_commits_loses_no_acknowledged_seq(tmp_path: Path) -> None:
    directory = tmp_path / "venue"
    first_acks = _run_and_kill(directory, min_acks=150, deadline_s=20)
    second_acks = _run_and_kill(directory, min_acks=150, deadline_s=20)
    crash_copy = tmp_path / "as-crashed.log"
    shutil.copy(directory / "journal.log", crash_copy)

    engine, journal, last_seq = recover(directory, FACTORY, CODEC)
    with journal:
        command_seqs = [r.seq for r in journal.records() if r.kind is RecordKind.COMMAND]
    report = replay(directory / "journal.log", FACTORY, CODEC)
    crash_report = replay(crash_copy, FACTORY, CODEC)

    acked = first_acks + second_acks
    assert acked == sorted(acked)
    assert second_acks[0] > first_acks[-1]
    assert command_seqs == list(range(1, last_seq + 1))
    assert last_seq >= acked[-1]
    assert set(acked) <= set(command_seqs)
    assert any((directory / "snapshots").iterdir())
    assert report.is_consistent
    assert report.checkpoints_checked > 0
    assert report.final_state_hash == engine.state_hash().hex()
    assert crash_report.final_state_hash == report.final_state_hash
    assert crash_report.last_seq == last_seq
