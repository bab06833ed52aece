"""Mark price rulebook: median of the funding-basis price, the book-basis price and the last trade."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.prices import (
    BasisSample,
    LastPriceSource,
    MarkParameters,
    MarkPrice,
    basis_moving_average,
    check_mark_parameters,
    compute_mark_price,
)

SECOND = 1_000_000_000
HOUR = 3_600 * SECOND
T0 = 10_000 * SECOND


def mark(**changes: object) -> MarkPrice:
    arguments: dict[str, object] = {
        "ts_ns": T0,
        "index": 100_000_00,
        "last_funding_rate_e8": 10_000,
        "time_to_funding_ns": 4 * HOUR,
        "interval_ns": 8 * HOUR,
        "basis_samples": [],
        "last_trade_price": 100_050_00,
    }
    arguments.update(changes)
    return compute_mark_price(MarkParameters(), **arguments)  # type: ignore[arg-type]


def test_mark_p1_is_index_times_funding_basis_pro_rata_to_time_left() -> None:
    result = compute_mark_price(
        MarkParameters(),
        ts_ns=T0,
        index=100_000_00,
        last_funding_rate_e8=10_000,  # 0.01%
        time_to_funding_ns=4 * HOUR,
        interval_ns=8 * HOUR,
        basis_samples=[],
        last_trade_price=100_050_00,
    )

    assert result.p1_funding_basis == 100_005_00  # 100,000 x (1 + 0.0001 x 1/2)
    assert result.p2_book_basis == 100_000_00  # empty window: basis 0
    assert result.value == 100_005_00
    assert result.last_source is LastPriceSource.LAST_TRADE


def test_mark_p2_uses_the_moving_average_of_mid_minus_index_inside_the_window() -> None:
    samples = [
        BasisSample(ts_ns=T0 - 301 * SECOND, mid=200_000_00, index=100_000_00),  # outside the 5 min window
        BasisSample(ts_ns=T0 - 10 * SECOND, mid=100_010_00, index=100_000_00),
        BasisSample(ts_ns=T0 - 5 * SECOND, mid=100_021_00, index=100_000_00),
        BasisSample(ts_ns=T0 + 1, mid=300_000_00, index=100_000_00),  # after the mark time
    ]

    average, used = basis_moving_average(samples, T0, MarkParameters().basis_window_ns)

    assert (average, used) == (15_50, 2)


def test_mark_resists_a_last_trade_spike() -> None:
    result = mark(last_trade_price=150_000_00)

    assert result.value == 100_005_00


def test_mark_without_any_trade_uses_the_index_for_the_last_price_and_says_so() -> None:
    result = mark(last_trade_price=None)

    assert result.last_source is LastPriceSource.INDEX
    assert result.last == 100_000_00


def test_mark_parameters_refuse_a_sample_interval_longer_than_the_window() -> None:
    problems = check_mark_parameters(MarkParameters(basis_window_ns=SECOND, basis_sample_interval_ns=2 * SECOND))

    assert [p.field for p in problems] == ["basis_sample_interval_ns"]


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(min_value=1, max_value=10**12),
    rate=st.integers(min_value=-10**6, max_value=10**6),
    ttf=st.integers(min_value=-HOUR, max_value=10 * HOUR),
    last=st.none() | st.integers(min_value=1, max_value=10**12),
    mids=st.lists(st.integers(min_value=1, max_value=10**12), max_size=8),
)
def test_mark_is_the_median_of_its_three_recorded_inputs(index: int, rate: int, ttf: int, last: int | None, mids: list[int]) -> None:
    samples = [BasisSample(ts_ns=T0 - i * 5 * SECOND, mid=m, index=index) for i, m in enumerate(mids)]

    result = compute_mark_price(
        MarkParameters(),
        ts_ns=T0,
        index=index,
        last_funding_rate_e8=rate,
        time_to_funding_ns=ttf,
        interval_ns=8 * HOUR,
        basis_samples=samples,
        last_trade_price=last,
    )

    trio = sorted((result.p1_funding_basis, result.p2_book_basis, result.last))
    assert result.value == trio[1]
    assert 0 <= result.time_to_funding_ns <= 8 * HOUR
