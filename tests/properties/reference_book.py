"""A naive, obviously-correct order book for plain limit GTC/IOC orders.

Resting orders sit in one flat list. To match, the opposite side is sorted afresh by
(price best-first, affiliated-MM after client, arrival) and walked from the front:
price first, then every client order before any affiliated-MM order at the same price,
then time. An account's own resting order in the way is cancelled and matching goes on
(self-trade prevention, default mode, with every account its own legal entity). No
margin, fees, reduce-only or bands: the property test feeds it only orders where those
cannot matter.

Amendments follow the venue's rulebook: a change that keeps the price and does not
grow the quantity keeps the order's arrival; any other change takes a new arrival; an
amendment to the same price and quantity, or to a price that would cross, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RefOrder:
    order_id: int
    account: int
    is_buy: bool
    price: int
    qty: int
    is_mm: bool
    arrival: int


class ReferenceBook:
    def __init__(self) -> None:
        self.resting: list[RefOrder] = []

    def _priority(self, order: RefOrder) -> tuple[int, bool, int]:
        return (-order.price if order.is_buy else order.price, order.is_mm, order.arrival)

    def side(self, is_buy: bool) -> list[RefOrder]:
        """Resting orders of one side in matching priority."""
        return sorted((o for o in self.resting if o.is_buy == is_buy), key=self._priority)

    def best(self, is_buy: bool) -> int | None:
        orders = self.side(is_buy)
        return orders[0].price if orders else None

    def place(
        self, order_id: int, account: int, is_buy: bool, price: int, qty: int, is_mm: bool, ioc: bool
    ) -> list[tuple[int, int, int, int]]:
        """Match an incoming order; return trades as (maker id, taker id, price, qty)."""
        trades = []
        while qty:
            opposite = self.side(not is_buy)
            if not opposite:
                break
            maker = opposite[0]
            if (maker.price > price) if is_buy else (maker.price < price):
                break
            if maker.account == account:
                self.resting.remove(maker)
                continue
            fill = min(qty, maker.qty)
            trades.append((maker.order_id, order_id, maker.price, fill))
            maker.qty -= fill
            qty -= fill
            if not maker.qty:
                self.resting.remove(maker)
        if qty and not ioc:
            self.resting.append(RefOrder(order_id, account, is_buy, price, qty, is_mm, arrival=order_id))
        return trades

    def find(self, order_id: int) -> RefOrder | None:
        return next((o for o in self.resting if o.order_id == order_id), None)

    def cancel(self, order_id: int) -> bool:
        order = self.find(order_id)
        if order is None:
            return False
        self.resting.remove(order)
        return True

    def amend(self, order_id: int, price: int, qty: int, arrival: int) -> str:
        """Amend a resting order; return '' or the reason it is refused."""
        order = self.find(order_id)
        if order is None:
            return "UNKNOWN_ORDER"
        if price == order.price and qty == order.qty:
            return "AMEND_NO_CHANGE"
        best = self.best(not order.is_buy)
        if best is not None and (price >= best if order.is_buy else price <= best):
            return "AMEND_WOULD_CROSS"
        if price != order.price or qty > order.qty:
            order.arrival = arrival
        order.price, order.qty = price, qty
        return ""

    def snapshot(self) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks) as (order id, price, qty) in matching priority."""
        return (
            [(o.order_id, o.price, o.qty) for o in self.side(True)],
            [(o.order_id, o.price, o.qty) for o in self.side(False)],
        )
