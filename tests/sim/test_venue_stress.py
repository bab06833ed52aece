"""Venue stress test: scenario shocks on the book, losses after margin, waterfall use and cover-2.

The hand-worked book (BTCHKD, no fees, price 100,000 HKD, one bracket: 20x, maintenance 2.5%):

    account  participant  margin (HKD)  position
    11       Alpha        20,000        long 1.0 BTC at 100,000
    12       Alpha        10,000        long 0.5 BTC at 100,000
    13       account 13   15,000        long 0.5 BTC at 100,000
    21       Shorty       50,000        short 2.0 BTC at 100,000
    insurance fund HKD 10,000, operator tranche HKD 5,000

BTC -50% (mark 50,000): 11 loses 50,000 - 20,000 = 30,000; 12 loses 25,000 - 10,000 = 15,000;
13 loses 25,000 - 15,000 = 10,000. Alpha = 45,000, account 13 = 10,000, total 55,000: the fund
pays 10,000, the tranche 5,000, ADL would take 40,000; cover-2 = 55,000 > 15,000: not covered.
BTC +50% (mark 150,000): Shorty loses 100,000 - 50,000 = 50,000; ADL 35,000.
BTC -30%: Alpha loses 10,000 + 5,000 = 15,000, account 13 exactly nothing: fund 10,000 + tranche
5,000 cover it exactly (cover-2 met at the boundary). BTC +30%: Shorty loses 10,000 (fund only).
"""

from __future__ import annotations

from harbour.broker.stress_scenarios import LIBRARY_VERSION, TIER_EXTREME, instantaneous
from harbour.sim.venue_stress import (
    BTC_DOWN_ETH_UP,
    BTC_UP_ETH_DOWN,
    DOWN,
    UP,
    ScenarioResult,
    run_venue_stress,
    shocked_price,
    stress_cases,
)
from harbour.venue import VenueEngine, default_genesis
from harbour.venue.commands import FundPlatformAccount, SetReferencePrice
from harbour.venue.events import Rejected, StressReportRecorded

from venue.helpers import Venue, instrument_spec, usd

SYM = "BTCHKD"
PRICE = 10_000_000  # 100,000.00 HKD in cents
BTC = 1_000  # 1 BTC in 0.001 lots
SCENARIOS = (instantaneous("BTC -50%", -5_000, -5_000), instantaneous("BTC -30%", -3_000, -3_000))


def _book() -> Venue:
    v = Venue(genesis=False)
    for command in default_genesis():
        if not isinstance(command, FundPlatformAccount):
            v.ok(command)
    v.ok(instrument_spec(maker_fee_ppm=0, taker_fee_ppm=0))
    v.ok(SetReferencePrice(instrument=SYM, price=PRICE))
    v.ok(FundPlatformAccount(target="INSURANCE_FUND", asset="HKD", amount=usd(10_000)))
    v.ok(FundPlatformAccount(target="PLATFORM_CAPITAL", asset="HKD", amount=usd(5_000)))
    v.open_client(11, hkd=20_000, entity="Alpha")
    v.open_client(12, hkd=10_000, entity="Alpha")
    v.open_client(13, hkd=15_000)
    v.open_client(21, hkd=50_000, entity="Shorty")
    v.rest(21, SYM, "SELL", 2 * BTC, PRICE)
    v.buy(11, SYM, BTC, PRICE)
    v.buy(12, SYM, BTC // 2, PRICE)
    v.buy(13, SYM, BTC // 2, PRICE)
    assert v.engine.position_qty(21, SYM) == -2 * BTC
    return v


def _results(v: Venue) -> dict[tuple[str, str], ScenarioResult]:
    report = run_venue_stress(v.state, as_of_seq=v.seq, scenarios=SCENARIOS)
    return {(r.case.scenario, r.case.direction): r for r in report.results}


def test_a_fall_beyond_the_margin_of_the_longs_consumes_fund_tranche_then_adl() -> None:
    r = _results(_book())[("BTC -50%", DOWN)]

    assert dict(r.marks)[SYM] == 5_000_000
    assert r.accounts_in_default == 3
    assert [(p.participant, p.accounts, p.loss) for p in r.largest] == [("Alpha", (11, 12), usd(45_000)), ("account 13", (13,), usd(10_000))]
    assert (r.total_loss, r.fund_used, r.tranche_used, r.adl) == (usd(55_000), usd(10_000), usd(5_000), usd(40_000))
    assert (r.cover1_loss, r.cover2_loss) == (usd(45_000), usd(55_000))
    assert not r.cover1_covered and not r.cover2_covered
    assert r.cover2_headroom == -usd(40_000)


def test_a_rise_makes_the_shorts_default_as_the_mirror_case() -> None:
    r = _results(_book())[("BTC -50%", UP)]

    assert r.case.btc_bps == 5_000 and dict(r.marks)[SYM] == 15_000_000
    assert [(p.participant, p.loss) for p in r.largest] == [("Shorty", usd(50_000))]
    assert (r.fund_used, r.tranche_used, r.adl) == (usd(10_000), usd(5_000), usd(35_000))
    assert not r.cover2_covered


def test_cover_two_is_met_when_fund_plus_tranche_exactly_cover_the_two_largest() -> None:
    results = _results(_book())
    down, up = results[("BTC -30%", DOWN)], results[("BTC -30%", UP)]

    # account 13's margin exactly absorbs its loss: it is not in default
    assert [(p.participant, p.loss) for p in down.largest] == [("Alpha", usd(15_000))]
    assert (down.fund_used, down.tranche_used, down.adl, down.cover2_covered, down.cover2_headroom) == (usd(10_000), usd(5_000), 0, True, 0)
    assert (up.total_loss, up.fund_used, up.tranche_used, up.adl, up.cover2_covered) == (usd(10_000), usd(10_000), 0, 0, True)


def test_accounts_whose_margin_covers_the_shock_lose_nothing() -> None:
    r = _results(_book())[("BTC -30%", UP)]

    assert all(p.participant == "Shorty" for p in r.largest)
    assert r.accounts_in_default == 1


def test_the_stress_run_leaves_the_venue_state_unchanged() -> None:
    v = _book()
    before = v.engine.state_hash()

    report = run_venue_stress(v.state, as_of_seq=v.seq, scenarios=SCENARIOS)

    assert v.engine.state_hash() == before
    assert report.as_of_state_hash == before.hex()
    assert v.state.instruments[SYM].ref_price == PRICE


def test_the_library_tiers_give_one_case_per_window_and_direction() -> None:
    cases = stress_cases((TIER_EXTREME,))

    assert [(c.window, c.direction, c.btc_bps, c.eth_bps) for c in cases[:4]] == [
        ("1 h", DOWN, -2_000, -2_500),
        ("1 h", UP, 2_000, 2_500),
        ("1 h", BTC_DOWN_ETH_UP, -2_000, 2_500),
        ("1 h", BTC_UP_ETH_DOWN, 2_000, -2_500),
    ]
    assert [c.window for c in cases[::4]] == ["1 h", "1 day", "3 days", "7 days"]


def test_a_book_long_btc_and_short_eth_loses_only_when_the_two_decouple() -> None:
    """Account 31 (HKD 20,000): long 1 BTC at 100,000 and short 40 ETH at 2,500 (each 100,000 HKD).
    Both -50%: +50,000 on ETH, -50,000 on BTC, nothing lost; both +50%, likewise. BTC -50% while
    ETH +50%: -50,000 - 50,000 = -100,000 against 20,000 of margin, a loss of 80,000. BTC +50% while
    ETH -50% gains on both legs."""
    v = _book()
    eth, eth_price = "ETHTEST", 250_000  # an ETH perpetual in HKD without fees, 2,500.00 HKD
    v.ok(instrument_spec(instrument=eth, reference="ETH", maker_fee_ppm=0, taker_fee_ppm=0, qty_decimals=2))
    v.ok(SetReferencePrice(instrument=eth, price=eth_price))
    v.open_client(31, hkd=20_000)
    v.open_client(32, hkd=1_000_000, entity="Shorty")
    v.rest(32, SYM, "SELL", BTC, PRICE)
    v.buy(31, SYM, BTC, PRICE)
    v.rest(32, eth, "BUY", 4_000, eth_price)
    v.sell(31, eth, 4_000, eth_price)

    report = run_venue_stress(v.state, as_of_seq=v.seq, scenarios=(instantaneous("both -50%", -5_000, -5_000),))
    losses = {r.case.direction: {p.participant: p.loss for p in r.largest}.get("account 31", 0) for r in report.results}

    assert losses == {DOWN: 0, UP: 0, BTC_DOWN_ETH_UP: usd(80_000), BTC_UP_ETH_DOWN: 0}


def test_shocked_price_rounds_down_and_never_goes_below_zero() -> None:
    assert shocked_price(10_000_001, -5_000) == 5_000_000
    assert shocked_price(100, -10_000) == 0
    assert shocked_price(100, 5_000) == 150


def test_the_report_summary_is_journaled_and_its_hash_recomputes_from_the_replayed_state() -> None:
    v = _book()
    report = run_venue_stress(v.state, as_of_seq=v.seq, scenarios=SCENARIOS)
    command = report.record_command()

    out = v.ok(command)

    assert isinstance(out[0], StressReportRecorded) and not any(isinstance(e, Rejected) for e in out)
    assert (command.library_version, command.scenarios, command.cover2_failures) == (LIBRARY_VERSION, 8, 4)  # the BTC-only book loses as much in each decoupling as in the fall or rise of BTC
    assert (command.worst_scenario, command.worst_cover2_loss, command.worst_adl) == ("BTC -50% instant down", usd(55_000), usd(40_000))
    replayed = VenueEngine()
    for seq, ts, cmd in v.commands:
        if seq <= command.as_of_seq:
            replayed.apply(seq, ts, cmd)  # type: ignore[arg-type]
    again = run_venue_stress(replayed.state, as_of_seq=command.as_of_seq, scenarios=SCENARIOS)
    assert again.report_hash == command.report_hash
