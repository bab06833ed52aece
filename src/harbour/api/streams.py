"""Market and user-data streams, writer side: what each command changed, gathered on the writer
thread and handed out once the batch holding it is durable.

``StreamSource`` (one per ``VenueService``) is a subscriber of the single writer. After every
command it reads the events (and, for the book, the engine's price levels those events
touched) and gathers, for the current batch:

* depth changes per book: the new total quantity of each level that changed (0: the level is
  gone), and the first and last update id. The update id of a book is the seq of the last
  command that changed one of its levels; the source is the only writer of it (into
  ``ReadModel.book_update``, where REST reads it), so the REST snapshot's ``lastUpdateId`` and
  the streams' ``U``/``u``/``pu`` are the same numbers by construction;
* public frames (trades, book ticker, partial depth, liquidations) for the streams someone
  listens to;
* user-data frames (order, trade, conditional order, account and position updates) for the
  accounts with an open user-data stream, each frame keyed by the one account it is about.

After the batch's group commit (``VenueService.after_commit``) it hands one ``Published`` to
every sink (``ws.StreamHub``, one per gateway) and forgets it. A sink only schedules the
delivery on its own event loop: the writer never waits for a socket.

Pure formatting of the Binance shapes lives here too (``market_frames``), for the streams the
hub polls at a fixed cadence (mark price, tickers, klines): those run as writer jobs.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final, Protocol

import msgspec

from harbour.api import views
from harbour.api.numbers import ratio, units
from harbour.api.readmodel import NS_PER_MS, OrderRecord, ReadModel, TriggerRecord, expired_order
from harbour.api.service import VenueService, WriterContext
from harbour.venue.book import BookSide
from harbour.venue.commands import PlaceOrder, Side
from harbour.venue.events import (
    AutoDeleveraged,
    FundingSettled,
    LeverageSet,
    LiquidationStepped,
    MarginModeSet,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    Rejected,
    TradeExecuted,
    TransferPosted,
    TriggerOrderAccepted,
    TriggerOrderCancelled,
    TriggerOrderTriggered,
)
from harbour.venue.instruments import Instrument
from harbour.venue.margin import unrealised_pnl
from harbour.venue.state import VenueState, isolated_account

_log = logging.getLogger(__name__)

PARTIAL_DEPTHS: Final = (5, 10, 20)
_EXPIRED_REASONS: Final = frozenset(
    {"IOC_REMAINDER", "MARKET_COLLAR", "STP_MAKER", "STP_TAKER", "REDUCE_ONLY_CLIPPED", "COLLATERAL_SHORTFALL", "FOK_NOT_FILLABLE"}
)
_encode = msgspec.json.Encoder().encode


def text(body: Any) -> str:
    """A frame as the JSON text sent on the socket."""
    return _encode(body).decode()


@dataclass(frozen=True, slots=True)
class DepthChange:
    """The levels of one book that changed in one batch: price -> new total quantity (0: gone)."""

    symbol: str
    first: int  # U: the update id of the first change in the batch
    last: int  # u: the update id of the last change
    ts_ms: int
    price_decimals: int
    qty_decimals: int
    bids: dict[int, int]
    asks: dict[int, int]


@dataclass(frozen=True, slots=True)
class Published:
    """What one durable batch changed, for the sinks. Not mutated once handed out."""

    depth: tuple[DepthChange, ...]
    public: tuple[tuple[str, str], ...]  # (stream key, frame text)
    private: tuple[tuple[int, str], ...]  # (account, frame text)


class Sink(Protocol):
    """A consumer of published batches (``ws.StreamHub``); called on the writer thread."""

    wanted: frozenset[str]  # public stream keys it has listeners for
    accounts: frozenset[int]  # accounts with an open user-data stream

    def deliver(self, published: Published) -> bool:
        """Schedule delivery (never block); False: the sink is gone, forget it."""
        ...


@dataclass(slots=True)
class _Touch:
    """An account's balances and positions touched in the batch (for ACCOUNT_UPDATE)."""

    assets: set[str] = field(default_factory=set)
    symbols: set[str] = field(default_factory=set)
    reason: str = ""
    ms: int = 0
    changes: dict[str, int] = field(default_factory=dict)  # asset -> "bc": wallet change other than PnL and fees


_TRANSFER_REASONS: Final = {
    "FUNDING": "FUNDING_FEE",
    "TRADE_SETTLEMENT": "ORDER",
    "LIQUIDATION_FEE": "ORDER",
    "AUTO_DELEVERAGING": "ADL",
    "DEPOSIT": "DEPOSIT",
    "WITHDRAWAL": "WITHDRAW",
    "ISOLATED_MARGIN": "MARGIN_TRANSFER",
}
# Binance's "bc" is the balance change except PnL and commission: trade settlement (realised PnL
# and fees), liquidation fees and auto-deleveraging are not in it; deposits, withdrawals, margin
# moved to or from an isolated position and funding payments are.
_PNL_OR_COMMISSION: Final = frozenset({"TRADE_SETTLEMENT", "LIQUIDATION_FEE", "AUTO_DELEVERAGING"})


def _level_qty(side: BookSide, price: int) -> int:
    level = side.levels.get(price)
    if level is None:
        return 0
    qty = 0
    for order in level.clients.values():
        qty += order.qty
    for order in level.mms.values():
        qty += order.qty
    return qty


def book_levels(side: BookSide) -> dict[int, int]:
    """Every level of a book side as price -> total quantity."""
    return {price: _level_qty(side, price) for price in side.levels}


class StreamSource:
    """The writer-side half of the streams for one venue service (see the module docstring)."""

    def __init__(self, service: VenueService) -> None:
        self._service = service
        self._sinks: list[Sink] = []  # changed on the writer thread only
        self.wanted: frozenset[str] = frozenset()  # union over sinks; replaced whole, read by the writer
        self.accounts: frozenset[int] = frozenset()
        self._bids: dict[str, dict[int, int]] = {}  # the books as last published: price -> qty
        self._asks: dict[str, dict[int, int]] = {}
        self._last_u: dict[str, int] = {}
        self._published_u: dict[str, int] = {}  # u of the last batch that changed the book (partial depth pu)
        self._depth: dict[str, list[Any]] = {}  # symbol -> [first, last, ts_ms, bids, asks] for this batch
        self._public: list[tuple[str, str]] = []
        self._private: list[tuple[int, str]] = []
        self._touched: dict[int, _Touch] = {}
        self._tops: dict[str, tuple[int | None, int, int | None, int]] = {}
        self._resync: set[str] = set()  # books to re-derive at the flush (after a failure)
        self._seen = (0, 0)  # (seq, ms) of the last command observed
        self.attached = False

    # --- wiring (writer jobs) -----------------------------------------------------------------

    def attach(self, ctx: WriterContext) -> None:
        """Take the books as they stand and subscribe to every later command (a writer job)."""
        if self.attached:
            return
        state, reads = ctx.state, ctx.reads
        for sym in state.books:
            self._take_book(state, reads, sym, ctx.last_seq)
        self._service.subscribe(self.on_command)
        self._service.after_commit(self.flush)
        self.attached = True

    def add_sink(self, ctx: WriterContext, sink: Sink) -> dict[str, int]:
        """Register ``sink`` (a writer job); returns each book's update id as of now."""
        self.attach(ctx)
        self._sinks.append(sink)
        self.refresh()
        return {sym: self._last_u.get(sym, 0) for sym in ctx.state.books}

    def refresh(self) -> None:
        """Recompute what someone listens to (any thread: the sets are replaced whole)."""
        sinks = tuple(self._sinks)
        wanted: set[str] = set()
        accounts: set[int] = set()
        for sink in sinks:
            wanted |= sink.wanted
            accounts |= sink.accounts
        self.wanted = frozenset(wanted)
        self.accounts = frozenset(accounts)

    def _take_book(self, state: VenueState, reads: ReadModel, sym: str, seq: int) -> None:
        """Start from the book as it stands: its update id is then the last seq (every change so far
        is in it). The source is attached when the first gateway is built, before any request, and
        after a ``--resume`` replay, so no lastUpdateId was reported before: none goes backwards."""
        book = state.books[sym]
        self._bids[sym] = book_levels(book.bids)
        self._asks[sym] = book_levels(book.asks)
        last = seq
        self._last_u[sym] = last
        self._published_u[sym] = last
        reads.book_update[sym] = last

    # --- per command (writer thread) -----------------------------------------------------------

    def on_command(self, seq: int, ts_ns: int, command: Any, events: list[Any]) -> None:
        try:
            self._observe(seq, ts_ns, command, events)
        except Exception:  # never fail the writer's job; re-derive the books at the flush instead
            _log.exception("stream source failed on seq %s", seq)
            self._resync.update(self._bids)

    def _observe(self, seq: int, ts_ns: int, command: Any, events: list[Any]) -> None:
        reads = self._service.reads
        state = self._service.engine.state
        ms = ts_ns // NS_PER_MS
        accounts = self.accounts
        wanted = self.wanted
        levels: list[tuple[str, int, int]] = []  # (symbol, 0 bids | 1 asks | 2 both, price)
        fills: dict[int, list[int]] | None = None  # order id -> [qty, value] before this command's trades
        unknown: set[str] = set()  # books with a cancel of an order the read model no longer holds
        self._seen = (seq, ts_ns // NS_PER_MS)
        for ev in events:
            kind = type(ev)
            if kind is TradeExecuted:
                levels.append((ev.instrument, 1 if ev.taker_side is Side.BUY else 0, ev.price))
                if wanted:
                    self._public_trade(ev, ms, wanted, state)
                if ev.maker_account in accounts or ev.taker_account in accounts:
                    if fills is None:
                        fills = _fills_before(events, reads)
                    self._private_trade(ev, ms, accounts, fills, reads, state)
                self._touch(ev.maker_account, ms, "ORDER", symbol=ev.instrument)
                self._touch(ev.taker_account, ms, "ORDER", symbol=ev.instrument)
            elif kind is OrderAccepted:
                levels.append((ev.instrument, 0 if ev.side is Side.BUY else 1, ev.price))
                if ev.account in accounts:
                    rec = reads.orders.get(ev.order_id)
                    if rec is not None:
                        self._private.append((ev.account, text(order_update(rec, state.instruments[rec.symbol], "NEW", "NEW", ms))))
            elif kind is OrderCancelled:
                rec = reads.orders.get(ev.order_id)
                if rec is None:
                    unknown.add(ev.instrument)
                    continue
                levels.append((ev.instrument, 0 if rec.side == "BUY" else 1, rec.price))
                if ev.account in accounts:
                    status = "EXPIRED" if ev.reason in _EXPIRED_REASONS else "CANCELED"
                    body = order_update(rec, state.instruments[rec.symbol], status, status, ms)
                    self._private.append((ev.account, text(body)))
            elif kind is OrderAmended:
                levels.append((ev.instrument, 2, ev.old_price))
                levels.append((ev.instrument, 2, ev.new_price))
                if ev.account in accounts:
                    rec = reads.orders.get(ev.order_id)
                    if rec is not None:
                        body = order_update(rec, state.instruments[rec.symbol], "AMENDMENT", rec.status, ms)
                        self._private.append((ev.account, text(body)))
            elif kind is TransferPosted:
                self._transfer(ev, ms)
            elif kind is TriggerOrderAccepted or kind is TriggerOrderTriggered or kind is TriggerOrderCancelled:
                if ev.account in accounts:
                    trig = reads.triggers.get(ev.trigger_id)
                    if trig is not None:
                        status = "NEW" if kind is TriggerOrderAccepted else "TRIGGERED" if kind is TriggerOrderTriggered else trig.status
                        self._private.append((ev.account, text(algo_update(trig, state.instruments[trig.symbol], status, ms))))
            elif kind is FundingSettled:
                for account, _qty, _payment in ev.accounts:
                    self._touch(account, ms, "FUNDING_FEE", symbol=ev.instrument)
            elif kind is LiquidationStepped:
                self._touch(ev.account, ms, "ORDER", symbol=ev.instrument)
                if wanted:
                    self._force_order(ev, ms, wanted, state)
            elif kind is AutoDeleveraged:
                self._touch(ev.account, ms, "ADL", symbol=ev.instrument)
                self._touch(ev.counterparty, ms, "ADL", symbol=ev.instrument)
            elif kind is MarginModeSet:
                self._touch(ev.account, ms, "MARGIN_TYPE_CHANGE", symbol=ev.instrument)
            elif kind is LeverageSet:
                if ev.account in accounts:
                    body = {"e": "ACCOUNT_CONFIG_UPDATE", "E": ms, "T": ms, "ac": {"s": ev.instrument, "l": ev.new}}
                    self._private.append((ev.account, text(body)))
            elif kind is Rejected:
                if ev.reason == "FOK_NOT_FILLABLE" and isinstance(command, PlaceOrder) and command.account in accounts:
                    inst = state.instruments.get(command.instrument)
                    if inst is not None:
                        rec = expired_order(seq, ms, command.account, command)
                        self._private.append((command.account, text(order_update(rec, inst, "EXPIRED", "EXPIRED", ms))))
        if levels:
            self._levels(seq, ms, levels, state, reads)
        for sym in unknown:
            self._full_compare(sym, seq, ms, state)

    def _levels(self, seq: int, ms: int, levels: list[tuple[str, int, int]], state: VenueState, reads: ReadModel) -> None:
        symbols: set[str] = set()
        for sym, which, price in levels:
            symbols.add(sym)
            book = state.books.get(sym)
            if book is None:
                continue
            if sym not in self._bids:  # listed after attach: its book started empty
                self._bids[sym], self._asks[sym] = {}, {}
            if which != 1:
                self._level(sym, seq, ms, True, price, _level_qty(book.bids, price))
            if which != 0:
                self._level(sym, seq, ms, False, price, _level_qty(book.asks, price))
        book_update = reads.book_update
        last_u = self._last_u
        for sym in symbols:
            book_update[sym] = last_u.get(sym, 0)

    def _level(self, sym: str, seq: int, ms: int, bid: bool, price: int, qty: int) -> None:
        mirror = self._bids[sym] if bid else self._asks[sym]
        if mirror.get(price, 0) == qty:
            return
        if qty:
            mirror[price] = qty
        else:
            mirror.pop(price, None)
        pending = self._depth.get(sym)
        if pending is None:
            pending = self._depth[sym] = [seq, seq, ms, {}, {}]
        pending[1] = seq
        pending[2] = ms
        pending[3 if bid else 4][price] = qty
        self._last_u[sym] = seq

    def _touch(self, account: int, ms: int, reason: str, *, symbol: str = "", asset: str = "", change: int = 0) -> None:
        if account not in self.accounts:
            return
        t = self._touched.get(account)
        if t is None:
            t = self._touched[account] = _Touch()
        if symbol:
            t.symbols.add(symbol)
        if asset:
            t.assets.add(asset)
            if change:
                t.changes[asset] = t.changes.get(asset, 0) + change
        if not t.reason or t.reason == "ORDER":
            t.reason = reason
        t.ms = ms

    def _transfer(self, ev: TransferPosted, ms: int) -> None:
        reason = _TRANSFER_REASONS.get(ev.kind, "ADJUSTMENT")
        counted = ev.kind not in _PNL_OR_COMMISSION
        for ledger_account, asset, amount in ev.postings:
            if isinstance(ledger_account, int):
                self._touch(ledger_account, ms, reason, asset=asset, change=amount if counted else 0)
            elif ledger_account.startswith("ISO:"):
                _, account, symbol = ledger_account.split(":", 2)
                if account.isdigit():
                    self._touch(int(account), ms, reason, symbol=symbol, asset=asset)

    def _public_trade(self, t: TradeExecuted, ms: int, wanted: frozenset[str], state: VenueState) -> None:
        sym = t.instrument
        trade_key, agg_key = sym + "@trade", sym + "@aggTrade"
        if trade_key not in wanted and agg_key not in wanted:
            return
        inst = state.instruments[sym]
        price, qty = units(t.price, inst.price_decimals), units(t.qty, inst.qty_decimals)
        buyer_is_maker = t.taker_side is Side.SELL
        if trade_key in wanted:
            body = {"e": "trade", "E": ms, "T": ms, "s": sym, "t": t.trade_id, "p": price, "q": qty, "X": "MARKET", "m": buyer_is_maker}
            self._public.append((trade_key, text(body)))
        if agg_key in wanted:
            body = {"e": "aggTrade", "E": ms, "a": t.trade_id, "s": sym, "p": price, "q": qty, "f": t.trade_id, "l": t.trade_id, "T": ms, "m": buyer_is_maker}
            self._public.append((agg_key, text(body)))

    def _private_trade(
        self, t: TradeExecuted, ms: int, accounts: frozenset[int], fills: dict[int, list[int]], reads: ReadModel, state: VenueState
    ) -> None:
        inst = state.instruments[t.instrument]
        for account, order_id, fee, pnl, maker in (
            (t.maker_account, t.maker_order_id, t.maker_fee, t.maker_realised_pnl, True),
            (t.taker_account, t.taker_order_id, t.taker_fee, t.taker_realised_pnl, False),
        ):
            done = fills.get(order_id)
            if done is None:
                continue
            done[0] += t.qty
            done[1] += t.price * t.qty
            if account not in accounts:
                continue
            rec = reads.orders.get(order_id)
            if rec is None:
                continue
            status = "FILLED" if done[0] >= rec.orig_qty else "PARTIALLY_FILLED"
            body = order_update(
                rec, inst, "TRADE", status, ms, last_qty=t.qty, last_price=t.price, cum_qty=done[0], cum_value=done[1],
                trade_id=t.trade_id, fee=fee, maker=maker, realised=pnl,
            )
            self._private.append((account, text(body)))

    def _force_order(self, ev: LiquidationStepped, ms: int, wanted: frozenset[str], state: VenueState) -> None:
        sym = ev.instrument
        keys = [k for k in (sym + "@forceOrder", "!forceOrder@arr") if k in wanted]
        if not keys or not ev.book_qty:
            return
        inst = state.instruments[sym]
        pd, qd = inst.price_decimals, inst.qty_decimals
        qty = units(ev.book_qty, qd)
        price = units(ev.bankruptcy_price, pd)
        body = text(
            {
                "e": "forceOrder",
                "E": ms,
                "o": {"s": sym, "S": ev.side.value, "o": "LIMIT", "f": "IOC", "q": qty, "p": price, "ap": price, "X": "FILLED", "l": qty, "z": qty, "T": ms},
            }
        )
        for key in keys:
            self._public.append((key, body))

    # --- after the group commit (writer thread) ------------------------------------------------

    def flush(self) -> None:
        """Publish what the batch gathered (its commands are durable now) and start afresh."""
        try:
            published = self._collect()
        except Exception:
            _log.exception("stream source failed to publish a batch")
            self._depth.clear()
            self._public.clear()
            self._private.clear()
            self._touched.clear()
            return
        if published is None:
            return
        dead = [sink for sink in self._sinks if not sink.deliver(published)]
        if dead:
            self._sinks = [s for s in self._sinks if s not in dead]
            self.refresh()

    def _collect(self) -> Published | None:
        state = self._service.engine.state
        if self._resync:
            seq, ms = self._seen
            for sym in sorted(self._resync):
                self._full_compare(sym, seq, ms, state)
            self._resync.clear()
        if not self._depth and not self._public and not self._private and not self._touched:
            return None
        wanted = self.wanted
        public = self._public
        depth: list[DepthChange] = []
        for sym, (first, last, ts_ms, bids, asks) in self._depth.items():
            inst = state.instruments[sym]
            depth.append(DepthChange(sym, first, last, ts_ms, inst.price_decimals, inst.qty_decimals, bids, asks))
            if wanted:
                self._book_ticker(sym, inst, last, ts_ms, wanted, state)
                self._partial_depth(sym, inst, first, last, ts_ms, wanted, state)
            self._published_u[sym] = last
        private = self._private
        for account, touch in self._touched.items():
            if account in self.accounts:
                update = account_update(state, account, touch.assets, touch.symbols, touch.reason, touch.ms, touch.changes)
                private.append((account, text(update)))
        published = Published(tuple(depth), tuple(public), tuple(private))
        self._depth = {}
        self._public = []
        self._private = []
        self._touched = {}
        return published

    def _full_compare(self, sym: str, seq: int, ms: int, state: VenueState) -> None:
        """Re-derive a book's changes from the engine's levels (an unknown cancel, or a failure)."""
        book = state.books.get(sym)
        if book is None:
            return
        for bid, side in ((True, book.bids), (False, book.asks)):
            mirror = (self._bids if bid else self._asks).setdefault(sym, {})
            now = book_levels(side)
            for price in set(mirror) | set(now):
                self._level(sym, seq, ms, bid, price, now.get(price, 0))
        self._service.reads.book_update[sym] = self._last_u.get(sym, 0)

    def _book_ticker(self, sym: str, inst: Instrument, u: int, ms: int, wanted: frozenset[str], state: VenueState) -> None:
        keys = [k for k in (sym + "@bookTicker", "!bookTicker") if k in wanted]
        if not keys:
            return
        book = state.books[sym]
        bid, ask = book.best_bid(), book.best_ask()
        top = (bid, self._bids[sym].get(bid, 0) if bid is not None else 0, ask, self._asks[sym].get(ask, 0) if ask is not None else 0)
        if self._tops.get(sym) == top:
            return
        self._tops[sym] = top
        pd, qd = inst.price_decimals, inst.qty_decimals
        body = text(
            {
                "e": "bookTicker",
                "u": u,
                "E": ms,
                "T": ms,
                "s": sym,
                "b": units(bid or 0, pd),
                "B": units(top[1], qd),
                "a": units(ask or 0, pd),
                "A": units(top[3], qd),
            }
        )
        for key in keys:
            self._public.append((key, body))

    def _partial_depth(self, sym: str, inst: Instrument, first: int, last: int, ms: int, wanted: frozenset[str], state: VenueState) -> None:
        book = state.books[sym]
        pu = self._published_u.get(sym, 0)
        for n in PARTIAL_DEPTHS:
            key = f"{sym}@depth{n}"
            if key not in wanted:
                continue
            pd, qd = inst.price_decimals, inst.qty_decimals
            bids, asks = self._bids[sym], self._asks[sym]
            body = {
                "e": "depthUpdate",
                "E": ms,
                "T": ms,
                "s": sym,
                "U": first,
                "u": last,
                "pu": pu,
                "b": [[units(p, pd), units(bids.get(p, 0), qd)] for p in islice(book.bids.prices_best_first(), n)],
                "a": [[units(p, pd), units(asks.get(p, 0), qd)] for p in islice(book.asks.prices_best_first(), n)],
            }
            self._public.append((key, text(body)))


def _fills_before(events: list[Any], reads: ReadModel) -> dict[int, list[int]]:
    """Each traded order's executed [qty, value] before this command (the read model holds after)."""
    after: dict[int, list[int]] = {}
    for ev in events:
        if type(ev) is TradeExecuted:
            for order_id in (ev.maker_order_id, ev.taker_order_id):
                if order_id not in after:
                    rec = reads.orders.get(order_id)
                    if rec is not None:
                        after[order_id] = [rec.executed_qty, rec.executed_value]
                done = after.get(order_id)
                if done is not None:
                    done[0] -= ev.qty
                    done[1] -= ev.price * ev.qty
    return after


# --- user-data frames ------------------------------------------------------------------------


def order_update(
    rec: OrderRecord,
    inst: Instrument,
    execution: str,
    status: str,
    ms: int,
    *,
    last_qty: int = 0,
    last_price: int = 0,
    cum_qty: int | None = None,
    cum_value: int | None = None,
    trade_id: int = 0,
    fee: int = 0,
    maker: bool = False,
    realised: int = 0,
) -> dict[str, Any]:
    """``ORDER_TRADE_UPDATE`` for one order of one account (no field names the counterparty)."""
    pd, qd = inst.price_decimals, inst.qty_decimals
    if execution == "NEW":
        cum_qty, cum_value = 0, 0
    qty = rec.executed_qty if cum_qty is None else cum_qty
    value = rec.executed_value if cum_value is None else cum_value
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": ms,
        "T": ms,
        "o": {
            "s": rec.symbol,
            "c": rec.client_order_id,
            "S": rec.side,
            "o": rec.type,
            "f": rec.tif,
            "q": units(rec.orig_qty, qd),
            "p": units(rec.price, pd),
            "ap": ratio(value, qty, pd) if qty else units(0, pd),
            "sp": units(rec.stop_price, pd),
            "x": execution,
            "X": status,
            "i": rec.order_id,
            "l": units(last_qty, qd),
            "z": units(qty, qd),
            "L": units(last_price, pd),
            "N": inst.settlement_asset,
            "n": views.money(fee),
            "T": ms,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": maker,
            "R": rec.reduce_only,
            "wt": rec.working_type,
            "ot": rec.type,
            "ps": "BOTH",
            "cp": rec.close_position,
            "rp": views.money(realised),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def algo_update(rec: TriggerRecord, inst: Instrument, status: str, ms: int) -> dict[str, Any]:
    """``ALGO_UPDATE`` for one conditional order of one account."""
    pd, qd = inst.price_decimals, inst.qty_decimals
    view = views.algo_order(rec, inst)
    return {
        "e": "ALGO_UPDATE",
        "T": ms,
        "E": ms,
        "o": {
            "caid": rec.client_order_id,
            "aid": rec.trigger_id,
            "at": "CONDITIONAL",
            "o": view["orderType"],
            "s": rec.symbol,
            "S": rec.side,
            "ps": "BOTH",
            "f": rec.tif,
            "q": units(rec.qty, qd),
            "X": status,
            "ai": str(rec.order_id) if rec.order_id else "",
            "tp": units(rec.trigger_price, pd),
            "p": units(rec.price, pd),
            "V": "EXPIRE_MAKER",
            "wt": rec.working_type,
            "pm": "NONE",
            "cp": rec.close_position,
            "pP": False,
            "R": rec.reduce_only,
            "tt": rec.update_ms if status == "TRIGGERED" else 0,
            "gtd": 0,
            "rm": rec.reason,
        },
    }


def account_update(
    state: VenueState, account: int, assets: Iterable[str], symbols: Iterable[str], reason: str, ms: int, changes: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """``ACCOUNT_UPDATE``: the touched balances and positions of one account, as they stand now;
    ``bc`` per asset is ``changes`` (the batch's wallet change other than PnL and fees)."""
    ledger = state.ledger
    acct = state.accounts.get(account)
    assets = set(assets)
    positions = []
    for sym in sorted(symbols):
        inst = state.instruments.get(sym)
        if inst is None:
            continue
        assets.add(inst.settlement_asset)
        pos = acct.positions.get(sym) if acct is not None else None
        qty = pos.qty if pos is not None else 0
        pd = inst.price_decimals
        iso = pos is not None and pos.isolated
        entry = ratio(pos.cost, qty, pd) if pos is not None and qty else units(0, pd)
        positions.append(
            {
                "s": sym,
                "pa": units(qty, inst.qty_decimals),
                "ep": entry,
                "bep": entry,
                "cr": views.money(pos.realised if pos is not None else 0),
                "up": views.money(unrealised_pnl(pos, inst) if pos is not None and qty else 0),
                "mt": "isolated" if iso else "cross",
                "iw": views.money(ledger.balance(isolated_account(account, sym), inst.settlement_asset) if iso else 0),
                "ps": "BOTH",
                "ma": inst.settlement_asset,
            }
        )
    balances = []
    for asset in sorted(assets):
        wallet = views.money(ledger.balance(account, asset))
        balances.append({"a": asset, "wb": wallet, "cw": wallet, "bc": views.money(changes.get(asset, 0) if changes else 0)})
    return {"e": "ACCOUNT_UPDATE", "E": ms, "T": ms, "a": {"m": reason or "ORDER", "B": balances, "P": positions}}


# --- polled market frames (writer jobs) --------------------------------------------------------


def mark_price_body(state: VenueState, reads: ReadModel, inst: Instrument, now_ns: int) -> dict[str, Any]:
    p = views.premium_index(state, reads, inst, now_ns, views.funding_interval_ns(state, inst.symbol))
    return {
        "e": "markPriceUpdate",
        "s": inst.symbol,
        "p": p["markPrice"],
        "i": p["indexPrice"],
        "P": p["estimatedSettlePrice"],
        "r": p["lastFundingRate"],
        "T": p["nextFundingTime"],
    }


def ticker_body(state: VenueState, reads: ReadModel, inst: Instrument, now_ms: int, mini: bool) -> dict[str, Any]:
    t = views.ticker_24h(state, reads, inst, now_ms)
    if mini:
        return {"e": "24hrMiniTicker", "s": inst.symbol, "c": t["lastPrice"], "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"]}
    return {
        "e": "24hrTicker",
        "s": inst.symbol,
        "p": t["priceChange"],
        "P": t["priceChangePercent"],
        "w": t["weightedAvgPrice"],
        "c": t["lastPrice"],
        "Q": t["lastQty"],
        "o": t["openPrice"],
        "h": t["highPrice"],
        "l": t["lowPrice"],
        "v": t["volume"],
        "q": t["quoteVolume"],
        "O": t["openTime"],
        "C": t["closeTime"],
        "F": t["firstId"],
        "L": t["lastId"],
        "n": t["count"],
    }


def kline_body(reads: ReadModel, inst: Instrument, interval: str, start_ms: int, now_ms: int) -> dict[str, Any] | None:
    """The ``interval`` candle of trades starting at ``start_ms`` (None: no trade in it)."""
    step = views.INTERVAL_MS[interval]
    series = reads.candles.get(("trade", inst.symbol))
    if series is None:
        return None
    o = h = lo = c = None
    volume = value = count = 0
    first_id = last_id = 0  # trade ids: the earliest candle's first, the latest candle's last
    for minute in reversed(series.minutes):
        if minute < start_ms:
            break
        if minute >= start_ms + step:
            continue
        candle = series.minutes[minute]
        if c is None:
            c = candle.close
            h, lo = candle.high, candle.low
        else:
            h = candle.high if h is None or candle.high > h else h
            lo = candle.low if lo is None or candle.low < lo else lo
        o = candle.open
        volume += candle.volume
        value += candle.value
        count += candle.count
        if candle.first_id:
            first_id = candle.first_id
            last_id = last_id or candle.last_id
    if o is None or c is None or h is None or lo is None:
        return None
    pd, qd = inst.price_decimals, inst.qty_decimals
    end = start_ms + step - 1
    return {
        "e": "kline",
        "s": inst.symbol,
        "k": {
            "t": start_ms,
            "T": end,
            "s": inst.symbol,
            "i": interval,
            "f": first_id,
            "L": last_id,
            "o": units(o, pd),
            "c": units(c, pd),
            "h": units(h, pd),
            "l": units(lo, pd),
            "v": units(volume, qd),
            "n": count,
            "x": now_ms > end,
            "q": views.money(value * inst.unit_value),
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }


def interval_start(now_ms: int, interval: str) -> int:
    step = views.INTERVAL_MS[interval]
    return now_ms - now_ms % step


def market_frames(ctx: WriterContext, keys: Iterable[str], kline_starts: dict[str, int]) -> list[tuple[str, Any]]:
    """Bodies (without ``E``) of the polled streams ``keys`` as of now (a writer job).

    A kline key whose interval moved on since ``kline_starts[key]`` also gets the closed
    candle of that earlier interval, first.
    """
    state, reads, now_ns = ctx.state, ctx.reads, ctx.now_ns
    now_ms = now_ns // NS_PER_MS
    out: list[tuple[str, Any]] = []
    insts = sorted(state.instruments.items())
    for key in keys:
        if key.startswith("!"):
            if key.startswith("!markPrice@arr"):
                out.append((key, [mark_price_body(state, reads, i, now_ns) for _, i in insts]))
            elif key == "!ticker@arr" or key == "!miniTicker@arr":
                out.append((key, [ticker_body(state, reads, i, now_ms, key == "!miniTicker@arr") for _, i in insts]))
            continue
        sym, _, channel = key.partition("@")
        inst = state.instruments.get(sym)
        if inst is None:
            continue
        if channel.startswith("markPrice"):
            out.append((key, mark_price_body(state, reads, inst, now_ns)))
        elif channel == "ticker" or channel == "miniTicker":
            out.append((key, ticker_body(state, reads, inst, now_ms, channel == "miniTicker")))
        elif channel.startswith("kline_"):
            interval = channel[len("kline_") :]
            start = interval_start(now_ms, interval)
            before = kline_starts.get(key)
            if before is not None and before != start:
                closed = kline_body(reads, inst, interval, before, now_ms)
                if closed is not None:
                    out.append((key, closed))
            body = kline_body(reads, inst, interval, start, now_ms)
            if body is not None:
                out.append((key, body))
    return out


# --- one source per service ---------------------------------------------------------------------

_sources: weakref.WeakKeyDictionary[VenueService, StreamSource] = weakref.WeakKeyDictionary()


def source_for(service: VenueService) -> StreamSource:
    """The service's stream source, created (and attached by a writer job) on first use."""
    source = _sources.get(service)
    if source is None:
        source = _sources[service] = StreamSource(service)
        service.submit_job(source.attach)
    return source

