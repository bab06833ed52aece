"""What the venue refuses, and how an unmodified ccxt client sees it: Binance's codes where ccxt
maps them to typed exceptions, Harbour's own codes (-9001..) with a clear message otherwise."""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest

from harbour.cli.serve import RunningVenue

from .conftest import client, wait_for

BTC = "BTC/USD:USD"


@pytest.fixture(scope="module")
def ex(venue: RunningVenue) -> Any:
    exchange = client(venue, "client-a")
    exchange.load_markets()
    wait_for(lambda: (b := exchange.fetch_order_book(BTC, 5))["bids"] and b["asks"], "the market maker's quotes")
    return exchange


def body_of(error: Exception) -> dict[str, Any]:
    """The JSON error body ccxt quotes after the exchange id."""
    text = str(error)
    return dict(json.loads(text[text.index("{") :]))


def test_a_request_signed_with_the_wrong_secret_is_refused(venue: RunningVenue) -> None:
    ex = client(venue, "client-a")
    ex.secret = "0" * 64

    with pytest.raises(ccxt.AuthenticationError) as refused:
        ex.fetch_balance()

    assert body_of(refused.value)["code"] == -1022


def test_an_unknown_api_key_is_refused(venue: RunningVenue) -> None:
    ex = client(venue, "client-a")
    ex.apiKey = "not-a-key"

    with pytest.raises(ccxt.AuthenticationError) as refused:
        ex.fetch_balance()

    assert body_of(refused.value)["code"] == -2015


def test_a_timestamp_outside_the_receive_window_is_refused(venue: RunningVenue) -> None:
    ex = client(venue, "client-a")
    ex.options["timeDifference"] = 120_000  # ccxt signs a timestamp two minutes old

    with pytest.raises(ccxt.InvalidNonce) as refused:
        ex.fetch_balance()

    assert body_of(refused.value)["code"] == -1021


def test_an_unknown_order_cannot_be_cancelled_or_fetched(ex: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound) as cancel:
        ex.cancel_order("999999999", BTC)
    with pytest.raises(ccxt.OrderNotFound) as fetch:
        ex.fetch_order("999999999", BTC)

    assert body_of(cancel.value)["code"] == -2011
    assert body_of(fetch.value)["code"] == -2013


def test_an_order_beyond_the_accounts_margin_is_refused_with_binances_code(venue: RunningVenue) -> None:
    small = client(venue, "client-b")  # USD 10,000 of margin, 20x at most
    small.load_markets()

    with pytest.raises(ccxt.ExchangeError) as refused:
        small.create_order(BTC, "market", "buy", 5)

    body = body_of(refused.value)
    assert body["code"] == -2019
    assert body["msg"].startswith("Margin is insufficient.")


def test_ccxt_maps_insufficient_margin_to_insufficient_funds_on_a_production_host(venue: RunningVenue) -> None:
    # the linear-only codes map by URL (clients.md section 2): a fapi.<domain> host with 'hostname'
    ex = client(venue, "client-a")
    body = '{"code":-2019,"msg":"Margin is insufficient."}'

    with pytest.raises(ccxt.InsufficientFunds):
        ex.handle_errors(400, "Bad Request", "https://fapi.example-exchange.hk/fapi/v1/order", "POST", {}, body, json.loads(body), {}, "")


def test_a_client_whose_professional_investor_status_lapsed_may_not_open_a_position(venue: RunningVenue) -> None:
    lapsed = client(venue, "lapsed-pi-client")
    lapsed.load_markets()

    with pytest.raises(ccxt.ExchangeError) as refused:
        lapsed.create_order(BTC, "market", "buy", 0.001)

    body = body_of(refused.value)
    assert body["code"] == -9001
    assert "Professional-investor status expired" in body["msg"]


def test_post_only_that_would_cross_is_refused(ex: Any) -> None:
    ask = ex.fetch_order_book(BTC, 5)["asks"][0][0]

    with pytest.raises(ccxt.InvalidOrder) as refused:
        ex.create_order(BTC, "limit", "buy", 0.001, ask, params={"postOnly": True})

    assert body_of(refused.value)["code"] == -5022


def test_a_price_finer_than_the_instruments_precision_is_refused_not_rounded(ex: Any) -> None:
    # bypass ccxt's own rounding: send the raw request
    request = {"symbol": "BTCUSD", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "90000.123"}

    with pytest.raises(ccxt.ExchangeError) as refused:
        ex.fapiPrivatePostOrder(request)

    assert body_of(refused.value)["code"] == -1111


def test_a_price_off_the_tick_is_refused(ex: Any) -> None:
    mark = float(ex.fetch_funding_rate(BTC)["markPrice"])
    request = {"symbol": "BTCUSD", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": f"{int(mark * 0.99)}.05"}

    with pytest.raises(ccxt.ExchangeError) as refused:
        ex.fapiPrivatePostOrder(request)

    assert body_of(refused.value)["code"] == -4014
