"""Validation of a broker configuration (V3, E2 and the ordering of the margin levels).

Owns ``validate_config``: the first problem with a config as a reject code and its
detail, or None. The invariants it enforces are listed in ``config``.
"""

from __future__ import annotations

from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS, VA_HAIRCUT_FLOOR_BPS, BrokerConfig
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS

Problem = tuple[RejectCode, dict[str, str | int]]


def validate_config(config: BrokerConfig) -> Problem | None:
    """Return the first problem with ``config`` (a reject code and its detail), or None."""
    seen: set[str] = set()
    for rule in config.va_haircuts:
        if rule.asset not in ELIGIBLE_VIRTUAL_ASSETS:
            return RejectCode.VA_NOT_ELIGIBLE, {"asset": rule.asset}
        if rule.asset in seen:
            return RejectCode.INVALID_PARAMETER, {"problem": f"two haircut rules for {rule.asset}"}
        seen.add(rule.asset)
        for haircut in (rule.volatility_haircut_bps, *(t.haircut_bps for t in rule.size_add_on)):
            if haircut < VA_HAIRCUT_FLOOR_BPS:
                return RejectCode.HAIRCUT_BELOW_FLOOR, {"asset": rule.asset, "haircut_bps": haircut, "floor_bps": VA_HAIRCUT_FLOOR_BPS}
            if haircut > BPS:
                return RejectCode.INVALID_PARAMETER, {"problem": f"{rule.asset} haircut {haircut} bps is above 100%"}
        for tier in rule.size_add_on:
            if tier.min_units <= 0:
                return RejectCode.INVALID_PARAMETER, {"problem": f"{rule.asset} size tier threshold must be positive"}
    problem = _margin_level_problem(config)
    if problem:
        return RejectCode.INVALID_MARGIN_LEVELS, {"problem": problem}
    if config.va_call_deadline_ns <= 0 or not 0 <= config.call_cutoff_minutes_hkt < 24 * 60:
        return RejectCode.INVALID_PARAMETER, {"problem": "call deadlines must be positive and the cut-off within a day"}
    if config.custody_statement_max_age_days <= 0:
        return RejectCode.INVALID_PARAMETER, {"problem": "the custody statement age limit must be positive"}
    if not 0 < config.smf_extract_max_age_business_days <= 10 or not 0 <= config.smf_extract_cutoff_minutes_hkt < 24 * 60:
        return RejectCode.INVALID_PARAMETER, {"problem": "the SMF extract age limit must be 1 to 10 business days and its cut-off within a day"}
    names = (
        "va_share_max_bps", "single_client_max_bps", "related_group_max_bps", "va_book_share_max_bps", "review_va_loan_share_bps",
        "review_large_transfer_bps", "liquidation_participation_bps", "single_stock_max_bps", "correlated_group_max_bps",
    )  # fmt: skip
    for name in names:
        value = getattr(config, name)
        if not 0 < value <= BPS:
            return RejectCode.INVALID_PARAMETER, {"problem": f"{name} must be in (0, 10000], got {value}"}
    if config.total_loans_max_capital_bps <= 0 or config.credit_review_period_ns <= 0 or config.review_call_window_ns <= 0:
        return RejectCode.INVALID_PARAMETER, {"problem": "the total-loans multiple and the credit review periods must be positive"}
    if not 0 <= config.interest_rate_bps <= BPS:
        return RejectCode.INVALID_PARAMETER, {"problem": f"interest_rate_bps must be in [0, 10000], got {config.interest_rate_bps}"}
    if config.liquidation_days <= 0 or config.credit_limit_max_stressed_nav_bps <= 0:
        return RejectCode.INVALID_PARAMETER, {"problem": "the liquidation days and the stressed-NAV credit multiple must be positive"}
    for name in ("nav_stress_btc_bps", "nav_stress_eth_bps"):
        value = getattr(config, name)
        if not 0 <= value <= BPS:
            return RejectCode.INVALID_PARAMETER, {"problem": f"{name} must be in [0, 10000], got {value}"}
    problem = _size_tier_problem(config)
    if problem:
        return RejectCode.INVALID_PARAMETER, {"problem": problem}
    if config.va_feed_stale_ns <= 0 or config.va_feed_max_deviation_bps <= 0 or config.va_min_reference_feeds < 1:
        return RejectCode.INVALID_PARAMETER, {"problem": "VA feed staleness and divergence band must be positive, with at least one reference feed"}
    return None


def _size_tier_problem(c: BrokerConfig) -> str:
    """C3/C5: thresholds positive and increasing, multipliers in (0, 10000] and never rising with size."""
    above, k = 0, BPS
    for tier in c.size_tiers:
        if tier.above_adv_bps <= above:
            return f"size tier thresholds must be positive and increasing, got {tier.above_adv_bps} after {above}"
        if not 0 < tier.k_bps <= k:
            return f"size tier multiplier {tier.k_bps} must be in (0, {k}] (a larger holding never counts more)"
        above, k = tier.above_adv_bps, tier.k_bps
    return ""


def _margin_level_problem(c: BrokerConfig) -> str:
    if not 0 < c.target_ratio_bps < c.call_ratio_bps:
        return f"target {c.target_ratio_bps} must be positive and below call {c.call_ratio_bps}"
    if not 0 < c.warning_ratio_bps <= c.call_ratio_bps:
        return f"warning {c.warning_ratio_bps} must be positive and at most call {c.call_ratio_bps}"
    if c.forced_sale_ratio_bps < c.call_ratio_bps:
        return f"forced sale {c.forced_sale_ratio_bps} must be at least call {c.call_ratio_bps}"
    if not 0 < c.withdrawal_max_ratio_bps <= c.call_ratio_bps:
        return f"withdrawal ceiling {c.withdrawal_max_ratio_bps} must be positive and at most call {c.call_ratio_bps}"
    if not 0 <= c.sale_cost_bps < BPS:
        return f"sale cost {c.sale_cost_bps} must be in [0, 10000)"
    if not 0 <= c.equity_floor_bps < BPS:
        return f"equity floor {c.equity_floor_bps} must be in [0, 10000)"
    return ""
