"""The live index adapter: real ccxt exchange classes answering from recorded bodies, never the network.

Fixtures in ``fixtures/ccxt_*.json`` are hand-written bodies in the venues' public REST
shapes (said in each file). BTCUSD prices are USD cents (price_decimals 2). ccxt's own
market loading and parsing run on them; only its HTTP call is replaced.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from harbour.prices.index import ExclusionReason, Fallback, InputKind, PriceInput, compute_index
from harbour.sim.ccxt_feed import CcxtIndexFeed, LiveVenue, PriceNotExact, decimal_of, make_exchange, mid_units, price_units
from harbour.sim.clock import NS_PER_MINUTE, NS_PER_SECOND, SESSION_START_NS
from harbour.sim.feeds import default_methodology
from harbour.venue import VenueEngine, check_all, default_genesis
from harbour.venue.events import IndexPublished, Rejected

from .recorded_ccxt import RecordedTransport, recorded_exchange

BTCUSD = "BTCUSD"
NOW = SESSION_START_NS  # 2025-06-02 01:30:00.000 UTC; the recordings are from just before
MS = 1_000_000
VENUES = (
    LiveVenue(venue="binance", symbol="BTC/USDT"),
    LiveVenue(venue="okx", symbol="BTC/USDT"),
    LiveVenue(venue="kraken", symbol="BTC/USD"),
)
FIXTURES = {"binance": "ccxt_binance_btcusdt.json", "okx": "ccxt_okx_btcusdt.json", "kraken": "ccxt_kraken_btcusd.json"}


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def live_feed(
    clock: Clock | None = None, fail: dict[str, tuple[str, ...]] | None = None, bodies: dict[str, dict[str, object]] | None = None
) -> tuple[CcxtIndexFeed, dict[str, RecordedTransport]]:
    exchanges: dict[str, Any] = {}
    transports: dict[str, RecordedTransport] = {}
    for venue, fixture in FIXTURES.items():
        exchanges[venue], transports[venue] = recorded_exchange(fixture, (fail or {}).get(venue, ()), (bodies or {}).get(venue))
    feed = CcxtIndexFeed(BTCUSD, 2, VENUES, clock=clock or Clock(NOW), exchanges=exchanges)
    return feed, transports


def test_each_venue_sends_its_latest_trade_and_its_top_of_book_mid_at_the_venues_own_times() -> None:
    feed, _ = live_feed()

    poll = feed.poll()

    assert poll.problems == ()
    assert poll.ts_ns == NOW
    assert poll.command.instrument == BTCUSD
    assert list(poll.command.inputs) == [
        PriceInput(venue="binance", kind=InputKind.TRADE, price=10_425_001, ts_ns=1_748_827_799_871 * MS),
        PriceInput(venue="okx", kind=InputKind.TRADE, price=10_425_230, ts_ns=1_748_827_799_512 * MS),
        PriceInput(venue="kraken", kind=InputKind.TRADE, price=10_425_150, ts_ns=1_748_827_799_123 * MS),
        # binance and kraken books carry no time: stamped when received
        PriceInput(venue="binance", kind=InputKind.FIRM_QUOTE, price=10_425_001, ts_ns=NOW),
        PriceInput(venue="okx", kind=InputKind.FIRM_QUOTE, price=10_425_235, ts_ns=1_748_827_799_600 * MS),
        PriceInput(venue="kraken", kind=InputKind.FIRM_QUOTE, price=10_425_155, ts_ns=NOW),
    ]


def test_the_real_ccxt_classes_load_markets_and_call_the_venues_public_endpoints_only() -> None:
    feed, transports = live_feed()

    feed.poll()

    assert transports["binance"].paths() == ["/api/v3/exchangeInfo", "/api/v3/aggTrades", "/api/v3/depth"]
    assert transports["okx"].paths() == ["/api/v5/public/instruments", "/api/v5/market/trades", "/api/v5/market/books"]
    assert transports["kraken"].paths() == ["/0/public/Assets", "/0/public/AssetPairs", "/0/public/Trades", "/0/public/Depth"]
    assert transports["binance"].requests[1][2] == {"symbol": "BTCUSDT", "limit": "50"}
    assert transports["kraken"].requests[2][2]["pair"] == "XXBTZUSD"


def test_the_index_uses_trades_before_firm_quotes_and_records_the_quotes_as_superseded() -> None:
    feed, _ = live_feed()
    methodology = default_methodology(BTCUSD, "BTC", ("binance", "okx", "kraken"), effective_from_ns=NOW - NS_PER_MINUTE).methodology

    poll = feed.poll()
    index = compute_index(methodology, poll.command.inputs, poll.ts_ns, None)

    assert index.fallback is Fallback.NONE
    assert [(w.venue, w.kind, w.price) for w in index.weights] == [
        ("binance", InputKind.TRADE, 10_425_001),
        ("okx", InputKind.TRADE, 10_425_230),
        ("kraken", InputKind.TRADE, 10_425_150),
    ]
    assert index.value == 10_425_127  # (10,425,001 + 10,425,230 + 10,425,150) / 3, nearest
    assert sorted((e.input.venue, e.reason) for e in index.exclusions) == [
        ("binance", ExclusionReason.SUPERSEDED),
        ("kraken", ExclusionReason.SUPERSEDED),
        ("okx", ExclusionReason.SUPERSEDED),
    ]


def test_a_live_poll_is_a_publish_index_command_the_venue_accepts_and_prints() -> None:
    engine = VenueEngine()
    seq = 0
    genesis_ns = NOW - 10 * NS_PER_MINUTE
    for cmd in [*default_genesis(), default_methodology(BTCUSD, "BTC", ("binance", "okx", "kraken"), effective_from_ns=genesis_ns + 1)]:
        seq += 1
        assert not [e for e in engine.apply(seq, genesis_ns + 1, cmd) if isinstance(e, Rejected)]
    feed, _ = live_feed()

    poll = feed.poll()
    out = engine.apply(seq + 1, poll.ts_ns, poll.command)

    printed = [e for e in out if isinstance(e, IndexPublished)]
    assert len(printed) == 1 and printed[0].print.value == 10_425_127
    assert check_all(engine.state) == []


def test_a_venue_that_stops_answering_keeps_its_last_observation_and_goes_stale_in_the_index() -> None:
    clock = Clock(NOW)
    feed, transports = live_feed(clock)
    feed.poll()
    transports["okx"].fail.update(("/api/v5/market/trades", "/api/v5/market/books", "/api/v5/market/ticker"))
    clock.now = NOW + 40 * NS_PER_SECOND  # beyond the 30 s staleness limit
    methodology = default_methodology(
        BTCUSD, "BTC", ("binance", "okx", "kraken"), effective_from_ns=NOW - NS_PER_MINUTE, min_live_constituents=2
    ).methodology

    poll = feed.poll()
    index = compute_index(methodology, poll.command.inputs, poll.ts_ns, None)

    assert {(p.venue, p.call) for p in poll.problems} == {("okx", "fetch_trades"), ("okx", "fetch_order_book"), ("okx", "fetch_ticker")}
    okx = [i for i in poll.command.inputs if i.venue == "okx"]
    assert [(i.kind, i.ts_ns) for i in okx] == [(InputKind.TRADE, 1_748_827_799_512 * MS), (InputKind.FIRM_QUOTE, 1_748_827_799_600 * MS)]
    assert {(e.input.venue, e.reason) for e in index.exclusions if e.input.venue == "okx"} == {("okx", ExclusionReason.STALE)}
    assert [w.weight for w in index.weights if w.venue == "okx"] == [0]


def test_when_the_order_book_fails_the_ticker_bid_and_ask_give_the_firm_quote() -> None:
    feed, transports = live_feed(fail={"binance": ("/api/v3/depth",)})

    poll = feed.poll()

    quote = [i for i in poll.command.inputs if i.venue == "binance" and i.kind is InputKind.FIRM_QUOTE]
    assert quote == [PriceInput(venue="binance", kind=InputKind.FIRM_QUOTE, price=10_425_001, ts_ns=1_748_827_799_012 * MS)]
    assert [(p.venue, p.call) for p in poll.problems] == [("binance", "fetch_order_book")]
    assert "/api/v3/ticker/24hr" in transports["binance"].paths()


def test_a_venue_clock_ahead_of_ours_is_stamped_at_the_time_we_received_the_answer() -> None:
    early = 1_748_827_799_400 * MS  # before okx's trade (…799.512) and book (…799.600) times
    feed, _ = live_feed(Clock(early))

    poll = feed.poll()

    assert all(i.ts_ns <= poll.ts_ns == early for i in poll.command.inputs)
    assert [i.ts_ns for i in poll.command.inputs if i.venue == "okx"] == [early, early]
    assert [i.ts_ns for i in poll.command.inputs if i.venue == "binance" and i.kind is InputKind.TRADE] == [early]


def test_a_crossed_top_of_book_is_not_sent_as_a_firm_quote() -> None:
    crossed = {"/api/v3/depth": {"lastUpdateId": 1, "bids": [["104251.00", "1"]], "asks": [["104250.00", "1"]]}}
    feed, _ = live_feed(bodies={"binance": crossed})

    poll = feed.poll()

    assert [i.kind for i in poll.command.inputs if i.venue == "binance"] == [InputKind.TRADE]
    assert [(p.venue, p.call) for p in poll.problems] == [("binance", "fetch_order_book")]
    assert "crossed" in poll.problems[0].message


def test_venue_prices_become_price_units_exactly_from_their_decimal_text() -> None:
    assert price_units(104250.01, 2) == 10_425_001  # float('104250.01') * 100 would be 10425000.999...
    assert price_units("104250.01000000", 2) == 10_425_001
    assert price_units(Decimal("0.07"), 2) == 7
    assert price_units(104250, 2) == 10_425_000
    assert decimal_of(1e-07) == Decimal("1E-7")


def test_a_price_finer_than_the_unit_rounds_once_to_the_nearest_unit_half_up() -> None:
    assert price_units("104250.005", 2) == 10_425_001
    assert price_units("104250.00499", 2) == 10_425_000
    assert mid_units("104250.00", "104250.01", 2) == 10_425_001
    assert mid_units("104252.3", "104252.4", 2) == 10_425_235


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.1 + 0.7, "1e", "", None, True, 0, "-5", 0.0001])
def test_a_price_not_exactly_known_or_not_positive_is_refused(value: object) -> None:
    with pytest.raises(PriceNotExact):
        price_units(value, 2)


def test_live_venue_configuration_is_validated() -> None:
    with pytest.raises(ValueError):
        LiveVenue(venue="", symbol="BTC/USDT")
    with pytest.raises(ValueError):
        LiveVenue(venue="binance", symbol="BTC/USDT", trades_limit=0)
    with pytest.raises(ValueError):
        CcxtIndexFeed(BTCUSD, 2, (VENUES[0], VENUES[0]), clock=Clock(NOW), exchanges={})
    assert LiveVenue(venue="cb", symbol="BTC/USD", exchange_id="coinbase").ccxt_id == "coinbase"
    with pytest.raises(ValueError, match="no exchange"):
        make_exchange("not-a-venue")
    assert type(make_exchange("bitstamp")).__name__ == "bitstamp"  # built, not connected
