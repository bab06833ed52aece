"""A professional-investor client trades through an unmodified ccxt ``binanceusdm``: every order
kind of the contract, amend, cancel, cancel-all, fills, positions, leverage and margin mode."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from harbour.cli.serve import RunningVenue

from .conftest import client, wait_for

BTC = "BTC/USD:USD"
ETH = "ETH/HKD:HKD"


@pytest.fixture(scope="module")
def ex(venue: RunningVenue) -> Any:
    exchange = client(venue, "client-a")
    exchange.load_markets()
    wait_for(lambda: (b := exchange.fetch_order_book(BTC, 5))["bids"] and b["asks"], "the market maker's quotes")
    return exchange


def away(ex: Any, symbol: str, side: str, fraction: float = 0.02) -> float:
    """A limit price that rests (inside the 5% band, away from the touch)."""
    mark = float(ex.fetch_funding_rate(symbol)["markPrice"])
    return float(ex.price_to_precision(symbol, mark * (1 - fraction if side == "buy" else 1 + fraction)))


def through(ex: Any, symbol: str, side: str) -> float:
    """A limit price that crosses the book (inside the band)."""
    return away(ex, symbol, "sell" if side == "buy" else "buy", 0.01)


def test_balance_shows_each_margin_asset_held(ex: Any) -> None:
    balance = ex.fetch_balance()

    assert balance["USD"]["total"] >= 900_000
    assert balance["HKD"]["total"] >= 7_000_000
    assert balance["USD"]["free"] <= balance["USD"]["total"]


def test_a_limit_order_rests_and_can_be_fetched_and_cancelled(ex: Any) -> None:
    order = ex.create_order(BTC, "limit", "buy", 0.01, away(ex, BTC, "buy"))

    fetched = ex.fetch_order(order["id"], BTC)
    open_ids = [o["id"] for o in ex.fetch_open_orders(BTC)]
    cancelled = ex.cancel_order(order["id"], BTC)

    assert order["status"] == "open" and order["amount"] == 0.01 and order["filled"] == 0
    assert fetched["id"] == order["id"] and fetched["clientOrderId"] == order["clientOrderId"]
    assert order["id"] in open_ids
    assert cancelled["status"] == "canceled"
    assert ex.fetch_order(order["id"], BTC)["status"] == "canceled"


def test_a_market_order_fills_and_appears_in_my_trades_and_position(ex: Any) -> None:
    before = sum(p["contracts"] * (1 if p["side"] == "long" else -1) for p in ex.fetch_positions([BTC]))

    order = ex.create_order(BTC, "market", "buy", 0.01)
    trades = ex.fetch_my_trades(BTC, limit=20)
    after = sum(p["contracts"] * (1 if p["side"] == "long" else -1) for p in ex.fetch_positions([BTC]))

    assert order["status"] == "closed" and order["filled"] == 0.01 and order["average"] > 0
    mine = [t for t in trades if t["order"] == order["id"]]
    assert sum(t["amount"] for t in mine) == pytest.approx(0.01)
    assert all(t["fee"]["currency"] == "USD" and t["takerOrMaker"] == "taker" for t in mine)
    assert after - before == pytest.approx(0.01)


def test_a_reduce_only_order_closes_without_reversing(ex: Any) -> None:
    ex.create_order(BTC, "market", "buy", 0.01)
    long_qty = sum(p["contracts"] for p in ex.fetch_positions([BTC]) if p["side"] == "long")

    order = ex.create_order(BTC, "market", "sell", 0.005, params={"reduceOnly": True})

    assert order["reduceOnly"] is True and order["filled"] == 0.005
    after = sum(p["contracts"] for p in ex.fetch_positions([BTC]) if p["side"] == "long")
    assert after == pytest.approx(long_qty - 0.005)


def test_a_post_only_order_that_would_rest_is_accepted_as_maker(ex: Any) -> None:
    order = ex.create_order(BTC, "limit", "sell", 0.01, away(ex, BTC, "sell"), params={"postOnly": True})

    assert order["postOnly"] is True and order["timeInForce"] == "PO" and order["status"] == "open"
    ex.cancel_order(order["id"], BTC)


def test_ioc_fills_what_it_can_and_expires_the_rest(ex: Any) -> None:
    resting = ex.create_order(BTC, "limit", "buy", 0.01, away(ex, BTC, "buy"), params={"timeInForce": "IOC"})
    crossing = ex.create_order(BTC, "limit", "buy", 0.002, through(ex, BTC, "buy"), params={"timeInForce": "IOC"})

    assert resting["status"] == "expired" and resting["filled"] == 0
    assert crossing["status"] == "closed" and crossing["filled"] == 0.002
    ex.create_order(BTC, "market", "sell", 0.002, params={"reduceOnly": True})


def test_fok_fills_whole_or_expires_untouched(ex: Any) -> None:
    killed = ex.create_order(BTC, "limit", "buy", 0.01, away(ex, BTC, "buy"), params={"timeInForce": "FOK"})
    filled = ex.create_order(BTC, "limit", "buy", 0.002, through(ex, BTC, "buy"), params={"timeInForce": "FOK"})

    assert killed["status"] == "expired" and killed["filled"] == 0
    assert filled["status"] == "closed" and filled["filled"] == 0.002
    assert ex.fetch_order(killed["id"], BTC)["status"] == "expired"
    ex.create_order(BTC, "market", "sell", 0.002, params={"reduceOnly": True})


def test_stop_loss_and_take_profit_are_conditional_orders(ex: Any) -> None:
    ex.create_order(BTC, "market", "buy", 0.01)
    stop = ex.create_order(BTC, "market", "sell", 0.01, params={"stopLossPrice": away(ex, BTC, "buy", 0.04), "reduceOnly": True})
    take = ex.create_order(BTC, "market", "sell", 0.01, params={"takeProfitPrice": away(ex, BTC, "sell", 0.04), "reduceOnly": True})

    pending = ex.fetch_open_orders(BTC, params={"trigger": True})
    fetched = ex.fetch_order(stop["id"], BTC, params={"trigger": True})
    cancelled = ex.cancel_order(take["id"], BTC, params={"trigger": True})

    assert {stop["id"], take["id"]} <= {o["id"] for o in pending}
    assert fetched["triggerPrice"] == stop["triggerPrice"] and fetched["status"] == "open"
    assert cancelled["status"] == "canceled"
    ex.cancel_order(stop["id"], BTC, params={"trigger": True})
    ex.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})


def test_amend_changes_price_and_quantity_of_a_resting_order(ex: Any) -> None:
    price = away(ex, BTC, "buy")
    order = ex.create_order(BTC, "limit", "buy", 0.01, price)
    new_price = float(ex.price_to_precision(BTC, price - 10))

    amended = ex.edit_order(order["id"], BTC, "limit", "buy", 0.02, new_price)

    assert amended["id"] == order["id"]
    assert amended["price"] == new_price and amended["amount"] == 0.02
    ex.cancel_order(order["id"], BTC)


def test_cancel_all_cancels_every_open_order_of_the_instrument(ex: Any) -> None:
    for i in range(3):
        ex.create_order(BTC, "limit", "buy", 0.01, away(ex, BTC, "buy", 0.02 + i / 1000))

    ex.cancel_all_orders(BTC)

    assert ex.fetch_open_orders(BTC) == []


def test_set_leverage_is_reflected_in_positions(ex: Any) -> None:
    answer = ex.set_leverage(5, BTC)
    ex.create_order(BTC, "market", "buy", 0.001)

    positions = ex.fetch_positions([BTC])

    assert answer["leverage"] == 5
    assert positions and positions[0]["leverage"] == 5
    assert positions[0]["marginMode"] == "cross"
    ex.create_order(BTC, "market", "sell", 0.001, params={"reduceOnly": True})


def test_margin_mode_switches_to_isolated_once(ex: Any) -> None:
    answer = ex.set_margin_mode("isolated", ETH)

    assert answer == {"code": 200, "msg": "success"}
    with pytest.raises(ccxt.MarginModeAlreadySet):
        ex.set_margin_mode("isolated", ETH)
    ex.set_margin_mode("cross", ETH)
