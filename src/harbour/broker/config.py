"""Broker risk configuration: the house defaults of the rules table, and their validation.

Owns ``BrokerConfig`` (an immutable value carried by the ``ConfigureBroker`` command and
held in broker state) and the regulatory constants; ``validation`` checks a config. Every ratio is in basis points of
10,000; every duration is in nanoseconds.

Invariants of a config in force (checked by ``validation.validate_config``; a config
that fails is refused as a whole and the previous one stays in force):

* V3: every configured BTC/ETH haircut (volatility haircut and each size add-on tier)
  is at least ``VA_HAIRCUT_FLOOR_BPS`` (60%) and below 100%. The floor itself is a
  constant, not a setting: it can never be configured lower.
* E2: haircut rules exist only for BTC and ETH.
* Margin levels are ordered: target (M6) < call (M3) <= forced sale (M5), warning (M2)
  <= call, withdrawal ceiling (N1 a) <= call; the sale cost rate (§2.1 ``c``) is below
  100%.
* C1-C4 limits are positive (C1, C2 and C4's VA share at most 100%); K1 periods positive.
* V2: the feed staleness limit and the divergence band are positive; at least one reference.
"""

from __future__ import annotations

from typing import Final

import msgspec

VA_HAIRCUT_FLOOR_BPS: Final = 6_000  # SFC 26EC5: at least 60% on BTC/ETH market value
ELIGIBLE_VIRTUAL_ASSETS: Final = frozenset({"BTC", "ETH"})  # E2
VA_UNITS_PER_COIN: Final = 100_000_000  # VA quantities are integer satoshi-like units (1e-8)
HOUR_NS: Final = 3_600 * 10**9
DAY_NS: Final = 24 * HOUR_NS

# Input ceilings that keep every stored integer inside int64 (journal and snapshot
# encoding): one position is worth at most 1e18 micro-units (1e12 HKD).
MAX_SECURITY_PRICE: Final = 10**10  # HKD micro per share (10,000 HKD)
MAX_SHARES_HELD: Final = 10**8  # per client per security
MAX_VA_PRICE: Final = 10**13  # HKD micro per coin (10,000,000 HKD)
MAX_VA_UNITS_HELD: Final = 10**13  # per client per asset (100,000 coins)
MAX_CASH: Final = 10**16  # deposits, cash held and credit limits, HKD micro


class SizeAddOnTier(msgspec.Struct, frozen=True, kw_only=True):
    """From ``min_units`` held by one client, the haircut is at least ``haircut_bps`` (V3/C3)."""

    min_units: int
    haircut_bps: int


class VaHaircutRule(msgspec.Struct, frozen=True, kw_only=True):
    """Haircut inputs of one eligible VA: h = max(floor, volatility haircut, size add-on)."""

    asset: str
    volatility_haircut_bps: int = VA_HAIRCUT_FLOOR_BPS
    size_add_on: tuple[SizeAddOnTier, ...] = ()


class BrokerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The broker's risk settings; the defaults are the house defaults of the rules table."""

    va_haircuts: tuple[VaHaircutRule, ...] = (VaHaircutRule(asset="BTC"), VaHaircutRule(asset="ETH"))
    accept_va_collateral: bool = True  # False = "securities only" (regulation.md A1 item 15)
    warning_ratio_bps: int = 8_500  # M2
    call_ratio_bps: int = 10_000  # M1 limit and M3 trigger
    forced_sale_ratio_bps: int = 13_000  # M5
    equity_floor_bps: int = 1_000  # M5: forced sale when E <= 10% of market value
    target_ratio_bps: int = 9_000  # M6 R*
    sale_cost_bps: int = 50  # §2.1 all-in cost rate c
    withdrawal_max_ratio_bps: int = 8_500  # N1 (a): a withdrawal must keep R <= 85%
    va_call_deadline_ns: int = 24 * HOUR_NS  # M4: VA-driven calls, at most 24 h
    call_cutoff_minutes_hkt: int = 12 * 60  # M4: next HK business day 12:00 HKT
    hk_holidays: tuple[int, ...] = ()  # HK public holidays as days since 1970-01-01 (HKT)
    # C1-C4 (house defaults); in force once the book figures are recorded (RecordBookFigures)
    va_share_max_bps: int = 5_000  # C1: VA term <= 50% of the client's margin value
    single_client_max_bps: int = 2_000  # C2: one client's loans <= 20% of shareholders' funds
    related_group_max_bps: int = 2_000  # C2: a related group's loans <= 20% of shareholders' funds
    va_book_share_max_bps: int = 1_500  # C4: VA financing <= 15% of total margin loans
    total_loans_max_capital_bps: int = 50_000  # C4: total margin loans <= 5x capital
    # K1 (house defaults): reviewed at least annually and on triggers
    credit_review_period_ns: int = 365 * DAY_NS
    review_va_loan_share_bps: int = 5_000  # trigger: VA loan > 50% of the credit limit
    review_call_window_ns: int = 30 * DAY_NS  # trigger: two calls within 30 days
    review_large_transfer_bps: int = 2_500  # trigger: while borrowing, one deposit or withdrawal worth more than 25% of the limit
    # N2 (house default): once reconciling, new financing needs a custody statement dated at most 2 days before today (HKT)
    custody_statement_max_age_days: int = 2
    # V2 (house defaults): the primary VATP bid is cross-checked against the median of the references
    va_feed_stale_ns: int = 30 * 10**9  # a feed older than 30 s at the mark is stale
    va_feed_max_deviation_bps: int = 300  # primary vs reference median above 3% = divergent
    va_min_reference_feeds: int = 3  # fewer references than this cannot confirm the primary

    def haircut_rule(self, asset: str) -> VaHaircutRule | None:
        """The haircut rule of ``asset``, or None if it has none."""
        for rule in self.va_haircuts:
            if rule.asset == asset:
                return rule
        return None
