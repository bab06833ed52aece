"""A participant-side view of the venue, rebuilt only from the events it emits.

Owns: the resting orders (with their remaining quantity and price) and the net
position of every account per instrument, as the event stream reports them. The
simulator and the benchmark use it to pick orders to cancel or amend and positions
to close, without reading engine internals.

Invariant: after ``observe`` has seen every event of every command so far, the
tracked resting orders are exactly the orders resting in the engine's books (same
ids, prices and remaining quantities), and the tracked positions equal the engine's.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from harbour.venue.commands import Side
from harbour.venue.events import AutoDeleveraged, OrderAccepted, OrderAmended, OrderCancelled, TradeExecuted

_BUY = Side.BUY


class RestingOrder:
    """One order the tracker believes is working or resting."""

    __slots__ = ("order_id", "account", "instrument", "is_buy", "price", "qty", "client_order_id")

    def __init__(self, order_id: int, account: int, instrument: str, is_buy: bool, price: int, qty: int, client_order_id: str) -> None:
        self.order_id = order_id
        self.account = account
        self.instrument = instrument
        self.is_buy = is_buy
        self.price = price
        self.qty = qty
        self.client_order_id = client_order_id


class OrderTracker:
    """Resting orders and positions, kept in step with the engine through its events."""

    __slots__ = ("orders", "by_account", "positions", "_ids", "_slot")

    def __init__(self) -> None:
        self.orders: dict[int, RestingOrder] = {}
        # account -> {order id -> order}, in acceptance order (oldest first)
        self.by_account: dict[int, dict[int, RestingOrder]] = {}
        self.positions: dict[tuple[int, str], int] = {}
        # a dense list of live order ids with an index, for O(1) uniform random choice
        self._ids: list[int] = []
        self._slot: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def observe(self, events: Iterable[object]) -> None:
        """Update the view with the events of one command, in emission order."""
        for event in events:
            kind = type(event)
            if kind is TradeExecuted:
                self._on_trade(event)  # type: ignore[arg-type]
            elif kind is OrderAccepted:
                self._on_accepted(event)  # type: ignore[arg-type]
            elif kind is OrderCancelled:
                self._remove(event.order_id)  # type: ignore[attr-defined]
            elif kind is OrderAmended:
                order = self.orders.get(event.order_id)  # type: ignore[attr-defined]
                if order is not None:
                    order.price = event.new_price  # type: ignore[attr-defined]
                    order.qty = event.new_qty  # type: ignore[attr-defined]
            elif kind is AutoDeleveraged:
                self._on_adl(event)  # type: ignore[arg-type]

    def position(self, account: int, instrument: str) -> int:
        """Signed net position, quantity units (0 if none)."""
        return self.positions.get((account, instrument), 0)

    def orders_of(self, account: int) -> list[RestingOrder]:
        """The account's resting orders, oldest first."""
        mine = self.by_account.get(account)
        return list(mine.values()) if mine else []

    def random_order(self, rng: random.Random) -> RestingOrder | None:
        """A resting order chosen uniformly at random, or None if the book is empty."""
        ids = self._ids
        if not ids:
            return None
        return self.orders[ids[rng.randrange(len(ids))]]

    def best_bid(self, instrument: str, exclude_account: int = 0) -> int | None:
        """Highest resting buy price (O(orders): for occasional use, not a hot path)."""
        prices = [o.price for o in self.orders.values() if o.is_buy and o.instrument == instrument and o.account != exclude_account]
        return max(prices) if prices else None

    def best_ask(self, instrument: str, exclude_account: int = 0) -> int | None:
        """Lowest resting sell price (O(orders): for occasional use, not a hot path)."""
        prices = [o.price for o in self.orders.values() if not o.is_buy and o.instrument == instrument and o.account != exclude_account]
        return min(prices) if prices else None

    def best_order(self, instrument: str, is_buy: bool, exclude_account: int = 0) -> RestingOrder | None:
        """The resting order at the best price of one side (earliest first at a price)."""
        best: RestingOrder | None = None
        for o in self.orders.values():
            if o.is_buy is is_buy and o.instrument == instrument and o.account != exclude_account:
                if best is None or (o.price > best.price if is_buy else o.price < best.price):
                    best = o
        return best

    def _on_accepted(self, event: OrderAccepted) -> None:
        order = RestingOrder(
            event.order_id, event.account, event.instrument, event.side is _BUY, event.price, event.qty, event.client_order_id
        )
        self.orders[event.order_id] = order
        mine = self.by_account.get(event.account)
        if mine is None:
            mine = self.by_account[event.account] = {}
        mine[event.order_id] = order
        self._slot[event.order_id] = len(self._ids)
        self._ids.append(event.order_id)

    def _on_trade(self, event: TradeExecuted) -> None:
        qty = event.qty
        sym = event.instrument
        taker_sign = 1 if event.taker_side is _BUY else -1
        positions = self.positions
        key = (event.taker_account, sym)
        positions[key] = positions.get(key, 0) + taker_sign * qty
        key = (event.maker_account, sym)
        positions[key] = positions.get(key, 0) - taker_sign * qty
        for order_id in (event.maker_order_id, event.taker_order_id):
            order = self.orders.get(order_id)
            if order is not None:
                order.qty -= qty
                if order.qty <= 0:
                    self._remove(order_id)

    def _on_adl(self, event: AutoDeleveraged) -> None:
        # the counterparty traded ``counterparty_side``, closing part of its position; the defaulter the other side
        signed = event.qty if event.counterparty_side is _BUY else -event.qty
        positions = self.positions
        key = (event.counterparty, event.instrument)
        positions[key] = positions.get(key, 0) + signed
        key = (event.account, event.instrument)
        positions[key] = positions.get(key, 0) - signed

    def _remove(self, order_id: int) -> None:
        order = self.orders.pop(order_id, None)
        if order is None:
            return
        mine = self.by_account[order.account]
        del mine[order_id]
        # swap-remove from the dense id list
        slot = self._slot.pop(order_id)
        last = self._ids.pop()
        if last != order_id:
            self._ids[slot] = last
            self._slot[last] = slot
