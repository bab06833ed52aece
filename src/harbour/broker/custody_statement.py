"""Parsing an external custody statement file at the edge (N2/N4); the engine never reads files.

The format is a small CSV, one holding per line::

    client,asset,qty
    1,BTC,14.00000000
    2,ETH,3.5

The header is required exactly as shown; ``client`` is a positive integer, ``asset`` a
VA code, ``qty`` a non-negative decimal number of whole coins with at most 8 decimal
places (converted exactly to 1e-8 units). Blank lines and lines starting with ``#``
are ignored. Any other deviation raises ``ValueError`` naming the line.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from harbour.broker.commands import CustodyHolding
from harbour.broker.config import VA_UNITS_PER_COIN

HEADER = ("client", "asset", "qty")


def parse_custody_statement(text: str) -> tuple[CustodyHolding, ...]:
    """The holdings listed in a custody statement, in file order."""
    rows: list[CustodyHolding] = []
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = tuple(part.strip() for part in line.split(","))
        if not header_seen:
            if fields != HEADER:
                raise ValueError(f"line {number}: expected header {','.join(HEADER)!r}, got {line!r}")
            header_seen = True
            continue
        if len(fields) != 3:
            raise ValueError(f"line {number}: expected 3 fields, got {len(fields)}")
        client_text, asset, qty_text = fields
        if not client_text.isdigit() or int(client_text) <= 0:
            raise ValueError(f"line {number}: client {client_text!r} is not a positive integer")
        if not asset:
            raise ValueError(f"line {number}: empty asset")
        rows.append(CustodyHolding(client=int(client_text), asset=asset, qty=_units(qty_text, number)))
    if not header_seen:
        raise ValueError("custody statement has no header line")
    return tuple(rows)


def _units(text: str, number: int) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"line {number}: quantity {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"line {number}: quantity {text!r} must be a non-negative number")
    units = value * VA_UNITS_PER_COIN
    if units != units.to_integral_value():
        raise ValueError(f"line {number}: quantity {text!r} has more than 8 decimal places")
    return int(units)
