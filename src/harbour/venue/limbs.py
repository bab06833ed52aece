"""Exact products of int64 columns by a large integer, split into limbs.

Owns ``mul_div``: floor(b x f / d^2) and the remainder for a column b >= 0 and a Python
integer f >= 0, exactly, where b x f itself would not fit in int64. With f = fq x d^2 + rh x d
+ rl and b = bh x d + bl (every limb below d):

    b x f = (b x fq + bh x rh) x d^2 + (bh x rl + bl x rh) x d + bl x rl

so the quotient and remainder by d^2 follow from products no larger than b x fq, b and d^2.
The caller keeps b x (1 + f // d^2) + 2 d^2 within 2^63 (``fits``). Used by the liquidation
scan's columns (``risk_columns``) and by funding settlement (``funding``); ``broker.stress``
splits its products the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

SAFE = 1 << 62


def fits(f: int, d: int) -> int:
    """The largest b for which ``mul_div(b, f, d)`` stays inside int64."""
    return (SAFE - 2 * d * d) // (1 + f // (d * d))


def mul_div(b: I64, f: int, d: int) -> tuple[I64, I64]:
    """(floor(b x f / d^2), (b x f) mod d^2), exactly, for 0 <= b <= fits(f, d)."""
    fq, fr = divmod(f, d * d)
    rh, rl = divmod(fr, d)
    bh = b // d
    bl = b - bh * d
    low = bl * rl
    low_q = low // d
    mid = bh * rl + bl * rh + low_q
    mid_q = mid // d
    quotient: I64 = bh * rh + mid_q
    if fq:
        quotient += b * fq
    remainder: I64 = (mid - mid_q * d) * d + (low - low_q * d)
    return quotient, remainder
