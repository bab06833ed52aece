"""Property: for any command stream, live state == snapshot + tail == full replay."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.journal import FileJournal, Sequencer, SnapshotStore, recover, replay

from journal_kit import CODEC, FACTORY, FakeClock
from toy_engine import Add, Delete, Put, ToyCommand

_keys = st.sampled_from(["a", "b", "c"])
_values = st.integers(min_value=-(2**40), max_value=2**40)
_commands: st.SearchStrategy[ToyCommand] = st.one_of(
    st.builds(Put, _keys, _values), st.builds(Add, _keys, _values), st.builds(Delete, _keys)
)


@settings(max_examples=30, deadline=None)
@given(
    commands=st.lists(_commands, min_size=1, max_size=60),
    checkpoint_every=st.integers(min_value=1, max_value=9),
    snapshot_every=st.integers(min_value=1, max_value=25),
    batch=st.integers(min_value=1, max_value=10),
)
def test_property_recover_and_replay_match_live_state(
    commands: list[ToyCommand], checkpoint_every: int, snapshot_every: int, batch: int
) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        engine = FACTORY.new()
        with FileJournal.open(directory / "journal.log") as journal:
            sequencer = Sequencer(
                engine,
                journal,
                CODEC,
                FakeClock(),
                checkpoint_every=checkpoint_every,
                snapshot_every=snapshot_every,
                snapshots=SnapshotStore(directory / "snapshots"),
            )
            for start in range(0, len(commands), batch):
                sequencer.submit_many(commands[start : start + batch])

        recovered, recovered_journal, last_seq = recover(directory, FACTORY, CODEC)
        recovered_journal.close()
        report = replay(directory / "journal.log", FACTORY, CODEC)

        assert last_seq == len(commands)
        assert report.is_consistent
        assert report.checkpoints_checked == len(commands) // checkpoint_every
        assert recovered.state_hash() == engine.state_hash()
        assert report.final_state_hash == engine.state_hash().hex()
