"""The integer stress kernel (S2-S4) gives exactly the plain-Python reference's figures on random books.

The numpy kernel of ``harbour.broker.stress`` and ``harbour.broker.stress_reference`` implement
the same rules independently; every grid cell must agree to the micro-unit, including
clients above the kernel's int64 envelope (which the kernel hands to the reference).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.broker import BrokerConfig
from harbour.broker.config import MAX_SECURITY_PRICE, MAX_SHARES_HELD, MAX_VA_PRICE, MAX_VA_UNITS_HELD
from harbour.broker.stress import (
    FAST_MAX,
    GRID_FIELDS,
    BookColumns,
    StressInputs,
    column_problem,
    inputs_for,
    revalue,
    revalue_plan,
    stress_grid,
)
from harbour.broker.stress_reference import reference_grid
from harbour.broker.stress_scenarios import LIBRARY, Scenario, ShockStep, instantaneous
from harbour.kernel.money import BPS

MRS = st.sampled_from([0, 1, 2_500, 4_000, 5_000, 7_000, 9_999, BPS])


def _magnitude(ceiling: int) -> st.SearchStrategy[int]:
    """Mostly everyday sizes, sometimes anything up to the broker's input ceiling."""
    return st.one_of(st.integers(0, min(ceiling, 10**4)), st.integers(0, min(ceiling, 10**10)), st.integers(0, ceiling))


@st.composite
def books(draw: st.DrawFn) -> BookColumns:
    n = draw(st.integers(1, 6))
    rows = []
    pos: list[tuple[int, int, int, int]] = []
    for r in range(n):
        rows.append((
            r + 1, draw(_magnitude(2 * FAST_MAX)), draw(st.one_of(st.just(0), _magnitude(FAST_MAX))), draw(_magnitude(2 * FAST_MAX)),
            draw(_magnitude(MAX_VA_UNITS_HELD)), draw(_magnitude(MAX_VA_UNITS_HELD)), draw(MRS), draw(MRS),
        ))  # fmt: skip
        for _ in range(draw(st.integers(0, 3))):
            pos.append((r, draw(st.integers(1, MAX_SHARES_HELD)), draw(st.integers(1, MAX_SECURITY_PRICE)), draw(MRS)))
    cols = np.array(rows, dtype=np.int64).reshape(-1, 8)
    p = np.array(pos, dtype=np.int64).reshape(-1, 4)
    return BookColumns(
        state_hash="random", config=BrokerConfig(),
        client_ids=cols[:, 0].copy(), loan=cols[:, 1].copy(), cash=cols[:, 2].copy(), credit_limit=cols[:, 3].copy(),
        btc_units=cols[:, 4].copy(), eth_units=cols[:, 5].copy(), btc_mr=cols[:, 6].copy(), eth_mr=cols[:, 7].copy(),
        btc_price=draw(_magnitude(MAX_VA_PRICE)), eth_price=draw(_magnitude(MAX_VA_PRICE)),
        pos_client=p[:, 0].copy(), pos_qty=p[:, 1].copy(), pos_price=p[:, 2].copy(), pos_mr=p[:, 3].copy(),
    )  # fmt: skip


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    k = draw(st.integers(1, 4))
    paths = [sorted((draw(st.integers(-BPS, 0)) for _ in range(k)), reverse=True) for _ in range(3)]
    steps = tuple(ShockStep(window=f"step {i}", btc_bps=paths[0][i], eth_bps=paths[1][i], equity_bps=paths[2][i]) for i in range(k))
    return Scenario(name="random", date="", kind="HYPOTHETICAL", steps=steps)


@st.composite
def inputs(draw: st.DrawFn) -> StressInputs:
    target = draw(st.integers(1, 20_000))
    call = draw(st.integers(target, 25_000))
    return StressInputs(
        excess_liquid_capital=0, slippage_bps=draw(st.integers(0, 1_000)), sale_cost_bps=draw(st.integers(0, 500)),
        target_ratio_bps=target, call_ratio_bps=call, forced_sale_ratio_bps=draw(st.integers(call, 30_000)),
        equity_floor_bps=draw(st.integers(0, 9_999)),
    )  # fmt: skip


def _assert_same_grid(cols: BookColumns, scen: list[Scenario], inp: StressInputs) -> None:
    fast = stress_grid(cols, scen, inp)
    ref = reference_grid(cols, scen, inp)
    for name in GRID_FIELDS:
        assert np.array_equal(getattr(fast, name), getattr(ref, name)), name
    # S3 liquidation volume by asset: the same split, and it adds up to the sale value of every scenario
    assert np.array_equal(fast.sale_by_class, ref.sale_by_class)
    assert np.array_equal(fast.sale_by_class.sum(axis=1), fast.sale_value.sum(axis=0))


@settings(max_examples=300, deadline=None)
@given(books(), st.lists(scenarios(), min_size=1, max_size=3), inputs())
def test_integer_kernel_equals_plain_python_reference_on_random_books(cols: BookColumns, scen: list[Scenario], inp: StressInputs) -> None:
    assert column_problem(cols) is None

    _assert_same_grid(cols, scen, inp)


@settings(max_examples=100, deadline=None)
@given(books(), st.lists(scenarios(), min_size=1, max_size=2))
def test_blocked_liquidation_deficit_is_never_below_allowed(cols: BookColumns, scen: list[Scenario]) -> None:
    grid = stress_grid(cols, scen, inputs_for(BrokerConfig(), 0))

    assert (grid.deficit_blocked >= grid.deficit_allowed).all()
    assert (grid.deficit_allowed >= 0).all() and (grid.sale_value >= 0).all()


def test_kernel_equals_reference_on_the_library_for_a_benchmark_style_book() -> None:
    rng = np.random.default_rng(3)
    n = 300
    per = rng.integers(0, 4, n)
    pos_client = np.repeat(np.arange(n, dtype=np.int64), per)
    m = pos_client.shape[0]
    cols = BookColumns(
        state_hash="seeded", config=BrokerConfig(),
        client_ids=np.arange(1, n + 1, dtype=np.int64), loan=rng.integers(10_000, 5_000_000, n) * 10**6,
        cash=rng.integers(0, 100_000, n) * 10**6, credit_limit=np.full(n, 4_000_000 * 10**6, dtype=np.int64),
        btc_units=rng.integers(0, 10 * 10**8, n), eth_units=rng.integers(0, 100 * 10**8, n),
        btc_mr=rng.choice([3_000, 4_000], n), eth_mr=np.full(n, 4_000, dtype=np.int64),
        btc_price=600_000 * 10**6, eth_price=20_000 * 10**6,
        pos_client=pos_client, pos_qty=rng.integers(100, 100_000, m), pos_price=rng.integers(1, 500, m) * 10**6,
        pos_mr=rng.choice([0, 5_000, 6_000, 7_000], m),
    )  # fmt: skip
    scen = [*LIBRARY, instantaneous("equity -30%", -1_000, -1_500, -3_000)]

    _assert_same_grid(cols, scen, inputs_for(cols.config, 0))


def test_a_client_above_the_kernel_envelope_is_valued_by_the_reference() -> None:
    cols = BookColumns(
        state_hash="whale", config=BrokerConfig(),
        client_ids=np.array([1, 2], dtype=np.int64), loan=np.array([FAST_MAX + 1, 10**12], dtype=np.int64),
        cash=np.zeros(2, dtype=np.int64), credit_limit=np.full(2, 2**61, dtype=np.int64),
        btc_units=np.array([MAX_VA_UNITS_HELD, 10**8], dtype=np.int64), eth_units=np.zeros(2, dtype=np.int64),
        btc_mr=np.full(2, 4_000, dtype=np.int64), eth_mr=np.full(2, 4_000, dtype=np.int64),
        btc_price=MAX_VA_PRICE // 100, eth_price=0,
        pos_client=np.array([1], dtype=np.int64), pos_qty=np.array([1_000], dtype=np.int64),
        pos_price=np.array([10**8], dtype=np.int64), pos_mr=np.array([5_000], dtype=np.int64),
    )  # fmt: skip

    _assert_same_grid(cols, list(LIBRARY), inputs_for(cols.config, 0))


def test_columns_outside_the_broker_input_ceilings_are_refused() -> None:
    cols = BookColumns(
        state_hash="bad", config=BrokerConfig(),
        client_ids=np.array([1], dtype=np.int64), loan=np.array([1], dtype=np.int64), cash=np.zeros(1, dtype=np.int64),
        credit_limit=np.ones(1, dtype=np.int64), btc_units=np.array([MAX_VA_UNITS_HELD + 1], dtype=np.int64),
        eth_units=np.zeros(1, dtype=np.int64), btc_mr=np.zeros(1, dtype=np.int64), eth_mr=np.zeros(1, dtype=np.int64),
        btc_price=1, eth_price=1, pos_client=np.zeros(0, dtype=np.int64), pos_qty=np.zeros(0, dtype=np.int64),
        pos_price=np.zeros(0, dtype=np.int64), pos_mr=np.zeros(0, dtype=np.int64),
    )  # fmt: skip

    with pytest.raises(ValueError, match="BTC units outside"):
        stress_grid(cols, [LIBRARY[0]], inputs_for(cols.config, 0))


@settings(max_examples=100, deadline=None)
@given(books(), _magnitude(MAX_VA_PRICE), _magnitude(MAX_VA_PRICE))
def test_one_tick_revaluation_is_exact(cols: BookColumns, btc: int, eth: int) -> None:
    mv, ratio, call = revalue(revalue_plan(cols), btc, eth, 10_000)
    tick = instantaneous("tick", 0, 0)
    moved = dataclasses.replace(cols, btc_price=btc, eth_price=eth)
    ref = reference_grid(moved, [tick], StressInputs(excess_liquid_capital=0, slippage_bps=0))

    assert np.array_equal(mv, ref.margin_value[:, 0]) and np.array_equal(ratio, ref.ratio_bps[:, 0])
    expected_call = [int(lo) * BPS > 10_000 * int(v) for lo, v in zip(cols.loan, mv, strict=True)]
    assert call.tolist() == expected_call


def test_gapped_path_sells_at_the_first_step_and_matches_the_reference_to_the_unit() -> None:
    rng = np.random.default_rng(11)
    n = 200
    cols = BookColumns(
        state_hash="gap", config=BrokerConfig(),
        client_ids=np.arange(1, n + 1, dtype=np.int64), loan=rng.integers(300_000, 450_000, n) * 10**6 + rng.integers(0, 10**6, n),
        cash=np.zeros(n, dtype=np.int64), credit_limit=np.full(n, 10**13, dtype=np.int64),
        btc_units=rng.integers(13 * 10**8, 15 * 10**8, n), eth_units=rng.integers(0, 10**9, n),
        btc_mr=np.full(n, 4_000, dtype=np.int64), eth_mr=np.full(n, 3_500, dtype=np.int64),
        btc_price=100_000 * 10**6 + 7, eth_price=20_000 * 10**6 + 3,
        pos_client=np.zeros(0, dtype=np.int64), pos_qty=np.zeros(0, dtype=np.int64), pos_price=np.zeros(0, dtype=np.int64),
        pos_mr=np.zeros(0, dtype=np.int64),
    )  # fmt: skip
    gap = Scenario(name="gap", date="", kind="HYPOTHETICAL", steps=(
        ShockStep(window="1 h", btc_bps=-4_613, eth_bps=-4_777), ShockStep(window="1 d", btc_bps=-8_911, eth_bps=-9_103),
    ))  # fmt: skip
    inp = inputs_for(cols.config, 0, slippage_bps=137)
    grid = stress_grid(cols, [gap], inp)

    assert (grid.deficit_allowed[:, 0] < grid.deficit_blocked[:, 0]).sum() > n // 5  # selling at -46% leaves less to lose at -89%
    assert (grid.deficit_allowed[:, 0] > 0).sum() > n // 2
    _assert_same_grid(cols, [gap], inp)
