"""Index price feeds: the seeded simulated feed, the CSV replay feed and the default methodology.

The simulated feed is driven through a real ``VenueEngine`` (default genesis, then the
methodology, then the publishes) with ``check_all`` after every command. BTCUSD prices
are USD cents (tick 10); the default methodology has five venues, a +-1% clamp, a 30 s
staleness limit, 3 live venues minimum and a 60 s halt delay.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from harbour.prices.index import (
    Constituent,
    ExclusionReason,
    Fallback,
    InputKind,
    OutlierAction,
    PriceInput,
    check_methodology,
    recompute,
)
from harbour.sim.clock import NS_PER_SECOND, SESSION_START_NS
from harbour.sim.feeds import (
    DEFAULT_VENUES,
    CsvIndexFeed,
    Deviation,
    FeedParams,
    Outage,
    SimulatedIndexFeed,
    default_methodology,
    read_inputs_csv,
    write_inputs_csv,
)
from harbour.sim.price_path import PathParams
from harbour.venue import VenueEngine, check_all, default_genesis
from harbour.venue.commands import InstrumentState, PublishIndex, SetIndexMethodology
from harbour.venue.events import IndexPublished, InstrumentStateChanged, MarkPriceSet, Rejected

BTCUSD = "BTCUSD"
GENESIS_REF = 9_500_000
START_PRICE = 9_600_000  # 96,000.00 USD
T0 = SESSION_START_NS
START = T0 + 3_600 * NS_PER_SECOND  # well after genesis
S = NS_PER_SECOND


def feed(seed: int = 7, **kwargs: object) -> SimulatedIndexFeed:
    return SimulatedIndexFeed(seed, DEFAULT_VENUES, START_PRICE, instrument=BTCUSD, start_ns=START, tick=10, **kwargs)  # type: ignore[arg-type]


class Engine:
    """A real engine after the default genesis, checked after every command."""

    def __init__(self, methodology: SetIndexMethodology | None = None) -> None:
        self.engine = VenueEngine()
        self.seq = 0
        for i, cmd in enumerate(default_genesis()):
            self.apply(T0 + i * 1_000_000, cmd)
        self.apply(T0 + S, methodology or default_methodology(BTCUSD, "BTC", effective_from_ns=T0 + S))

    def apply(self, ts: int, cmd: object) -> list[object]:
        self.seq += 1
        out = self.engine.apply(self.seq, ts, cmd)  # type: ignore[arg-type]
        assert not [e for e in out if isinstance(e, Rejected)], out
        assert check_all(self.engine.state) == []
        return out

    def run(self, commands: list[tuple[int, PublishIndex]]) -> list[tuple[IndexPublished, list[object]]]:
        results = []
        for ts, cmd in commands:
            out = self.apply(ts, cmd)
            published = [e for e in out if isinstance(e, IndexPublished)]
            assert len(published) == 1
            assert recompute(published[0].print) == published[0].print
            results.append((published[0], out))
        return results


# --- the default methodology -------------------------------------------------------------


def test_the_default_methodology_is_sound_with_the_house_defaults() -> None:
    cmd = default_methodology(BTCUSD, "BTC", effective_from_ns=T0)
    m = cmd.methodology

    assert check_methodology(m) == ()
    assert cmd.instrument == BTCUSD and m.asset == "BTC" and m.version == 1
    assert [c.venue for c in m.constituents] == list(DEFAULT_VENUES) and len(m.constituents) == 5
    assert (m.outlier_action, m.outlier_band_bps, m.staleness_limit_ns, m.min_live_constituents) == (OutlierAction.CLAMP, 100, 30 * S, 3)
    assert m.halt_after_ns == 60 * S
    assert default_methodology("ETHHKD", "ETH", effective_from_ns=T0).methodology.outlier_band_bps == 100
    assert default_methodology("SOLUSD", "SOL", effective_from_ns=T0).methodology.outlier_band_bps == 200
    assert default_methodology(BTCUSD, "BTC", effective_from_ns=T0, halt_after_ns=5 * S).methodology.halt_after_ns == 5 * S
    with pytest.raises(ValueError, match="min_live_constituents"):
        default_methodology(BTCUSD, "BTC", ("a", "b"), effective_from_ns=T0)


# --- the simulated feed --------------------------------------------------------------------


def test_the_same_seed_gives_identical_commands_and_another_seed_does_not() -> None:
    def commands(seed: int) -> bytes:
        f = feed(seed, outages=[Outage(venue="okx", start_ns=START + 10 * S, end_ns=START + 20 * S)])
        f.set_deviation("kraken", 250)
        return msgspec.msgpack.encode([cmd for _, cmd in f.run(START, S, 60)])

    assert commands(11) == commands(11)
    assert commands(11) != commands(12)


def test_inputs_are_integers_on_the_tick_one_per_venue_mostly_trades_some_firm_quotes() -> None:
    f = feed(params=FeedParams(path=PathParams(drift_bps_per_hour=50.0, jump_probability=0.05)))
    commands = f.run(START, S, 200)

    kinds: set[InputKind] = set()
    for ts, cmd in commands:
        assert cmd.instrument == BTCUSD
        assert [i.venue for i in cmd.inputs] == list(DEFAULT_VENUES)
        for item in cmd.inputs:
            assert type(item.price) is int and item.price > 0 and item.price % 10 == 0
            assert ts - S < item.ts_ns <= ts
            kinds.add(item.kind)
    assert kinds == {InputKind.TRADE, InputKind.FIRM_QUOTE}
    assert f.path_price != START_PRICE
    with pytest.raises(ValueError, match="cannot go back"):
        f.publish(START)


def test_an_outage_or_a_deviation_leaves_the_other_venues_inputs_unchanged() -> None:
    plain = feed(3).run(START, S, 30)
    disturbed_feed = feed(3, outages=[Outage(venue="okx", start_ns=START + 5 * S, end_ns=START + 15 * S)])
    disturbed_feed.set_deviation("kraken", -400)
    disturbed = disturbed_feed.run(START, S, 30)

    for (_, a), (_, b) in zip(plain, disturbed, strict=True):
        others = [i for i in a.inputs if i.venue not in ("okx", "kraken")]
        assert others == [i for i in b.inputs if i.venue not in ("okx", "kraken")]


def test_publishes_through_the_engine_move_the_reference_price_and_keep_invariants() -> None:
    engine = Engine()
    f = feed(5, params=FeedParams(path=PathParams(drift_bps_per_hour=200.0)))

    results = engine.run(f.run(START, S, 60))

    assert all(event.print.fallback is Fallback.NONE and event.print.live_constituents == 5 for event, _ in results)
    last_event, last_out = results[-1]
    mark = [e for e in last_out if isinstance(e, MarkPriceSet)][0]
    ref = engine.engine.state.instruments[BTCUSD].ref_price
    assert ref == mark.mark != GENESIS_REF
    assert abs(ref - f.path_price) * 100 <= f.path_price  # within 1% of the common path
    assert len({event.print.value for event, _ in results}) > 1


def test_an_outage_of_three_venues_goes_stale_then_last_good_then_halts_the_instrument() -> None:
    engine = Engine()
    outage_from = START + 10 * S
    f = feed(9, outages=[Outage(venue=v, start_ns=outage_from, end_ns=START + 3_600 * S) for v in ("coinbase", "okx", "bitstamp")])

    results = engine.run(f.run(START, 5 * S, 30))  # 150 s
    fallbacks = [event.print.fallback for event, _ in results]

    # the forwarded last observations age out (STALE, zero weight), the last good value is
    # held for 60 s flagged stale, then the print is a halt trigger
    first_stale = fallbacks.index(Fallback.LAST_GOOD_STALE)
    first_halt = fallbacks.index(Fallback.HALT)
    assert set(fallbacks[:first_stale]) == {Fallback.NONE}
    assert set(fallbacks[first_stale:first_halt]) == {Fallback.LAST_GOOD_STALE}
    assert set(fallbacks[first_halt:]) == {Fallback.HALT}
    stale_print = results[first_stale][0].print
    assert stale_print.live_constituents == 2
    assert {e.input.venue for e in stale_print.exclusions if e.reason is ExclusionReason.STALE} == {"coinbase", "okx", "bitstamp"}
    last_good = results[first_stale - 1][0].print
    assert stale_print.value == last_good.value
    assert results[first_halt][0].ts_ns - last_good.ts_ns > 60 * S >= results[first_halt - 1][0].ts_ns - last_good.ts_ns
    changes = [e for _, out in results for e in out if isinstance(e, InstrumentStateChanged)]
    assert [(c.new, c.reason) for c in changes] == [(InstrumentState.HALTED, "index halt trigger")]
    assert engine.engine.state.instruments[BTCUSD].state is InstrumentState.HALTED


def test_the_deviating_venue_is_clamped_to_the_band_with_its_record_on_the_print() -> None:
    engine = Engine()
    f = feed(4, deviation=Deviation(venue="kraken", offset_bps=300))

    results = engine.run(f.run(START, S, 20))

    for event, _ in results:
        p = event.print
        assert [c.venue for c in p.clamps] == ["kraken"]
        clamp = p.clamps[0]
        assert clamp.price_in > clamp.band_high == clamp.price_out and p.median is not None
        assert clamp.band_high == p.median + p.median * 100 // 10_000
        assert p.fallback is Fallback.NONE and p.live_constituents == 5


def test_the_deviating_venue_is_excluded_with_its_reason_under_an_exclude_methodology() -> None:
    engine = Engine(default_methodology(BTCUSD, "BTC", effective_from_ns=T0 + S, outlier_action=OutlierAction.EXCLUDE))
    f = feed(4)
    f.set_deviation("kraken", -300, start_ns=START + 10 * S)

    results = engine.run(f.run(START, S, 20))

    for event, _ in results:
        p = event.print
        excluded = [(e.input.venue, e.reason) for e in p.exclusions]
        kraken = next(w for w in p.weights if w.venue == "kraken")
        if event.ts_ns < START + 10 * S:
            assert excluded == [] and kraken.weight == 1
        else:
            assert excluded == [("kraken", ExclusionReason.OUTLIER_EXCLUDED)] and kraken.weight == 0
            assert "outside" in p.exclusions[0].detail
            assert p.fallback is Fallback.NONE and p.live_constituents == 4


def test_on_demand_changes_are_validated() -> None:
    f = feed()
    with pytest.raises(ValueError, match="not a constituent"):
        f.add_outage("ftx", START, START + S)
    with pytest.raises(ValueError, match="end after"):
        f.add_outage("okx", START + S, START + S)
    with pytest.raises(ValueError, match="not a constituent"):
        f.set_deviation("ftx", 100)
    with pytest.raises(ValueError, match="each once"):
        SimulatedIndexFeed(1, ("a", "a"), START_PRICE, instrument=BTCUSD, start_ns=START)
    with pytest.raises(ValueError):
        SimulatedIndexFeed(1, [Constituent(venue="a", weight=1)], 1_005, instrument=BTCUSD, start_ns=START, tick=10)


# --- the CSV replay feed ---------------------------------------------------------------------


def test_the_csv_feed_round_trips_a_recorded_simulated_session(tmp_path: Path) -> None:
    recorded = feed(21).run(START, S, 40)
    path = tmp_path / "inputs.csv"
    write_inputs_csv(path, (i for _, cmd in recorded for i in cmd.inputs), price_decimals=2)

    replayed = CsvIndexFeed(path, instrument=BTCUSD, price_decimals=2, interval_ns=S).commands()

    assert replayed == recorded
    assert list(CsvIndexFeed(path, instrument=BTCUSD, price_decimals=2)) == recorded
    engine = Engine()
    assert [e.print.value for e, _ in engine.run(replayed)] == [e.print.value for e, _ in Engine().run(recorded)]


def test_the_csv_feed_parses_exact_decimals_and_groups_by_publish_time(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_text(
        "ts_ns,venue,kind,price\n"
        f"{START - S // 2},binance,TRADE,96000\n"
        f"{START},kraken,FIRM_QUOTE,96000.5\n"
        f"{START + 1},okx,TRADE,96000.25\n"
    )

    commands = CsvIndexFeed(path, instrument=BTCUSD, price_decimals=2).commands()

    assert commands == [
        (
            START,
            PublishIndex(
                instrument=BTCUSD,
                inputs=(
                    PriceInput(venue="binance", kind=InputKind.TRADE, price=9_600_000, ts_ns=START - S // 2),
                    PriceInput(venue="kraken", kind=InputKind.FIRM_QUOTE, price=9_600_050, ts_ns=START),
                ),
            ),
        ),
        (START + S, PublishIndex(instrument=BTCUSD, inputs=(PriceInput(venue="okx", kind=InputKind.TRADE, price=9_600_025, ts_ns=START + 1),))),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1.5,binance,TRADE,96000", "ts_ns"),
        ("-5,binance,TRADE,96000", "ts_ns"),
        (",binance,TRADE,96000", "ts_ns"),
        ("100,,TRADE,96000", "venue"),
        ("100,binance,trade,96000", "kind"),
        ("100,binance,BID,96000", "kind"),
        ("100,binance,TRADE,96000.001", "more than 2 decimals"),
        ("100,binance,TRADE,9.6e4", "plain decimal"),
        ("100,binance,TRADE,0", "positive"),
        ("100,binance,TRADE,-1", "positive"),
        ("100,binance,TRADE", "expected 4 fields"),
        ("100,binance,TRADE,96000,extra", "expected 4 fields"),
        ("", "expected 4 fields"),
    ],
)
def test_the_csv_feed_rejects_a_malformed_line_naming_it(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"ts_ns,venue,kind,price\n100,binance,TRADE,96000\n{line}\n200,okx,TRADE,96000\n")

    with pytest.raises(ValueError, match=f"line 3: .*{message}"):
        CsvIndexFeed(path, instrument=BTCUSD, price_decimals=2)


def test_the_csv_feed_requires_its_header(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("100,binance,TRADE,96000\n")
    with pytest.raises(ValueError, match="line 1: header"):
        read_inputs_csv(path, 2)
