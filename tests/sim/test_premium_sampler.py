"""Premium sampling on a fixed cadence and funding at each interval end (the price service, outside the engine).

A real engine after the default genesis: BTCUSD in USD cents (tick 10, lot 0.001 BTC,
unit value 10 micro-USD per cent-lot), reference 95,000.00. The affiliated MM quotes
one bid and one ask of 1 BTC each, so a 25,000 USD impact notional fills in the first
level and the impact prices are the quoted prices. Funding here, configured in the venue
by ``SetFundingParameters`` (the sampler reads it from there): a 60 s interval, a sample
every 5 s, the house interest (0.01%) and dampener (0.05%), impact notional USD 25,000.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from harbour.journal import CommandCodec, recover
from harbour.prices.funding import SIGN_CONVENTION
from harbour.sim import HarnessConfig, ScenarioConfig, run_simulation
from harbour.sim.clock import NS_PER_MINUTE, NS_PER_SECOND, SESSION_START_NS
from harbour.sim.funding_history import FundingHistory
from harbour.sim.harness import sim_funding_parameters
from harbour.sim.premium_sampler import PremiumSampler, premium_index_basis
from harbour.venue import VenueEngine, VenueEngineFactory, check_all, default_genesis
from harbour.venue.commands import (
    AccountKind,
    CancelAllOrders,
    Deposit,
    OpenAccount,
    PlaceOrder,
    SetFundingParameters,
    SettleFunding,
    Side,
    TimeInForce,
    VenueCommand,
)
from harbour.venue.disclosure import build_disclosure
from harbour.venue.events import FundingSettled, OrderAccepted, Rejected
from harbour.venue.genesis import default_funding_parameters

BTCUSD = "BTCUSD"
T0 = SESSION_START_NS  # a whole minute: interval ends fall on T0 + k minutes
S = NS_PER_SECOND
MM = 1
INDEX = 9_500_000  # the genesis reference price, 95,000.00 USD
PARAMS = msgspec.structs.replace(default_funding_parameters(BTCUSD, 25_000), interval_ns=NS_PER_MINUTE, premium_sample_interval_ns=5 * S)


class Desk:
    """A real engine and a sampler over it; commands applied at the times given."""

    def __init__(self, parameters: SetFundingParameters = PARAMS) -> None:
        self.engine = VenueEngine()
        self.seq = 0
        self.sampler = PremiumSampler([BTCUSD], start_ns=T0)
        self.settled: list[tuple[int, SettleFunding, list[object]]] = []
        for cmd in [
            *default_genesis(),
            parameters,
            OpenAccount(account=MM, kind=AccountKind.AFFILIATED_MM, legal_entity="Harbour Liquidity Ltd"),
            Deposit(account=MM, asset="USD", amount=10_000_000 * 1_000_000),
        ]:
            self.apply(T0, cmd)

    def apply(self, ts: int, cmd: object) -> list[object]:
        self.sampler.advance(ts, self.engine.state, self._settle)
        return self._apply(ts, cmd)

    def _apply(self, ts: int, cmd: object) -> list[object]:
        self.seq += 1
        out = self.engine.apply(self.seq, ts, cmd)  # type: ignore[arg-type]
        assert not [e for e in out if isinstance(e, Rejected)], out
        assert check_all(self.engine.state) == []
        return out

    def _settle(self, ts: int, cmd: SettleFunding) -> None:
        self.settled.append((ts, cmd, self._apply(ts, cmd)))

    def quote(self, ts: int, bid: int, ask: int, qty: int = 1_000) -> None:
        for side, price in ((Side.BUY, bid), (Side.SELL, ask)):
            out = self.apply(ts, PlaceOrder(account=MM, instrument=BTCUSD, side=side, qty=qty, price=price, tif=TimeInForce.POST_ONLY))
            assert [e for e in out if isinstance(e, OrderAccepted)]

    def finish(self, end: int) -> None:
        self.sampler.finish(end, self.engine.state, self._settle)


def test_the_premium_is_sampled_every_5_seconds_from_the_impact_bid_and_ask_against_the_index() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_510_000, ask=9_520_000)  # 95,100.00 / 95,200.00: both above the index

    desk.sampler.advance(T0 + 30 * S, desk.engine.state, desk._settle)

    samples = desk.sampler.samples(BTCUSD)
    assert [s.ts_ns - T0 for s in samples] == [k * 5 * S for k in range(1, 6)]  # 30 s itself not yet: strictly before
    assert {(s.index, s.impact_bid, s.impact_ask) for s in samples} == {(INDEX, 9_510_000, 9_520_000)}
    # (95,100.00 - 95,000.00) / 95,000.00 = 0.105263...% = 105,263 per 1e8; the ask above the index adds nothing
    assert {s.premium_e8 for s in samples} == {105_263}


def test_at_the_interval_end_the_rate_is_the_dampened_premium_average_and_settles_at_that_time() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_510_000, ask=9_520_000)

    desk.finish(T0 + NS_PER_MINUTE)

    [(ts, command, events)] = desk.settled
    [decision] = desk.sampler.decisions
    assert ts == T0 + NS_PER_MINUTE
    assert decision.rate.samples_used == 12
    assert decision.rate.average_premium_e8 == 105_263
    # F = P + clamp(I - P, +-0.05%) = 105,263 + clamp(10,000 - 105,263, +-50,000) = 55,263 (0.055263%)
    assert decision.rate.uncapped_rate_e8 == 55_263
    assert command == SettleFunding(instrument=BTCUSD, rate_e8=decision.rate.rate_e8, interval_ns=NS_PER_MINUTE, mark_price=INDEX)
    assert decision.rate.rate_e8 == min(55_263, decision.rate.cap_e8)
    settled = [e for e in events if isinstance(e, FundingSettled)]
    assert len(settled) == 1
    assert (settled[0].ts_ns, settled[0].rate_e8, settled[0].interval_ns, settled[0].sign_convention) == (
        T0 + NS_PER_MINUTE,
        decision.rate.rate_e8,
        NS_PER_MINUTE,
        SIGN_CONVENTION,
    )


def test_later_samples_weigh_more_linear_weights_one_to_n() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_510_000, ask=9_520_000)
    desk.apply(T0 + 31 * S, CancelAllOrders(account=MM))  # samples at 35..60 s see an empty book: premium 0

    desk.finish(T0 + NS_PER_MINUTE)

    [decision] = desk.sampler.decisions
    assert [s.premium_e8 for s in decision.samples] == [105_263] * 6 + [0] * 6
    # weights 1..12 sum to 78; the first six carry 1+..+6 = 21: 21 x 105,263 / 78 = 28,340.04
    assert decision.rate.average_premium_e8 == 28_340
    assert decision.rate.rate_e8 == 10_000  # within the dampener of the interest rate: F = I


def test_the_cap_is_tied_to_the_instruments_first_margin_tier() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_970_000, ask=9_975_000)  # +4.9%, the band edge: above any cap 0.75 x (IMR - MMR) can give

    desk.finish(T0 + NS_PER_MINUTE)

    [decision] = desk.sampler.decisions
    inst = desk.engine.state.instruments[BTCUSD]
    first = inst.tiers[0]
    assert decision.rate.cap_e8 == (first.imr_ppm - first.mmr_ppm) * 100 * 7_500 // 10_000
    assert decision.rate.is_capped and decision.rate.rate_e8 == decision.rate.cap_e8


def test_every_interval_end_in_a_run_is_settled_once_in_time_order() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_490_000, ask=9_495_000)  # both below the index: a negative premium, shorts pay

    desk.finish(T0 + 3 * NS_PER_MINUTE)

    assert [ts - T0 for ts, _, _ in desk.settled] == [NS_PER_MINUTE, 2 * NS_PER_MINUTE, 3 * NS_PER_MINUTE]
    assert all(d.rate.samples_used == 12 and d.rate.rate_e8 < 0 for d in desk.sampler.decisions)
    assert len(desk.sampler.samples(BTCUSD)) == 0  # settled samples are dropped: memory stays bounded


def test_the_premium_is_measured_against_the_latest_usable_index_print_else_the_reference_price() -> None:
    desk = Desk()

    assert premium_index_basis(desk.engine.state, BTCUSD) == INDEX
    assert premium_index_basis(desk.engine.state, "NOPE") is None


def test_the_sampler_follows_a_change_of_the_configured_interval_and_cadence() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_490_000, ask=9_495_000)
    desk.finish(T0 + NS_PER_MINUTE)  # settled on the 1-minute clock

    desk.apply(T0 + NS_PER_MINUTE + 1, msgspec.structs.replace(PARAMS, interval_ns=4 * NS_PER_MINUTE, premium_sample_interval_ns=20 * S))
    desk.finish(T0 + 8 * NS_PER_MINUTE)

    # interval ends are epoch-aligned: T0 is 2 minutes past a multiple of 4 minutes, so they fall at T0 + 2, 6 min
    assert (T0 + 2 * NS_PER_MINUTE) % (4 * NS_PER_MINUTE) == 0
    assert [ts - T0 for ts, _, _ in desk.settled] == [NS_PER_MINUTE, 2 * NS_PER_MINUTE, 6 * NS_PER_MINUTE]
    assert [c.interval_ns for _, c, _ in desk.settled] == [NS_PER_MINUTE, 4 * NS_PER_MINUTE, 4 * NS_PER_MINUTE]
    # the first 4-minute interval has the 20 s samples since the change (80, 100, 120 s), the next all 12 of its grid
    assert [d.rate.samples_used for d in desk.sampler.decisions] == [12, 3, 12]
    assert all(not [e for e in events if isinstance(e, Rejected)] for _, _, events in desk.settled)


def test_the_sampler_settles_at_the_interval_the_venue_checks() -> None:
    desk = Desk()
    desk.quote(T0 + 1, bid=9_490_000, ask=9_495_000)
    desk.finish(T0 + NS_PER_MINUTE)
    [(_, command, _)] = desk.settled

    stale = msgspec.structs.replace(command, interval_ns=8 * 60 * NS_PER_MINUTE)  # the house 8 h, no longer configured
    out = desk.engine.apply(desk.seq + 1, T0 + NS_PER_MINUTE + 1, stale)

    assert [e.reason for e in out if isinstance(e, Rejected)] == ["FUNDING_INTERVAL_MISMATCH"]


def test_a_sampler_needs_an_instrument_and_the_simulator_refuses_an_interval_above_24_hours() -> None:
    with pytest.raises(ValueError):
        PremiumSampler([], start_ns=T0)
    with pytest.raises(ValueError, match="FUNDING_INTERVAL_OUT_OF_RANGE"):
        sim_funding_parameters(BTCUSD, "USD", 25 * 60 * NS_PER_MINUTE, 5 * S)


def test_harbour_simulate_settles_funding_at_each_minute_and_the_journal_reproduces_it(tmp_path: Path) -> None:
    config = ScenarioConfig(seed=3, minutes=2.5, clients=12, client_actions_per_minute=600)
    summary = run_simulation(config, HarnessConfig(journal_dir=tmp_path / "sim", checkpoint_every=200, check_every=200))

    assert summary.findings == [] and summary.invariants_ok
    assert {s.instrument: s.funding_settlements for s in summary.instruments.values()} == {"BTCUSD": 2, "ETHHKD": 2}
    history = FundingHistory.from_journal(summary.journal_path)
    for sym in ("BTCUSD", "ETHHKD"):
        page = history.funding_history(sym, 0, 2**62)
        assert [r.interval_end_ns - T0 for r in page.rows] == [NS_PER_MINUTE, 2 * NS_PER_MINUTE]
        assert all(r.total_paid == r.total_received + r.residue and r.positions > 0 for r in page.rows)
        assert sum(r.total_paid for r in page.rows) == summary.instruments[sym].funding_paid
    # the simulator's 1-minute clock is the venue's configuration, so its disclosure states it
    engine, journal, _ = recover(Path(summary.journal_path).parent, VenueEngineFactory(), CommandCodec(VenueCommand))
    journal.close()
    funding = build_disclosure(engine.state).rules["funding"]["instruments"]
    assert {r["symbol"]: (r["interval_ns"], r["premium_sample_interval_ns"]) for r in funding} == {
        "BTCUSD": (NS_PER_MINUTE, 5 * S),
        "ETHHKD": (NS_PER_MINUTE, 5 * S),
    }
    # the 8-hour interest 0.01% and dampener 0.05% pro rata: 1/480 of them per minute
    assert {r["interest_rate_e8"] for r in funding} == {20} and {r["dampener_e8"] for r in funding} == {104}


def test_harbour_simulate_without_a_funding_interval_settles_nothing(tmp_path: Path) -> None:
    config = ScenarioConfig(seed=3, minutes=1.2, clients=12, client_actions_per_minute=300)
    summary = run_simulation(config, HarnessConfig(journal_dir=tmp_path / "sim", funding_interval_ns=None))

    assert all(s.funding_settlements == 0 for s in summary.instruments.values())
