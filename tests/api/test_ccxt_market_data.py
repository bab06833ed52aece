"""An unmodified ccxt ``binanceusdm`` reads the venue's public market: instruments, prices, book,
trades, candles, funding and margin brackets, in the shapes it expects (clients.md section 3)."""

from __future__ import annotations

from typing import Any

import pytest

from harbour.cli.serve import RunningVenue

from .conftest import FUNDING_INTERVAL_S, client, wait_for

BTC = "BTC/USD:USD"
ETH = "ETH/HKD:HKD"


@pytest.fixture(scope="module")
def ex(venue: RunningVenue) -> Any:
    exchange = client(venue, "client-a")
    exchange.load_markets()
    return exchange


def test_markets_are_our_perpetuals_settled_in_their_real_currency(ex: Any) -> None:
    btc, eth = ex.market(BTC), ex.market(ETH)

    assert sorted(ex.markets) == [BTC, ETH]
    assert (btc["id"], btc["settle"], btc["swap"], btc["linear"]) == ("BTCUSD", "USD", True, True)
    assert (eth["id"], eth["settle"], eth["quote"]) == ("ETHHKD", "HKD", "HKD")
    assert btc["precision"]["price"] == 0.1 and btc["precision"]["amount"] == 0.001
    assert btc["limits"]["amount"]["min"] == 0.001


def test_server_time_is_the_venue_clock(ex: Any) -> None:
    before = ex.milliseconds()

    server = ex.fetch_time()

    assert abs(server - before) < 60_000


def test_ticker_carries_last_price_and_the_touch(ex: Any) -> None:
    wait_for(lambda: ex.fetch_order_book(BTC, 5)["asks"], "the market maker's quotes")

    ticker = ex.fetch_ticker(BTC)
    tickers = ex.fetch_tickers()

    assert ticker["symbol"] == BTC and ticker["last"] > 0
    assert ticker["bid"] < ticker["ask"]
    assert set(tickers) == {BTC, ETH}


def test_order_book_is_aggregated_by_price_with_a_nonce(ex: Any) -> None:
    book = wait_for(lambda: (b := ex.fetch_order_book(BTC, 5))["bids"] and b["asks"] and b, "a two-sided book")

    assert len(book["bids"]) <= 5 and len(book["asks"]) <= 5
    assert book["bids"][0][0] < book["asks"][0][0]
    assert [p for p, _ in book["bids"]] == sorted((p for p, _ in book["bids"]), reverse=True)
    assert isinstance(book["nonce"], int) and book["timestamp"] is not None


def test_public_trades_show_the_taker_side(ex: Any) -> None:
    trades = wait_for(lambda: ex.fetch_trades(BTC, limit=3) or ex.fetch_trades(ETH, limit=3), "a trade of the simulated flow")

    assert all(t["side"] in ("buy", "sell") and t["amount"] > 0 and t["price"] > 0 for t in trades)


@pytest.mark.parametrize("price", [None, "mark", "index"])
def test_candles_of_trades_mark_and_index(ex: Any, price: str | None) -> None:
    params = {"price": price} if price else {}

    candles = wait_for(lambda: ex.fetch_ohlcv(BTC, "1m", limit=3, params=params) or ex.fetch_ohlcv(ETH, "1m", limit=3, params=params), "a candle")

    for t, o, h, low, c, _volume in candles:
        assert t % 60_000 == 0
        assert low <= min(o, c) <= max(o, c) <= h


def test_funding_rate_states_its_interval_and_next_settlement(ex: Any) -> None:
    rate = ex.fetch_funding_rate(BTC)

    assert rate["markPrice"] > 0 and rate["indexPrice"] > 0
    assert rate["info"]["fundingIntervalSeconds"] == FUNDING_INTERVAL_S
    assert rate["fundingTimestamp"] > 0


def test_funding_history_lists_settled_intervals(ex: Any) -> None:
    history = wait_for(lambda: ex.fetch_funding_rate_history(BTC), "a funding settlement")

    assert all(row["symbol"] == BTC and row["timestamp"] > 0 for row in history)
    assert all(isinstance(row["fundingRate"], float) for row in history)


def test_leverage_tiers_are_the_published_margin_brackets(ex: Any) -> None:
    tiers = ex.fetch_leverage_tiers([BTC])[BTC]

    assert [t["maxLeverage"] for t in tiers] == [20, 10, 5, 2, 1]
    assert tiers[0]["minNotional"] == 0 and tiers[0]["maxNotional"] == 250_000
    assert tiers[0]["maintenanceMarginRate"] == 0.025
    assert all(a["maxNotional"] == b["minNotional"] for a, b in zip(tiers, tiers[1:], strict=False))
