"""Funding: impact prices, premium index samples, the funding rate and one position's payment.

Owns ``FundingParameters`` (and their check: an interval above 24 hours is refused
with RejectCode.INVALID_PARAMETER), ``PremiumSample``, the ``FundingRate`` record and
the pure functions ``impact_price``, ``sample_premium``, ``average_premium_e8``,
``compute_funding_rate`` and ``funding_payment``.

Method (perp-mechanics.md 2.1, Binance/Bybit):

- Impact bid/ask: the average fill price of selling into the bids / buying from the
  asks for ``impact_notional`` (settlement micro-units), partial last level included.
  The impact bid rounds down and the impact ask rounds up (never better than reachable).
  A side too thin to fill the impact notional has no impact price.
- Premium sample: P = [max(0, impact_bid - index) - max(0, index - impact_ask)] / index,
  in parts per 1e8, rounded to nearest (half toward +infinity). A side with no impact
  price contributes 0: no premium is claimed from a side that cannot absorb the notional.
- Average premium P-bar over the interval's samples (ts in (end - interval, end]):
  LINEAR weights 1..n in time order (the latest sample weighs most, as Bybit documents
  and Binance describes), or EQUAL weights; rounded to nearest (half toward +infinity).
  No samples give P-bar = 0.
- F = P-bar + clamp(I - P-bar, -dampener, +dampener), then capped to +-cap with
  cap = cap_fraction x (IMR - MMR), rounded down (toward zero: the tighter cap).
  Defaults: I = 0.01% per 8 h, dampener 0.05%, cap 0.75 x (0.8% - 0.4%) = 0.3%.

Sign convention, stated on every record: a positive rate means longs pay shorts.
Rates are integers in parts per 1e8 per funding interval.

Invariants: integer-only, pure; |rate| <= cap; an interval is in (0, 24 h].
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Final

import msgspec

from harbour.kernel.money import BPS, PPM, div_round_down, div_round_up
from harbour.prices.problems import (
    NS_PER_HOUR,
    RATE_SCALE,
    ParameterProblem,
    div_round_half_up,
    invalid_parameter,
)

SIGN_CONVENTION: Final = "positive rate: longs pay shorts"
RATE_UNIT: Final = "parts per 1e8 per funding interval"
MAX_FUNDING_INTERVAL_NS: Final = 24 * NS_PER_HOUR


class BookSide(StrEnum):
    BID = "BID"  # levels best (highest) first
    ASK = "ASK"  # levels best (lowest) first


class PremiumWeighting(StrEnum):
    LINEAR = "LINEAR"  # weights 1..n, oldest to latest
    EQUAL = "EQUAL"


class FundingParameters(msgspec.Struct, frozen=True, kw_only=True):
    interval_ns: int = 8 * NS_PER_HOUR
    interest_rate_e8: int = 10_000  # 0.01% per interval
    dampener_e8: int = 50_000  # +-0.05%
    imr_ppm: int = 8_000  # initial margin rate at the tier that sets the cap (0.8%)
    mmr_ppm: int = 4_000  # maintenance margin rate at that tier (0.4%)
    cap_fraction_bps: int = 7_500  # cap = 0.75 x (IMR - MMR)
    premium_sample_interval_ns: int = 5_000_000_000  # one premium sample every 5 s
    impact_notional: int = 25_000_000_000  # settlement micro-units (25,000 at 6 decimals)
    weighting: PremiumWeighting = PremiumWeighting.LINEAR


class PremiumSample(msgspec.Struct, frozen=True, kw_only=True):
    ts_ns: int
    index: int
    impact_bid: int | None
    impact_ask: int | None
    premium_e8: int


class FundingRate(msgspec.Struct, frozen=True, kw_only=True):
    """One interval's funding rate with every input; states its interval and sign convention."""

    interval_start_ns: int
    interval_end_ns: int
    interval_ns: int
    sign_convention: str
    rate_unit: str
    weighting: PremiumWeighting
    samples_used: int
    average_premium_e8: int
    interest_rate_e8: int
    dampener_e8: int
    uncapped_rate_e8: int
    cap_e8: int
    is_capped: bool
    rate_e8: int


def check_funding_parameters(parameters: FundingParameters) -> tuple[ParameterProblem, ...]:
    """Return the problems that make funding parameters unusable; an interval above 24 hours is one."""
    p = parameters
    problems: list[ParameterProblem] = []
    if p.interval_ns <= 0:
        problems.append(invalid_parameter("interval_ns", f"the funding interval must be positive, got {p.interval_ns} ns"))
    elif p.interval_ns > MAX_FUNDING_INTERVAL_NS:
        problems.append(
            invalid_parameter("interval_ns", f"the funding interval {p.interval_ns} ns is longer than 24 hours; price convergence is daily")
        )
    if p.dampener_e8 < 0:
        problems.append(invalid_parameter("dampener_e8", "the dampener must not be negative"))
    if not 0 <= p.mmr_ppm < p.imr_ppm <= PPM:
        problems.append(invalid_parameter("imr_ppm", f"need 0 <= MMR < IMR <= {PPM} ppm, got MMR {p.mmr_ppm} IMR {p.imr_ppm}"))
    if not 0 < p.cap_fraction_bps <= BPS:
        problems.append(invalid_parameter("cap_fraction_bps", f"cap fraction must be 1..{BPS} bps, got {p.cap_fraction_bps}"))
    if not 0 < p.premium_sample_interval_ns <= max(p.interval_ns, 1):
        problems.append(invalid_parameter("premium_sample_interval_ns", "the sample interval must be positive and within the interval"))
    if p.impact_notional <= 0:
        problems.append(invalid_parameter("impact_notional", "the impact notional must be positive"))
    return tuple(problems)


def funding_cap_e8(parameters: FundingParameters) -> int:
    """Cap and floor magnitude: cap_fraction x (IMR - MMR) in parts per 1e8, rounded down."""
    spread_e8 = (parameters.imr_ppm - parameters.mmr_ppm) * (RATE_SCALE // PPM)
    return div_round_down(spread_e8 * parameters.cap_fraction_bps, BPS)


def impact_price(levels: Sequence[tuple[int, int]], impact_notional: int, side: BookSide, unit_value: int = 1) -> int | None:
    """Return the average fill price for ``impact_notional`` against ``levels`` [(price, qty)], best first.

    Notional of a level = price x qty x unit_value (settlement micro-units). Rounds down
    for BID and up for ASK; None when the levels cannot fill the notional. Raises
    ValueError on non-positive inputs or levels out of order (a caller bug).
    """
    if impact_notional <= 0 or unit_value <= 0:
        raise ValueError("impact notional and unit value must be positive")
    remaining = impact_notional
    filled_qty = 0
    previous: int | None = None
    for price, qty in levels:
        if price <= 0 or qty <= 0:
            raise ValueError(f"level ({price}, {qty}) is not positive")
        if previous is not None and (price >= previous if side is BookSide.BID else price <= previous):
            raise ValueError(f"{side} levels must be strictly best first")
        previous = price
        level_notional = price * qty * unit_value
        if level_notional >= remaining:
            # filled qty = filled_qty + remaining / (price x unit_value), exactly; average = notional / (qty x unit_value)
            numerator = impact_notional * price
            denominator = filled_qty * price * unit_value + remaining
            return div_round_down(numerator, denominator) if side is BookSide.BID else div_round_up(numerator, denominator)
        remaining -= level_notional
        filled_qty += qty
    return None


def sample_premium(
    ts_ns: int,
    index: int,
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    impact_notional: int,
    unit_value: int = 1,
) -> PremiumSample:
    """Take one premium index sample from the book against ``index`` (parts per 1e8, nearest)."""
    if index <= 0:
        raise ValueError("the index must be positive")
    bid = impact_price(bids, impact_notional, BookSide.BID, unit_value)
    ask = impact_price(asks, impact_notional, BookSide.ASK, unit_value)
    above = bid - index if bid is not None and bid > index else 0
    below = index - ask if ask is not None and ask < index else 0
    premium = div_round_half_up((above - below) * RATE_SCALE, index)
    return PremiumSample(ts_ns=ts_ns, index=index, impact_bid=bid, impact_ask=ask, premium_e8=premium)


def average_premium_e8(samples: Sequence[PremiumSample], weighting: PremiumWeighting) -> int:
    """Average the samples' premiums in time order (LINEAR: weights 1..n), rounded to nearest; 0 if none."""
    ordered = sorted(samples, key=lambda s: s.ts_ns)
    if not ordered:
        return 0
    if weighting is PremiumWeighting.EQUAL:
        return div_round_half_up(sum(s.premium_e8 for s in ordered), len(ordered))
    n = len(ordered)
    weighted = sum((i + 1) * s.premium_e8 for i, s in enumerate(ordered))
    return div_round_half_up(weighted, n * (n + 1) // 2)  # n(n+1) is even: exact


def compute_funding_rate(parameters: FundingParameters, samples: Sequence[PremiumSample], interval_end_ns: int) -> FundingRate:
    """Compute the rate for the interval ending at ``interval_end_ns`` from samples inside it.

    Raises ValueError on parameters that ``check_funding_parameters`` refuses (they must
    have been rejected when configured).
    """
    problems = check_funding_parameters(parameters)
    if problems:
        raise ValueError(f"refused funding parameters: {[p.problem for p in problems]}")
    p = parameters
    start = interval_end_ns - p.interval_ns
    inside = [s for s in samples if start < s.ts_ns <= interval_end_ns]
    premium = average_premium_e8(inside, p.weighting)
    gap = p.interest_rate_e8 - premium
    uncapped = premium + min(max(gap, -p.dampener_e8), p.dampener_e8)
    cap = funding_cap_e8(p)
    rate = min(max(uncapped, -cap), cap)
    return FundingRate(
        interval_start_ns=start,
        interval_end_ns=interval_end_ns,
        interval_ns=p.interval_ns,
        sign_convention=SIGN_CONVENTION,
        rate_unit=RATE_UNIT,
        weighting=p.weighting,
        samples_used=len(inside),
        average_premium_e8=premium,
        interest_rate_e8=p.interest_rate_e8,
        dampener_e8=p.dampener_e8,
        uncapped_rate_e8=uncapped,
        cap_e8=cap,
        is_capped=rate != uncapped,
        rate_e8=rate,
    )


def funding_payment(position_qty: int, mark_notional: int, rate_e8: int) -> int:
    """Return what one position pays for one interval, in settlement micro-units.

    ``mark_notional`` is |position| at the mark (micro-units, not negative); the sign of
    ``position_qty`` gives the side. Positive result: the account pays; negative: it
    receives. A payer's amount rounds up and a receiver's rounds down (the platform
    never pays out more than it collects; the venue settles the residue zero-sum).
    """
    if mark_notional < 0:
        raise ValueError("mark notional is a magnitude")
    if position_qty == 0 or rate_e8 == 0 or mark_notional == 0:
        return 0
    pays = (position_qty > 0) == (rate_e8 > 0)  # positive rate: longs pay shorts
    magnitude = mark_notional * abs(rate_e8)
    return div_round_up(magnitude, RATE_SCALE) if pays else -div_round_down(magnitude, RATE_SCALE)
