"""Order handlers: place, cancel, cancel-all, amend.

``place_order`` reads as the pipeline: validate -> compliance gate -> pre-trade margin
-> accept -> match -> rest or expire. Every check runs before the first change to
state, so a rejected command changes nothing.
"""

from __future__ import annotations

from harbour.compliance.rules import can_increase_exposure
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS
from harbour.venue.accounts import Account, Position
from harbour.venue.book import Order, OrderBook
from harbour.venue.commands import (
    AccountKind,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    InstrumentState,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from harbour.venue.events import OrderAccepted, OrderAmended
from harbour.venue.instruments import Instrument
from harbour.venue.margin import instrument_requirement, raised_requirement_problem, requirement_of, worst_notional
from harbour.venue.matching import add_open, cancel_resting, fillable_qty, match, reducible_qty, release_open, retire
from harbour.venue.order_checks import client_order_id_problem, exposure_gate, order_target_problem, price_grid_problem, quantity_problem
from harbour.venue.price_moves import after_trades
from harbour.venue.rejects import rejected
from harbour.venue.state import VenueState
from harbour.venue.triggers import cancel_account_triggers

C = RejectCode
_HALTED = InstrumentState.HALTED
_CLOSE_ONLY = InstrumentState.CLOSE_ONLY
_BUY = Side.BUY
_MARKET = OrderType.MARKET
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK
_POST_ONLY = TimeInForce.POST_ONLY
_CLIENT = AccountKind.CLIENT
_EXPIRE_MAKER = SelfTradePrevention.EXPIRE_MAKER
_EMPTY = Position()


def _check_limit_price(inst: Instrument, price: int) -> tuple[RejectCode, dict[str, str | int]] | None:
    problem = price_grid_problem(inst, price)
    if problem is not None:
        return problem
    ref = inst.ref_price
    band = ref * inst.price_band_bps // BPS
    if price > ref + band or price < ref - band:
        return C.PRICE_OUTSIDE_BAND, {"price": price, "low": ref - band, "high": ref + band, "reference": ref}
    return None


def _market_price(inst: Instrument, is_buy: bool) -> int:
    """The collar price of a market order: no worse than ref +/- collar, on a tick."""
    ref = inst.ref_price
    collar = ref * inst.market_collar_bps // BPS
    tick = inst.tick
    if is_buy:
        return (ref + collar) // tick * tick
    low = -((-(ref - collar)) // tick) * tick
    return low if low > 0 else tick


def _margin_problem(
    st: VenueState, acct: Account, inst: Instrument, pos: Position, is_buy: bool, add_qty: int, price: int, remove: Order | None
) -> tuple[RejectCode, dict[str, str | int]] | None:
    """Would adding ``add_qty`` at ``price`` (and removing ``remove``) breach initial margin?

    An order that does not raise the requirement is always allowed, so a client can
    always reduce risk; otherwise the new requirement must fit within equity.
    """
    buy_qty, buy_value = pos.open_buy_qty, pos.open_buy_value
    sell_qty, sell_value = pos.open_sell_qty, pos.open_sell_value
    if remove is not None:
        if remove.is_buy:
            buy_qty -= remove.qty
            buy_value -= remove.qty * remove.price
        else:
            sell_qty -= remove.qty
            sell_value -= remove.qty * remove.price
    if is_buy:
        buy_qty += add_qty
        buy_value += add_qty * price
    else:
        sell_qty += add_qty
        sell_value += add_qty * price
    leverage = acct.leverage.get(inst.symbol, 0)
    before = instrument_requirement(pos, inst, leverage)
    after = requirement_of(pos.qty, buy_qty, buy_value, sell_qty, sell_value, inst, leverage)
    if after <= before:
        return None
    reach = worst_notional(pos.qty, buy_qty, sell_qty, inst)
    limit = inst.tiers[-1].max_notional
    if reach > limit:
        return C.POSITION_LIMIT_EXCEEDED, {"notional": reach, "limit": limit}
    return raised_requirement_problem(st, acct, inst, pos, after)


def place_order(st: VenueState, seq: int, ts: int, cmd: PlaceOrder, out: list[object]) -> None:
    # --- validate -------------------------------------------------------------
    sym = cmd.instrument
    acct = st.accounts.get(cmd.account)
    inst = st.instruments.get(sym)
    if acct is None or inst is None or inst.state is _HALTED:
        problem = order_target_problem(st, cmd.account, sym)
        assert problem is not None
        out.append(rejected(seq, ts, "place_order", problem[0], **problem[1]))
        return
    qty = cmd.qty
    problem = quantity_problem(inst, qty)
    if problem is None and not inst.ref_price:
        problem = C.NO_REFERENCE_PRICE, {"instrument": sym}
    is_buy = cmd.side is _BUY
    tif = cmd.tif
    if problem is None:
        if cmd.order_type is _MARKET:
            if cmd.price:
                problem = C.PRICE_NOT_ALLOWED, {}
            price = _market_price(inst, is_buy)
            tif = _IOC
        else:
            price = cmd.price
            problem = (C.PRICE_REQUIRED, {}) if price == 0 else _check_limit_price(inst, price)
    if problem is None and cmd.client_order_id:
        problem = client_order_id_problem(acct, cmd.client_order_id)
    # --- compliance gate: professional-investor status, close-only, reduce-only ------
    pos = acct.positions.get(sym) or _EMPTY
    reduce_only = cmd.reduce_only
    if problem is None and (acct.kind is _CLIENT or inst.state is _CLOSE_ONLY):
        problem, gated = exposure_gate(acct, inst, pos, is_buy, qty, ts)
        reduce_only = reduce_only or gated
    if problem is not None:
        out.append(rejected(seq, ts, "place_order", problem[0], **problem[1]))
        return
    if reduce_only:
        if pos.qty == 0:
            out.append(rejected(seq, ts, "place_order", C.REDUCE_ONLY_NO_POSITION))
            return
        if reducible_qty(pos, is_buy) < qty:
            out.append(rejected(seq, ts, "place_order", C.REDUCE_ONLY_WOULD_INCREASE, qty=qty, position=pos.qty))
            return

    # --- book checks: post-only and fill-or-kill ---------------------------------------
    book = st.books[sym]
    best = book.asks.best if is_buy else book.bids.best
    crosses = best is not None and (price >= best if is_buy else price <= best)
    if tif is _POST_ONLY and crosses:
        out.append(rejected(seq, ts, "place_order", C.POST_ONLY_WOULD_CROSS, price=price, best=best or 0))
        return
    order = Order(seq, acct.account_id, is_buy, price, qty, acct.is_mm, reduce_only, cmd.client_order_id, acct.stp_group)
    if tif is _FOK:
        fillable = fillable_qty(st, book, order, sym, qty, inst.state is _CLOSE_ONLY, ts) if crosses else 0
        if fillable < qty:
            out.append(rejected(seq, ts, "place_order", C.FOK_NOT_FILLABLE, qty=qty, fillable=fillable))
            return

    # --- pre-trade margin: a reduce-only order is clipped at every fill so it can never
    # add exposure; it is always allowed, so an under-margined client can always close ---
    problem = None if reduce_only else _margin_problem(st, acct, inst, pos, is_buy, qty, price, None)
    if problem is not None:
        out.append(rejected(seq, ts, "place_order", problem[0], **problem[1]))
        return

    # --- accept -----------------------------------------------------------------------
    if pos is _EMPTY:
        pos = acct.positions[sym] = Position()
    if cmd.client_order_id:
        acct.client_order_ids[cmd.client_order_id] = seq
    add_open(pos, order, qty)
    out.append(
        OrderAccepted(
            seq=seq,
            ts_ns=ts,
            order_id=seq,
            account=acct.account_id,
            instrument=sym,
            side=cmd.side,
            price=price,
            qty=qty,
            tif=tif,
            reduce_only=reduce_only,
            is_affiliated_mm=acct.is_mm,
            client_order_id=cmd.client_order_id,
        )
    )

    # --- match, then rest or expire -----------------------------------------------------
    # a fill-or-kill taker always expires self-trading makers (decision D9), so it fills all or nothing
    stp = _EXPIRE_MAKER if tif is _FOK else cmd.stp
    trades_before = st.next_trade_id
    stopped = match(st, inst, book, order, acct, pos, stp, seq, ts, out, inst.taker_fee_ppm) if crosses else ""
    if order.qty:
        if not stopped and (tif is _GTC or tif is _POST_ONLY):
            book.rest(order)
            acct.open_orders[seq] = sym
            st.order_instrument[seq] = sym
        else:
            reason = stopped or ("MARKET_COLLAR" if cmd.order_type is _MARKET else "IOC_REMAINDER")
            retire(st, sym, order, reason, seq, ts, out)
    if st.next_trade_id != trades_before:
        after_trades(st, sym, seq, ts, out)


def _find_order(st: VenueState, acct: Account, sym: str, order_id: int, client_order_id: str) -> Order | None:
    if not order_id and client_order_id:
        order_id = acct.client_order_ids.get(client_order_id, 0)
    if acct.open_orders.get(order_id) != sym:
        return None
    return st.books[sym].orders.get(order_id)


def cancel_order(st: VenueState, seq: int, ts: int, cmd: CancelOrder, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "cancel_order", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    if cmd.instrument not in st.instruments:
        out.append(rejected(seq, ts, "cancel_order", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    order = _find_order(st, acct, cmd.instrument, cmd.order_id, cmd.client_order_id)
    if order is None:
        out.append(rejected(seq, ts, "cancel_order", C.UNKNOWN_ORDER, order=cmd.order_id or cmd.client_order_id))
        return
    cancel_resting(st, cmd.instrument, st.books[cmd.instrument], order, "USER", seq, ts, out)


def cancel_all_orders(st: VenueState, seq: int, ts: int, cmd: CancelAllOrders, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "cancel_all_orders", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    if cmd.instrument and cmd.instrument not in st.instruments:
        out.append(rejected(seq, ts, "cancel_all_orders", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    for order_id, sym in sorted(acct.open_orders.items()):
        if cmd.instrument and sym != cmd.instrument:
            continue
        book: OrderBook = st.books[sym]
        cancel_resting(st, sym, book, book.orders[order_id], "CANCEL_ALL", seq, ts, out)
    # as on Binance, cancel-all also cancels the account's pending trigger (conditional) orders
    cancel_account_triggers(st, acct.account_id, cmd.instrument, "CANCEL_ALL", seq, ts, out)


def amend_order(st: VenueState, seq: int, ts: int, cmd: AmendOrder, out: list[object]) -> None:
    """Amend price and/or remaining quantity of a resting order.

    Time priority is kept only when the price is unchanged and the quantity does not
    grow. An amendment never trades: one whose price would cross is rejected.
    """
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "amend_order", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    sym = cmd.instrument
    inst = st.instruments.get(sym)
    if inst is None:
        out.append(rejected(seq, ts, "amend_order", C.UNKNOWN_INSTRUMENT, instrument=sym))
        return
    order = _find_order(st, acct, sym, cmd.order_id, "")
    problem: tuple[RejectCode, dict[str, str | int]] | None = None
    if order is None:
        problem = C.UNKNOWN_ORDER, {"order": cmd.order_id}
    elif inst.state is _HALTED:
        problem = C.INSTRUMENT_HALTED, {"instrument": sym}
    else:
        problem = quantity_problem(inst, cmd.qty) or _check_limit_price(inst, cmd.price)
    if problem is None and order is not None:
        if cmd.price == order.price and cmd.qty == order.qty:
            problem = C.AMEND_NO_CHANGE, {}
        else:
            book = st.books[sym]
            best = book.asks.best_price() if order.is_buy else book.bids.best_price()
            if best is not None and (cmd.price >= best if order.is_buy else cmd.price <= best):
                problem = C.AMEND_WOULD_CROSS, {"price": cmd.price, "best": best}
    pos = acct.positions.get(sym)
    if problem is None and order is not None and pos is not None:
        if order.reduce_only and cmd.qty > order.qty and reducible_qty(pos, order.is_buy) < cmd.qty:
            problem = C.REDUCE_ONLY_WOULD_INCREASE, {"qty": cmd.qty, "position": pos.qty}
        else:
            grows = cmd.qty > order.qty or cmd.price != order.price
            if grows and acct.kind is _CLIENT and not can_increase_exposure(acct.pi_expiry_ns, ts) and not order.reduce_only:
                problem = C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED, {"account": acct.account_id}
            elif grows and inst.state is _CLOSE_ONLY and not order.reduce_only:
                problem = C.INSTRUMENT_CLOSE_ONLY, {"instrument": sym}
            elif not order.reduce_only:
                problem = _margin_problem(st, acct, inst, pos, order.is_buy, cmd.qty, cmd.price, order)
    if problem is not None or order is None or pos is None:
        code, detail = problem or (C.UNKNOWN_ORDER, {"order": cmd.order_id})
        out.append(rejected(seq, ts, "amend_order", code, **detail))
        return

    book = st.books[sym]
    old_price, old_qty = order.price, order.qty
    priority_lost = cmd.price != old_price or cmd.qty > old_qty
    release_open(pos, order, old_qty)
    if priority_lost:
        book.unrest(order)
        order.price = cmd.price
        order.qty = cmd.qty
        book.rest(order)
    else:
        order.qty = cmd.qty
    add_open(pos, order, order.qty)
    out.append(
        OrderAmended(
            seq=seq,
            ts_ns=ts,
            order_id=order.order_id,
            account=acct.account_id,
            instrument=sym,
            old_price=old_price,
            new_price=order.price,
            old_qty=old_qty,
            new_qty=order.qty,
            priority_lost=priority_lost,
        )
    )
