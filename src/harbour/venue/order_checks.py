"""Shape checks shared by every order entry (orders, amendments, trigger orders): a quantity
on the lot grid within the instrument's limits, and a price on the tick grid."""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.instruments import Instrument

C = RejectCode
Problem = tuple[RejectCode, dict[str, str | int]]


def quantity_problem(inst: Instrument, qty: int) -> Problem | None:
    """A quantity must be positive, a whole number of lots, and within [min_qty, max_qty]."""
    if qty <= 0:
        return C.QUANTITY_NOT_POSITIVE, {"qty": qty}
    if qty % inst.lot:
        return C.QUANTITY_OFF_LOT, {"qty": qty, "lot": inst.lot}
    if qty < inst.min_qty:
        return C.QUANTITY_BELOW_MINIMUM, {"qty": qty, "min_qty": inst.min_qty}
    if qty > inst.max_qty:
        return C.QUANTITY_ABOVE_MAXIMUM, {"qty": qty, "max_qty": inst.max_qty}
    return None


def price_grid_problem(inst: Instrument, price: int) -> Problem | None:
    """A price must be positive and a whole number of ticks."""
    if price <= 0:
        return C.PRICE_NOT_POSITIVE, {"price": price}
    if price % inst.tick:
        return C.PRICE_OFF_TICK, {"price": price, "tick": inst.tick}
    return None
