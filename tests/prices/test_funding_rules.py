"""Funding rulebook: impact prices, premium samples, dampener, cap, interval limit and payments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.kernel import RejectCode
from harbour.prices import (
    MAX_FUNDING_INTERVAL_NS,
    SIGN_CONVENTION,
    BookSide,
    FundingParameters,
    PremiumSample,
    PremiumWeighting,
    average_premium_e8,
    check_funding_parameters,
    compute_funding_rate,
    funding_cap_e8,
    funding_payment,
    impact_price,
    sample_premium,
)

SECOND = 1_000_000_000
HOUR = 3_600 * SECOND
END = 100 * HOUR


def premiums(*values: int, start: int = END - HOUR) -> list[PremiumSample]:
    return [PremiumSample(ts_ns=start + i * SECOND, index=1, impact_bid=None, impact_ask=None, premium_e8=v) for i, v in enumerate(values)]


def test_impact_price_walks_the_book_and_averages_a_partial_last_level() -> None:
    asks = [(100, 10), (101, 10), (110, 100)]

    price = impact_price(asks, impact_notional=1_000 + 1_010 + 550, side=BookSide.ASK)

    # qty filled: 10 + 10 + 5 = 25 for a notional of 2,560 -> 102.4, rounded up for an ask
    assert price == 103
    assert impact_price([(100, 10), (99, 10), (90, 100)], impact_notional=1_000 + 990 + 450, side=BookSide.BID) == 97  # 2440/25=97.6


def test_impact_price_at_one_level_is_that_level_and_too_thin_a_book_has_none() -> None:
    assert impact_price([(100, 10)], impact_notional=500, side=BookSide.BID) == 100
    assert impact_price([(100, 10)], impact_notional=1_001, side=BookSide.BID) is None


def test_impact_price_counts_the_unit_value_of_a_lot() -> None:
    assert impact_price([(100, 1), (200, 1)], impact_notional=10 * (100 + 100), side=BookSide.ASK, unit_value=10) == 134  # 133.3 up


def test_impact_price_refuses_levels_not_best_first() -> None:
    with pytest.raises(ValueError):
        impact_price([(100, 1), (101, 1)], impact_notional=150, side=BookSide.BID)


def test_premium_sample_is_impact_bid_above_index_over_index() -> None:
    sample = sample_premium(END, index=100_00, bids=[(100_10, 100)], asks=[(100_20, 100)], impact_notional=1_000_000)

    assert (sample.impact_bid, sample.impact_ask) == (100_10, 100_20)
    assert sample.premium_e8 == 100_000  # (100.10 - 100.00) / 100.00 = 0.1%
    assert sample_premium(END, 100_00, [(99_80, 1_000)], [(99_90, 1_000)], 1_000_000).premium_e8 == -100_000


def test_premium_sample_side_too_thin_contributes_nothing() -> None:
    sample = sample_premium(END, index=100_00, bids=[(101_00, 1)], asks=[(101_10, 100)], impact_notional=1_000_000)

    assert sample.impact_bid is None
    assert sample.premium_e8 == 0


def test_average_premium_weights_later_samples_linearly_more() -> None:
    samples = premiums(0, 0, 600)

    assert average_premium_e8(samples, PremiumWeighting.LINEAR) == 300  # (3 x 600) / 6
    assert average_premium_e8(samples, PremiumWeighting.EQUAL) == 200


def test_funding_with_premium_near_interest_is_the_interest_rate() -> None:
    rate = compute_funding_rate(FundingParameters(), premiums(20_000, 20_000), END)

    assert rate.rate_e8 == 10_000  # P + clamp(0.01% - P, +-0.05%) = 0.01%
    assert rate.samples_used == 2


def test_funding_dampener_limits_the_interest_pull_to_five_bps() -> None:
    rate = compute_funding_rate(FundingParameters(), premiums(100_000), END)

    assert rate.uncapped_rate_e8 == 100_000 - 50_000
    assert rate.rate_e8 == 50_000 and not rate.is_capped


def test_funding_rate_is_capped_at_three_quarters_of_imr_minus_mmr() -> None:
    parameters = FundingParameters(imr_ppm=8_000, mmr_ppm=4_000)

    up = compute_funding_rate(parameters, premiums(2_000_000), END)
    down = compute_funding_rate(parameters, premiums(-2_000_000), END)

    assert funding_cap_e8(parameters) == 300_000  # 0.3%
    assert (up.rate_e8, up.is_capped) == (300_000, True)
    assert (down.rate_e8, down.is_capped) == (-300_000, True)


def test_funding_uses_only_samples_inside_its_interval() -> None:
    parameters = FundingParameters(interval_ns=HOUR)
    samples = premiums(1_000_000, start=END - HOUR) + premiums(30_000, start=END - HOUR + 1) + premiums(-1_000_000, start=END + 1)

    rate = compute_funding_rate(parameters, samples, END)

    assert rate.samples_used == 1
    assert rate.interval_start_ns == END - HOUR


def test_funding_record_states_its_interval_and_sign_convention() -> None:
    rate = compute_funding_rate(FundingParameters(interval_ns=4 * HOUR), [], END)

    assert rate.sign_convention == SIGN_CONVENTION == "positive rate: longs pay shorts"
    assert rate.interval_ns == 4 * HOUR
    assert rate.rate_unit == "parts per 1e8 per funding interval"


def test_funding_interval_longer_than_24_hours_is_refused() -> None:
    too_long = FundingParameters(interval_ns=MAX_FUNDING_INTERVAL_NS + 1)

    problems = check_funding_parameters(too_long)

    assert [(p.code, p.field) for p in problems] == [(RejectCode.INVALID_PARAMETER, "interval_ns")]
    assert check_funding_parameters(FundingParameters(interval_ns=24 * HOUR)) == ()
    with pytest.raises(ValueError):
        compute_funding_rate(too_long, [], END)


def test_funding_payment_long_pays_a_positive_rate_rounded_up_and_short_receives_rounded_down() -> None:
    assert funding_payment(position_qty=5, mark_notional=1_000_000_001, rate_e8=10_000) == 100_001  # 100,000.01 up
    assert funding_payment(position_qty=-5, mark_notional=1_000_000_001, rate_e8=10_000) == -100_000
    assert funding_payment(position_qty=-5, mark_notional=1_000_000_000, rate_e8=-10_000) == 100_000
    assert funding_payment(position_qty=0, mark_notional=1_000_000_000, rate_e8=10_000) == 0


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(min_value=-10**7, max_value=10**7), max_size=20),
    imr=st.integers(min_value=1, max_value=500_000),
    dampener=st.integers(min_value=0, max_value=10**6),
    interest=st.integers(min_value=-10**6, max_value=10**6),
)
def test_funding_rate_never_exceeds_its_cap(values: list[int], imr: int, dampener: int, interest: int) -> None:
    parameters = FundingParameters(imr_ppm=imr, mmr_ppm=imr // 2, dampener_e8=dampener, interest_rate_e8=interest)

    rate = compute_funding_rate(parameters, premiums(*values), END)

    assert abs(rate.rate_e8) <= rate.cap_e8
    assert abs(rate.uncapped_rate_e8 - rate.average_premium_e8) <= dampener


@settings(max_examples=200, deadline=None)
@given(notional=st.integers(min_value=0, max_value=10**15), rate=st.integers(min_value=-10**6, max_value=10**6))
def test_funding_payment_long_and_short_never_leave_the_platform_paying_out_more(notional: int, rate: int) -> None:
    long_pays = funding_payment(1, notional, rate)
    short_pays = funding_payment(-1, notional, rate)

    assert long_pays + short_pays >= 0
    assert long_pays + short_pays <= 1
