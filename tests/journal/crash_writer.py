"""A journaling process for the kill test: recover, then submit and commit forever.

Usage: ``python crash_writer.py DIRECTORY``. After every commit it prints the last
committed (so acknowledged) seq on its own line and flushes. It never stops by
itself before ``MAX_SEQ``: the test ends it with SIGKILL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harbour.journal import Sequencer, SnapshotStore, recover

from journal_kit import CODEC, FACTORY
from toy_engine import make_commands

MAX_SEQ = 5_000_000


def main(directory: Path) -> None:
    engine, journal, _ = recover(directory, FACTORY, CODEC)
    sequencer = Sequencer(
        engine,
        journal,
        CODEC,
        time.time_ns,
        checkpoint_every=50,
        snapshot_every=700,
        snapshots=SnapshotStore(directory / "snapshots"),
    )
    batch_sizes = (1, 7, 32, 3, 64, 19)
    batch = 0
    while sequencer.last_seq < MAX_SEQ:
        size = batch_sizes[batch % len(batch_sizes)]
        for command in make_commands(sequencer.last_seq, size):
            sequencer.submit(command)
        sequencer.commit()
        print(sequencer.last_seq, flush=True)
        batch += 1


if __name__ == "__main__":
    main(Path(sys.argv[1]))
