"""Matching priority: price first; at the same price every client order before any
affiliated-MM order whatever their arrival (SFC 26EC6); then arrival time. Amendments
keep time priority only when the price is unchanged and the quantity does not grow."""

from __future__ import annotations

from harbour.venue.events import OrderAmended

from venue.helpers import BTC_REF, BTCUSD, BUY, ETH_REF, ETHHKD, IOC, SELL, Venue, fills


def _parties(v: Venue) -> None:
    """Clients 1-3 and two affiliated-MM accounts 8, 9 in distinct legal entities (no STP)."""
    for client in (1, 2, 3):
        v.open_client(client, usd=1_000_000, hkd=1_000_000)
    v.open_mm(8, usd=1_000_000, hkd=1_000_000, entity="MM-ONE")
    v.open_mm(9, usd=1_000_000, hkd=1_000_000, entity="MM-TWO")


def test_client_order_fills_before_affiliated_mm_order_at_same_price(venue: Venue) -> None:
    _parties(venue)
    mm_ask = venue.rest(9, BTCUSD, SELL, 2, BTC_REF)
    client_ask = venue.rest(1, BTCUSD, SELL, 2, BTC_REF)  # arrives later

    out = venue.buy(2, BTCUSD, 3, BTC_REF, tif=IOC)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(client_ask, taker, BTC_REF, 2), (mm_ask, taker, BTC_REF, 1)]


def test_late_client_order_goes_ahead_of_every_affiliated_mm_order_at_same_price(venue: Venue) -> None:
    _parties(venue)
    mm1 = venue.rest(8, BTCUSD, BUY, 1, BTC_REF)
    mm2 = venue.rest(9, BTCUSD, BUY, 1, BTC_REF)
    client = venue.rest(1, BTCUSD, BUY, 1, BTC_REF)

    out = venue.sell(2, BTCUSD, 3, BTC_REF, tif=IOC)

    assert [t.maker_order_id for t in venue.trades(out)] == [client, mm1, mm2]


def test_client_first_priority_holds_on_the_bid_side(venue: Venue) -> None:
    _parties(venue)
    mm_bid = venue.rest(9, ETHHKD, BUY, 5, ETH_REF)
    client_bid = venue.rest(1, ETHHKD, BUY, 5, ETH_REF)

    out = venue.sell(2, ETHHKD, 5, ETH_REF, tif=IOC)

    assert [(t.maker_order_id, t.qty) for t in venue.trades(out)] == [(client_bid, 5)]
    assert venue.book(ETHHKD)[0] == [(mm_bid, ETH_REF, 5)]


def test_better_priced_affiliated_mm_order_fills_before_worse_priced_client_order(venue: Venue) -> None:
    _parties(venue)
    client_ask = venue.rest(1, BTCUSD, SELL, 1, BTC_REF + 10)
    mm_ask = venue.rest(9, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(2, BTCUSD, 2, BTC_REF + 10, tif=IOC)

    assert [(t.maker_order_id, t.price) for t in venue.trades(out)] == [(mm_ask, BTC_REF), (client_ask, BTC_REF + 10)]


def test_client_orders_at_same_price_fill_in_arrival_order(venue: Venue) -> None:
    _parties(venue)
    first = venue.rest(3, BTCUSD, SELL, 1, BTC_REF)
    second = venue.rest(1, BTCUSD, SELL, 1, BTC_REF)
    third = venue.rest(3, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(2, BTCUSD, 3, BTC_REF, tif=IOC)

    assert [t.maker_order_id for t in venue.trades(out)] == [first, second, third]


def test_affiliated_mm_orders_at_same_price_fill_in_arrival_order(venue: Venue) -> None:
    _parties(venue)
    first = venue.rest(9, BTCUSD, SELL, 1, BTC_REF)
    second = venue.rest(8, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(2, BTCUSD, 2, BTC_REF, tif=IOC)

    assert [t.maker_order_id for t in venue.trades(out)] == [first, second]


def test_book_view_lists_clients_before_affiliated_mm_within_a_level(venue: Venue) -> None:
    _parties(venue)
    mm = venue.rest(9, BTCUSD, SELL, 1, BTC_REF)
    client = venue.rest(1, BTCUSD, SELL, 1, BTC_REF)
    better = venue.rest(8, BTCUSD, SELL, 1, BTC_REF - 10)

    asks = venue.book(BTCUSD)[1]

    assert [order_id for order_id, _, _ in asks] == [better, client, mm]


def test_amend_reducing_qty_at_same_price_keeps_time_priority(venue: Venue) -> None:
    _parties(venue)
    first = venue.rest(1, BTCUSD, SELL, 5, BTC_REF)
    second = venue.rest(3, BTCUSD, SELL, 5, BTC_REF)
    amended = venue.amend(1, BTCUSD, first, BTC_REF, 2)

    out = venue.buy(2, BTCUSD, 3, BTC_REF, tif=IOC)

    assert [a.priority_lost for a in venue.events_of(OrderAmended, amended)] == [False]
    assert [(t.maker_order_id, t.qty) for t in venue.trades(out)] == [(first, 2), (second, 1)]


def test_amend_increasing_qty_loses_time_priority(venue: Venue) -> None:
    _parties(venue)
    first = venue.rest(1, BTCUSD, SELL, 1, BTC_REF)
    second = venue.rest(3, BTCUSD, SELL, 1, BTC_REF)
    amended = venue.amend(1, BTCUSD, first, BTC_REF, 2)

    out = venue.buy(2, BTCUSD, 1, BTC_REF, tif=IOC)

    assert [a.priority_lost for a in venue.events_of(OrderAmended, amended)] == [True]
    assert [t.maker_order_id for t in venue.trades(out)] == [second]


def test_amend_changing_price_loses_time_priority_even_when_moved_back(venue: Venue) -> None:
    _parties(venue)
    first = venue.rest(1, BTCUSD, SELL, 1, BTC_REF)
    second = venue.rest(3, BTCUSD, SELL, 1, BTC_REF)
    venue.amend(1, BTCUSD, first, BTC_REF + 10, 1)
    venue.amend(1, BTCUSD, first, BTC_REF, 1)

    out = venue.buy(2, BTCUSD, 1, BTC_REF, tif=IOC)

    assert [t.maker_order_id for t in venue.trades(out)] == [second]


def test_amended_affiliated_mm_order_stays_behind_client_orders_at_same_price(venue: Venue) -> None:
    _parties(venue)
    mm = venue.rest(9, BTCUSD, SELL, 3, BTC_REF)
    client = venue.rest(1, BTCUSD, SELL, 3, BTC_REF)
    venue.amend(9, BTCUSD, mm, BTC_REF, 1)  # keeps its time priority among MMs only

    out = venue.buy(2, BTCUSD, 4, BTC_REF, tif=IOC)

    assert [(t.maker_order_id, t.qty) for t in venue.trades(out)] == [(client, 3), (mm, 1)]
