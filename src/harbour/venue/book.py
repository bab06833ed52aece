"""The central limit order book of one instrument.

Priority: price, then client before affiliated market maker, then time. Each price
level holds two FIFO queues (OrderedDict: O(1) append, cancel and pop-front); the
matcher drains the client queue of a level before its market-maker queue, so at the
same price every client order executes before any affiliated-MM order whatever their
arrival times (SFC circular 26EC6, client-first priority).

Owns: resting orders and their queue positions. Invariant: every resting order has
qty > 0 and appears in exactly one queue at its price, on its side; a level with no
orders is removed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from sortedcontainers import SortedList


class Order:
    """A resting or working order (mutable: qty falls as it fills)."""

    __slots__ = (
        "order_id",
        "account",
        "is_buy",
        "price",
        "qty",
        "is_mm",
        "reduce_only",
        "client_order_id",
        "stp_group",
    )

    def __init__(
        self,
        order_id: int,
        account: int,
        is_buy: bool,
        price: int,
        qty: int,
        is_mm: bool,
        reduce_only: bool,
        client_order_id: str,
        stp_group: str,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.is_buy = is_buy
        self.price = price
        self.qty = qty
        self.is_mm = is_mm
        self.reduce_only = reduce_only
        self.client_order_id = client_order_id
        self.stp_group = stp_group


class Level:
    __slots__ = ("clients", "mms")

    def __init__(self) -> None:
        self.clients: OrderedDict[int, Order] = OrderedDict()
        self.mms: OrderedDict[int, Order] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self.clients) or bool(self.mms)

    def in_priority(self) -> Iterator[Order]:
        yield from self.clients.values()
        yield from self.mms.values()


class BookSide:
    """One side of the book. Bids: best is the highest price; asks: the lowest.

    ``best`` is kept up to date on every level added or dropped, so reading the best
    price costs one attribute load.
    """

    __slots__ = ("is_bid", "levels", "prices", "best")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.prices: SortedList = SortedList()
        self.best: int | None = None

    def best_price(self) -> int | None:
        return self.best

    def add(self, order: Order) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level()
            self.prices.add(price)
            best = self.best
            if best is None or (price > best if self.is_bid else price < best):
                self.best = price
        if order.is_mm:
            level.mms[order.order_id] = order
        else:
            level.clients[order.order_id] = order

    def remove(self, order: Order) -> None:
        level = self.levels[order.price]
        if order.is_mm:
            del level.mms[order.order_id]
        else:
            del level.clients[order.order_id]
        if not level.clients and not level.mms:
            self.drop_level(order.price)

    def drop_level(self, price: int) -> None:
        """Remove an empty level and move ``best`` if it was the best."""
        del self.levels[price]
        prices = self.prices
        prices.remove(price)
        if price == self.best:
            self.best = (prices[-1] if self.is_bid else prices[0]) if prices else None

    def prices_best_first(self) -> Iterator[int]:
        return reversed(self.prices) if self.is_bid else iter(self.prices)

    def orders_in_priority(self) -> Iterator[Order]:
        for price in self.prices_best_first():
            yield from self.levels[price].in_priority()


class OrderBook:
    __slots__ = ("bids", "asks", "orders")

    def __init__(self) -> None:
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.orders: dict[int, Order] = {}

    def rest(self, order: Order) -> None:
        (self.bids if order.is_buy else self.asks).add(order)
        self.orders[order.order_id] = order

    def unrest(self, order: Order) -> None:
        (self.bids if order.is_buy else self.asks).remove(order)
        del self.orders[order.order_id]

    def best_bid(self) -> int | None:
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        return self.asks.best_price()
