"""Information barrier: the affiliated market maker's key acts for its own account only.

For every signed endpoint the gateway serves (read from its route table, so a new endpoint is
covered the day it is added), the market maker's key is sent with every identifier of a
client's order, conditional order and fills, and the client's account number. No answer may
contain any of them, name the client's account or its legal entity, and the client's orders
must be untouched afterwards. Staff keys (auditor) hold no account and are refused on every
account endpoint of the dialect (the /hk/v1 roles: test_hk_openapi_and_roles).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harbour.api.demo import CLIENT_A
from harbour.api.rest import SIGNED, GatewayConfig, endpoints
from harbour.cli.serve import RunningVenue

from .conftest import client, signed, wait_for

BTC = "BTC/USD:USD"
ID_FIELDS = ("orderId", "algoId", "actualOrderId", "clientOrderId", "clientAlgoId")
ACCOUNT_FIELDS = ("account", "counterparty")
CLIENT_A_ENTITY = "Demo Client A Ltd"
ACCOUNT_FREE = {"/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs"}
SIGNED_ENDPOINTS = sorted((m, p) for (m, p), e in endpoints(GatewayConfig()).items() if e.security == SIGNED)


@pytest.fixture(scope="module")
def clients_orders(venue: RunningVenue) -> dict[str, Any]:
    ex = client(venue, "client-a")
    ex.load_markets()
    wait_for(lambda: (b := ex.fetch_order_book(BTC, 5))["bids"] and b["asks"], "the market maker's quotes")
    filled = ex.create_order(BTC, "market", "buy", 0.003, params={"clientOrderId": "client-a-private-fill"})
    mark = float(ex.fetch_funding_rate(BTC)["markPrice"])
    resting = ex.create_order(BTC, "limit", "buy", 0.002, float(ex.price_to_precision(BTC, mark * 0.97)), params={"clientOrderId": "client-a-private-rest"})
    stop = ex.create_order(
        BTC, "market", "sell", 0.003, params={"stopLossPrice": float(ex.price_to_precision(BTC, mark * 0.96)), "reduceOnly": True, "clientOrderId": "client-a-private-stop"}
    )
    return {"ex": ex, "filled": filled, "resting": resting, "stop": stop, "price": resting["info"]["price"]}


def _identifiers(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ID_FIELDS and v not in (None, ""):
                yield str(v)
            if k in ACCOUNT_FIELDS and v not in (None, ""):
                yield f"account {v}"
            yield from _identifiers(v)
    elif isinstance(node, list):
        for item in node:
            yield from _identifiers(item)


@pytest.mark.parametrize(("method", "path"), SIGNED_ENDPOINTS, ids=[f"{m} {p}" for m, p in SIGNED_ENDPOINTS])
def test_market_maker_key_never_sees_or_touches_a_clients_orders(venue: RunningVenue, clients_orders: dict[str, Any], method: str, path: str) -> None:
    filled, resting, stop = clients_orders["filled"], clients_orders["resting"], clients_orders["stop"]
    secrets = {filled["id"], resting["id"], stop["id"], "client-a-private-fill", "client-a-private-rest", "client-a-private-stop", f"account {CLIENT_A}"}
    params = {
        "symbol": "BTCUSD",
        "orderId": resting["id"],
        "origClientOrderId": "client-a-private-rest",
        "algoId": stop["id"],
        "clientAlgoId": "client-a-private-stop",
        "side": "BUY",
        "quantity": "0.002",
        "price": clients_orders["price"],
        "type": "LIMIT",
        "timeInForce": "GTX",
        "leverage": "20",
        "marginType": "CROSSED",
        "dualSidePosition": "false",
        "account": str(CLIENT_A),
    }

    status, body = signed(venue, "market-maker", method, path, params)

    leaked = secrets & set(_identifiers(body))
    assert leaked == set(), f"{method} {path} answered {status} with the client's {leaked}"
    assert CLIENT_A_ENTITY not in str(body), f"{method} {path} named the client's legal entity"
    ex = clients_orders["ex"]
    assert ex.fetch_order(resting["id"], BTC)["status"] == "open"
    assert ex.fetch_order(stop["id"], BTC, params={"trigger": True})["status"] == "open"


def test_market_maker_answers_carry_only_its_own_fills(venue: RunningVenue, clients_orders: dict[str, Any]) -> None:
    status, fills = signed(venue, "market-maker", "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSD", "limit": "1000"})
    client_order_ids = {str(t["order"]) for t in clients_orders["ex"].fetch_my_trades(BTC, limit=1000)}

    assert status == 200
    assert client_order_ids.isdisjoint({str(f["orderId"]) for f in fills})


@pytest.mark.parametrize(("method", "path"), [e for e in SIGNED_ENDPOINTS if e[1] not in ACCOUNT_FREE and not e[1].startswith("/hk/")], ids=lambda e: str(e))
def test_staff_keys_hold_no_account_and_are_refused_on_account_endpoints(venue: RunningVenue, method: str, path: str) -> None:
    status, body = signed(venue, "auditor", method, path, {"symbol": "BTCUSD"})

    assert status in (400, 401)
    assert body["code"] in (-9008, -2015)


def test_the_market_makers_quotes_come_back_after_the_probe(venue: RunningVenue) -> None:
    ex = client(venue, "client-a")
    ex.cancel_all_orders(BTC)
    ex.cancel_all_orders(BTC, params={"trigger": True})

    book = wait_for(lambda: (b := ex.fetch_order_book(BTC, 5))["bids"] and b["asks"] and b, "the market maker to quote again")

    assert book["bids"][0][0] < book["asks"][0][0]
