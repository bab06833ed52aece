"""The level index of pending triggers is an optimisation only: a venue whose index is replaced
by a scan of every pending trigger (the reference) gives the same events for the same commands,
trailing stops included (they are re-indexed each time they activate or move)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from harbour.venue.commands import PlaceTriggerOrder, SetReferencePrice, TriggerKind, WorkingType
from harbour.venue.trigger_book import PendingTriggers, TriggerOrder

from venue.helpers import BTC_REF, BTCUSD, BUY, SELL, TICK, Venue

MM = 9
_KINDS = (TriggerKind.STOP_MARKET, TriggerKind.TAKE_PROFIT_MARKET, TriggerKind.TRAILING_STOP_MARKET, TriggerKind.TRAILING_STOP_MARKET)


def _scan_everything(self: PendingTriggers, working: WorkingType, low: int, high: int) -> list[TriggerOrder]:
    return [t for t in self.values() if t.working_type is working]


@st.composite
def _triggers(draw: st.DrawFn) -> PlaceTriggerOrder:
    kind = draw(st.sampled_from(_KINDS))
    side = draw(st.sampled_from((BUY, SELL)))
    offset = BTC_REF * draw(st.integers(-300, 300)) // 10_000 // TICK * TICK
    fields: dict[str, Any] = {"qty": 1, "reduce_only": True}
    if kind is TriggerKind.TRAILING_STOP_MARKET:
        fields["callback_bps"] = draw(st.integers(10, 300))
        if draw(st.booleans()):
            fields["activation_price"] = BTC_REF + offset
    else:
        fields["trigger_price"] = BTC_REF + offset
    return PlaceTriggerOrder(account=1, instrument=BTCUSD, side=side, kind=kind, working_type=WorkingType.MARK, **fields)


def _run(commands: list[object]) -> list[list[object]]:
    v = Venue()
    v.open_client(1, usd=1_000_000, hkd=1_000_000)
    v.open_mm(MM, usd=50_000_000, hkd=50_000_000)
    v.cross(MM, 1, BTCUSD, BUY, 5, BTC_REF)  # a long, so reducing sells can fire into an order
    return [v.do(c) for c in commands]


@settings(max_examples=60, deadline=None)
@given(
    triggers=st.lists(_triggers(), min_size=1, max_size=12),
    moves=st.lists(st.integers(-150, 150), min_size=1, max_size=25),  # bps of the mark
)
def test_the_trigger_index_gives_the_same_events_as_scanning_every_pending_trigger(triggers: list[PlaceTriggerOrder], moves: list[int]) -> None:
    price = BTC_REF
    commands: list[object] = list(triggers)
    for step in moves:
        price = max(TICK, (price + price * step // 10_000) // TICK * TICK)
        commands.append(SetReferencePrice(instrument=BTCUSD, price=price))

    indexed = _run(commands)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(PendingTriggers, "reachable", _scan_everything)
        scanned = _run(commands)

    assert indexed == scanned
    kinds = {type(e).__name__ for out in indexed for e in out}
    event(f"trailing stop moved: {'TrailingStopMoved' in kinds}; a trigger fired: {'TriggerOrderTriggered' in kinds}")
