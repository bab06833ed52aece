"""Checks shared by every order entry (orders, amendments, trigger orders): the account and
the instrument exist and the instrument is not halted; a quantity on the lot grid within the
instrument's limits and a price on the tick grid; a client order id not in use; and the
exposure gate (a lapsed professional investor, or a close-only instrument, may only reduce)."""

from __future__ import annotations

from harbour.compliance.rules import can_increase_exposure
from harbour.kernel.errors import RejectCode
from harbour.venue.accounts import Account, Position
from harbour.venue.commands import AccountKind, InstrumentState
from harbour.venue.instruments import Instrument
from harbour.venue.matching import reducible_qty
from harbour.venue.state import VenueState

C = RejectCode
Problem = tuple[RejectCode, dict[str, str | int]]
_HALTED = InstrumentState.HALTED
_CLOSE_ONLY = InstrumentState.CLOSE_ONLY
_CLIENT = AccountKind.CLIENT


def order_target_problem(st: VenueState, account: int, instrument: str) -> Problem | None:
    """Why an order cannot be placed at all: an unknown account or instrument, or a halted
    instrument; None if the account and the instrument are there to trade."""
    if account not in st.accounts:
        return C.UNKNOWN_ACCOUNT, {"account": account}
    inst = st.instruments.get(instrument)
    if inst is None:
        return C.UNKNOWN_INSTRUMENT, {"instrument": instrument}
    if inst.state is _HALTED:
        return C.INSTRUMENT_HALTED, {"instrument": instrument}
    return None


def client_order_id_problem(acct: Account, client_order_id: str) -> Problem | None:
    """A client order id may name only one live order or trigger of the account."""
    if client_order_id:
        existing = acct.client_order_ids.get(client_order_id)
        if existing is not None:
            return C.DUPLICATE_CLIENT_ORDER_ID, {"client_order_id": client_order_id, "existing_order_id": existing}
    return None


def exposure_gate(acct: Account, inst: Instrument, pos: Position | None, is_buy: bool, qty: int, ts: int) -> tuple[Problem | None, bool]:
    """(problem, reduce only): a client whose professional-investor status lapsed, or anyone in
    a close-only instrument, may trade only to reduce its position by no more than its size;
    the order is then reduce-only (decision D11)."""
    reduce_only = False
    if acct.kind is _CLIENT and not can_increase_exposure(acct.pi_expiry_ns, ts):
        if pos is None or reducible_qty(pos, is_buy) < qty:
            code = C.NOT_PROFESSIONAL_INVESTOR if acct.pi_expiry_ns == 0 else C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED
            return (code, {"account": acct.account_id}), False
        reduce_only = True
    if inst.state is _CLOSE_ONLY:
        if pos is None or reducible_qty(pos, is_buy) < qty:
            return (C.INSTRUMENT_CLOSE_ONLY, {"instrument": inst.symbol}), False
        reduce_only = True
    return None, reduce_only


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
