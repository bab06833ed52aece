"""Matching: an incoming order against the opposite side of one book.

Priority is price, then client before affiliated market maker, then time (see
book.py). Self-trade prevention acts when maker and taker share an STP group (the same
legal entity); the taker's mode decides: EXPIRE_TAKER stops the taker, EXPIRE_MAKER
cancels the resting order and goes on, EXPIRE_BOTH does both. A fill-or-kill taker
always expires self-trading makers so that its all-or-nothing check stays exact.
A reduce-only order never fills beyond the position it reduces; the part it can no
longer fill is cancelled.

Each fill updates both positions and open-order totals and is settled at once by one
balanced ledger transfer (settlement.py).
"""

from __future__ import annotations

from collections import OrderedDict

from harbour.kernel.money import PPM
from harbour.venue.accounts import Account, Position
from harbour.venue.book import BookSide, Order, OrderBook
from harbour.venue.commands import AccountKind, InstrumentState, SelfTradePrevention, Side
from harbour.venue.events import OrderCancelled, TradeExecuted, TransferPosted
from harbour.venue.instruments import Instrument
from harbour.venue.settlement import GainsApplied, Postings, report_gains, settle_nets
from harbour.venue.state import FEE_INCOME, VenueState

_CLIENT = AccountKind.CLIENT
_CLOSE_ONLY = InstrumentState.CLOSE_ONLY
_EXPIRE_TAKER = SelfTradePrevention.EXPIRE_TAKER
_EXPIRE_MAKER = SelfTradePrevention.EXPIRE_MAKER
_BUY = Side.BUY
_SELL = Side.SELL


def add_open(pos: Position, order: Order, qty: int) -> None:
    """Add ``qty`` of ``order`` to its position's open-order totals (``release_open``'s twin)."""
    if order.is_buy:
        pos.open_buy_qty += qty
        pos.open_buy_value += qty * order.price
    else:
        pos.open_sell_qty += qty
        pos.open_sell_value += qty * order.price


def release_open(pos: Position, order: Order, qty: int) -> None:
    """Remove ``qty`` of ``order`` from its position's open-order totals."""
    if order.is_buy:
        pos.open_buy_qty -= qty
        pos.open_buy_value -= qty * order.price
    else:
        pos.open_sell_qty -= qty
        pos.open_sell_value -= qty * order.price


def reducible_qty(pos: Position, is_buy: bool) -> int:
    """How much an order on this side can reduce the position (0 if it would increase)."""
    q = pos.qty
    if is_buy:
        return -q if q < 0 else 0
    return q if q > 0 else 0


def retire(st: VenueState, sym: str, order: Order, reason: str, seq: int, ts: int, out: list[object]) -> None:
    """Finish an order that is off the book (or never rested): drop it from the account's
    and the venue's indexes, release its open quantity, emit OrderCancelled."""
    acct = st.accounts[order.account]
    if acct.open_orders.pop(order.order_id, None) is not None:
        del st.order_instrument[order.order_id]
    release_open(acct.positions[sym], order, order.qty)
    out.append(
        OrderCancelled(
            seq=seq,
            ts_ns=ts,
            order_id=order.order_id,
            account=order.account,
            instrument=sym,
            remaining_qty=order.qty,
            reason=reason,
            is_affiliated_mm=order.is_mm,
        )
    )
    order.qty = 0


def cancel_resting(
    st: VenueState, sym: str, book: OrderBook, order: Order, reason: str, seq: int, ts: int, out: list[object]
) -> None:
    """Take a resting order off the book and retire it."""
    book.unrest(order)
    retire(st, sym, order, reason, seq, ts, out)


def maker_may_only_reduce(maker: Order, maker_acct: Account, close_only: bool, ts: int) -> bool:
    """A resting order fills only to reduce when it is reduce-only, when its instrument is
    close-only, or when its owner is a client whose professional-investor status has
    lapsed by the time of the trade."""
    return maker.reduce_only or close_only or (maker_acct.kind is _CLIENT and ts >= maker_acct.pi_expiry_ns)


def fillable_qty(st: VenueState, book: OrderBook, taker: Order, sym: str, limit_qty: int, close_only: bool, ts: int) -> int:
    """Quantity a taker could fill now (dry run for fill-or-kill), ignoring its own group."""
    side = book.asks if taker.is_buy else book.bids
    total = 0
    # reduce-only makers of one account share that account's reducible position
    reducible_left: dict[int, int] = {}
    for price in side.prices_best_first():
        if (price > taker.price) if taker.is_buy else (price < taker.price):
            break
        for maker in side.levels[price].in_priority():
            if maker.stp_group == taker.stp_group:
                continue
            q = maker.qty
            maker_acct = st.accounts[maker.account]
            if maker_may_only_reduce(maker, maker_acct, close_only, ts):
                left = reducible_left.get(maker.account)
                if left is None:
                    left = reducible_qty(maker_acct.positions[sym], maker.is_buy)
                q = min(q, left)
                reducible_left[maker.account] = left - q
            total += q
            if total >= limit_qty:
                return total
    return total


def match(
    st: VenueState,
    inst: Instrument,
    book: OrderBook,
    taker: Order,
    taker_acct: Account,
    taker_pos: Position,
    stp: SelfTradePrevention,
    seq: int,
    ts: int,
    out: list[object],
    taker_fee_ppm: int,
) -> str:
    """Match ``taker`` against the book; return why it stopped early ('' if it did not).

    The taker pays ``taker_fee_ppm`` (the instrument's taker fee; 0 for a liquidation
    order, which pays the liquidation fee instead)."""
    sym = inst.symbol
    is_buy = taker.is_buy
    side = book.asks if is_buy else book.bids
    levels = side.levels
    limit = taker.price
    accounts = st.accounts
    close_only = inst.state is _CLOSE_ONLY
    while taker.qty:
        best = side.best
        if best is None:
            return ""
        if (best > limit) if is_buy else (best < limit):
            return ""
        level = levels[best]
        for queue in (level.clients, level.mms):
            while queue and taker.qty:
                maker = next(iter(queue.values()))
                if maker.stp_group == taker.stp_group:
                    if stp is not _EXPIRE_TAKER:
                        _cancel_front(st, sym, book, queue, maker, "STP_MAKER", seq, ts, out)
                    if stp is not _EXPIRE_MAKER:
                        _drop_empty_level(side, best)
                        return "STP_TAKER"
                    continue
                maker_acct = accounts[maker.account]
                maker_pos = maker_acct.positions[sym]
                qty = taker.qty if taker.qty < maker.qty else maker.qty
                clip = False
                if maker_may_only_reduce(maker, maker_acct, close_only, ts):
                    avail = reducible_qty(maker_pos, maker.is_buy)
                    if avail <= 0:
                        _cancel_front(st, sym, book, queue, maker, "REDUCE_ONLY_CLIPPED", seq, ts, out)
                        continue
                    if qty >= avail:
                        qty = avail
                        clip = True
                _execute(st, inst, taker, taker_acct, taker_pos, maker, maker_acct, maker_pos, qty, best, seq, ts, out, taker_fee_ppm)
                if maker.qty == 0:
                    queue.popitem(last=False)
                    del book.orders[maker.order_id]
                    del maker_acct.open_orders[maker.order_id]
                    del st.order_instrument[maker.order_id]
                elif clip:
                    _cancel_front(st, sym, book, queue, maker, "REDUCE_ONLY_CLIPPED", seq, ts, out)
        if not level.clients and not level.mms:
            side.drop_level(best)
    return ""


def _drop_empty_level(side: BookSide, price: int) -> None:
    level = side.levels.get(price)
    if level is not None and not level.clients and not level.mms:
        side.drop_level(price)


def _cancel_front(
    st: VenueState,
    sym: str,
    book: OrderBook,
    queue: OrderedDict[int, Order],
    maker: Order,
    reason: str,
    seq: int,
    ts: int,
    out: list[object],
) -> None:
    """Cancel the order at the front of a level queue (the level is cleaned by the caller)."""
    queue.popitem(last=False)
    del book.orders[maker.order_id]
    retire(st, sym, maker, reason, seq, ts, out)


def _fee(notional: int, rate_ppm: int) -> int:
    """Fee charged (rounded up) or, for a negative rate, rebate paid (rounded down, negative)."""
    if rate_ppm >= 0:
        return -((-notional * rate_ppm) // PPM)
    return -((notional * -rate_ppm) // PPM)


def _execute(
    st: VenueState,
    inst: Instrument,
    taker: Order,
    taker_acct: Account,
    taker_pos: Position,
    maker: Order,
    maker_acct: Account,
    maker_pos: Position,
    qty: int,
    price: int,
    seq: int,
    ts: int,
    out: list[object],
    taker_fee_ppm: int,
) -> None:
    uv = inst.unit_value
    sym = inst.symbol
    asset = inst.settlement_asset
    notional = price * qty * uv
    taker_fee = _fee(notional, taker_fee_ppm)
    maker_fee = _fee(notional, inst.maker_fee_ppm)

    taker.qty -= qty
    maker.qty -= qty
    release_open(taker_pos, taker, qty)
    release_open(maker_pos, maker, qty)
    taker_pnl = taker_pos.apply_fill(taker.is_buy, qty, price) * uv
    maker_pnl = maker_pos.apply_fill(maker.is_buy, qty, price) * uv
    taker_pos.realised += taker_pnl
    maker_pos.realised += maker_pnl

    postings: Postings = []
    gains: GainsApplied = []
    nets = ((taker_acct.account_id, taker_pos.isolated, taker_pnl - taker_fee), (maker_acct.account_id, maker_pos.isolated, maker_pnl - maker_fee))
    settle_nets(st, sym, asset, nets, postings, gains)
    if taker_pnl + maker_pnl:
        postings.append((inst.clearing_account, asset, -(taker_pnl + maker_pnl)))
    if taker_fee or maker_fee:
        postings.append((FEE_INCOME, asset, taker_fee + maker_fee))

    trade_id = st.next_trade_id
    st.next_trade_id = trade_id + 1
    st.last_trade_price[sym] = price  # the mark's "last" input (venue.mark)
    out.append(
        TradeExecuted(
            seq=seq,
            ts_ns=ts,
            trade_id=trade_id,
            instrument=sym,
            price=price,
            qty=qty,
            taker_side=_BUY if taker.is_buy else _SELL,
            maker_order_id=maker.order_id,
            taker_order_id=taker.order_id,
            maker_account=maker.account,
            taker_account=taker.account,
            maker_is_affiliated_mm=maker.is_mm,
            taker_is_affiliated_mm=taker.is_mm,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            maker_realised_pnl=maker_pnl,
            taker_realised_pnl=taker_pnl,
        )
    )
    if postings:
        transfer_id = st.ledger.post(postings)
        out.append(
            TransferPosted(
                seq=seq,
                ts_ns=ts,
                transfer_id=transfer_id,
                kind="TRADE_SETTLEMENT",
                postings=tuple(postings),
                reference=f"trade:{trade_id}",
            )
        )
        if gains:
            report_gains(st, gains, transfer_id, seq, ts, out)
