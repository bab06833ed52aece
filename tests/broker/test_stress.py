"""Stress testing S2-S4: library sanity, tiers, vectorised vs scalar, modes, reverse stress."""

from __future__ import annotations

import random

import numpy as np
import pytest

from harbour.broker import stress as broker_stress
from harbour.broker.commands import RecordAverageDailyVolume
from harbour.broker.stress import BookColumns, book_deficit, inputs_for, reverse_stress, run_stress, stress_grid
from harbour.broker.stress_reference import reference_figures
from harbour.broker.stress_scenarios import LIBRARY, TIERS, instantaneous, validate_scenario
from harbour.sim.broker_scenario import BrokerSimConfig, run_broker_simulation

from .helpers import BTC_100K, Broker, coins, hkd


@pytest.fixture(scope="module")
def sim_state():  # a seeded book of 40 clients, stressed before the crash
    result = run_broker_simulation(BrokerSimConfig(seed=3, clients=40, hours=1))
    return result


@pytest.fixture(scope="module")
def book():
    b = Broker()
    b.pure_va_client(1)
    b.list_security("0005", 7_000, hkd(100))
    b.onboard(2)
    b.deposit_shares(2, "0005", 10_000)
    b.buy(2, "BTC", coins(4), BTC_100K)
    b.onboard(3)
    b.deposit_va(3, "BTC", coins(2))
    b.mark_va("ETH", hkd(20_000))
    b.deposit_va(3, "ETH", coins(20))
    b.buy(3, "ETH", coins(10), hkd(20_000))
    return b


def test_library_is_valid_and_dated() -> None:
    names = [s.name for s in LIBRARY]
    assert len(names) == len(set(names)) >= 20
    for s in LIBRARY:
        assert validate_scenario(s) is None, s.name
        if s.kind == "HISTORICAL":
            assert len(s.date) == 10 and s.date[4] == "-"
    assert validate_scenario(instantaneous("up", 100, 0)) is not None
    assert [t.name for t in TIERS] == ["Tier moderate", "Tier severe", "Tier extreme", "Tier break-even"]


def test_worked_example_sale_size_by_closed_form(book: Broker) -> None:
    cols = BookColumns.from_state(book.state)
    grid = stress_grid(cols, [instantaneous("-45", -4_500, -4_500), instantaneous("-46", -4_600, -4_600)], inputs_for(book.state.config, 0, slippage_bps=0))
    row = list(cols.client_ids).index(1)
    assert grid.ratio_bps[row, 0] == 12_988 and not grid.forced[row, 0]  # §2.2: R ~ 130%, just below the line
    assert grid.forced[row, 1]
    mv = 1_400_000 * 0.54 * 0.4
    expected = (400_000 - 0.9 * mv) / (0.995 - 0.9 * 0.4)  # §2.1 closed form (~193,800 at -45%)
    assert abs(int(grid.sale_value[row, 1]) - hkd(1) * expected) < hkd(1)


def test_tiers_monotone_more_calls_and_deficit(sim_state) -> None:
    rows = {r.scenario: r for r in sim_state.stress.results}
    tiers = [rows[t.name] for t in TIERS[:3]]
    for a, b in zip(tiers, tiers[1:], strict=False):
        assert a.clients_in_call <= b.clients_in_call and a.clients_forced <= b.clients_forced
        assert a.deficit_blocked <= b.deficit_blocked and a.sale_value <= b.sale_value
    assert tiers[0].clients_in_call < tiers[2].clients_in_call


def test_deficit_and_calls_monotone_in_uniform_shock(sim_state, book: Broker) -> None:
    cols = BookColumns.from_state(book.state)
    inp = inputs_for(book.state.config, 0)
    grid = stress_grid(cols, [instantaneous(f"s{s}", -s, -s) for s in range(0, 10_001, 500)], inp)
    assert (np.diff(grid.in_call.sum(axis=0)) >= 0).all()
    assert (np.diff(grid.deficit_blocked.sum(axis=0)) >= 0).all()
    assert grid.deficit_blocked[:, -1].sum() > 0


@pytest.fixture(scope="module")
def book_with_adv(book: Broker) -> Broker:
    b = Broker()
    for _seq, ts, cmd in book.commands:
        b.do(cmd, ts=ts)
    b.ok(RecordAverageDailyVolume(instrument="BTC", qty=coins(500)))  # C3: client 1's 14 BTC count at k = 0.9
    b.ok(RecordAverageDailyVolume(instrument="0005", qty=500_000))  # C5: client 2's 10,000 shares at k = 0.9
    return b


@pytest.mark.parametrize("which", ["book", "book_with_adv"])
def test_vectorised_equals_scalar_reference(which: str, request: pytest.FixtureRequest) -> None:
    book: Broker = request.getfixturevalue(which)
    cols = BookColumns.from_state(book.state)
    _, grid = run_stress(cols, inputs_for(book.state.config, 0))
    rng = random.Random(5)
    scenarios = list(LIBRARY) + [instantaneous("eq", -rng.randrange(10_000), -rng.randrange(10_000), -rng.randrange(10_000)) for _ in range(5)]
    _, grid = run_stress(cols, inputs_for(book.state.config, 0), scenarios)
    for j, s in enumerate(scenarios):
        for i, cid in enumerate(cols.client_ids.tolist()):
            ref = reference_figures(book.state, cid, s)
            assert grid.margin_value[i, j] == ref.margin_value and grid.market_value[i, j] == ref.market_value, (s.name, cid)
            assert grid.ratio_bps[i, j] == (-1 if ref.ratio_bps is None else ref.ratio_bps), (s.name, cid)


def test_vectorised_equals_scalar_on_random_clients_of_seeded_book(sim_state) -> None:
    st = sim_state.book_before_crash
    cols = BookColumns.from_state(st)
    _, grid = run_stress(cols, inputs_for(st.config, 0))
    rng = random.Random(17)
    for i in rng.sample(range(cols.n), 8):
        cid = int(cols.client_ids[i])
        for j in rng.sample(range(len(LIBRARY)), 6):
            ref = reference_figures(st, cid, LIBRARY[j])
            assert grid.margin_value[i, j] == ref.margin_value, (cid, LIBRARY[j].name)
            assert grid.ratio_bps[i, j] == (-1 if ref.ratio_bps is None else ref.ratio_bps), (cid, LIBRARY[j].name)


def test_blocked_never_below_allowed(sim_state) -> None:
    for r in sim_state.stress.results:
        assert r.deficit_blocked >= r.deficit_allowed, r.scenario


def test_blocked_exceeds_allowed_on_a_gapped_path() -> None:
    b = Broker()
    b.pure_va_client(1)
    cols = BookColumns.from_state(b.state)
    from harbour.broker.stress_scenarios import Scenario, ShockStep

    path = Scenario(name="gap", date="", kind="HYPOTHETICAL", steps=(ShockStep(window="1 h", btc_bps=-4_600, eth_bps=-4_600), ShockStep(window="1 d", btc_bps=-9_000, eth_bps=-9_000)))
    grid = stress_grid(cols, [path], inputs_for(b.state.config, 0))
    assert grid.deficit_blocked[0, 0] > grid.deficit_allowed[0, 0] >= 0


def test_reverse_stress_finds_threshold(book: Broker) -> None:
    cols = BookColumns.from_state(book.state)
    capital = hkd(150_000)
    inp = inputs_for(book.state.config, capital)
    rv = reverse_stress(cols, inp)
    assert rv.shock_bps is not None
    assert book_deficit(cols, inp, rv.shock_bps - 1) <= capital < book_deficit(cols, inp, rv.shock_bps)
    assert rv.deficit_below <= capital < rv.deficit_at_shock
    big = reverse_stress(cols, inputs_for(book.state.config, hkd(10**9)))
    assert big.shock_bps is None


def test_report_is_reproducible(sim_state) -> None:
    again = run_broker_simulation(BrokerSimConfig(seed=3, clients=40, hours=1))
    assert again.stress is not None
    assert again.stress.to_json() == sim_state.stress.to_json()
    assert sim_state.stress.inputs.seed == 3 and len(sim_state.stress.scenarios) == len(LIBRARY)


def test_snapshot_columns_are_int64_with_one_row_per_borrowing_client(book: Broker) -> None:
    cols = BookColumns.from_state(book.state)
    assert cols.loan.dtype == np.int64 and cols.n == 3


def test_snapshot_refuses_a_client_outside_the_int64_envelope(book: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    # the broker's input ceilings keep real clients far inside 2**62; lower the envelope to reach the guard
    monkeypatch.setattr(broker_stress, "MAX_CLIENT_TOTAL", 1)

    with pytest.raises(ValueError, match="outside the int64 stress envelope"):
        BookColumns.from_state(book.state)
