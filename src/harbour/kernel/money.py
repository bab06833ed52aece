"""Exact integer money arithmetic.

Every money asset is held in integer micro-units (6 decimals). Every division in the
core goes through one of the two functions below, and its caller names the side the
rounding favours: requirements (margin, fees charged) round up, values credited to a
participant (collateral value, rebates) round down. Transfers are computed once and
posted as balanced integers, so the ledger balances to the unit whatever the rounding.
No float ever enters this module.
"""

from __future__ import annotations

from typing import Final

MONEY_DECIMALS: Final = 6
MICRO: Final = 10**MONEY_DECIMALS
PPM: Final = 1_000_000  # fee rates and margin rates are parts per million
BPS: Final = 10_000  # haircuts and price bands are basis points
FX_SCALE: Final = 100_000_000  # FX rates are integers scaled by 1e8

# Ceilings that keep every stored integer inside int64 (the journal's and snapshots'
# integer encoding, and numpy columns later). Net holdings of one asset on the platform
# are at most 1e16 micro-units (10 billion units). An account's reachable notional is at
# most its equity x max leverage (<= 200), so every position's notional, cost basis, open
# order value, the clearing account and every balance stay within about 2e18 < 9.2e18.
MAX_NET_HOLDINGS: Final = 10**16
MAX_PRICE: Final = 10**12  # price units
MAX_FX_RATE_E8: Final = 10**16
MAX_LEVERAGE: Final = 200


def div_round_up(numerator: int, denominator: int) -> int:
    """Divide, rounding toward +infinity (use for requirements and charges)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return -((-numerator) // denominator)


def div_round_down(numerator: int, denominator: int) -> int:
    """Divide, rounding toward -infinity (use for values credited or counted as collateral)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return numerator // denominator


def parse_units(text: str, decimals: int) -> int:
    """Parse a decimal string exactly into integer units of 10**-decimals.

    Raises ValueError on anything that is not a plain decimal with at most
    ``decimals`` fractional digits (no floats, no exponents, no rounding).
    """
    s = text.strip()
    if not s:
        raise ValueError("empty number")
    negative = s.startswith("-")
    if negative or s.startswith("+"):
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not whole:
        whole = "0"
    if not (whole.isdigit() and (frac == "" or frac.isdigit())) or not whole.isascii():
        raise ValueError(f"not a plain decimal: {text!r}")
    frac = frac.rstrip("0")
    if len(frac) > decimals:
        raise ValueError(f"{text!r} has more than {decimals} decimals")
    scale: int = 10**decimals
    value = int(whole) * scale + (int(frac.ljust(decimals, "0")) if frac else 0)
    return -value if negative else value


def format_units(value: int, decimals: int) -> str:
    """Format integer units of 10**-decimals as a plain decimal string."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    if decimals == 0:
        return f"{sign}{v}"
    whole, frac = divmod(v, 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"
