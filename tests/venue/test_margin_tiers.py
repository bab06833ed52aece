"""Margin brackets and leverage: initial margin by notional bracket and chosen leverage,
maintenance margin as a continuous tax bracket, and the largest position the venue accepts.

Default BTCUSD brackets (USD notional at the mark; maintenance = half the initial rate):
  up to 250,000: 20x, 2.5%  |  1,000,000: 10x, 5%  |  5,000,000: 5x, 10%
  20,000,000: 2x, 25%       |  50,000,000: 1x, 50%
"""

from __future__ import annotations

import pytest

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import MarginTier, PlaceOrder, SetLeverage, SetMarginTiers
from harbour.venue.events import LeverageSet, MarginTiersSet
from harbour.venue.tiers import build_tiers, initial_margin, maintenance_margin

from venue.helpers import BTC_REF, BTCUSD, BUY, Venue, usd

C = RejectCode
ONE_BTC = 1_000


def test_published_maintenance_amounts_make_maintenance_continuous_across_brackets(venue: Venue) -> None:
    tiers = venue.engine.state.instruments[BTCUSD].tiers

    # amount_t = amount_(t-1) + cap_(t-1) x (mmr_t - mmr_(t-1)): 6,250; 56,250; 806,250; 5,806,250 USD
    assert [t.amount for t in tiers] == [0, usd(6_250), usd(56_250), usd(806_250), usd(5_806_250)]
    for lower, upper in zip(tiers, tiers[1:], strict=False):
        cap = lower.max_notional
        at_cap_from_below = maintenance_margin((lower,), cap)
        at_cap_by_upper_formula = -((-cap * upper.mmr_ppm) // 1_000_000) - upper.amount
        assert at_cap_from_below == at_cap_by_upper_formula
    # 1,000,000 USD notional: 5% - 6,250 = 43,750 USD
    assert maintenance_margin(tiers, usd(1_000_000)) == usd(43_750)


def test_initial_margin_follows_the_bracket_of_the_notional(venue: Venue) -> None:
    tiers = venue.engine.state.instruments[BTCUSD].tiers

    assert initial_margin(tiers, usd(95_000), 0) == usd(4_750)  # 1 BTC: first bracket, 20x
    assert initial_margin(tiers, usd(1_900_000), 0) == usd(380_000)  # 20 BTC: third bracket, 5x
    assert initial_margin(tiers, usd(1_900_000), 20) == usd(380_000)  # a higher chosen leverage cannot undercut the bracket


def test_a_chosen_leverage_below_the_bracket_maximum_raises_initial_margin(venue: Venue) -> None:
    venue.open_client(1, usd=20_000)
    venue.ok(SetLeverage(account=1, instrument=BTCUSD, leverage=5))

    assert venue.last[-1] == LeverageSet(seq=venue.seq, ts_ns=venue.ts, account=1, instrument=BTCUSD, old=0, new=5)
    # 1 BTC at 95,000 at 5x needs 19,000 USD; 2 BTC would need 38,000 > 20,000
    venue.rest(1, BTCUSD, BUY, ONE_BTC, BTC_REF)
    venue.reject(venue_order(2 * ONE_BTC), C.INSUFFICIENT_MARGIN)


def venue_order(qty: int) -> PlaceOrder:
    return PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=qty, price=BTC_REF)


def test_a_position_too_large_for_its_bracket_needs_that_brackets_margin(venue: Venue) -> None:
    # 20 BTC = 1,900,000 USD notional sits in the 5x bracket: 380,000 USD, not 95,000 (20x)
    venue.open_client(1, usd=300_000)
    venue.reject(venue_order(20 * ONE_BTC), C.INSUFFICIENT_MARGIN)
    venue.open_client(2, usd=380_000)
    venue.rest(2, BTCUSD, BUY, 20 * ONE_BTC, BTC_REF)


def test_no_order_may_reach_beyond_the_largest_bracket(venue: Venue) -> None:
    venue.open_client(1, usd=60_000_000)
    for _ in range(5):
        venue.rest(1, BTCUSD, BUY, 100 * ONE_BTC, BTC_REF)  # 500 BTC = 47,500,000 USD reachable

    rejected = venue.reject(venue_order(100 * ONE_BTC), C.POSITION_LIMIT_EXCEEDED)

    assert rejected.detail == {"notional": usd(57_000_000), "limit": usd(50_000_000)}


@pytest.mark.parametrize("leverage", [0, 21, -3])
def test_leverage_outside_the_first_brackets_range_is_refused(venue: Venue, leverage: int) -> None:
    venue.open_client(1, usd=1_000)
    venue.reject(SetLeverage(account=1, instrument=BTCUSD, leverage=leverage), C.LEVERAGE_OUT_OF_RANGE)


def test_lowering_leverage_is_refused_when_equity_cannot_carry_the_higher_margin(venue: Venue) -> None:
    venue.open_client(1, usd=10_000)
    venue.rest(1, BTCUSD, BUY, ONE_BTC, BTC_REF)  # 4,750 USD at 20x

    venue.reject(SetLeverage(account=1, instrument=BTCUSD, leverage=2), C.INSUFFICIENT_MARGIN)  # 47,500 USD
    venue.ok(SetLeverage(account=1, instrument=BTCUSD, leverage=10))  # 9,500 USD fits


def test_the_operator_publishes_new_brackets_with_their_derived_maintenance_amounts(venue: Venue) -> None:
    tiers = (
        MarginTier(max_notional=usd(100_000), max_leverage=10, maintenance_ppm=50_000),
        MarginTier(max_notional=usd(1_000_000), max_leverage=4, maintenance_ppm=125_000),
    )
    venue.ok(SetMarginTiers(instrument=BTCUSD, tiers=tiers))

    published = venue.last[-1]
    assert isinstance(published, MarginTiersSet)
    # 100,000 x (12.5% - 5%) = 7,500 USD
    assert published.tiers == ((usd(100_000), 10, 100_000, 50_000, 0), (usd(1_000_000), 4, 250_000, 125_000, usd(7_500)))
    assert [t.row() for t in build_tiers(tiers)] == list(published.tiers)


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        (MarginTier(max_notional=usd(100) + 1, max_leverage=10, maintenance_ppm=50_000),),  # not whole currency units
        (MarginTier(max_notional=usd(100), max_leverage=21, maintenance_ppm=10_000),),  # above the listed maximum
        (MarginTier(max_notional=usd(100), max_leverage=10, maintenance_ppm=100_000),),  # maintenance not below initial
        (
            MarginTier(max_notional=usd(100), max_leverage=5, maintenance_ppm=50_000),
            MarginTier(max_notional=usd(200), max_leverage=10, maintenance_ppm=50_000),  # leverage grows
        ),
        (
            MarginTier(max_notional=usd(100), max_leverage=10, maintenance_ppm=40_000),
            MarginTier(max_notional=usd(200), max_leverage=10, maintenance_ppm=30_000),  # maintenance falls
        ),
        (
            MarginTier(max_notional=usd(200), max_leverage=10, maintenance_ppm=40_000),
            MarginTier(max_notional=usd(100), max_leverage=5, maintenance_ppm=40_000),  # caps shrink
        ),
    ],
)
def test_an_unsound_bracket_table_is_refused_and_changes_nothing(venue: Venue, tiers: tuple[MarginTier, ...]) -> None:
    venue.reject(SetMarginTiers(instrument=BTCUSD, tiers=tiers), C.INVALID_PARAMETER)
