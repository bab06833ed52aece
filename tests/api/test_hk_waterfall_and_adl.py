"""A liquidation the book cannot absorb, seen through the gateway: the defaulter's loss goes down
the published waterfall to auto-deleveraging, and every party sees exactly its own part.

A venue of its own on loopback, without the simulated market, so the book is empty when the
mark falls: client B (long 1 BTC at 95,000 on USD 10,000) is liquidated at a mark of 85,500,
nothing in the book takes the position, and it is deleveraged against the short with the
highest ADL score, client A. The mark moves by the operator's SetReferencePrice.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from harbour.api.demo import CLIENT_A, CLIENT_B, FLOW_ACCOUNT, MM_ACCOUNT
from harbour.cli.serve import RunningVenue, start_venue
from harbour.venue.commands import PlaceOrder, SetReferencePrice, SettleFunding, Side, TimeInForce, VenueCommand
from harbour.venue.events import Rejected
from harbour.venue.genesis import HOUR_NS

from .conftest import public, signed

BTCUSD = "BTCUSD"
CRASH_MARK = 8_550_000  # 85,500.00 USD, 10% below the 95,000.00 the positions were opened at


def _submit(venue: RunningVenue, command: VenueCommand) -> list[Any]:
    _, events = venue.service.call(lambda ctx: ctx.submit(command))
    assert not (events and type(events[0]) is Rejected), events[0]
    return events


def _cross(venue: RunningVenue, seller: int, buyer: int, qty: int) -> None:
    _submit(venue, PlaceOrder(account=seller, instrument=BTCUSD, side=Side.SELL, qty=qty, price=9_500_000, tif=TimeInForce.GTC))
    _submit(venue, PlaceOrder(account=buyer, instrument=BTCUSD, side=Side.BUY, qty=qty, price=9_500_000, tif=TimeInForce.GTC))


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    venue = start_venue(Path(tmp_path_factory.mktemp("crash")), port=0, market=False)
    try:
        _cross(venue, CLIENT_A, CLIENT_B, 1_000)  # A short 1 BTC, B long 1 BTC
        _cross(venue, MM_ACCOUNT, FLOW_ACCOUNT, 500)  # the market maker short 0.5, flow long 0.5
        _submit(venue, SetReferencePrice(instrument=BTCUSD, price=9_405_000))  # 1% down: both shorts in profit
        _, ranks = signed(venue, "auditor", "GET", "/hk/v1/adlRank", {"symbol": BTCUSD})
        _submit(venue, SettleFunding(instrument=BTCUSD, rate_e8=10_000, interval_ns=8 * HOUR_NS, mark_price=9_500_000))
        _submit(venue, SetReferencePrice(instrument=BTCUSD, price=CRASH_MARK))
        yield {"venue": venue, "ranks_before": ranks["positions"]}
    finally:
        venue.stop()


def _trades(venue: RunningVenue, label: str) -> list[dict[str, Any]]:
    status, body = signed(venue, label, "GET", "/fapi/v1/userTrades", {"symbol": BTCUSD})
    assert status == 200, body
    return list(body)


def _accounts_in(node: Any) -> set[int]:
    found: set[int] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("account", "counterparty") and isinstance(v, int):
                found.add(v)
            found |= _accounts_in(v)
    elif isinstance(node, list):
        for item in node:
            found |= _accounts_in(item)
    return found


def test_before_the_crash_the_adl_queue_ranks_each_side_by_score(crash: dict[str, Any]) -> None:
    shorts = sorted((r for r in crash["ranks_before"] if r["positionSide"] == "SHORT"), key=lambda r: r["rank"])

    assert [r["rank"] for r in shorts] == [1, 2]
    assert {r["queueSize"] for r in shorts} == {2}
    assert [Decimal(r["scoreDecimal"]) for r in shorts] == sorted((Decimal(r["scoreDecimal"]) for r in shorts), reverse=True)
    assert shorts[0]["account"] == CLIENT_A  # same profit ratio, far higher effective leverage than the market maker
    assert [r["adlQuantile"] for r in shorts] == [4, 2]


def test_the_deleveraging_trade_is_in_both_accounts_user_trades_with_no_order_of_theirs(crash: dict[str, Any]) -> None:
    venue = crash["venue"]
    defaulter = [t for t in _trades(venue, "client-b") if t["orderId"] == 0]
    counterparty = [t for t in _trades(venue, "client-a") if t["orderId"] == 0]

    assert len(defaulter) == len(counterparty) == 1
    assert defaulter[0]["id"] == counterparty[0]["id"]
    assert (defaulter[0]["side"], counterparty[0]["side"]) == ("SELL", "BUY")
    assert defaulter[0]["qty"] == counterparty[0]["qty"] == "1.000"
    assert defaulter[0]["price"] == counterparty[0]["price"]
    assert defaulter[0]["commission"] == counterparty[0]["commission"] == "0.000000"
    assert Decimal(defaulter[0]["realizedPnl"]) == -Decimal(counterparty[0]["realizedPnl"]) < 0


def test_the_deleveraged_positions_are_closed_in_both_accounts(crash: dict[str, Any]) -> None:
    venue = crash["venue"]
    for label in ("client-a", "client-b"):
        status, rows = signed(venue, label, "GET", "/fapi/v2/positionRisk", {"symbol": BTCUSD})

        assert status == 200
        assert [r["positionAmt"] for r in rows] == ["0.000"]


def test_the_defaulter_sees_its_liquidation_and_the_layers_that_paid_in_order(crash: dict[str, Any]) -> None:
    status, body = signed(crash["venue"], "client-b", "GET", "/hk/v1/lossWaterfall/events")
    (liq,) = body["liquidations"]

    assert status == 200
    assert (liq["account"], liq["scope"], liq["currency"]) == (CLIENT_B, "CROSS", "HKD")
    assert Decimal(liq["marginBalance"]) < Decimal(liq["maintenance"])
    assert [(s["bookQty"], s["backstopQty"], s["adlQty"]) for s in liq["steps"]] == [("0.000", "0.000", "1.000")]
    assert liq["layers"][0]["layer"] == "DEFAULTER_MARGIN"
    assert [(a["qty"], a["rank"], a["counterparty"]) for a in liq["adl"]] == [("1.000", 1, None)]
    assert liq["adl"][0]["price"] == liq["steps"][0]["bankruptcyPrice"]


def test_a_deleveraged_counterparty_sees_its_own_trade_but_not_the_defaulter(crash: dict[str, Any]) -> None:
    status, body = signed(crash["venue"], "client-a", "GET", "/hk/v1/lossWaterfall/events")
    (liq,) = body["liquidations"]

    assert status == 200
    assert (liq["account"], liq["marginBalance"], liq["maintenance"]) == (None, None, None)
    assert [(a["counterparty"], a["accountRealizedPnl"]) for a in liq["adl"]] == [(CLIENT_A, None)]
    assert _accounts_in(body) == {CLIENT_A}


def test_an_account_not_involved_sees_no_liquidation_and_staff_see_every_party(crash: dict[str, Any]) -> None:
    venue = crash["venue"]
    _, mm = signed(venue, "market-maker", "GET", "/hk/v1/lossWaterfall/events")
    _, auditor = signed(venue, "auditor", "GET", "/hk/v1/lossWaterfall/events")

    assert mm["liquidations"] == []
    assert _accounts_in(auditor) == {CLIENT_A, CLIENT_B}


def test_the_public_waterfall_counts_the_liquidation_without_naming_anyone(crash: dict[str, Any]) -> None:
    status, body, _ = public(crash["venue"], "/hk/v1/lossWaterfall")

    assert status == 200
    assert (body["liquidations"], body["adlTrades"]) == (1, 1)
    assert body["order"] == ["DEFAULTER_MARGIN", "INSURANCE_FUND", "OPERATOR_TRANCHE", "AUTO_DELEVERAGING"]
    assert [layer["layer"] for layer in body["platformLayers"]] == ["INSURANCE_FUND", "OPERATOR_TRANCHE", "DEFICIT"]
    assert body["paidSinceStart"] == body["recent"][0]["layers"]
    assert body["recent"][0]["adlQty"] == [{"symbol": BTCUSD, "qty": "1.000"}]
    assert _accounts_in(body) == set()


def test_funding_history_states_the_interval_and_balances_to_the_unit(crash: dict[str, Any]) -> None:
    status, rows, _ = public(crash["venue"], f"/hk/v1/fundingHistory?symbol={BTCUSD}")
    (row,) = rows

    assert status == 200
    assert row["intervalNs"] == 8 * HOUR_NS
    assert row["intervalEnd"] - row["intervalStart"] == 8 * 3_600_000 == row["intervalSeconds"] * 1000
    assert (row["rateE8"], row["fundingRate"], row["signConvention"]) == (10_000, "0.00010000", "positive rate: longs pay shorts")
    assert Decimal(row["totalPaid"]) == Decimal(row["totalReceived"]) + Decimal(row["residue"])
    assert row["positions"] == 4


def test_each_account_sees_its_own_funding_payment_and_staff_see_all(crash: dict[str, Any]) -> None:
    venue = crash["venue"]
    _, mine = signed(venue, "client-b", "GET", "/hk/v1/fundingPayments", {"symbol": BTCUSD})
    _, theirs = signed(venue, "compliance", "GET", "/hk/v1/fundingPayments", {"symbol": BTCUSD})

    assert [(r["account"], r["positionAmt"], r["payment"], r["direction"]) for r in mine] == [(CLIENT_B, "1.000", "9.500000", "PAID")]
    assert sorted(r["account"] for r in theirs) == sorted([MM_ACCOUNT, CLIENT_A, CLIENT_B, FLOW_ACCOUNT])


def test_a_client_naming_another_account_is_refused(crash: dict[str, Any]) -> None:
    status, body = signed(crash["venue"], "client-b", "GET", "/hk/v1/fundingPayments", {"symbol": BTCUSD, "account": str(CLIENT_A)})

    assert status == 400
    assert body["code"] == -9012
