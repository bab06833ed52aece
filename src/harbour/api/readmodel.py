"""The gateway's read model: a projection of the venue's event stream for queries.

The engine keeps what it needs to decide (resting orders, positions, balances); clients
also ask about the past: a filled or cancelled order, their fills, public trades, candles,
funding history. This module folds every event the engine emits, in order, into those
views. It is not engine state (not in the state hash, not in snapshots): a restart
rebuilds it by replaying the journal's commands through the engine (``service``).

Owns: order records (status, executed quantity, executed value) per account; trigger
(algo) order records; each account's fills; public trades; one-minute candles of trades,
mark and index; funding settlements; each book's last update id (the seq of the last
command that changed it). Bounded: closed orders, fills, trades, candles and funding rows
are kept up to fixed counts, oldest dropped first.

Runs only on the writer thread (``service``), like the engine: no locks.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Final, TypeVar

from harbour.api.hk_records import VenueRecords
from harbour.venue.commands import OrderType, PlaceOrder, PlaceTriggerOrder, Side, TimeInForce, TriggerKind
from harbour.venue.events import (
    AutoDeleveraged,
    FundingSettled,
    GainRealisedAtMark,
    IndexPublished,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    ReferencePriceSet,
    TradeExecuted,
    TriggerOrderAccepted,
    TriggerOrderCancelled,
    TriggerOrderTriggered,
)

NS_PER_MS: Final = 1_000_000
MS_PER_MINUTE: Final = 60_000
MAX_CLOSED_ORDERS_PER_ACCOUNT: Final = 2_000
MAX_FILLS_PER_ACCOUNT: Final = 5_000
MAX_PUBLIC_TRADES: Final = 2_000
MAX_MINUTES: Final = 3 * 24 * 60  # three days of one-minute candles per series
MAX_FUNDING_ROWS: Final = 1_000

# OrderCancelled reasons Binance reports as EXPIRED (the venue ended the order), the rest CANCELED
_EXPIRED_REASONS: Final = frozenset(
    {"IOC_REMAINDER", "MARKET_COLLAR", "STP_MAKER", "STP_TAKER", "REDUCE_ONLY_CLIPPED", "COLLATERAL_SHORTFALL", "FOK_NOT_FILLABLE"}
)
# the order type a fired trigger places, in Binance's names
_TRIGGER_ORDER_TYPE: Final = {
    TriggerKind.STOP_MARKET: "STOP_MARKET",
    TriggerKind.STOP_LIMIT: "STOP",
    TriggerKind.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    TriggerKind.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
    TriggerKind.TRAILING_STOP_MARKET: "TRAILING_STOP_MARKET",
}


def binance_tif(tif: TimeInForce) -> str:
    return "GTX" if tif is TimeInForce.POST_ONLY else tif.value


@dataclass(slots=True, kw_only=True)
class OrderRecord:
    order_id: int
    account: int
    symbol: str
    side: str
    type: str  # LIMIT, MARKET, STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET
    tif: str
    price: int  # limit price in price units; 0 for market orders
    orig_qty: int
    executed_qty: int = 0
    executed_value: int = 0  # sum of price x qty (price units x quantity units)
    status: str = "NEW"
    client_order_id: str = ""
    reduce_only: bool = False
    stop_price: int = 0
    working_type: str = "CONTRACT_PRICE"
    close_position: bool = False
    time_ms: int = 0
    update_ms: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(slots=True, kw_only=True)
class TriggerRecord:
    trigger_id: int
    account: int
    symbol: str
    side: str
    kind: TriggerKind
    working_type: str
    qty: int
    trigger_price: int
    price: int
    tif: str
    reduce_only: bool
    close_position: bool
    callback_bps: int
    activation_price: int
    client_order_id: str
    status: str = "NEW"  # NEW, CANCELED, TRIGGERED, FINISHED, REJECTED
    order_id: int = 0
    create_ms: int = 0
    update_ms: int = 0
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class Fill:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: int
    qty: int
    fee: int  # settlement micro-units; negative is a rebate
    realised_pnl: int  # settlement micro-units
    maker: bool
    time_ms: int


@dataclass(slots=True, kw_only=True)
class PublicTrade:
    trade_id: int
    price: int
    qty: int
    buyer_is_maker: bool
    time_ms: int


_R = TypeVar("_R", OrderRecord, TriggerRecord)


def _by_id_or_client_id(mine: dict[int, _R] | None, record_id: int, client_order_id: str) -> _R | None:
    """One account's record by id, or else the latest with this client order id."""
    if not mine:
        return None
    if record_id:
        return mine.get(record_id)
    for rec in reversed(mine.values()):
        if rec.client_order_id == client_order_id:
            return rec
    return None


def expired_order(seq: int, ms: int, account: int, command: PlaceOrder) -> OrderRecord:
    """The record of a fill-or-kill order refused as not fillable (answered as EXPIRED, id = seq)."""
    return OrderRecord(
        order_id=seq,
        account=account,
        symbol=command.instrument,
        side=command.side.value,
        type=command.order_type.value,
        tif=binance_tif(command.tif),
        price=command.price,
        orig_qty=command.qty,
        status="EXPIRED",
        client_order_id=command.client_order_id,
        reduce_only=command.reduce_only,
        time_ms=ms,
        update_ms=ms,
    )


@dataclass(slots=True)
class Candle:
    open: int
    high: int
    low: int
    close: int
    volume: int = 0  # quantity units
    value: int = 0  # price x qty units
    count: int = 0
    first_id: int = 0  # the first and last trade in the candle (0: none)
    last_id: int = 0

    def add(self, price: int, qty: int, trade_id: int = 0) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.value += price * qty
        self.count += 1
        if trade_id:
            if not self.first_id:
                self.first_id = trade_id
            self.last_id = trade_id


@dataclass(slots=True)
class Series:
    """One-minute candles by minute start (ms), oldest first, bounded."""

    minutes: OrderedDict[int, Candle] = field(default_factory=OrderedDict)

    def add(self, ts_ms: int, price: int, qty: int, trade_id: int = 0) -> None:
        start = ts_ms - ts_ms % MS_PER_MINUTE
        candle = self.minutes.get(start)
        if candle is None:
            candle = self.minutes[start] = Candle(price, price, price, price)
            while len(self.minutes) > MAX_MINUTES:
                self.minutes.popitem(last=False)
            if qty:
                candle.volume, candle.value, candle.count = qty, price * qty, 1
                candle.first_id = candle.last_id = trade_id
            return
        if qty:
            candle.add(price, qty, trade_id)
        else:
            candle.high = price if price > candle.high else candle.high
            candle.low = price if price < candle.low else candle.low
            candle.close = price


@dataclass(slots=True, kw_only=True)
class FundingRow:
    symbol: str
    rate_e8: int
    mark_price: int
    interval_ns: int
    time_ms: int


class ReadModel:
    """Every view the REST queries need, folded from the events in emission order."""

    def __init__(self) -> None:
        self.orders: dict[int, OrderRecord] = {}
        self.account_orders: dict[int, OrderedDict[int, OrderRecord]] = {}
        self.closed_per_account: dict[int, deque[int]] = {}
        self.triggers: dict[int, TriggerRecord] = {}
        self.account_triggers: dict[int, OrderedDict[int, TriggerRecord]] = {}
        self.fills: dict[int, deque[Fill]] = {}
        self.trades: dict[str, deque[PublicTrade]] = {}
        self.candles: dict[tuple[str, str], Series] = {}  # (kind: trade|mark|index, symbol)
        self.funding: dict[str, deque[FundingRow]] = {}
        # per book, the seq of the last command that changed one of its levels: written only by the
        # stream source (api.streams), which sees the levels; REST lastUpdateId reads it here
        self.book_update: dict[str, int] = {}
        self.last_index: dict[str, int] = {}
        self.account_update_ms: dict[int, int] = {}
        self.hk = VenueRecords()  # what the /hk/v1 endpoints read (api.hk)

    # --- folding ------------------------------------------------------------------------

    def observe(self, seq: int, ts_ns: int, command: object, events: list[object]) -> None:
        ms = ts_ns // NS_PER_MS
        self.hk.observe(seq, ts_ns, command, events)
        for event in events:
            kind = type(event)
            if kind is TradeExecuted:
                self._trade(event, ms)  # type: ignore[arg-type]
            elif kind is OrderAccepted:
                self._accepted(event, command, ms)  # type: ignore[arg-type]
            elif kind is OrderCancelled:
                self._cancelled(event, ms)  # type: ignore[arg-type]
            elif kind is OrderAmended:
                self._amended(event, ms)  # type: ignore[arg-type]
            elif kind is ReferencePriceSet:
                self._series("mark", event.instrument).add(ms, event.price, 0)  # type: ignore[attr-defined]
            elif kind is IndexPublished:
                value = event.print.value  # type: ignore[attr-defined]
                if value is not None and value > 0:
                    self.last_index[event.instrument] = value  # type: ignore[attr-defined]
                    self._series("index", event.instrument).add(ms, value, 0)  # type: ignore[attr-defined]
            elif kind is FundingSettled:
                self._funding(event, ms)  # type: ignore[arg-type]
            elif kind is TriggerOrderAccepted:
                self._trigger_accepted(event, ms)  # type: ignore[arg-type]
            elif kind is TriggerOrderTriggered:
                self._trigger_fired(event, ms)  # type: ignore[arg-type]
            elif kind is TriggerOrderCancelled:
                self._trigger_cancelled(event, ms)  # type: ignore[arg-type]
            elif kind is AutoDeleveraged:
                self._deleveraged(event, ms)  # type: ignore[arg-type]
            elif kind is GainRealisedAtMark:
                self.account_update_ms[event.account] = ms  # type: ignore[attr-defined]

    def record_expired(self, seq: int, ts_ns: int, account: int, command: PlaceOrder) -> OrderRecord:
        """A fill-or-kill order the engine refused as not fillable: Binance answers it as EXPIRED."""
        rec = expired_order(seq, ts_ns // NS_PER_MS, account, command)
        self._add_order(rec)
        self._close(rec)
        return rec

    def _series(self, kind: str, symbol: str) -> Series:
        s = self.candles.get((kind, symbol))
        if s is None:
            s = self.candles[(kind, symbol)] = Series()
        return s

    def _add_order(self, rec: OrderRecord) -> None:
        self.orders[rec.order_id] = rec
        mine = self.account_orders.get(rec.account)
        if mine is None:
            mine = self.account_orders[rec.account] = OrderedDict()
        mine[rec.order_id] = rec
        self.account_update_ms[rec.account] = rec.update_ms

    def _close(self, rec: OrderRecord) -> None:
        closed = self.closed_per_account.get(rec.account)
        if closed is None:
            closed = self.closed_per_account[rec.account] = deque()
        closed.append(rec.order_id)
        while len(closed) > MAX_CLOSED_ORDERS_PER_ACCOUNT:
            old = closed.popleft()
            self.orders.pop(old, None)
            self.account_orders[rec.account].pop(old, None)

    def _accepted(self, e: OrderAccepted, command: object, ms: int) -> None:
        order_type, stop, working, close = "LIMIT", 0, "CONTRACT_PRICE", False
        trig = self.triggers.get(e.order_id)
        if trig is not None:
            order_type = _TRIGGER_ORDER_TYPE[trig.kind]
            stop, working, close = trig.trigger_price, trig.working_type, trig.close_position
        elif isinstance(command, PlaceOrder) and command.order_type is OrderType.MARKET:
            order_type = "MARKET"
        is_market = order_type in ("MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
        rec = OrderRecord(
            order_id=e.order_id,
            account=e.account,
            symbol=e.instrument,
            side=e.side.value,
            type=order_type,
            tif="GTC" if order_type == "MARKET" else binance_tif(e.tif),
            price=0 if is_market else e.price,
            orig_qty=e.qty,
            client_order_id=e.client_order_id,
            reduce_only=e.reduce_only,
            stop_price=stop,
            working_type=working,
            close_position=close,
            time_ms=ms,
            update_ms=ms,
        )
        self._add_order(rec)

    def _trade(self, t: TradeExecuted, ms: int) -> None:
        sym = t.instrument
        taker_buys = t.taker_side is Side.BUY
        for order_id in (t.maker_order_id, t.taker_order_id):
            rec = self.orders.get(order_id)
            if rec is None or not rec.is_open:
                continue
            rec.executed_qty += t.qty
            rec.executed_value += t.price * t.qty
            rec.status = "FILLED" if rec.executed_qty >= rec.orig_qty else "PARTIALLY_FILLED"
            rec.update_ms = ms
            if rec.status == "FILLED":
                self._close(rec)
        for account, order_id, buys, fee, pnl, maker in (
            (t.maker_account, t.maker_order_id, not taker_buys, t.maker_fee, t.maker_realised_pnl, True),
            (t.taker_account, t.taker_order_id, taker_buys, t.taker_fee, t.taker_realised_pnl, False),
        ):
            self._fill(
                account,
                Fill(
                    trade_id=t.trade_id,
                    order_id=order_id,
                    symbol=sym,
                    side="BUY" if buys else "SELL",
                    price=t.price,
                    qty=t.qty,
                    fee=fee,
                    realised_pnl=pnl,
                    maker=maker,
                    time_ms=ms,
                ),
            )
        trades = self.trades.get(sym)
        if trades is None:
            trades = self.trades[sym] = deque(maxlen=MAX_PUBLIC_TRADES)
        trades.append(PublicTrade(trade_id=t.trade_id, price=t.price, qty=t.qty, buyer_is_maker=not taker_buys, time_ms=ms))
        self._series("trade", sym).add(ms, t.price, t.qty, t.trade_id)

    def _fill(self, account: int, fill: Fill) -> None:
        fills = self.fills.get(account)
        if fills is None:
            fills = self.fills[account] = deque(maxlen=MAX_FILLS_PER_ACCOUNT)
        fills.append(fill)
        self.account_update_ms[account] = fill.time_ms

    def _deleveraged(self, a: AutoDeleveraged, ms: int) -> None:
        """An ADL trade is a fill of both accounts (no fee; orderId 0: no order of theirs),
        like a liquidation's own fills; it is not a public trade (it never met the book)."""
        counterparty_buys = a.counterparty_side is Side.BUY
        for account, buys, pnl in (
            (a.account, not counterparty_buys, a.account_realised_pnl),
            (a.counterparty, counterparty_buys, a.counterparty_realised_pnl),
        ):
            side = "BUY" if buys else "SELL"
            self._fill(account, Fill(trade_id=a.trade_id, order_id=0, symbol=a.instrument, side=side, price=a.price, qty=a.qty, fee=0, realised_pnl=pnl, maker=False, time_ms=ms))

    def _cancelled(self, e: OrderCancelled, ms: int) -> None:
        rec = self.orders.get(e.order_id)
        if rec is None or not rec.is_open:
            return
        rec.status = "EXPIRED" if e.reason in _EXPIRED_REASONS else "CANCELED"
        rec.update_ms = ms
        self._close(rec)

    def _amended(self, e: OrderAmended, ms: int) -> None:
        rec = self.orders.get(e.order_id)
        if rec is None:
            return
        rec.price = e.new_price
        rec.orig_qty = rec.executed_qty + e.new_qty
        rec.update_ms = ms

    def _funding(self, f: FundingSettled, ms: int) -> None:
        rows = self.funding.get(f.instrument)
        if rows is None:
            rows = self.funding[f.instrument] = deque(maxlen=MAX_FUNDING_ROWS)
        rows.append(FundingRow(symbol=f.instrument, rate_e8=f.rate_e8, mark_price=f.mark_price, interval_ns=f.interval_ns, time_ms=ms))
        for account, _qty, _payment in f.accounts:
            self.account_update_ms[account] = ms

    def _trigger_accepted(self, e: TriggerOrderAccepted, ms: int) -> None:
        rec = TriggerRecord(
            trigger_id=e.trigger_id,
            account=e.account,
            symbol=e.instrument,
            side=e.side.value,
            kind=e.kind,
            working_type="MARK_PRICE" if e.working_type.value == "MARK" else "CONTRACT_PRICE",
            qty=e.qty,
            trigger_price=e.trigger_price,
            price=e.price,
            tif=binance_tif(e.tif),
            reduce_only=e.reduce_only,
            close_position=e.close_position,
            callback_bps=e.callback_bps,
            activation_price=e.activation_price,
            client_order_id=e.client_order_id,
            create_ms=ms,
            update_ms=ms,
        )
        self.triggers[e.trigger_id] = rec
        mine = self.account_triggers.get(e.account)
        if mine is None:
            mine = self.account_triggers[e.account] = OrderedDict()
        mine[e.trigger_id] = rec

    def _trigger_fired(self, e: TriggerOrderTriggered, ms: int) -> None:
        rec = self.triggers.get(e.trigger_id)
        if rec is not None:
            rec.status = "TRIGGERED"
            rec.order_id = e.order_id
            rec.update_ms = ms

    def _trigger_cancelled(self, e: TriggerOrderCancelled, ms: int) -> None:
        rec = self.triggers.get(e.trigger_id)
        if rec is not None:
            rec.status = "CANCELED" if e.reason in ("USER", "CANCEL_ALL") else "REJECTED"
            rec.reason = e.reason
            rec.update_ms = ms

    # --- queries ------------------------------------------------------------------------

    def open_orders(self, account: int, symbol: str = "") -> list[OrderRecord]:
        mine = self.account_orders.get(account)
        if not mine:
            return []
        return [r for r in mine.values() if r.is_open and (not symbol or r.symbol == symbol)]

    def order(self, account: int, symbol: str, order_id: int = 0, client_order_id: str = "") -> OrderRecord | None:
        """The account's order by id or client id (an order of another account is not found)."""
        rec = _by_id_or_client_id(self.account_orders.get(account), order_id, client_order_id)
        return rec if rec is not None and rec.symbol == symbol else None

    def trigger(self, account: int, symbol: str, trigger_id: int = 0, client_order_id: str = "") -> TriggerRecord | None:
        rec = _by_id_or_client_id(self.account_triggers.get(account), trigger_id, client_order_id)
        return rec if rec is not None and (not symbol or rec.symbol == symbol) else None

    def open_triggers(self, account: int, symbol: str = "") -> list[TriggerRecord]:
        mine = self.account_triggers.get(account)
        if not mine:
            return []
        return [r for r in mine.values() if r.status == "NEW" and (not symbol or r.symbol == symbol)]

    def trigger_command_kind(self, command: PlaceTriggerOrder) -> str:
        return _TRIGGER_ORDER_TYPE[command.kind]
