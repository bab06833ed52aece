"""Order types and order maintenance: GTC, IOC, FOK, POST_ONLY, MARKET, reduce-only,
cancel, cancel-all, amend, client order ids, price checks."""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import AmendOrder, CancelOrder, PlaceOrder
from harbour.venue.events import OrderAccepted, OrderAmended, OrderCancelled, Rejected

from venue.helpers import (
    BTC_REF,
    BTCUSD,
    BUY,
    ETH_REF,
    ETHHKD,
    EXPIRE_TAKER,
    FOK,
    IOC,
    MARKET,
    POST_ONLY,
    SELL,
    Venue,
    fills,
    instrument_spec,
)

C = RejectCode


def _funded(v: Venue, *accounts: int) -> None:
    for account in accounts:
        v.open_client(account, usd=1_000_000, hkd=1_000_000)


# --- GTC -------------------------------------------------------------------------------


def test_gtc_limit_order_that_does_not_cross_rests_on_book(venue: Venue) -> None:
    _funded(venue, 1)

    out = venue.buy(1, BTCUSD, 5, BTC_REF - 100)

    accepted = venue.events_of(OrderAccepted, out)
    assert [(a.price, a.qty, a.tif.value) for a in accepted] == [(BTC_REF - 100, 5, "GTC")]
    assert venue.book(BTCUSD) == ([(accepted[0].order_id, BTC_REF - 100, 5)], [])
    assert venue.trades(out) == []


def test_gtc_limit_order_that_crosses_fills_at_maker_price_and_rests_remainder(venue: Venue) -> None:
    _funded(venue, 1, 2)
    ask = venue.rest(1, BTCUSD, SELL, 3, BTC_REF)

    out = venue.buy(2, BTCUSD, 5, BTC_REF + 100)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(ask, taker, BTC_REF, 3)]
    assert venue.book(BTCUSD) == ([(taker, BTC_REF + 100, 2)], [])
    assert (venue.position(1, BTCUSD), venue.position(2, BTCUSD)) == (-3, 3)


def test_taker_sweeps_price_levels_best_first_and_stops_at_its_limit(venue: Venue) -> None:
    _funded(venue, 1, 2)
    a1 = venue.rest(1, BTCUSD, SELL, 2, BTC_REF + 20)
    a2 = venue.rest(1, BTCUSD, SELL, 2, BTC_REF)
    venue.rest(1, BTCUSD, SELL, 2, BTC_REF + 40)

    out = venue.buy(2, BTCUSD, 10, BTC_REF + 20, tif=IOC)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(a2, taker, BTC_REF, 2), (a1, taker, BTC_REF + 20, 2)]
    assert [c.reason for c in venue.cancels(out)] == ["IOC_REMAINDER"]


# --- IOC -------------------------------------------------------------------------------


def test_ioc_order_remainder_is_cancelled_instead_of_resting(venue: Venue) -> None:
    _funded(venue, 1, 2)
    ask = venue.rest(1, BTCUSD, SELL, 3, BTC_REF)

    out = venue.buy(2, BTCUSD, 5, BTC_REF, tif=IOC)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(ask, taker, BTC_REF, 3)]
    assert [(c.order_id, c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(taker, 2, "IOC_REMAINDER")]
    assert venue.book(BTCUSD) == ([], [])


def test_ioc_order_with_nothing_to_match_is_accepted_then_cancelled_whole(venue: Venue) -> None:
    _funded(venue, 1)

    out = venue.buy(1, BTCUSD, 4, BTC_REF, tif=IOC)

    assert [(c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(4, "IOC_REMAINDER")]
    assert venue.book(BTCUSD) == ([], [])


# --- FOK -------------------------------------------------------------------------------


def test_fok_order_that_can_fill_completely_fills_across_levels(venue: Venue) -> None:
    _funded(venue, 1, 2)
    a1 = venue.rest(1, BTCUSD, SELL, 3, BTC_REF)
    a2 = venue.rest(1, BTCUSD, SELL, 3, BTC_REF + 10)

    out = venue.buy(2, BTCUSD, 5, BTC_REF + 10, tif=FOK)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(a1, taker, BTC_REF, 3), (a2, taker, BTC_REF + 10, 2)]
    assert venue.cancels(out) == []


def test_fok_order_that_cannot_fill_completely_is_rejected_and_changes_nothing(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.rest(1, BTCUSD, SELL, 3, BTC_REF)

    rejected = venue.reject(PlaceOrder(account=2, instrument=BTCUSD, side=BUY, qty=5, price=BTC_REF, tif=FOK), C.FOK_NOT_FILLABLE)

    assert rejected.detail == {"qty": 5, "fillable": 3}


def test_fok_order_is_never_partly_filled_when_a_same_entity_maker_stops_it(venue: Venue) -> None:
    # Decision D9: a fill-or-kill taker always expires self-trading makers, so its
    # all-or-nothing check stays exact; whatever the STP mode, FOK fills all or nothing.
    venue.open_client(1, usd=1_000_000, entity="GROUP-A")
    venue.open_client(2, usd=1_000_000, entity="GROUP-A")
    venue.open_client(3, usd=1_000_000)
    venue.rest(3, BTCUSD, SELL, 5, BTC_REF)
    venue.rest(2, BTCUSD, SELL, 5, BTC_REF + 10)
    venue.rest(3, BTCUSD, SELL, 5, BTC_REF + 20)

    out = venue.buy(1, BTCUSD, 10, BTC_REF + 20, tif=FOK, stp=EXPIRE_TAKER)

    filled = sum(t.qty for t in venue.trades(out))
    assert filled in (0, 10), f"FOK order filled {filled} of 10: {out!r}"


def test_fok_order_is_never_partly_filled_when_reduce_only_makers_overlap(venue: Venue) -> None:
    _funded(venue, 1, 2, 3)
    venue.cross(2, 1, BTCUSD, BUY, 5, BTC_REF)  # account 1 long 5
    venue.rest(1, BTCUSD, SELL, 5, BTC_REF, reduce_only=True)
    venue.rest(1, BTCUSD, SELL, 5, BTC_REF + 10, reduce_only=True)

    out = venue.buy(3, BTCUSD, 10, BTC_REF + 10, tif=FOK)

    filled = sum(t.qty for t in venue.trades(out))
    assert filled in (0, 10), f"FOK order filled {filled} of 10: {out!r}"


# --- POST_ONLY -------------------------------------------------------------------------


def test_post_only_order_that_would_cross_is_rejected_with_best_price(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.rest(1, BTCUSD, SELL, 3, BTC_REF)

    rejected = venue.reject(
        PlaceOrder(account=2, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF, tif=POST_ONLY), C.POST_ONLY_WOULD_CROSS
    )

    assert rejected.detail == {"price": BTC_REF, "best": BTC_REF}


def test_post_only_order_that_does_not_cross_rests(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.rest(1, BTCUSD, SELL, 3, BTC_REF)

    order = venue.rest(2, BTCUSD, BUY, 1, BTC_REF - 10, tif=POST_ONLY)

    assert venue.book(BTCUSD)[0] == [(order, BTC_REF - 10, 1)]


# --- MARKET ----------------------------------------------------------------------------


def test_market_buy_fills_up_to_the_collar_and_cancels_the_rest_market_collar(venue: Venue) -> None:
    _funded(venue, 1, 2)
    collar_price = BTC_REF + BTC_REF // 100  # 1% collar: 95,950.00
    a1 = venue.rest(1, BTCUSD, SELL, 1, BTC_REF)
    a2 = venue.rest(1, BTCUSD, SELL, 1, collar_price)
    beyond = venue.rest(1, BTCUSD, SELL, 1, collar_price + 10)

    out = venue.market(2, BTCUSD, BUY, 3)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(a1, taker, BTC_REF, 1), (a2, taker, collar_price, 1)]
    assert [(c.order_id, c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(taker, 1, "MARKET_COLLAR")]
    assert venue.book(BTCUSD)[1] == [(beyond, collar_price + 10, 1)]


def test_market_sell_collar_is_rounded_onto_a_tick_inside_the_collar(venue: Venue) -> None:
    # ref 95,005.50 -> 1% collar 950.055 -> floor 950.05 -> raw low 94,055.45, rounded up to 94,055.50
    _funded(venue, 1, 2)
    venue.set_ref(BTCUSD, 9_500_550)
    venue.rest(1, BTCUSD, BUY, 1, 9_405_540)
    inside = venue.rest(1, BTCUSD, BUY, 1, 9_405_550)

    out = venue.market(2, BTCUSD, SELL, 2)

    assert fills(venue.trades(out)) == [(inside, venue.order_id(out), 9_405_550, 1)]
    assert [c.reason for c in venue.cancels(out)] == ["MARKET_COLLAR"]


def test_market_order_accepted_event_reports_ioc_at_the_collar_price(venue: Venue) -> None:
    _funded(venue, 1)

    out = venue.market(1, BTCUSD, BUY, 1)

    accepted = venue.events_of(OrderAccepted, out)[0]
    assert (accepted.tif.value, accepted.price) == ("IOC", BTC_REF + BTC_REF // 100)


def test_market_order_carrying_a_price_is_rejected(venue: Venue) -> None:
    _funded(venue, 1)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF, order_type=MARKET), C.PRICE_NOT_ALLOWED
    )

    assert rejected.message == "a market order must not carry a price"


def test_limit_order_without_price_is_rejected(venue: Venue) -> None:
    _funded(venue, 1)

    rejected = venue.reject(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1), C.PRICE_REQUIRED)

    assert rejected.message == "a limit order needs a price"


# --- reduce-only -----------------------------------------------------------------------


def test_reduce_only_order_without_position_is_rejected(venue: Venue) -> None:
    _funded(venue, 1)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=1, price=BTC_REF, reduce_only=True), C.REDUCE_ONLY_NO_POSITION
    )

    assert rejected.detail == {}


def test_reduce_only_order_larger_than_position_is_rejected(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.cross(2, 1, BTCUSD, BUY, 3, BTC_REF)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=4, price=BTC_REF, reduce_only=True), C.REDUCE_ONLY_WOULD_INCREASE
    )

    assert rejected.detail == {"qty": 4, "position": 3}


def test_reduce_only_order_on_the_side_of_the_position_is_rejected(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.cross(2, 1, BTCUSD, BUY, 3, BTC_REF)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF, reduce_only=True), C.REDUCE_ONLY_WOULD_INCREASE
    )

    assert rejected.detail == {"qty": 1, "position": 3}


def test_reduce_only_order_within_position_fills_and_reduces(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.cross(2, 1, BTCUSD, BUY, 3, BTC_REF)
    venue.rest(2, BTCUSD, BUY, 5, BTC_REF)

    out = venue.sell(1, BTCUSD, 2, BTC_REF, reduce_only=True)

    assert venue.events_of(OrderAccepted, out)[0].reduce_only is True
    assert sum(t.qty for t in venue.trades(out)) == 2
    assert venue.position(1, BTCUSD) == 1


def test_resting_reduce_only_order_is_clipped_to_the_shrunken_position(venue: Venue) -> None:
    _funded(venue, 1, 2, 3)
    venue.cross(2, 1, BTCUSD, BUY, 5, BTC_REF)  # account 1 long 5
    reduce = venue.rest(1, BTCUSD, SELL, 5, BTC_REF + 100, reduce_only=True)
    venue.cross(2, 1, BTCUSD, SELL, 3, BTC_REF)  # account 1 sells 3 elsewhere: long 2

    out = venue.buy(3, BTCUSD, 5, BTC_REF + 100, tif=IOC)

    assert fills(venue.trades(out)) == [(reduce, venue.order_id(out), BTC_REF + 100, 2)]
    clipped = [c for c in venue.cancels(out) if c.order_id == reduce]
    assert [(c.remaining_qty, c.reason) for c in clipped] == [(3, "REDUCE_ONLY_CLIPPED")]
    assert venue.position(1, BTCUSD) == 0


def test_resting_reduce_only_order_of_a_closed_position_is_cancelled_not_filled(venue: Venue) -> None:
    _funded(venue, 1, 2, 3)
    venue.cross(2, 1, BTCUSD, BUY, 2, BTC_REF)
    reduce = venue.rest(1, BTCUSD, SELL, 2, BTC_REF + 100, reduce_only=True)
    venue.cross(2, 1, BTCUSD, SELL, 2, BTC_REF)  # flat
    behind = venue.rest(2, BTCUSD, SELL, 2, BTC_REF + 100)

    out = venue.buy(3, BTCUSD, 2, BTC_REF + 100, tif=IOC)

    assert fills(venue.trades(out)) == [(behind, venue.order_id(out), BTC_REF + 100, 2)]
    assert [(c.order_id, c.reason) for c in venue.cancels(out)] == [(reduce, "REDUCE_ONLY_CLIPPED")]
    assert venue.position(1, BTCUSD) == 0


# --- cancel and cancel-all -------------------------------------------------------------


def test_cancel_by_order_id_removes_the_order_and_reports_its_remaining_qty(venue: Venue) -> None:
    _funded(venue, 1, 2)
    order = venue.rest(1, BTCUSD, BUY, 5, BTC_REF)
    venue.sell(2, BTCUSD, 2, BTC_REF, tif=IOC)

    out = venue.cancel(1, BTCUSD, order_id=order)

    assert [(c.order_id, c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(order, 3, "USER")]
    assert venue.book(BTCUSD) == ([], [])


def test_cancel_by_client_order_id_finds_the_order(venue: Venue) -> None:
    _funded(venue, 1)
    order = venue.rest(1, BTCUSD, BUY, 5, BTC_REF, client_order_id="my-1")

    out = venue.cancel(1, BTCUSD, client_order_id="my-1")

    assert [c.order_id for c in venue.cancels(out)] == [order]


def test_cancel_of_another_accounts_order_is_rejected_as_unknown_and_the_order_stays(venue: Venue) -> None:
    # an account learns nothing about other accounts' orders: the reject is the same as for no order
    _funded(venue, 1, 2)
    order = venue.rest(1, BTCUSD, BUY, 5, BTC_REF)
    before = venue.hash()

    out = venue.cancel(2, BTCUSD, order_id=order)

    assert [e.reason for e in out if isinstance(e, Rejected)] == ["UNKNOWN_ORDER"]
    assert venue.hash() == before
    assert venue.book(BTCUSD)[0] == [(order, BTC_REF, 5)]


def test_cancel_of_a_filled_order_is_rejected_unknown_order(venue: Venue) -> None:
    _funded(venue, 1, 2)
    trade = venue.cross(1, 2, BTCUSD, SELL, 1, BTC_REF)

    rejected = venue.reject(CancelOrder(account=1, instrument=BTCUSD, order_id=trade.maker_order_id), C.UNKNOWN_ORDER)

    assert rejected.detail == {"order": trade.maker_order_id}


def test_cancel_all_for_one_instrument_leaves_other_instruments(venue: Venue) -> None:
    _funded(venue, 1)
    b1 = venue.rest(1, BTCUSD, BUY, 1, BTC_REF - 10)
    b2 = venue.rest(1, BTCUSD, SELL, 1, BTC_REF + 10)
    e1 = venue.rest(1, ETHHKD, BUY, 1, ETH_REF)

    out = venue.cancel_all(1, BTCUSD)

    assert sorted((c.order_id, c.reason) for c in venue.cancels(out)) == [(b1, "CANCEL_ALL"), (b2, "CANCEL_ALL")]
    assert venue.engine.open_order_ids(1) == [e1]


def test_cancel_all_without_instrument_cancels_every_open_order_of_the_account(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.rest(1, BTCUSD, BUY, 1, BTC_REF - 10)
    venue.rest(1, ETHHKD, BUY, 1, ETH_REF)
    other = venue.rest(2, ETHHKD, BUY, 1, ETH_REF)

    out = venue.cancel_all(1)

    assert len(venue.cancels(out)) == 2
    assert venue.engine.open_order_ids(1) == []
    assert venue.engine.open_order_ids(2) == [other]


# --- amend -----------------------------------------------------------------------------


def test_amend_changes_price_and_qty_and_reports_old_and_new(venue: Venue) -> None:
    _funded(venue, 1)
    order = venue.rest(1, BTCUSD, BUY, 5, BTC_REF - 100)

    out = venue.amend(1, BTCUSD, order, BTC_REF - 50, 7)

    amended = venue.events_of(OrderAmended, out)
    assert [(a.old_price, a.new_price, a.old_qty, a.new_qty, a.priority_lost) for a in amended] == [
        (BTC_REF - 100, BTC_REF - 50, 5, 7, True)
    ]
    assert venue.book(BTCUSD)[0] == [(order, BTC_REF - 50, 7)]


def test_amend_to_a_price_that_would_cross_is_rejected(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.rest(2, BTCUSD, SELL, 1, BTC_REF)
    order = venue.rest(1, BTCUSD, BUY, 5, BTC_REF - 100)

    rejected = venue.reject(
        AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF, qty=5),
        C.AMEND_WOULD_CROSS,
    )

    assert rejected.detail == {"price": BTC_REF, "best": BTC_REF}
    assert venue.trades() == []


# --- client order ids ------------------------------------------------------------------


def test_duplicate_client_order_id_is_rejected_with_the_existing_order_id(venue: Venue) -> None:
    _funded(venue, 1)
    first = venue.rest(1, BTCUSD, BUY, 1, BTC_REF - 10, client_order_id="abc")

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF - 20, client_order_id="abc"),
        C.DUPLICATE_CLIENT_ORDER_ID,
    )

    assert rejected.detail == {"client_order_id": "abc", "existing_order_id": first}


def test_client_order_id_stays_used_after_its_order_is_cancelled(venue: Venue) -> None:
    _funded(venue, 1)
    first = venue.rest(1, BTCUSD, BUY, 1, BTC_REF - 10, client_order_id="abc")
    venue.cancel(1, BTCUSD, order_id=first)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=ETHHKD, side=BUY, qty=1, price=ETH_REF, client_order_id="abc"),
        C.DUPLICATE_CLIENT_ORDER_ID,
    )

    assert rejected.detail["existing_order_id"] == first


def test_same_client_order_id_on_two_accounts_is_accepted(venue: Venue) -> None:
    _funded(venue, 1, 2)
    venue.rest(1, BTCUSD, BUY, 1, BTC_REF - 10, client_order_id="abc")

    order = venue.rest(2, BTCUSD, BUY, 1, BTC_REF - 10, client_order_id="abc")

    assert order in venue.engine.open_order_ids(2)


def test_rejected_order_does_not_consume_its_client_order_id(venue: Venue) -> None:
    _funded(venue, 1)
    venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF + 5, client_order_id="abc"), C.PRICE_OFF_TICK
    )

    order = venue.rest(1, BTCUSD, BUY, 1, BTC_REF, client_order_id="abc")

    assert order in venue.engine.open_order_ids(1)


# --- price and quantity checks ---------------------------------------------------------


def test_limit_price_off_tick_is_rejected_with_the_tick(venue: Venue) -> None:
    _funded(venue, 1)

    rejected = venue.reject(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF + 5), C.PRICE_OFF_TICK)

    assert rejected.detail == {"price": BTC_REF + 5, "tick": 10}


def test_limit_prices_at_the_band_edges_are_accepted(venue: Venue) -> None:
    _funded(venue, 1)
    band = BTC_REF * 500 // 10_000

    low = venue.rest(1, BTCUSD, BUY, 1, BTC_REF - band)
    high = venue.rest(1, BTCUSD, SELL, 1, BTC_REF + band)

    assert {low, high} <= set(venue.engine.open_order_ids(1))


def test_limit_price_one_tick_outside_the_band_is_rejected_with_the_band(venue: Venue) -> None:
    _funded(venue, 1)
    band = BTC_REF * 500 // 10_000

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=1, price=BTC_REF + band + 10), C.PRICE_OUTSIDE_BAND
    )

    assert rejected.detail == {"price": BTC_REF + band + 10, "low": BTC_REF - band, "high": BTC_REF + band, "reference": BTC_REF}


def test_order_on_an_instrument_without_reference_price_is_rejected(venue: Venue) -> None:
    _funded(venue, 1)
    venue.ok(instrument_spec())

    rejected = venue.reject(PlaceOrder(account=1, instrument="BTCHKD", side=BUY, qty=1, price=BTC_REF), C.NO_REFERENCE_PRICE)

    assert rejected.detail == {"instrument": "BTCHKD"}


def test_quantity_checks_reject_off_lot_below_minimum_and_above_maximum(venue: Venue) -> None:
    _funded(venue, 1)
    venue.ok(instrument_spec(lot=5, min_qty=10, max_qty=1_000))
    venue.set_ref("BTCHKD", 74_100_000)

    def place(qty: int) -> PlaceOrder:
        return PlaceOrder(account=1, instrument="BTCHKD", side=BUY, qty=qty, price=74_100_000)

    assert venue.reject(place(12), C.QUANTITY_OFF_LOT).detail == {"qty": 12, "lot": 5}
    assert venue.reject(place(5), C.QUANTITY_BELOW_MINIMUM).detail == {"qty": 5, "min_qty": 10}
    assert venue.reject(place(1_005), C.QUANTITY_ABOVE_MAXIMUM).detail == {"qty": 1_005, "max_qty": 1_000}
    assert venue.reject(place(0), C.QUANTITY_NOT_POSITIVE).detail == {"qty": 0}


# --- affiliated-MM flag ----------------------------------------------------------------


def test_every_order_event_carries_the_affiliated_mm_flag(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    venue.open_mm(9, usd=1_000_000)
    mm_order = venue.rest(9, BTCUSD, SELL, 2, BTC_REF)

    out = venue.buy(1, BTCUSD, 1, BTC_REF)
    cancel = venue.cancel(9, BTCUSD, order_id=mm_order)

    mm_accepted = [a for a in venue.events_of(OrderAccepted) if a.order_id == mm_order]
    client_accepted = venue.events_of(OrderAccepted, out)
    trade = venue.trades(out)[0]
    assert [a.is_affiliated_mm for a in mm_accepted] == [True]
    assert [a.is_affiliated_mm for a in client_accepted] == [False]
    assert (trade.maker_is_affiliated_mm, trade.taker_is_affiliated_mm) == (True, False)
    assert [c.is_affiliated_mm for c in venue.events_of(OrderCancelled, cancel)] == [True]
