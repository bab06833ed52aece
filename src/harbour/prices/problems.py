"""Parameter problems and the integer rounding helpers shared by the price modules.

Owns: ``ParameterProblem`` (a refused configuration, as a value carrying a kernel
``RejectCode``), ``RATE_SCALE`` (rates are integers in parts per 1e8) and the two
rounding rules the price modules use besides the kernel's up/down divisions.

Invariants: no float anywhere; every division here names its rounding; a problem is a
value the caller turns into a reject, never an exception.
"""

from __future__ import annotations

from typing import Final

import msgspec

from harbour.kernel.errors import RejectCode

RATE_SCALE: Final = 100_000_000  # funding and premium rates: parts per 1e8 (1e6 = 1%)
NS_PER_HOUR: Final = 3_600_000_000_000


class ParameterProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One refused parameter: ``code`` is a RejectCode value, ``reason`` its name."""

    code: int
    reason: str
    field: str
    problem: str


def invalid_parameter(field: str, problem: str) -> ParameterProblem:
    """Build an INVALID_PARAMETER problem for ``field``."""
    return ParameterProblem(
        code=int(RejectCode.INVALID_PARAMETER), reason=RejectCode.INVALID_PARAMETER.name, field=field, problem=problem
    )


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Divide to the nearest integer; an exact half rounds toward +infinity."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)


def median_round_down(values: list[int]) -> int:
    """Median of a non-empty list; with an even count, the midpoint of the two middle
    values rounded toward -infinity."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    low, high = ordered[middle - 1], ordered[middle]
    return low + (high - low) // 2
