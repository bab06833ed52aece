"""Determinism: the same commands give the same events and the same state hash; a
snapshot restored mid-run hashes the same and then produces the same future."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from harbour.venue import VenueEngine, check_all
from harbour.venue.commands import VenueCommand

from properties.profile import examples
from properties.streams import Setup, run_stream, setups, streams


def _replay(commands: list[tuple[int, int, object]]) -> tuple[VenueEngine, list[object]]:
    engine = VenueEngine()
    events: list[object] = []
    for seq, ts, command in commands:
        events.extend(engine.apply(seq, ts, command))  # type: ignore[arg-type]
    return engine, events


@examples(30)
@given(setup=setups(), stream=streams(max_size=90))
def test_replaying_the_same_commands_gives_the_same_events_and_state_hash(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    original = run_stream(setup, stream, check_rejects=False)

    engine, events = _replay(original.commands)

    assert events == original.events
    assert engine.state_hash() == original.hash()


@examples(20)
@given(setup=setups(), stream=streams(max_size=90))
def test_replaying_commands_decoded_from_msgpack_gives_the_same_state_hash(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    original = run_stream(setup, stream, check_rejects=False)
    decoder = msgspec.msgpack.Decoder(VenueCommand)
    journal = [(seq, ts, msgspec.msgpack.encode(command)) for seq, ts, command in original.commands]

    engine, events = _replay([(seq, ts, decoder.decode(data)) for seq, ts, data in journal])

    assert engine.state_hash() == original.hash()
    assert msgspec.msgpack.encode(events) == msgspec.msgpack.encode(original.events)


@examples(30)
@given(setup=setups(), stream=streams(max_size=90), cut_percent=st.integers(0, 100))
def test_snapshot_restored_mid_run_hashes_the_same_and_replays_the_same_future(
    setup: Setup, stream: list[tuple[Any, ...]], cut_percent: int
) -> None:
    original = run_stream(setup, stream, check_rejects=False)
    split = len(original.commands) * cut_percent // 100
    head, tail = original.commands[:split], original.commands[split:]
    engine, head_events = _replay(head)
    snapshot = engine.snapshot()

    restored = VenueEngine.restore(snapshot)
    tail_events = [e for seq, ts, command in tail for e in restored.apply(seq, ts, command)]  # type: ignore[arg-type]

    assert VenueEngine.restore(snapshot).state_hash() == engine.state_hash()
    assert VenueEngine.restore(snapshot).snapshot() == snapshot
    assert check_all(VenueEngine.restore(snapshot).state) == []
    assert head_events + tail_events == original.events
    assert restored.state_hash() == original.hash()
