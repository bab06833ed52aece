"""Pending trigger orders: the record kept in venue state until it fires or is cancelled.

A trigger order holds no margin and is not on the book: it is a standing instruction
to place an order when the price it watches (the mark or the last trade price, as the
client chose) reaches its trigger. Its id is the seq of the command that accepted it;
the order it places when it fires carries the same id.

Kinds and the direction of their trigger (Binance USDⓈ-M semantics):

- STOP_MARKET, STOP_LIMIT: a buy fires at price >= trigger, a sell at price <= trigger;
- TAKE_PROFIT_MARKET, TAKE_PROFIT_LIMIT: a buy fires at price <= trigger, a sell at >= trigger;
- TRAILING_STOP_MARKET: once active (at once, or when the price reaches the activation
  price: a buy at price <= activation, a sell at >= activation) it tracks the best price
  since activation (``extreme``: the lowest for a buy, the highest for a sell) and fires
  when the price retraces ``callback_bps`` from it. Exact integers: a sell fires at
  price x 10000 <= extreme x (10000 - callback), a buy at price x 10000 >= extreme x
  (10000 + callback); ``stop_price`` is the tick-free price where that first holds.

``PendingTriggers`` holds one instrument's pending triggers by id and keeps them indexed
by level (a trailing stop by the levels at which it activates, moves or fires, re-indexed
whenever it moves), so a price move visits only the triggers it can reach, not every
pending one.

This module is a leaf (records only); the handlers and the firing are in triggers.py.
"""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

from harbour.kernel.money import BPS
from harbour.venue.commands import SelfTradePrevention, TimeInForce, TriggerKind, WorkingType

_STOPS = (TriggerKind.STOP_MARKET, TriggerKind.STOP_LIMIT)
_TRAILING = TriggerKind.TRAILING_STOP_MARKET


class TriggerOrder:
    """A pending trigger order (mutable only in its trailing-stop tracking fields)."""

    __slots__ = (
        "trigger_id",
        "account",
        "instrument",
        "is_buy",
        "qty",
        "kind",
        "working_type",
        "trigger_price",
        "price",
        "tif",
        "reduce_only",
        "close_position",
        "callback_bps",
        "activation_price",
        "stp",
        "client_order_id",
        "activated",
        "extreme",
        "upward",
    )

    def __init__(
        self,
        trigger_id: int,
        account: int,
        instrument: str,
        is_buy: bool,
        qty: int,
        kind: TriggerKind,
        working_type: WorkingType,
        trigger_price: int,
        price: int,
        tif: TimeInForce,
        reduce_only: bool,
        close_position: bool,
        callback_bps: int,
        activation_price: int,
        stp: SelfTradePrevention,
        client_order_id: str,
        activated: bool = False,
        extreme: int = 0,
    ) -> None:
        self.trigger_id = trigger_id
        self.account = account
        self.instrument = instrument
        self.is_buy = is_buy
        self.qty = qty  # 0 for close_position (the whole position at firing)
        self.kind = kind
        self.working_type = working_type
        self.trigger_price = trigger_price  # 0 for a trailing stop
        self.price = price  # limit kinds only
        self.tif = tif
        self.reduce_only = reduce_only
        self.close_position = close_position
        self.callback_bps = callback_bps  # trailing stop only
        self.activation_price = activation_price  # trailing stop only; 0 = active at once
        self.stp = stp
        self.client_order_id = client_order_id
        self.activated = activated  # trailing stop: tracking the best price
        self.extreme = extreme  # trailing stop: best price since activation
        # derived: fires when the price rises to its level (else when it falls to it)
        self.upward = is_buy if kind is _TRAILING else is_buy == (kind in _STOPS)

    @property
    def is_trailing(self) -> bool:
        return self.kind is _TRAILING

    def stop_price(self) -> int:
        """The price at which it fires: the trigger, or an active trailing stop's level."""
        if self.kind is not _TRAILING:
            return self.trigger_price
        if self.is_buy:
            return -((-self.extreme * (BPS + self.callback_bps)) // BPS)  # lowest price that fires
        return self.extreme * (BPS - self.callback_bps) // BPS  # highest price that fires

    def to_state(self) -> list[object]:
        return [
            self.trigger_id,
            self.account,
            int(self.is_buy),
            self.qty,
            self.kind.value,
            self.working_type.value,
            self.trigger_price,
            self.price,
            self.tif.value,
            int(self.reduce_only),
            int(self.close_position),
            self.callback_bps,
            self.activation_price,
            self.stp.value,
            self.client_order_id,
            int(self.activated),
            self.extreme,
        ]

    @classmethod
    def from_state(cls, instrument: str, row: list[Any]) -> TriggerOrder:
        (tid, acct, buy, qty, kind, working, trigger, price, tif, ro, close, cb, activation, stp, coid, active, extreme) = row
        return cls(
            tid, acct, instrument, bool(buy), qty, TriggerKind(kind), WorkingType(working), trigger, price, TimeInForce(tif),
            bool(ro), bool(close), cb, activation, SelfTradePrevention(stp), coid, bool(active), extreme,
        )


class PendingTriggers(dict[int, TriggerOrder]):
    """One instrument's pending triggers, trigger id -> order, with a level index per working
    price: the levels at which a rising price (``up``) or a falling one (``down``) reaches a
    trigger, sorted by (level, id). A fixed trigger has one level, its trigger price. A
    trailing stop has the levels at which its state can change: before activation, its
    activation price; once active, the next price beyond its best (which moves the best) and
    its stop price (which fires it). Mutate only through ``add``, ``remove`` and ``retrack``."""

    __slots__ = ("_up", "_down", "_trailing_up", "_trailing_down", "_trailing_levels")

    def __init__(self) -> None:
        super().__init__()
        self._up: dict[WorkingType, SortedList] = {}
        self._down: dict[WorkingType, SortedList] = {}
        self._trailing_up: dict[WorkingType, SortedList] = {}
        self._trailing_down: dict[WorkingType, SortedList] = {}
        self._trailing_levels: dict[int, tuple[int | None, int | None]] = {}  # id -> (up level, down level) as indexed

    def add(self, trig: TriggerOrder) -> None:
        self[trig.trigger_id] = trig
        if trig.kind is _TRAILING:
            self._index_trailing(trig)
        else:
            side = self._up if trig.upward else self._down
            side.setdefault(trig.working_type, SortedList()).add((trig.trigger_price, trig.trigger_id))

    def remove(self, trig: TriggerOrder) -> None:
        del self[trig.trigger_id]
        if trig.kind is _TRAILING:
            self._unindex_trailing(trig)
        else:
            side = self._up if trig.upward else self._down
            side[trig.working_type].remove((trig.trigger_price, trig.trigger_id))

    def retrack(self, trig: TriggerOrder) -> None:
        """Re-index a pending trailing stop after its activation or best price changed."""
        self._unindex_trailing(trig)
        self._index_trailing(trig)

    def reachable(self, working: WorkingType, low: int, high: int) -> list[TriggerOrder]:
        """The triggers watching ``working`` that prices within [low, high] can move or fire:
        those with an up level at or below ``high`` or a down level at or above ``low``; each
        once, in no particular order."""
        found: list[TriggerOrder] = []
        up = self._up.get(working)
        if up:
            found += [self[tid] for _, tid in up.irange(maximum=(high, _MAX_ID))]
        down = self._down.get(working)
        if down:
            found += [self[tid] for _, tid in down.irange(minimum=(low, -1))]
        t_up = self._trailing_up.get(working)
        t_down = self._trailing_down.get(working)
        if t_up or t_down:
            ids = {tid for _, tid in t_up.irange(maximum=(high, _MAX_ID))} if t_up else set()
            if t_down:
                ids.update(tid for _, tid in t_down.irange(minimum=(low, -1)))
            found += [self[tid] for tid in ids]
        return found

    def _index_trailing(self, trig: TriggerOrder) -> None:
        up, down = _trailing_levels(trig)
        tid = trig.trigger_id
        if up is not None:
            self._trailing_up.setdefault(trig.working_type, SortedList()).add((up, tid))
        if down is not None:
            self._trailing_down.setdefault(trig.working_type, SortedList()).add((down, tid))
        self._trailing_levels[tid] = up, down

    def _unindex_trailing(self, trig: TriggerOrder) -> None:
        tid = trig.trigger_id
        up, down = self._trailing_levels.pop(tid)
        if up is not None:
            self._trailing_up[trig.working_type].remove((up, tid))
        if down is not None:
            self._trailing_down[trig.working_type].remove((down, tid))


def _trailing_levels(trig: TriggerOrder) -> tuple[int | None, int | None]:
    """(up level, down level) of a trailing stop: the prices from which a rise or a fall
    changes it (see ``TriggerOrder``); None where no price in that direction does."""
    if not trig.activated:
        if trig.is_buy:  # activates when the price falls to the activation price
            return None, trig.activation_price
        return trig.activation_price, None
    if trig.is_buy:  # best = lowest: a lower price moves it, a rise to the stop fires it
        return trig.stop_price(), trig.extreme - 1
    return trig.extreme + 1, trig.stop_price()  # best = highest: a higher price moves it, a fall to the stop fires it


_MAX_ID = 1 << 63
