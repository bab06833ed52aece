"""Per-instrument mark-price and funding parameters: what SetMarkParameters and SetFundingParameters configure.

Owns ``FundingSchedule`` (an instrument's configured funding parameters), the house
defaults every instrument gets at listing (``HOUSE_MARK_PARAMETERS``,
``HOUSE_FUNDING_SCHEDULE``: the prices module's defaults, Binance USD-M's), the limits a
setting must keep, the checks that refuse the rest (``mark_parameters_problem``,
``funding_schedule_problem``: a (RejectCode, detail) pair, or None), ``funding_parameters``
(the prices module's ``FundingParameters`` with the cap's IMR and MMR taken from the
instrument's first margin bracket, so the cap follows the published brackets) and
``max_basis_samples``.

Limits, and why:

- funding interval in [1 s, 24 h]: price convergence at least daily (issue 3), and a
  settlement every nanosecond is no funding clock;
- premium sample interval at least 1 s and a whole divisor of the interval, so every
  interval of the epoch-aligned grid has the same number of samples;
- interest rate within +-100% per interval and dampener in [0, 100%]: the bound
  ``SettleFunding`` already puts on a settled rate;
- cap fraction 1..10,000 bps of (IMR - MMR); impact notional 1..the holdings ceiling;
- basis window in [1 s, 24 h]; basis sample interval in (0, window] with at most
  ``MAX_BASIS_SAMPLES_LIMIT`` samples in a window, which bounds the state and the work
  at each index print.

Invariants: integer-only; a check reads the command alone, never venue state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, MAX_NET_HOLDINGS
from harbour.prices.funding import MAX_FUNDING_INTERVAL_NS, FundingParameters, PremiumWeighting, funding_cap_e8
from harbour.prices.mark import MarkParameters
from harbour.prices.problems import RATE_SCALE
from harbour.venue.commands import SetFundingParameters, SetMarkParameters
from harbour.venue.tiers import Tier

C = RejectCode
Problem = tuple[RejectCode, dict[str, str | int]]

NS_PER_SECOND: Final = 1_000_000_000
MIN_FUNDING_INTERVAL_NS: Final = NS_PER_SECOND
MIN_PREMIUM_SAMPLE_INTERVAL_NS: Final = NS_PER_SECOND
# |rate| above 100% per interval is no rate accepted parameters can produce (cap <= 1 x 100%)
MAX_FUNDING_RATE_E8: Final = RATE_SCALE
MIN_BASIS_WINDOW_NS: Final = NS_PER_SECOND
MAX_BASIS_WINDOW_NS: Final = MAX_FUNDING_INTERVAL_NS
MAX_BASIS_SAMPLES_LIMIT: Final = 3_600

_HOUSE: Final = FundingParameters()


class FundingSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """An instrument's configured funding parameters; the cap's IMR and MMR come from its first bracket."""

    interval_ns: int = _HOUSE.interval_ns  # 8 h
    interest_rate_e8: int = _HOUSE.interest_rate_e8  # 0.01% per interval
    dampener_e8: int = _HOUSE.dampener_e8  # +-0.05%
    cap_fraction_bps: int = _HOUSE.cap_fraction_bps  # 0.75 x (IMR - MMR)
    premium_sample_interval_ns: int = _HOUSE.premium_sample_interval_ns  # 5 s
    impact_notional: int = _HOUSE.impact_notional  # 25,000 settlement units
    weighting: PremiumWeighting = _HOUSE.weighting


HOUSE_MARK_PARAMETERS: Final = MarkParameters()
HOUSE_FUNDING_SCHEDULE: Final = FundingSchedule()


def max_basis_samples(parameters: MarkParameters) -> int:
    """How many of the newest basis samples the venue keeps: window // sample interval."""
    return parameters.basis_window_ns // parameters.basis_sample_interval_ns


def mark_parameters_of(cmd: SetMarkParameters) -> MarkParameters:
    return MarkParameters(basis_window_ns=cmd.basis_window_ns, basis_sample_interval_ns=cmd.basis_sample_interval_ns)


def funding_schedule_of(cmd: SetFundingParameters) -> FundingSchedule:
    return FundingSchedule(
        interval_ns=cmd.interval_ns,
        interest_rate_e8=cmd.interest_rate_e8,
        dampener_e8=cmd.dampener_e8,
        cap_fraction_bps=cmd.cap_fraction_bps,
        premium_sample_interval_ns=cmd.premium_sample_interval_ns,
        impact_notional=cmd.impact_notional,
        weighting=PremiumWeighting(cmd.weighting),
    )


def funding_parameters(schedule: FundingSchedule, tiers: Sequence[Tier]) -> FundingParameters:
    """The prices module's parameters: the schedule, with IMR and MMR of the first bracket for the cap."""
    first = tiers[0]
    return FundingParameters(
        interval_ns=schedule.interval_ns,
        interest_rate_e8=schedule.interest_rate_e8,
        dampener_e8=schedule.dampener_e8,
        imr_ppm=first.imr_ppm,
        mmr_ppm=first.mmr_ppm,
        cap_fraction_bps=schedule.cap_fraction_bps,
        premium_sample_interval_ns=schedule.premium_sample_interval_ns,
        impact_notional=schedule.impact_notional,
        weighting=schedule.weighting,
    )


def funding_cap_of(schedule: FundingSchedule, tiers: Sequence[Tier]) -> int:
    """The cap (and floor) magnitude of a rate, parts per 1e8: cap fraction x (IMR - MMR) of the first bracket."""
    return funding_cap_e8(funding_parameters(schedule, tiers))


def mark_parameters_problem(cmd: SetMarkParameters) -> Problem | None:
    """Why mark parameters are refused, or None."""
    window = cmd.basis_window_ns
    if not MIN_BASIS_WINDOW_NS <= window <= MAX_BASIS_WINDOW_NS:
        return C.MARK_BASIS_WINDOW_OUT_OF_RANGE, {"basis_window_ns": window, "min_ns": MIN_BASIS_WINDOW_NS, "max_ns": MAX_BASIS_WINDOW_NS}
    sample = cmd.basis_sample_interval_ns
    if not 0 < sample <= window or window // sample > MAX_BASIS_SAMPLES_LIMIT:
        return C.MARK_BASIS_SAMPLE_INTERVAL_INVALID, {"sample_ns": sample, "basis_window_ns": window, "max_samples": MAX_BASIS_SAMPLES_LIMIT}
    return None


def funding_interval_problem(interval_ns: int) -> Problem | None:
    """Why a funding interval is refused (outside [1 s, 24 h]), or None."""
    if not MIN_FUNDING_INTERVAL_NS <= interval_ns <= MAX_FUNDING_INTERVAL_NS:
        return C.FUNDING_INTERVAL_OUT_OF_RANGE, {"interval_ns": interval_ns, "min_ns": MIN_FUNDING_INTERVAL_NS, "max_ns": MAX_FUNDING_INTERVAL_NS}
    return None


def funding_schedule_problem(cmd: SetFundingParameters) -> Problem | None:
    """Why funding parameters are refused, or None (first problem in field order)."""
    problem = funding_interval_problem(cmd.interval_ns)
    if problem is not None:
        return problem
    sample = cmd.premium_sample_interval_ns
    if sample < MIN_PREMIUM_SAMPLE_INTERVAL_NS or sample > cmd.interval_ns or cmd.interval_ns % sample:
        return C.PREMIUM_SAMPLE_INTERVAL_INVALID, {"sample_ns": sample, "min_ns": MIN_PREMIUM_SAMPLE_INTERVAL_NS, "interval_ns": cmd.interval_ns}
    for field, value, low in (("interest_rate_e8", cmd.interest_rate_e8, -MAX_FUNDING_RATE_E8), ("dampener_e8", cmd.dampener_e8, 0)):
        if not low <= value <= MAX_FUNDING_RATE_E8:
            return C.FUNDING_RATE_TERM_OUT_OF_RANGE, {"field": field, "value": value, "low": low, "high": MAX_FUNDING_RATE_E8}
    if not 0 < cmd.cap_fraction_bps <= BPS:
        return C.FUNDING_CAP_FRACTION_OUT_OF_RANGE, {"cap_fraction_bps": cmd.cap_fraction_bps, "low": 1, "high": BPS}
    if not 0 < cmd.impact_notional <= MAX_NET_HOLDINGS:
        return C.IMPACT_NOTIONAL_OUT_OF_RANGE, {"impact_notional": cmd.impact_notional, "low": 1, "high": MAX_NET_HOLDINGS}
    if cmd.weighting not in tuple(PremiumWeighting):  # the journal codec refuses it first; a direct caller may not
        return C.MALFORMED_COMMAND, {"problem": f"weighting must be one of {', '.join(PremiumWeighting)}"}
    return None
