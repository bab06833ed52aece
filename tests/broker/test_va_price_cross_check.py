"""V2: VA is marked 24/7 at a cross-checked price. The executable bid on the execution VATP
(the primary feed) is checked against the median of the reference venues; a stale feed
(> 30 s), a deviation above 3% or too few references marks at the lower price and raises
an alert (house defaults)."""

from __future__ import annotations

from pathlib import Path

from harbour.broker import BrokerCommand, BrokerConfig, BrokerEngine, BrokerEngineFactory
from harbour.broker.commands import FeedPrice, MarkVirtualAsset, MarkVirtualAssetFeeds
from harbour.broker.events import MarginCallIssued, PriceAlertRaised, VirtualAssetMarked
from harbour.broker.market import DIVERGENT_FEEDS, STALE_FEED, TOO_FEW_REFERENCES
from harbour.journal import CommandCodec, FileJournal, Sequencer, replay
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, Broker, hkd

C = RejectCode
SECOND_NS = 10**9


def _feeds(ts: int, primary: int, *refs: int, ages_s: tuple[int, ...] = ()) -> tuple[FeedPrice, ...]:
    """The primary VATP bid and the reference venues; ``ages_s`` gives each feed's age (primary first)."""
    prices = (primary, *refs)
    ages = ages_s or (0,) * len(prices)
    return tuple(
        FeedPrice(source="VATP" if i == 0 else f"REF{i}", price=price, ts_ns=ts - age * SECOND_NS, primary=i == 0)
        for i, (price, age) in enumerate(zip(prices, ages, strict=True))
    )


def _mark(b: Broker, asset: str, primary: int, *refs: int, ages_s: tuple[int, ...] = ()) -> list[object]:
    ts = b.ts + 1_000_000
    return b.ok(MarkVirtualAssetFeeds(asset=asset, feeds=_feeds(ts, primary, *refs, ages_s=ages_s)), ts=ts)


def test_v2_agreeing_fresh_feeds_mark_at_the_primary_executable_bid_without_an_alert() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(100_000), hkd(99_000), hkd(100_500), hkd(101_000))  # median 100,500: 0.5% apart

    assert b.events_of(PriceAlertRaised, out) == []
    [marked] = b.events_of(VirtualAssetMarked, out)
    assert marked.price == hkd(100_000)
    assert b.state.va_marks["BTC"].price == hkd(100_000)


def test_v2_divergent_feeds_mark_at_the_lower_price_and_raise_an_alert() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(100_000), hkd(95_000), hkd(96_000), hkd(97_000))  # median 96,000: 4.17% apart

    [alert] = b.events_of(PriceAlertRaised, out)
    assert alert.reasons == (DIVERGENT_FEEDS,)
    assert (alert.primary_price, alert.reference_price, alert.used_price) == (hkd(100_000), hkd(96_000), hkd(96_000))
    assert alert.deviation_bps == 417 and alert.stale_sources == ()
    assert len(alert.feeds) == 4
    assert b.state.va_marks["BTC"].price == hkd(96_000)


def test_v2_divergence_with_the_primary_below_the_references_uses_the_primary() -> None:
    b = Broker()

    out = _mark(b, "ETH", hkd(9_000), hkd(10_000), hkd(10_000), hkd(10_000))

    [alert] = b.events_of(PriceAlertRaised, out)
    assert alert.used_price == hkd(9_000)
    assert b.state.va_marks["ETH"].price == hkd(9_000)


def test_v2_deviation_of_exactly_3_percent_is_not_divergent() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(103_000), hkd(100_000), hkd(100_000), hkd(100_000))

    assert b.events_of(PriceAlertRaised, out) == []
    assert b.state.va_marks["BTC"].price == hkd(103_000)


def test_v2_a_stale_primary_feed_marks_at_the_lower_price_and_raises_an_alert() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(102_000), hkd(100_000), hkd(100_000), hkd(100_000), ages_s=(31, 0, 0, 0))  # 2% apart

    [alert] = b.events_of(PriceAlertRaised, out)
    assert alert.reasons == (STALE_FEED,)
    assert alert.stale_sources == ("VATP",)
    assert alert.used_price == hkd(100_000)
    assert b.state.va_marks["BTC"].price == hkd(100_000)


def test_v2_a_stale_reference_feed_marks_at_the_lower_price_and_raises_an_alert() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(101_000), hkd(100_000), hkd(100_000), hkd(100_000), ages_s=(0, 0, 45, 0))

    [alert] = b.events_of(PriceAlertRaised, out)
    assert alert.reasons == (STALE_FEED,) and alert.stale_sources == ("REF2",)
    assert b.state.va_marks["BTC"].price == hkd(100_000)


def test_v2_a_feed_exactly_30_seconds_old_is_still_fresh() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(101_000), hkd(100_000), hkd(100_000), hkd(100_000), ages_s=(30, 30, 30, 30))

    assert b.events_of(PriceAlertRaised, out) == []
    assert b.state.va_marks["BTC"].price == hkd(101_000)


def test_v2_fewer_than_three_reference_venues_cannot_confirm_the_primary() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(101_000), hkd(100_000))

    [alert] = b.events_of(PriceAlertRaised, out)
    assert alert.reasons == (TOO_FEW_REFERENCES,)
    assert b.state.va_marks["BTC"].price == hkd(100_000)


def test_v2_the_reference_count_and_bands_are_configurable() -> None:
    b = Broker(BrokerConfig(va_min_reference_feeds=1, va_feed_max_deviation_bps=500, va_feed_stale_ns=60 * SECOND_NS))

    out = _mark(b, "BTC", hkd(104_000), hkd(100_000), ages_s=(50, 50))

    assert b.events_of(PriceAlertRaised, out) == []
    assert b.state.va_marks["BTC"].price == hkd(104_000)


def test_v2_all_reasons_are_reported_together() -> None:
    b = Broker()

    out = _mark(b, "BTC", hkd(110_000), hkd(100_000), ages_s=(0, 60))

    [alert] = b.events_of(PriceAlertRaised, out)
    assert alert.reasons == (STALE_FEED, DIVERGENT_FEEDS, TOO_FEW_REFERENCES)


def test_v2_feeds_mark_leaves_the_same_state_as_a_plain_mark_at_the_used_price() -> None:
    feeds, plain = Broker(), Broker()
    for b in (feeds, plain):
        b.pure_va_client(1)

    _mark(feeds, "BTC", hkd(80_000), hkd(70_000), hkd(70_000), hkd(71_000))
    plain.ok(MarkVirtualAsset(asset="BTC", price=hkd(70_000)), ts=feeds.ts)

    assert feeds.hash() == plain.hash()


def test_v2_a_cross_checked_crash_triggers_a_va_driven_margin_call_at_the_lower_price() -> None:
    b = Broker()
    b.pure_va_client(1)  # 14 BTC at 100,000, loan 400,000: R = 400,000 / 560,000

    out = _mark(b, "BTC", hkd(75_000), hkd(70_000), hkd(70_000), hkd(70_000))  # 7.1% apart: lower = 70,000

    [alert] = b.events_of(PriceAlertRaised, out)
    [call] = b.events_of(MarginCallIssued, out)
    assert out.index(alert) < out.index(call)
    assert call.cause == "VIRTUAL_ASSET"
    assert [p.price for p in call.prices if p.instrument == "BTC"] == [hkd(70_000)]
    assert b.figures(1).market_value == 14 * hkd(70_000)


def _reject_feeds(b: Broker, feeds: tuple[FeedPrice, ...], code: RejectCode, asset: str = "BTC") -> None:
    b.reject(MarkVirtualAssetFeeds(asset=asset, feeds=feeds), code)


def test_v2_malformed_feed_sets_are_rejected_and_change_nothing() -> None:
    b = Broker()
    b.pure_va_client(1)
    ts = b.ts + 1_000_000  # reject() advances by one step
    ok = _feeds(ts, BTC_100K, BTC_100K, BTC_100K, BTC_100K)

    _reject_feeds(b, ok[:1], C.INVALID_PRICE_FEEDS)  # primary only
    _reject_feeds(b, ok[1:], C.INVALID_PRICE_FEEDS)  # no primary
    _reject_feeds(b, (ok[0], FeedPrice(source="X", price=BTC_100K, ts_ns=ts - 2_000_000, primary=True)), C.INVALID_PRICE_FEEDS)
    _reject_feeds(b, (ok[0], ok[1], ok[1]), C.INVALID_PRICE_FEEDS)  # duplicate source
    future = FeedPrice(source="REF9", price=BTC_100K, ts_ns=b.ts + 10 * SECOND_NS)
    _reject_feeds(b, (*ok, future), C.INVALID_PRICE_FEEDS)
    _reject_feeds(b, (ok[0], FeedPrice(source="REF1", price=0, ts_ns=b.ts)), C.PRICE_NOT_POSITIVE)
    _reject_feeds(b, ok, C.VA_NOT_ELIGIBLE, asset="SOL")


def test_v2_feed_marks_go_through_the_journal_and_replay_to_the_same_hash(tmp_path: Path) -> None:
    codec = CommandCodec(BrokerCommand)
    b = Broker()
    b.pure_va_client(1)
    _mark(b, "BTC", hkd(75_000), hkd(70_000), hkd(70_000), hkd(70_000), ages_s=(40, 0, 0, 0))
    clock = iter(ts for _, ts, _ in b.commands)
    path = tmp_path / "broker.log"

    with FileJournal.open(path) as journal:
        sequencer = Sequencer(BrokerEngineFactory().new(), journal, codec, lambda: next(clock), checkpoint_every=3)
        sequencer.submit_many(cmd for _, _, cmd in b.commands)
        live = sequencer.engine.state_hash()
    report = replay(path, BrokerEngineFactory(), codec)

    assert live == b.hash() and report.is_consistent
    assert report.final_state_hash == live.hex()
    replayed = BrokerEngine()
    events = [e for seq, ts, cmd in b.commands for e in replayed.apply(seq, ts, cmd)]  # type: ignore[arg-type]
    assert events == b.events
