"""Participant accounts and their positions.

A Position is one-way (net) per account and instrument. Its cost basis is kept exactly
as the signed sum of price x qty over the open quantity (price units x quantity units),
so average entry price is cost / qty and realised PnL on a reduction is exact up to one
rounding of the proportional cost removed, which rounds so that realised PnL rounds
down (the platform's favour). When a position goes flat its whole remaining cost is
removed, so a flat account's lifetime realised PnL equals its cash flows exactly.

Open-order totals per side (qty and price x qty) are kept incrementally so the
pre-trade margin check is O(1) per instrument.
"""

from __future__ import annotations

from typing import Any

from harbour.venue.commands import AccountKind


class Position:
    __slots__ = (
        "qty",
        "cost",
        "open_buy_qty",
        "open_sell_qty",
        "open_buy_value",
        "open_sell_value",
        "realised",
        "isolated",
    )

    def __init__(self) -> None:
        self.qty = 0  # signed, quantity units
        self.cost = 0  # signed sum of price x qty of the open quantity
        self.open_buy_qty = 0
        self.open_sell_qty = 0
        self.open_buy_value = 0  # sum of price x qty of resting/working buys
        self.open_sell_value = 0
        self.realised = 0  # cumulative realised PnL, settlement micro-units
        self.isolated = False

    def is_idle(self) -> bool:
        return not (self.qty or self.open_buy_qty or self.open_sell_qty)

    def apply_fill(self, is_buy: bool, qty: int, price: int) -> int:
        """Apply a fill and return realised PnL in price x qty units (rounded down)."""
        old = self.qty
        signed = qty if is_buy else -qty
        if old == 0 or (old > 0) == is_buy:
            self.qty = old + signed
            self.cost += signed * price
            return 0
        old_abs = old if old > 0 else -old
        close = qty if qty < old_abs else old_abs
        if close == old_abs:
            removed = self.cost
        else:
            # round the removed cost up (toward +infinity) on both sides: a long's realised
            # PnL is close*price - removed, a short's is -removed - close*price, so either way
            # realised PnL rounds down
            removed = -((-self.cost * close) // old_abs)
        if old > 0:
            realised = close * price - removed
        else:
            realised = -removed - close * price
        self.cost -= removed
        rest = qty - close
        if rest:
            self.qty = signed // qty * rest
            self.cost = self.qty * price
        else:
            self.qty = old + signed
        return realised

    def to_state(self) -> list[int]:
        return [
            self.qty,
            self.cost,
            self.open_buy_qty,
            self.open_sell_qty,
            self.open_buy_value,
            self.open_sell_value,
            self.realised,
            int(self.isolated),
        ]

    @classmethod
    def from_state(cls, s: list[int]) -> Position:
        p = cls()
        (
            p.qty,
            p.cost,
            p.open_buy_qty,
            p.open_sell_qty,
            p.open_buy_value,
            p.open_sell_value,
            p.realised,
            iso,
        ) = s
        p.isolated = bool(iso)
        return p


class Account:
    __slots__ = (
        "account_id",
        "kind",
        "is_mm",
        "pi_expiry_ns",
        "legal_entity",
        "stp_group",
        "positions",
        "client_order_ids",
        "open_orders",
        "leverage",
    )

    def __init__(self, account_id: int, kind: AccountKind, pi_expiry_ns: int, legal_entity: str) -> None:
        self.account_id = account_id
        self.kind = kind
        self.is_mm = kind is AccountKind.AFFILIATED_MM
        self.pi_expiry_ns = pi_expiry_ns
        self.legal_entity = legal_entity
        # self-trade prevention applies across all accounts of one legal entity
        self.stp_group = legal_entity or f"acct:{account_id}"
        self.positions: dict[str, Position] = {}
        # client order id -> order id, kept for idempotency (a reused id is rejected)
        self.client_order_ids: dict[str, int] = {}
        # resting order id -> instrument (derived from the books, not exported)
        self.open_orders: dict[int, str] = {}
        # instrument -> chosen leverage (absent: the bracket's maximum)
        self.leverage: dict[str, int] = {}

    def position(self, instrument: str) -> Position:
        pos = self.positions.get(instrument)
        if pos is None:
            pos = self.positions[instrument] = Position()
        return pos

    def to_state(self) -> dict[str, object]:
        return {
            "id": self.account_id,
            "kind": self.kind.value,
            "pi": self.pi_expiry_ns,
            "entity": self.legal_entity,
            "positions": [[i, p.to_state()] for i, p in sorted(self.positions.items())],
            "coids": sorted(self.client_order_ids.items()),
            "leverage": sorted(self.leverage.items()),
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Account:
        acct = cls(int(s["id"]), AccountKind(s["kind"]), int(s["pi"]), str(s["entity"]))
        acct.positions = {i: Position.from_state(p) for i, p in s["positions"]}
        acct.client_order_ids = {c: o for c, o in s["coids"]}
        acct.leverage = {i: v for i, v in s["leverage"]}
        return acct
