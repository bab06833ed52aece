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
* C1-C5 limits are positive (C1, C2, C4's VA share and C5 at most 100%); K1 periods positive.
* C3/C5 size tiers: thresholds positive and increasing, multipliers in (0, 100%] and not
  increasing; C4 liquidation participation in (0, 100%] over at least one day.
* Stressed NAV (26EC5, regulation.md A1 item 10): BTC/ETH stress shocks in [0, 100%]; the
  credit-limit support multiple of the stressed NAV is positive.
* V2: the feed staleness limit and the divergence band are positive; at least one reference.
* C2/C5 data currency: the SMF extract age limit is 1 to 10 HK business days and its
  cut-off within a day.
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
MAX_AVERAGE_DAILY_VOLUME: Final = 10**15  # shares per day, or VA units (1e-8 coin) per day (10 million coins)


class SizeAddOnTier(msgspec.Struct, frozen=True, kw_only=True):
    """From ``min_units`` held by one client, the haircut is at least ``haircut_bps`` (V3/C3)."""

    min_units: int
    haircut_bps: int


class VaHaircutRule(msgspec.Struct, frozen=True, kw_only=True):
    """Haircut inputs of one eligible VA: h = max(floor, volatility haircut, size add-on)."""

    asset: str
    volatility_haircut_bps: int = VA_HAIRCUT_FLOOR_BPS
    size_add_on: tuple[SizeAddOnTier, ...] = ()


class SizeTier(msgspec.Struct, frozen=True, kw_only=True):
    """C3/C5: when one client holds more than ``above_adv_bps`` of the instrument's average daily
    volume, its margin value is multiplied by ``k_bps`` (the rules table's size multiplier k)."""

    above_adv_bps: int
    k_bps: int


# C3 house tiers of the rules table (k = 1.0 / 0.9 / 0.75 / 0.5 at 1 / 5 / 10 / 20% of ADV), read as:
# k = 1.0 up to 1% of ADV, 0.9 above 1%, 0.75 above 5%, 0.5 above 10% (and above 20%, where C4 binds).
DEFAULT_SIZE_TIERS: Final = (
    SizeTier(above_adv_bps=100, k_bps=9_000),
    SizeTier(above_adv_bps=500, k_bps=7_500),
    SizeTier(above_adv_bps=1_000, k_bps=5_000),
)


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
    # C1-C5 (house defaults); in force once the book figures are recorded (RecordBookFigures)
    va_share_max_bps: int = 5_000  # C1: VA term <= 50% of the client's margin value
    single_client_max_bps: int = 2_000  # C2: one client's loans <= 20% of shareholders' funds
    related_group_max_bps: int = 2_000  # C2: a related group's loans <= 20% of shareholders' funds
    va_book_share_max_bps: int = 1_500  # C4: VA financing <= 15% of total margin loans
    total_loans_max_capital_bps: int = 50_000  # C4: total margin loans <= 5x capital
    # C4 (house default): total BTC (ETH) collateral <= 1 day of liquidation capacity at <= 20% participation of ADV
    liquidation_participation_bps: int = 2_000
    liquidation_days: int = 1
    # C3 (BTC/ETH) and C5 (stocks): size multiplier k by one client's holding against the recorded ADV
    size_tiers: tuple[SizeTier, ...] = DEFAULT_SIZE_TIERS
    # C5 (house defaults, decision D43 in docs/decisions.md): the book's margin value in one security <= 20% of
    # shareholders' funds (the C2 single-client base), in one correlated group <= 40%
    single_stock_max_bps: int = 2_000
    correlated_group_max_bps: int = 4_000
    # Stressed NAV for credit assessment (house default: the severe tier's 1-day move of the S2 library, the
    # window of a VA-driven call): BTC -30%, ETH -45%. A credit-limit increase must be supported by the
    # client's NAV with VA at that value: new limit <= 200% of the stressed NAV, else only as a WAIVER (K1).
    nav_stress_btc_bps: int = 3_000
    nav_stress_eth_bps: int = 4_500
    credit_limit_max_stressed_nav_bps: int = 20_000
    interest_rate_bps: int = 800  # margin-loan interest a year (house default 8%), part of L; none on written-off debt (M8)
    # K1 (house defaults): reviewed at least annually and on triggers
    credit_review_period_ns: int = 365 * DAY_NS
    review_va_loan_share_bps: int = 5_000  # trigger: VA loan > 50% of the credit limit
    review_call_window_ns: int = 30 * DAY_NS  # trigger: two calls within 30 days
    review_large_transfer_bps: int = 2_500  # trigger: while borrowing, one deposit or withdrawal worth more than 25% of the limit
    # N2 (house default): once reconciling, new financing needs a custody statement dated at most 2 days before today (HKT)
    custody_statement_max_age_days: int = 2
    # C2/C5 data currency (house default; draft decision in docs/drafts/broker-smf.md): the SMF extract recorded on a HKT day stays current
    # until 12:00 HKT on the next HK business day (the SMF book moves with HKEX settlement, on business days only):
    # the overnight batch lands before the open; a missed morning blocks new financing from noon.
    smf_extract_max_age_business_days: int = 1
    smf_extract_cutoff_minutes_hkt: int = 12 * 60
    # True: the broker's securities margin book lives in an SMF system outside this engine, so new financing needs
    # a current extract even before the first one. False (default, D53): without an extract this engine's book is
    # the whole book; the staleness rule applies from the first recorded extract on.
    smf_extract_required: bool = False
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

    def nav_stress_bps(self, asset: str) -> int:
        """The stress shock (a fall, in bps) applied to ``asset`` in the stressed NAV; 0 for a non-BTC/ETH asset."""
        return {"BTC": self.nav_stress_btc_bps, "ETH": self.nav_stress_eth_bps}.get(asset, 0)


# --- what each setting is, and whose figure it is (printed in the compliance reports) -----------------

HOUSE_DEFAULT: Final = "house default pending risk-committee sign-off"
SMF_BENCHMARK: Final = "SMF Guidelines benchmark (2019)"
REGULATORY_FLOOR: Final = "regulatory floor 60% (26EC5); the volatility haircut above it is a house default pending risk-committee sign-off"
OPERATIONS_INPUT: Final = "operations input (HK public holiday calendar)"
PRODUCT_CHOICE: Final = "product choice (regulation.md A1 item 15: securities-only is allowed)"
BOOK_SETUP: Final = "operations input (whether the broker's securities margin book lives in an SMF system outside this engine, D53)"

PCT: Final = "pct"  # a value in bps, shown as a percentage
DURATION: Final = "duration"  # nanoseconds
COUNT: Final = "count"


class Setting(msgspec.Struct, frozen=True, kw_only=True):
    """One ``BrokerConfig`` field: the rule it serves, what it means, how to show it and whose figure it is."""

    field: str
    rule: str
    meaning: str
    unit: str  # PCT, DURATION, COUNT or "" (shown as is)
    basis: str = HOUSE_DEFAULT


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(field="va_haircuts", rule="V3", meaning="BTC/ETH haircut = max(60% floor, volatility haircut, size add-on)", unit="", basis=REGULATORY_FLOOR),
    Setting(field="accept_va_collateral", rule="E2", meaning="BTC/ETH count as collateral (False = securities only)", unit="", basis=PRODUCT_CHOICE),
    Setting(field="warning_ratio_bps", rule="M2", meaning="warning above this margin ratio R", unit=PCT),
    Setting(field="call_ratio_bps", rule="M1/M3", meaning="margin call above this R; new financing only at or below it", unit=PCT),
    Setting(field="forced_sale_ratio_bps", rule="M5", meaning="immediate forced sale at or above this R", unit=PCT),
    Setting(field="equity_floor_bps", rule="M5", meaning="immediate forced sale when equity <= this share of market value", unit=PCT),
    Setting(field="target_ratio_bps", rule="M6", meaning="a sell-out restores R to this target", unit=PCT),
    Setting(field="sale_cost_bps", rule="M6", meaning="all-in cost rate c of a forced sale (section 2.1)", unit=PCT),
    Setting(field="withdrawal_max_ratio_bps", rule="N1(a)", meaning="a collateral withdrawal must keep R at or below this", unit=PCT),
    Setting(field="va_call_deadline_ns", rule="M4", meaning="VA-driven call: due within (or the next 12:00 HKT cut-off, if earlier)", unit=DURATION),
    Setting(field="call_cutoff_minutes_hkt", rule="M4", meaning="call cut-off, minutes after midnight HKT on the next HK business day", unit=COUNT),
    Setting(field="hk_holidays", rule="M4", meaning="HK public holidays skipped by call deadlines", unit="", basis=OPERATIONS_INPUT),
    Setting(field="va_share_max_bps", rule="C1", meaning="VA term <= this share of the client's margin value", unit=PCT),
    Setting(field="single_client_max_bps", rule="C2", meaning="one client's loans (all products) <= this share of shareholders' funds", unit=PCT),
    Setting(field="related_group_max_bps", rule="C2", meaning="a related group's loans <= this share of shareholders' funds", unit=PCT),
    Setting(field="va_book_share_max_bps", rule="C4", meaning="VA financing <= this share of total margin loans", unit=PCT),
    Setting(field="total_loans_max_capital_bps", rule="C4", meaning="total margin loans <= this multiple of capital (10,000 bps = 1x)", unit=PCT, basis=SMF_BENCHMARK),
    Setting(field="liquidation_participation_bps", rule="C4", meaning="book BTC/ETH collateral <= ADV x this participation x days", unit=PCT),
    Setting(field="liquidation_days", rule="C4", meaning="days of liquidation capacity", unit=COUNT),
    Setting(field="size_tiers", rule="C3/C5", meaning="size multiplier k by one client's holding against ADV", unit=""),
    Setting(field="single_stock_max_bps", rule="C5", meaning="the book's margin value in one security <= this share of shareholders' funds", unit=PCT),
    Setting(field="correlated_group_max_bps", rule="C5", meaning="the book's margin value in one correlated group <= this share of shareholders' funds", unit=PCT),
    Setting(field="nav_stress_btc_bps", rule="K1", meaning="stressed NAV: BTC valued this much lower (26EC5)", unit=PCT),
    Setting(field="nav_stress_eth_bps", rule="K1", meaning="stressed NAV: ETH valued this much lower (26EC5)", unit=PCT),
    Setting(field="credit_limit_max_stressed_nav_bps", rule="K1", meaning="a limit increase needs new limit <= this share of the stressed NAV", unit=PCT),
    Setting(field="interest_rate_bps", rule="M8/L", meaning="margin-loan interest a year, part of the loan L", unit=PCT),
    Setting(field="credit_review_period_ns", rule="K1", meaning="credit-limit review at least every", unit=DURATION),
    Setting(field="review_va_loan_share_bps", rule="K1", meaning="review due when the VA loan exceeds this share of the limit", unit=PCT),
    Setting(field="review_call_window_ns", rule="K1", meaning="review due after two calls within", unit=DURATION),
    Setting(field="review_large_transfer_bps", rule="K1", meaning="review due after one transfer worth more than this share of the limit", unit=PCT),
    Setting(field="smf_extract_max_age_business_days", rule="C2/C5", meaning="new financing needs the SMF extract recorded at most this many HK business days before", unit=COUNT),
    Setting(field="smf_extract_cutoff_minutes_hkt", rule="C2/C5", meaning="the SMF extract stays current until this time (minutes after midnight HKT) on its last business day", unit=COUNT),
    Setting(field="smf_extract_required", rule="C2/C5", meaning="an SMF book exists outside this engine: new financing needs a current extract even before the first", unit="", basis=BOOK_SETUP),
    Setting(field="custody_statement_max_age_days", rule="N2", meaning="new financing needs a custody statement at most this many days old", unit=COUNT),
    Setting(field="va_feed_stale_ns", rule="V2", meaning="a VA feed older than this is stale", unit=DURATION),
    Setting(field="va_feed_max_deviation_bps", rule="V2", meaning="primary vs reference median above this is divergent", unit=PCT),
    Setting(field="va_min_reference_feeds", rule="V2", meaning="reference venues needed to confirm the primary", unit=COUNT),
)
