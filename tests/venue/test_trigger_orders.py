"""Trigger orders: stop-market, stop-limit, take-profit and trailing stop, triggered on the
mark or the last price as the client chose; firing is deterministic, in a published order,
and goes through the same order pipeline (gate, margin) as any order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harbour.journal import CommandCodec
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_PRICE
from harbour.venue import VenueEngine, check_all
from harbour.venue.commands import (
    CancelOrder,
    CancelTriggerOrder,
    PlaceOrder,
    PlaceTriggerOrder,
    SetProfessionalInvestorStatus,
    Side,
    TriggerKind,
    VenueCommand,
    WorkingType,
)
from harbour.venue.events import (
    OrderAccepted,
    TrailingStopMoved,
    TriggerOrderAccepted,
    TriggerOrderCancelled,
    TriggerOrderTriggered,
)
from harbour.venue.triggers import MAX_TRIGGERS_PER_ACCOUNT_INSTRUMENT

from venue.helpers import BTC_REF, BTCUSD, BUY, CLOSE_ONLY, HALTED, IOC, OPEN, SELL, STEP_NS, TICK, Venue

C = RejectCode
MARK = WorkingType.MARK
LAST = WorkingType.LAST
STOP_MARKET = TriggerKind.STOP_MARKET
STOP_LIMIT = TriggerKind.STOP_LIMIT
TP_MARKET = TriggerKind.TAKE_PROFIT_MARKET
TP_LIMIT = TriggerKind.TAKE_PROFIT_LIMIT
TRAILING = TriggerKind.TRAILING_STOP_MARKET
MM = 9


def _trigger(account: int = 1, side: Side = SELL, kind: TriggerKind = STOP_MARKET, working: WorkingType = MARK, **kw: Any) -> PlaceTriggerOrder:
    fields: dict[str, Any] = {"qty": 2}
    if kind is not TRAILING:
        fields["trigger_price"] = BTC_REF - 1_000
    fields.update(kw)
    return PlaceTriggerOrder(account=account, instrument=BTCUSD, side=side, kind=kind, working_type=working, **fields)


def _place(v: Venue, cmd: PlaceTriggerOrder) -> int:
    out = v.ok(cmd)
    accepted = v.events_of(TriggerOrderAccepted, out)
    assert len(accepted) == 1, out
    return int(accepted[0].trigger_id)


def _long(v: Venue, account: int = 1, qty: int = 2, price: int = BTC_REF) -> None:
    """``account`` (funded) buys ``qty`` from the market maker at ``price``."""
    v.cross(MM, account, BTCUSD, BUY, qty, price)


def _venue(*clients: int) -> Venue:
    v = Venue()
    for account in clients or (1,):
        v.open_client(account, usd=1_000_000, hkd=1_000_000)
    v.open_mm(MM, usd=50_000_000, hkd=50_000_000)
    return v


def _triggered(events: list[object]) -> list[tuple[int, str, int]]:
    return [(e.trigger_id, e.working_type.value, e.observed_price) for e in events if isinstance(e, TriggerOrderTriggered)]


# --- mark or last: the client's choice ---------------------------------------------------------


def test_a_stop_market_on_mark_price_fires_when_the_mark_crosses_its_trigger() -> None:
    v = _venue()
    _long(v)
    stop = _place(v, _trigger(trigger_price=BTC_REF - 1_000, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 2_000)

    above = v.set_ref(BTCUSD, BTC_REF - 990)
    out = v.set_ref(BTCUSD, BTC_REF - 1_000)

    assert _triggered(above) == []
    assert _triggered(out) == [(stop, "MARK", BTC_REF - 1_000)]
    trades = v.trades(out)
    assert [(t.taker_order_id, t.price, t.qty) for t in trades] == [(stop, BTC_REF - 2_000, 2)]
    assert v.position(1, BTCUSD) == 0
    assert v.state.triggers == {}


def test_a_last_price_trigger_ignores_the_mark() -> None:
    v = _venue(1, 2)
    _long(v)
    stop = _place(v, _trigger(working=LAST, trigger_price=BTC_REF - 1_000, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 3_000)

    mark_moved = v.set_ref(BTCUSD, BTC_REF - 5_000)
    assert _triggered(mark_moved) == []

    v.rest(MM, BTCUSD, SELL, 1, BTC_REF - 1_000)
    out = v.ok(PlaceOrder(account=2, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF - 1_000, tif=IOC))

    assert _triggered(out) == [(stop, "LAST", BTC_REF - 1_000)]
    assert v.position(1, BTCUSD) == 0


def test_a_mark_price_trigger_ignores_trades() -> None:
    v = _venue(1, 2)
    _long(v)
    _place(v, _trigger(working=MARK, trigger_price=BTC_REF - 1_000, reduce_only=True))

    v.rest(MM, BTCUSD, SELL, 1, BTC_REF - 2_000)
    out = v.ok(PlaceOrder(account=2, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF - 2_000, tif=IOC))

    assert v.state.last_trade_price[BTCUSD] == BTC_REF - 2_000
    assert _triggered(out) == []
    assert v.position(1, BTCUSD) == 2


def test_every_trigger_event_names_the_price_it_watches() -> None:
    v = _venue()
    _long(v)

    accepted = v.events_of(TriggerOrderAccepted, v.ok(_trigger(working=LAST, reduce_only=True)))

    assert [(a.working_type.value, a.working_price) for a in accepted] == [("LAST", BTC_REF)]


# --- kinds ----------------------------------------------------------------------------------------


def test_a_buy_stop_fires_when_the_price_rises_to_its_trigger() -> None:
    v = _venue()
    stop = _place(v, _trigger(side=BUY, trigger_price=BTC_REF + 1_000))
    v.rest(MM, BTCUSD, SELL, 5, BTC_REF + 1_000)

    assert _triggered(v.set_ref(BTCUSD, BTC_REF + 990)) == []
    out = v.set_ref(BTCUSD, BTC_REF + 1_500)

    assert _triggered(out) == [(stop, "MARK", BTC_REF + 1_500)]
    assert v.position(1, BTCUSD) == 2


def test_a_take_profit_fires_when_the_price_moves_in_the_positions_favour() -> None:
    v = _venue()
    _long(v)
    take = _place(v, _trigger(kind=TP_MARKET, trigger_price=BTC_REF + 1_000, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF + 1_000)

    assert _triggered(v.set_ref(BTCUSD, BTC_REF - 5_000)) == []
    out = v.set_ref(BTCUSD, BTC_REF + 1_000)

    assert _triggered(out) == [(take, "MARK", BTC_REF + 1_000)]
    assert v.position(1, BTCUSD) == 0


def test_a_stop_limit_places_its_limit_order_when_it_fires() -> None:
    v = _venue()
    stop = _place(v, _trigger(side=BUY, kind=STOP_LIMIT, trigger_price=BTC_REF + 1_000, price=BTC_REF + 1_100, client_order_id="sl-1"))

    out = v.set_ref(BTCUSD, BTC_REF + 1_000)

    accepted = v.events_of(OrderAccepted, out)
    assert [(a.order_id, a.price, a.qty, a.client_order_id) for a in accepted] == [(stop, BTC_REF + 1_100, 2, "sl-1")]
    assert v.book(BTCUSD)[0] == [(stop, BTC_REF + 1_100, 2)]
    v.ok(CancelOrder(account=1, instrument=BTCUSD, client_order_id="sl-1"))
    assert v.book(BTCUSD)[0] == []


def test_a_take_profit_limit_rests_at_its_price() -> None:
    v = _venue()
    _long(v)
    take = _place(v, _trigger(kind=TP_LIMIT, trigger_price=BTC_REF + 1_000, price=BTC_REF + 1_200, reduce_only=True))

    v.set_ref(BTCUSD, BTC_REF + 1_000)

    assert v.book(BTCUSD)[1] == [(take, BTC_REF + 1_200, 2)]


def test_trailing_stop_follows_the_best_price_and_fires_on_the_callback() -> None:
    v = _venue()
    _long(v)
    trail = _place(v, _trigger(kind=TRAILING, callback_bps=100, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 5_000)

    up = v.set_ref(BTCUSD, BTC_REF + 100_000)  # 96,000.00: the stop follows to 95,040.00
    moved = v.events_of(TrailingStopMoved, up)
    assert [(m.extreme, m.stop_price) for m in moved] == [(9_600_000, 9_504_000)]
    assert _triggered(v.set_ref(BTCUSD, 9_550_000)) == []  # a retrace short of 1% only
    assert v.events_of(TrailingStopMoved, v.last) == []
    assert _triggered(v.set_ref(BTCUSD, 9_504_010)) == []

    out = v.set_ref(BTCUSD, 9_504_000)

    assert _triggered(out) == [(trail, "MARK", 9_504_000)]
    assert v.events_of(TriggerOrderTriggered, out)[0].stop_price == 9_504_000
    assert v.position(1, BTCUSD) == 0


def test_a_buy_trailing_stop_tracks_the_lowest_price_and_fires_on_the_rebound() -> None:
    v = _venue()
    trail = _place(v, _trigger(side=BUY, kind=TRAILING, callback_bps=50))
    v.rest(MM, BTCUSD, SELL, 5, BTC_REF)

    v.set_ref(BTCUSD, 9_400_000)  # stop at ceil(9,400,000 x 1.005) = 9,447,000
    assert _triggered(v.set_ref(BTCUSD, 9_446_990)) == []
    out = v.set_ref(BTCUSD, 9_447_000)

    assert _triggered(out) == [(trail, "MARK", 9_447_000)]
    assert v.position(1, BTCUSD) == 2


def test_a_trailing_stop_waits_for_its_activation_price() -> None:
    v = _venue()
    _long(v)
    trail = _place(v, _trigger(kind=TRAILING, callback_bps=100, activation_price=BTC_REF + 50_000, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 20_000)

    assert _triggered(v.set_ref(BTCUSD, BTC_REF - 200_000)) == []  # not active: no callback yet
    activated = v.set_ref(BTCUSD, BTC_REF + 50_000)
    assert [(m.extreme, m.stop_price) for m in v.events_of(TrailingStopMoved, activated)] == [(9_550_000, 9_454_500)]

    out = v.set_ref(BTCUSD, 9_454_500)

    assert _triggered(out) == [(trail, "MARK", 9_454_500)]


def test_close_position_closes_the_whole_position_at_firing() -> None:
    v = _venue()
    _long(v, qty=2)
    stop = _place(v, _trigger(qty=0, close_position=True))
    _long(v, qty=3)
    v.rest(MM, BTCUSD, BUY, 10, BTC_REF - 2_000)

    out = v.set_ref(BTCUSD, BTC_REF - 1_000)

    assert [(t.taker_order_id, t.qty) for t in v.trades(out)] == [(stop, 5)]
    assert v.position(1, BTCUSD) == 0


def test_a_reduce_only_trigger_is_clipped_to_the_position_left_when_it_fires() -> None:
    v = _venue()
    _long(v, qty=5)
    _place(v, _trigger(qty=5, reduce_only=True))
    v.cross(MM, 1, BTCUSD, SELL, 3, BTC_REF)
    v.rest(MM, BTCUSD, BUY, 10, BTC_REF - 2_000)

    out = v.set_ref(BTCUSD, BTC_REF - 1_000)

    assert [t.qty for t in v.trades(out)] == [2]
    assert v.position(1, BTCUSD) == 0


def test_a_reduce_only_trigger_with_no_position_left_ends_without_an_order() -> None:
    v = _venue()
    stop = _place(v, _trigger(reduce_only=True))  # placed before the entry fills: allowed

    out = v.set_ref(BTCUSD, BTC_REF - 1_000)

    cancelled = v.events_of(TriggerOrderCancelled, out)
    assert [(c.trigger_id, c.reason, c.code) for c in cancelled] == [(stop, "REDUCE_ONLY_NO_POSITION", int(C.REDUCE_ONLY_NO_POSITION))]
    assert v.events_of(OrderAccepted, out) == []


# --- the fired order goes through the order pipeline ------------------------------------------


def test_a_fired_order_that_fails_margin_is_rejected_with_its_reason() -> None:
    v = Venue()
    v.open_client(1, usd=1_000)
    v.open_mm(MM, usd=50_000_000)
    stop = _place(v, _trigger(side=BUY, qty=1_000, trigger_price=BTC_REF + 1_000))  # no margin held while pending
    v.rest(MM, BTCUSD, SELL, 1_000, BTC_REF + 1_000)
    before = v.balance(1, "USD")

    out = v.set_ref(BTCUSD, BTC_REF + 1_000)

    assert _triggered(out) == [(stop, "MARK", BTC_REF + 1_000)]
    cancelled = v.events_of(TriggerOrderCancelled, out)
    assert [(c.trigger_id, c.reason, c.code) for c in cancelled] == [(stop, "INSUFFICIENT_MARGIN", int(C.INSUFFICIENT_MARGIN))]
    assert "initial margin" in cancelled[0].message and cancelled[0].detail["required"] > cancelled[0].detail["available"]
    assert (v.position(1, BTCUSD), v.balance(1, "USD"), v.trades(out)) == (0, before, [])


def test_a_fired_limit_order_outside_the_price_band_is_cancelled_with_its_reason() -> None:
    v = _venue()
    stop = _place(v, _trigger(side=BUY, kind=STOP_LIMIT, trigger_price=BTC_REF + 1_000, price=BTC_REF - 480_000))

    out = v.set_ref(BTCUSD, BTC_REF + 1_000)

    cancelled = v.events_of(TriggerOrderCancelled, out)
    assert [(c.trigger_id, c.reason) for c in cancelled] == [(stop, "PRICE_OUTSIDE_BAND")]


def test_trigger_orders_hold_no_margin_while_pending() -> None:
    v = _venue()
    before = v.equity_and_requirement(1)

    _place(v, _trigger(side=BUY, qty=100, trigger_price=BTC_REF + 1_000))

    assert v.equity_and_requirement(1) == before


def test_a_client_whose_professional_investor_status_lapsed_may_only_place_reducing_triggers() -> None:
    v = _venue()
    _long(v)
    v.ok(SetProfessionalInvestorStatus(account=1, expiry_ns=v.ts + STEP_NS))

    v.reject(_trigger(side=BUY, trigger_price=BTC_REF + 1_000), C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED)
    accepted = v.events_of(TriggerOrderAccepted, v.ok(_trigger(qty=2)))

    assert accepted[0].reduce_only is True


def test_a_close_only_instrument_accepts_only_reducing_triggers() -> None:
    v = _venue()
    _long(v)
    v.set_state(BTCUSD, CLOSE_ONLY)

    v.reject(_trigger(qty=3), C.INSTRUMENT_CLOSE_ONLY)
    assert v.events_of(TriggerOrderAccepted, v.ok(_trigger(qty=2)))[0].reduce_only is True


# --- determinism: order of firing and the cascade ------------------------------------------------


def test_triggers_reached_by_one_move_fire_in_the_order_the_price_reaches_them() -> None:
    v = _venue(1, 2, 3)
    for account in (1, 2, 3):
        _long(v, account)
    low = _place(v, _trigger(account=1, trigger_price=BTC_REF - 5_000, reduce_only=True))
    high = _place(v, _trigger(account=2, trigger_price=BTC_REF - 1_000, reduce_only=True))
    same = _place(v, _trigger(account=3, trigger_price=BTC_REF - 1_000, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 10, BTC_REF - 20_000)

    out = v.set_ref(BTCUSD, BTC_REF - 10_000)

    assert [t[0] for t in _triggered(out)] == [high, same, low]


def test_a_fired_order_that_moves_the_last_price_fires_the_last_price_triggers_it_reaches() -> None:
    v = _venue(1, 2)
    _long(v, 1)
    _long(v, 2)
    first = _place(v, _trigger(account=1, working=MARK, trigger_price=BTC_REF - 1_000, reduce_only=True))
    second = _place(v, _trigger(account=2, working=LAST, trigger_price=BTC_REF - 3_000, reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 2, BTC_REF - 3_000)
    v.rest(MM, BTCUSD, BUY, 2, BTC_REF - 4_000)

    out = v.set_ref(BTCUSD, BTC_REF - 1_000)

    assert _triggered(out) == [(first, "MARK", BTC_REF - 1_000), (second, "LAST", BTC_REF - 3_000)]
    assert [(t.taker_order_id, t.price) for t in v.trades(out)] == [(first, BTC_REF - 3_000), (second, BTC_REF - 4_000)]
    assert (v.position(1, BTCUSD), v.position(2, BTCUSD)) == (0, 0)


def test_a_last_price_trigger_sees_every_trade_of_a_sweep_not_only_the_final_price() -> None:
    v = _venue(1, 2)
    _long(v, 1)  # last trade at 95,000.00
    stop = _place(v, _trigger(working=LAST, trigger_price=BTC_REF - 50, reduce_only=True))
    v.rest(MM, BTCUSD, SELL, 1, BTC_REF - 100)
    v.rest(MM, BTCUSD, SELL, 1, BTC_REF + 100)
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 5_000)

    out = v.ok(PlaceOrder(account=2, instrument=BTCUSD, side=BUY, qty=2, price=BTC_REF + 100, tif=IOC))

    assert [t.price for t in v.trades(out)][:2] == [BTC_REF - 100, BTC_REF + 100]
    assert _triggered(out) == [(stop, "LAST", BTC_REF - 100)]


def test_a_last_price_trailing_stop_follows_each_trade_in_order() -> None:
    v = _venue(1, 2)
    _long(v, 1)
    trail = _place(v, _trigger(working=LAST, kind=TRAILING, callback_bps=10, reduce_only=True))
    v.rest(MM, BTCUSD, SELL, 1, BTC_REF + 10_000)
    v.rest(MM, BTCUSD, SELL, 1, BTC_REF + 20_000)

    out = v.ok(PlaceOrder(account=2, instrument=BTCUSD, side=BUY, qty=2, price=BTC_REF + 20_000, tif=IOC))

    moved = v.events_of(TrailingStopMoved, out)
    assert [(m.trigger_id, m.observed_price, m.extreme, m.stop_price) for m in moved] == [(trail, 9_520_000, 9_520_000, 9_510_480)]
    assert _triggered(out) == []


def test_triggers_do_not_fire_while_the_instrument_is_halted_and_wait_for_trading_to_resume() -> None:
    v = _venue()
    _long(v)
    stop = _place(v, _trigger(reduce_only=True))
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 5_000)
    v.set_state(BTCUSD, HALTED)

    assert _triggered(v.set_ref(BTCUSD, BTC_REF - 2_000)) == []
    v.set_state(BTCUSD, OPEN)
    out = v.set_ref(BTCUSD, BTC_REF - 2_000)

    assert _triggered(out) == [(stop, "MARK", BTC_REF - 2_000)]


# --- cancel ---------------------------------------------------------------------------------------


def test_a_trigger_order_is_cancelled_by_its_id_or_its_client_order_id() -> None:
    v = _venue()
    by_id = _place(v, _trigger(side=BUY, trigger_price=BTC_REF + 1_000))
    by_coid = _place(v, _trigger(side=BUY, trigger_price=BTC_REF + 2_000, client_order_id="tp-7"))

    first = v.ok(CancelTriggerOrder(account=1, instrument=BTCUSD, trigger_id=by_id))
    second = v.ok(CancelTriggerOrder(account=1, instrument=BTCUSD, client_order_id="tp-7"))

    got = [(c.trigger_id, c.reason) for c in v.events_of(TriggerOrderCancelled, first + second)]
    assert got == [(by_id, "USER"), (by_coid, "USER")]
    assert _triggered(v.set_ref(BTCUSD, BTC_REF + 3_000)) == []


def test_another_accounts_trigger_order_is_unknown() -> None:
    v = _venue(1, 2)
    stop = _place(v, _trigger(side=BUY, trigger_price=BTC_REF + 1_000))

    v.reject(CancelTriggerOrder(account=2, instrument=BTCUSD, trigger_id=stop), C.UNKNOWN_TRIGGER_ORDER)


def test_cancel_all_also_cancels_the_accounts_trigger_orders() -> None:
    v = _venue(1, 2)
    order = v.rest(1, BTCUSD, BUY, 1, BTC_REF - 100)
    mine = _place(v, _trigger(side=BUY, trigger_price=BTC_REF + 1_000))
    other = _place(v, _trigger(account=2, side=BUY, trigger_price=BTC_REF + 1_000))

    out = v.cancel_all(1, BTCUSD)

    assert [c.order_id for c in v.cancels(out)] == [order]
    assert [(c.trigger_id, c.reason) for c in v.events_of(TriggerOrderCancelled, out)] == [(mine, "CANCEL_ALL")]
    assert list(v.state.triggers[BTCUSD]) == [other]


def test_a_trigger_client_order_id_is_one_use_like_an_orders() -> None:
    v = _venue()
    _place(v, _trigger(side=BUY, trigger_price=BTC_REF + 1_000, client_order_id="x"))

    v.reject(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF - 100, client_order_id="x"), C.DUPLICATE_CLIENT_ORDER_ID)
    v.reject(_trigger(side=BUY, trigger_price=BTC_REF + 2_000, client_order_id="x"), C.DUPLICATE_CLIENT_ORDER_ID)


# --- state ----------------------------------------------------------------------------------------


def test_pending_triggers_and_trailing_stops_survive_a_snapshot_and_replay_the_same() -> None:
    v = _venue(1, 2)
    _long(v, 1)
    _place(v, _trigger(kind=TRAILING, callback_bps=100, reduce_only=True))
    _place(v, _trigger(account=2, side=BUY, working=LAST, trigger_price=BTC_REF + 1_000, client_order_id="b"))
    v.set_ref(BTCUSD, BTC_REF + 50_000)
    v.rest(MM, BTCUSD, BUY, 5, BTC_REF - 5_000)
    v.rest(MM, BTCUSD, SELL, 5, BTC_REF + 1_000)

    restored = VenueEngine.restore(v.engine.snapshot())
    assert restored.state_hash() == v.hash()
    assert restored.snapshot() == v.engine.snapshot()
    assert check_all(restored.state) == []

    future = [(v.seq + 1, v.ts + STEP_NS, PlaceOrder(account=MM, instrument=BTCUSD, side=SELL, qty=1, price=BTC_REF + 1_000))]
    future.append((v.seq + 2, v.ts + 2 * STEP_NS, PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF + 1_000, tif=IOC)))
    for seq, ts, cmd in future:
        assert restored.apply(seq, ts, cmd) == v.do(cmd, ts=ts)  # type: ignore[arg-type]
    assert restored.state_hash() == v.hash()
    assert _triggered(v.events) != []


def test_trigger_commands_round_trip_through_the_journal_codec() -> None:
    codec = CommandCodec(VenueCommand)
    commands = [
        _trigger(kind=TRAILING, callback_bps=250, activation_price=BTC_REF + 1_000, client_order_id="t"),
        _trigger(kind=STOP_LIMIT, working=LAST, price=BTC_REF - 1_100, tif=IOC, qty=0, close_position=True),
        CancelTriggerOrder(account=1, instrument=BTCUSD, client_order_id="t"),
    ]

    assert [codec.decode(codec.encode(c)) for c in commands] == commands


# --- rejects: each changes nothing -----------------------------------------------------------------

Arrange = Callable[[Venue], PlaceTriggerOrder]


def _full(v: Venue) -> PlaceTriggerOrder:
    for i in range(MAX_TRIGGERS_PER_ACCOUNT_INSTRUMENT):
        _place(v, _trigger(side=BUY, trigger_price=BTC_REF + (i + 1) * TICK))
    return _trigger(side=BUY, trigger_price=BTC_REF + 1_000)


REJECTS: list[tuple[str, RejectCode, Arrange]] = [
    ("unknown-account", C.UNKNOWN_ACCOUNT, lambda v: _trigger(account=404)),
    ("qty-zero", C.QUANTITY_NOT_POSITIVE, lambda v: _trigger(qty=0)),
    ("trigger-price-missing", C.TRIGGER_FIELD_REQUIRED, lambda v: _trigger(trigger_price=0)),
    ("trigger-price-negative", C.TRIGGER_PRICE_NOT_POSITIVE, lambda v: _trigger(trigger_price=-10)),
    ("trigger-price-off-tick", C.TRIGGER_PRICE_OFF_TICK, lambda v: _trigger(trigger_price=BTC_REF - 1_005)),
    ("trigger-price-past-ceiling", C.TRIGGER_PRICE_ABOVE_CEILING, lambda v: _trigger(side=BUY, trigger_price=MAX_PRICE + 10)),
    ("stop-would-fire-at-once", C.TRIGGER_WOULD_FIRE_IMMEDIATELY, lambda v: _trigger(side=BUY, trigger_price=BTC_REF)),
    ("take-profit-would-fire-at-once", C.TRIGGER_WOULD_FIRE_IMMEDIATELY, lambda v: _trigger(kind=TP_MARKET, trigger_price=BTC_REF - 10)),
    ("trailing-activation-passed", C.TRIGGER_WOULD_FIRE_IMMEDIATELY, lambda v: _trigger(kind=TRAILING, callback_bps=100, activation_price=BTC_REF)),
    ("market-kind-with-price", C.PRICE_NOT_ALLOWED, lambda v: _trigger(price=BTC_REF)),
    ("limit-kind-without-price", C.PRICE_REQUIRED, lambda v: _trigger(kind=STOP_LIMIT)),
    ("limit-price-off-tick", C.PRICE_OFF_TICK, lambda v: _trigger(kind=STOP_LIMIT, price=BTC_REF + 5)),
    ("market-kind-with-tif", C.TRIGGER_FIELD_NOT_ALLOWED, lambda v: _trigger(tif=IOC)),
    ("trailing-with-trigger-price", C.TRIGGER_FIELD_NOT_ALLOWED, lambda v: _trigger(kind=TRAILING, callback_bps=100, trigger_price=BTC_REF)),
    ("stop-with-callback", C.TRIGGER_FIELD_NOT_ALLOWED, lambda v: _trigger(callback_bps=100)),
    ("close-position-with-qty", C.TRIGGER_FIELD_NOT_ALLOWED, lambda v: _trigger(close_position=True)),
    ("close-position-limit", C.TRIGGER_FIELD_NOT_ALLOWED, lambda v: _trigger(kind=STOP_LIMIT, qty=0, price=BTC_REF, close_position=True)),
    ("callback-too-small", C.CALLBACK_OUT_OF_RANGE, lambda v: _trigger(kind=TRAILING, callback_bps=9)),
    ("callback-too-large", C.CALLBACK_OUT_OF_RANGE, lambda v: _trigger(kind=TRAILING, callback_bps=1_001)),
    ("last-before-any-trade", C.NO_LAST_TRADE_PRICE, lambda v: _trigger(working=LAST)),
    ("too-many", C.TOO_MANY_TRIGGER_ORDERS, _full),
    ("halted", C.INSTRUMENT_HALTED, lambda v: (v.set_state(BTCUSD, HALTED), _trigger())[1]),
]


@pytest.mark.parametrize(("code", "arrange"), [pytest.param(code, arrange, id=name) for name, code, arrange in REJECTS])
def test_a_bad_trigger_order_is_rejected_with_its_code_and_changes_nothing(code: RejectCode, arrange: Arrange) -> None:
    v = _venue()
    command = arrange(v)

    rejected = v.reject(command, code)

    assert "{" not in rejected.message
    assert all(str(value) in rejected.message for value in rejected.detail.values())
