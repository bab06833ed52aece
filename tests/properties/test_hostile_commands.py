"""Commands with arbitrary field values never break the engine.

Every command type of the venue is drawn with fields taken from a hostile vocabulary
(unknown and platform account ids, unknown symbols and assets, zero, negative and
huge-but-bounded numbers, every enum value, ill-typed nested values) and mixed into
ordinary streams. Each goes through the journal's codec first, as on the live path: a
command whose fields do not have their declared types is refused there (MALFORMED_COMMAND,
tested in tests/journal) and never reaches the engine. What passes, ``apply`` must take
without raising: a broken rule is a Rejected event that changes nothing, and every
invariant holds after every step (the driver checks both).
"""

from __future__ import annotations

import typing
from enum import Enum
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from harbour.journal.codec import CommandCodec
from harbour.kernel.errors import MalformedCommand
from harbour.venue import check_all
from harbour.venue.commands import VenueCommand

from properties.profile import examples
from properties.streams import Setup, commands_for, open_accounts, setups, streams
from venue.helpers import BTC_REF, ETH_REF, Venue

BOUND = 10**12  # large, yet far from the int64 limits the journal can carry (see test_state.py)

_NAMES: dict[str, st.SearchStrategy[Any]] = {
    "account": st.sampled_from([1, 2, 3, 9, 0, -1, 999]),
    "instrument": st.sampled_from(["BTCUSD", "ETHHKD", "", "btcusd", "XRPHKD", "BTC-USD"]),
    "target": st.sampled_from(["INSURANCE_FUND", "PLATFORM_CAPITAL", "FEE_INCOME", "DEFICIT", "EXTERNAL", "CLEARING:BTCUSD", ""]),
    "asset": st.sampled_from(["HKD", "USD", "HKDX", "HKDY", "TDHKD", "BTC", "ETH", "", "SGD"]),
    "settlement_asset": st.sampled_from(["HKD", "USD", "HKDX", "BTC", "", "SGD"]),
    "currency": st.sampled_from(["HKD", "USD", "SGD", ""]),
    "base": st.sampled_from(["HKD", "USD", "SGD", ""]),
    "quote": st.sampled_from(["HKD", "USD", "SGD", ""]),
    "reference": st.sampled_from(["BTC", "ETH", "SOL", ""]),
    "client_order_id": st.sampled_from(["", "a", "b"]),
    "price": st.one_of(st.sampled_from([0, -10, 1, BTC_REF, ETH_REF, BTC_REF + 5]), st.integers(-BOUND, BOUND)),
}
_NUMBER = st.one_of(st.sampled_from([0, -1, 1, 2, 10, 100, 10_000, 1_000_000]), st.integers(-BOUND, BOUND))
_TEXT = st.sampled_from(["", "A", "ISSUER-A", "ISSUER-B", "BANK-A", "x y", "SFC-1"])


def _field_strategy(name: str, kind: Any) -> st.SearchStrategy[Any]:
    if name in _NAMES:
        return _NAMES[name]
    if kind is bool:
        return st.booleans()
    if kind is int:
        return _NUMBER
    if kind is str:
        return _TEXT
    if isinstance(kind, type) and issubclass(kind, Enum):
        return st.sampled_from(list(kind))
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return _command_strategy(kind)
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        items = _TEXT if item is str else st.one_of(_field_strategy(name, item), _TEXT)
        return st.lists(items, max_size=3).map(tuple)
    raise AssertionError(f"no strategy for field {name}: {kind!r}")


def _command_strategy(cls: type) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{f.name: _field_strategy(f.name, f.type) for f in msgspec.structs.fields(cls)})


hostile_commands = st.one_of([_command_strategy(cls) for cls in typing.get_args(VenueCommand)])
_CODEC = CommandCodec(VenueCommand)


def _through_the_codec(v: Venue, command: Any) -> None:
    """Apply ``command`` as the sequencer would: only if the codec accepts it, and as decoded."""
    try:
        _, decoded = _CODEC.encode_checked(command)
    except MalformedCommand:
        return
    v.do(decoded)


@examples(80)
@given(setup=setups(), stream=streams(max_size=60), hostile=st.lists(hostile_commands, min_size=10, max_size=40))
def test_hostile_commands_mixed_into_streams_never_raise_and_change_nothing_when_rejected(
    setup: Setup, stream: list[tuple[Any, ...]], hostile: list[Any]
) -> None:
    v = Venue()
    open_accounts(v, setup)
    every = max(len(stream) // len(hostile), 1)
    for i, intent in enumerate(stream):
        for command in commands_for(v, intent):
            v.do(command)
        if i % every == 0 and hostile:
            _through_the_codec(v, hostile.pop())
    for command in hostile:
        _through_the_codec(v, command)

    assert check_all(v.state) == []


def test_hostile_vocabulary_can_build_every_command_type() -> None:
    built = [_command_strategy(cls) for cls in typing.get_args(VenueCommand)]

    assert len(built) == len(typing.get_args(VenueCommand)) >= 20
