"""One client's VA custody sub-ledger: the lots of BTC/ETH (and any other VA) it holds.

Owns, per client, the VA lots and a private double-entry ``Ledger`` whose only accounts
are ``LOT:<id>`` of this client's own lots and ``EXTERNAL`` (the VATP omnibus account
and the outside world). No other client's account and no house, funding or pledge
account exists in it, so VA collateral cannot be moved to anyone else by construction
(N1, N3).

Invariants:

* Every lot is ``rehypothecable = False`` and its ledger balance equals its quantity
  equals the sum of its movement history.
* A lot is debited only through ``debit``, which itself refuses every path except
  (a) a WITHDRAWAL that leaves the owner within limits (loan zero, or loan x 10000 <=
  limit_bps x margin value after) and (b) a FORCED_SALE for the owner's own
  outstanding debt. Anything else (pledge, lend, stake, transfer to the house, paying
  another client's debt) is answered with REHYPOTHECATION_REFUSED by
  ``authorise_debit``; a caller that calls ``debit`` without authorisation is a bug
  and raises ``InvariantBroken``.
* The ledger itself guards every lot (N1 "rejected by the ledger, not by policy"):
  each ``LOT:<id>`` account is debit-restricted to ``EXTERNAL`` (the VATP omnibus
  account, through which both allowed paths leave) from the moment it opens, so a
  posting that moves a lot's VA to any other account (the house, a pledgee, another
  client's lot) is refused by ``Ledger.post`` with ``PostingRefused`` carrying
  REHYPOTHECATION_REFUSED and changes nothing, whoever builds it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from harbour.kernel.errors import InvariantBroken, RejectCode
from harbour.kernel.money import BPS
from harbour.ledger.book import EXTERNAL, Ledger

WITHDRAWAL: Final = "WITHDRAWAL"
FORCED_SALE: Final = "FORCED_SALE"
DEPOSIT: Final = "DEPOSIT"
PURCHASE: Final = "PURCHASE"
CREDIT_KINDS: Final = frozenset({DEPOSIT, PURCHASE})
DEBIT_KINDS: Final = frozenset({WITHDRAWAL, FORCED_SALE})


def lot_account(lot_id: int) -> str:
    return f"LOT:{lot_id}"


class LotMovement(msgspec.Struct, frozen=True, kw_only=True):
    """One change to a lot: signed quantity, why, and for whom (the attestation history)."""

    seq: int
    kind: str
    qty: int  # positive credit, negative debit
    beneficiary: int  # the client whose account or debt the movement served


class Lot:
    __slots__ = ("lot_id", "asset", "qty", "cost_price", "rehypothecable", "movements")

    def __init__(self, lot_id: int, asset: str, cost_price: int) -> None:
        self.lot_id = lot_id
        self.asset = asset
        self.qty = 0
        self.cost_price = cost_price
        self.rehypothecable = False
        self.movements: list[LotMovement] = []


class DebitAuthority(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller presents to debit a lot; custody checks it itself."""

    path: str  # WITHDRAWAL, FORCED_SALE or any refused purpose
    debtor: int  # whose debt a sale serves / who withdraws
    loan: int = 0  # the owner's loan after the debit (withdrawal) or before it (sale)
    margin_value_after: int = 0  # the owner's house margin value after a withdrawal
    limit_bps: int = 0  # the ratio a withdrawal must keep (N1 a)


class ClientVaCustody:
    __slots__ = ("owner", "_ledger", "_lots")

    def __init__(self, owner: int) -> None:
        self.owner = owner
        self._ledger = Ledger()
        self._lots: dict[int, Lot] = {}

    # --- reading ------------------------------------------------------------------------

    def lots(self) -> list[Lot]:
        """Open lots (quantity above zero), oldest first."""
        return [lot for _, lot in sorted(self._lots.items()) if lot.qty > 0]

    def all_lots(self) -> list[Lot]:
        return [lot for _, lot in sorted(self._lots.items())]

    def lot(self, lot_id: int) -> Lot | None:
        return self._lots.get(lot_id)

    def holding(self, asset: str) -> int:
        return sum(lot.qty for lot in self._lots.values() if lot.asset == asset)

    def ledger_balance(self, lot_id: int, asset: str) -> int:
        return self._ledger.balance(lot_account(lot_id), asset)

    def ledger_guarded(self, lot_id: int) -> bool:
        """N1: the sub-ledger itself lets this lot's VA leave only to ``EXTERNAL`` (refusing anything else)."""
        guard = self._ledger.debit_restriction(lot_account(lot_id))
        return guard is not None and guard[0] == frozenset({EXTERNAL}) and guard[1] == RejectCode.REHYPOTHECATION_REFUSED

    @property
    def ledger(self) -> Ledger:
        """The sub-ledger, for invariant checks only (read-only by convention)."""
        return self._ledger

    # --- writing ------------------------------------------------------------------------

    def credit(self, lot_id: int, asset: str, qty: int, cost_price: int, seq: int, kind: str) -> tuple[int, list[tuple[str, str, int]]]:
        """Open a new lot holding ``qty`` units; return the transfer id and postings."""
        if kind not in CREDIT_KINDS or qty <= 0 or lot_id in self._lots:
            raise InvariantBroken(f"bad lot credit {kind} {lot_id} {qty}")
        lot = Lot(lot_id, asset, cost_price)
        self._lots[lot_id] = lot
        self._ledger.restrict_debits(lot_account(lot_id), (EXTERNAL,), RejectCode.REHYPOTHECATION_REFUSED)  # N1, in the ledger
        postings = [(EXTERNAL, asset, -qty), (lot_account(lot_id), asset, qty)]
        transfer_id = self._ledger.post(postings)
        lot.qty = qty
        lot.movements.append(LotMovement(seq=seq, kind=kind, qty=qty, beneficiary=self.owner))
        return transfer_id, postings

    def authorise_debit(self, lot_id: int, qty: int, authority: DebitAuthority) -> tuple[RejectCode, dict[str, str | int]] | None:
        """Return why debiting ``qty`` of ``lot_id`` is refused, or None if it is allowed."""
        lot = self._lots.get(lot_id)
        if lot is None or lot.qty <= 0:
            return RejectCode.UNKNOWN_LOT, {"client": self.owner, "asset": "VA", "lot": lot_id}
        detail: dict[str, str | int] = {"purpose": authority.path, "asset": lot.asset, "lot": lot_id}
        refused = (RejectCode.REHYPOTHECATION_REFUSED, detail)
        if authority.path == WITHDRAWAL:
            if authority.debtor != self.owner:
                return refused
            within = authority.loan == 0 or authority.loan * BPS <= authority.limit_bps * authority.margin_value_after
            if not within:
                return refused
        elif authority.path == FORCED_SALE:
            if authority.debtor != self.owner or authority.loan <= 0:
                return refused
        else:
            return refused
        if qty > lot.qty:
            return RejectCode.INSUFFICIENT_HOLDING, {"client": self.owner, "held": lot.qty, "instrument": lot.asset, "qty": qty}
        return None

    def debit(self, lot_id: int, qty: int, authority: DebitAuthority, seq: int) -> tuple[int, list[tuple[str, str, int]]]:
        """Take ``qty`` out of a lot on an authorised path; return the transfer id and postings."""
        problem = self.authorise_debit(lot_id, qty, authority)
        if problem is not None or qty <= 0:
            raise InvariantBroken(f"unauthorised debit of lot {lot_id} for client {self.owner}: {problem}")
        lot = self._lots[lot_id]
        postings = [(lot_account(lot_id), lot.asset, -qty), (EXTERNAL, lot.asset, qty)]
        transfer_id = self._ledger.post(postings)
        lot.qty -= qty
        lot.movements.append(LotMovement(seq=seq, kind=authority.path, qty=-qty, beneficiary=authority.debtor))
        return transfer_id, postings

    # --- state --------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        return {
            "owner": self.owner,
            "ledger": self._ledger.to_state(),
            "lots": [
                [lot.lot_id, lot.asset, lot.qty, lot.cost_price, int(lot.rehypothecable), [msgspec.to_builtins(m) for m in lot.movements]]
                for lot in self.all_lots()
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> ClientVaCustody:
        custody = cls(int(state["owner"]))  # type: ignore[call-overload]
        custody._ledger = Ledger.from_state(state["ledger"])  # type: ignore[arg-type]
        for lot_id, asset, qty, cost_price, rehypothecable, movements in state["lots"]:  # type: ignore[attr-defined]
            lot = Lot(lot_id, asset, cost_price)
            lot.qty = qty
            lot.rehypothecable = bool(rehypothecable)
            lot.movements = [msgspec.convert(m, LotMovement) for m in movements]
            custody._lots[lot_id] = lot
        return custody
