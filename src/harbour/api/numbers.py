"""Exact decimal strings at the edge: request text in, integer units out, and back.

Every price, quantity and amount crosses the HTTP boundary as a plain decimal string
(Binance sends and expects strings). Parsing is ``kernel.money.parse_units``: no float, no
exponent, no rounding; text with more decimals than the unit allows is refused, never
rounded. Formatting is exact too; a ratio (average price, entry price) is cut to a fixed
number of extra decimals, rounding toward zero, and says so in its name.
"""

from __future__ import annotations

from typing import Final

from harbour.kernel.money import format_units, parse_units

EXTRA_DECIMALS: Final = 4  # decimals beyond the unit shown for averages (entry price, avgPrice)
RATE_DECIMALS: Final = 8  # funding rates: parts per 1e8, shown as a fraction with 8 decimals


class BadNumber(ValueError):
    """A request number that is not a plain decimal, or has more decimals than allowed."""

    def __init__(self, field: str, text: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.text = text
        self.why = why


def parse_decimal(field: str, text: str, decimals: int, *, allow_zero: bool = False) -> int:
    """``text`` as integer units of 10**-decimals; refuses signs, exponents and extra decimals."""
    if not text or text != text.strip() or text[0] in "+-" or not text.isascii():
        raise BadNumber(field, text, "not a plain positive decimal")
    try:
        value = parse_units(text, decimals)
    except ValueError as error:
        raise BadNumber(field, text, str(error)) from None
    if value == 0 and not allow_zero:
        raise BadNumber(field, text, "must be positive")
    return value


def parse_int(field: str, text: str, *, low: int | None = None, high: int | None = None) -> int:
    """A plain base-10 integer (ms timestamps, ids, limits) within [low, high] when given."""
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit() or len(body) > 19:
        raise BadNumber(field, text, "not an integer")
    value = int(text)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadNumber(field, text, f"outside [{low}, {high}]")
    return value


def units(value: int, decimals: int) -> str:
    """Integer units of 10**-decimals as a plain decimal string."""
    return format_units(value, decimals)


def ratio(numerator: int, denominator: int, decimals: int) -> str:
    """numerator / denominator in units of 10**-decimals, with ``EXTRA_DECIMALS`` more, cut toward zero."""
    if denominator == 0:
        return format_units(0, decimals)
    scaled = abs(numerator) * 10**EXTRA_DECIMALS // abs(denominator)
    if (numerator < 0) != (denominator < 0):
        scaled = -scaled
    return format_units(scaled, decimals + EXTRA_DECIMALS)


def rate_e8(value: int) -> str:
    """A rate in parts per 1e8 as a decimal fraction (``10000`` -> ``0.00010000``)."""
    return format_units(value, RATE_DECIMALS)
