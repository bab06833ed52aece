"""Trigger orders: stop, take-profit and trailing stop, on the mark or the last price.

Lifecycle:

- ``place_trigger_order`` validates (shape, price source, client order id, the per-account
  limit, "would trigger at once" as Binance's -2021, then the professional-investor gate
  and close-only) and stores a pending ``TriggerOrder``. No margin is held while pending.
- ``fire_on_mark`` (after the mark changed) and ``fire_on_trades`` (after trades moved the
  last price) are called from ``price_moves``. Each price observation is checked against
  every pending trigger watching that price, in id order; trailing stops track their best
  price. The triggers that fire are placed in a fixed order: observation, then the trigger
  crossed first on the way (the largest distance past its level), then id.
- A fired trigger places a normal order through ``orders.place_order`` (the same
  validation, gate and pre-trade margin as a client order), with the trigger's id as
  the order id. A reduce-only trigger is clipped to the position it can reduce at firing;
  ``close_position`` takes the whole position. If the order is refused, the trigger ends
  with a TriggerOrderCancelled carrying that reject's code, message and detail.
- Fired orders trade and move the last price: their trades are observed in turn, until
  no trigger fires (each trigger fires once, so the cascade is bounded).

While the instrument is halted nothing is evaluated: pending triggers (and trailing
stops' best prices) wait for trading to resume.
"""

from __future__ import annotations

from typing import cast

import msgspec

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_PRICE
from harbour.venue.commands import (
    AccountKind,
    CancelTriggerOrder,
    InstrumentState,
    OrderType,
    PlaceOrder,
    PlaceTriggerOrder,
    Side,
    TimeInForce,
    TriggerKind,
    WorkingType,
)
from harbour.venue.events import (
    Rejected,
    TradeExecuted,
    TrailingStopMoved,
    TriggerOrderAccepted,
    TriggerOrderCancelled,
    TriggerOrderTriggered,
)
from harbour.venue.instruments import Instrument
from harbour.venue.matching import reducible_qty
from harbour.venue.order_checks import client_order_id_problem, exposure_gate, order_target_problem, price_grid_problem, quantity_problem
from harbour.venue.rejects import rejected
from harbour.venue.state import VenueState
from harbour.venue.trigger_book import PendingTriggers, TriggerOrder

C = RejectCode
Problem = tuple[RejectCode, dict[str, str | int]]

MAX_TRIGGERS_PER_ACCOUNT_INSTRUMENT = 10  # as Binance's MAX_NUM_ALGO_ORDERS filter
MIN_CALLBACK_BPS = 10  # Binance callbackRate 0.1 .. 10 (percent)
MAX_CALLBACK_BPS = 1_000

_HALTED = InstrumentState.HALTED
_CLOSE_ONLY = InstrumentState.CLOSE_ONLY
_CLIENT = AccountKind.CLIENT
_BUY = Side.BUY
_MARK = WorkingType.MARK
_LAST = WorkingType.LAST
_GTC = TimeInForce.GTC
_TRAILING = TriggerKind.TRAILING_STOP_MARKET
_LIMIT_KINDS = frozenset({TriggerKind.STOP_LIMIT, TriggerKind.TAKE_PROFIT_LIMIT})
_CLOSE_POSITION_KINDS = frozenset({TriggerKind.STOP_MARKET, TriggerKind.TAKE_PROFIT_MARKET})


class _FiredOrderEvents(list[object]):
    """The events of an order a trigger placed: its trades are the firing loop's to observe."""

_NO_TRIGGERS = PendingTriggers()  # read-only stand-in for an instrument with none pending

# --- validation ---------------------------------------------------------------------------


def _level_problem(inst: Instrument, field: str, value: int) -> Problem | None:
    if value <= 0:
        return C.TRIGGER_PRICE_NOT_POSITIVE, {"field": field, "value": value}
    if value > MAX_PRICE:
        return C.TRIGGER_PRICE_ABOVE_CEILING, {"field": field, "value": value, "ceiling": MAX_PRICE}
    if value % inst.tick:
        return C.TRIGGER_PRICE_OFF_TICK, {"field": field, "value": value, "tick": inst.tick}
    return None


def _shape_problem(inst: Instrument, cmd: PlaceTriggerOrder) -> Problem | None:
    """Fields that do not fit the kind, and prices and quantities off their grid."""
    kind = cmd.kind
    name = kind.value
    if cmd.close_position:
        if kind not in _CLOSE_POSITION_KINDS:
            return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "close_position"}
        if cmd.qty:
            return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "qty with close_position"}
        if cmd.reduce_only:
            return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "reduce_only with close_position"}
    else:
        problem = quantity_problem(inst, cmd.qty)
        if problem is not None:
            return problem
    if kind in _LIMIT_KINDS:
        price = cmd.price
        if price == 0:
            return C.PRICE_REQUIRED, {}
        if price > MAX_PRICE:
            return C.TRIGGER_PRICE_ABOVE_CEILING, {"field": "price", "value": price, "ceiling": MAX_PRICE}
        problem = price_grid_problem(inst, price)
        if problem is not None:
            return problem
    else:
        if cmd.price:
            return C.PRICE_NOT_ALLOWED, {}
        if cmd.tif is not _GTC:
            return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "a time in force"}
    if kind is _TRAILING:
        if cmd.trigger_price:
            return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "trigger_price"}
        if not MIN_CALLBACK_BPS <= cmd.callback_bps <= MAX_CALLBACK_BPS:
            return C.CALLBACK_OUT_OF_RANGE, {"callback_bps": cmd.callback_bps, "low": MIN_CALLBACK_BPS, "high": MAX_CALLBACK_BPS}
        if cmd.activation_price:
            return _level_problem(inst, "activation_price", cmd.activation_price)
        return None
    if cmd.callback_bps:
        return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "callback_bps"}
    if cmd.activation_price:
        return C.TRIGGER_FIELD_NOT_ALLOWED, {"kind": name, "field": "activation_price"}
    if cmd.trigger_price == 0:
        return C.TRIGGER_FIELD_REQUIRED, {"kind": name, "field": "trigger_price"}
    return _level_problem(inst, "trigger_price", cmd.trigger_price)


def _immediate_problem(cmd: PlaceTriggerOrder, current: int) -> Problem | None:
    """Binance -2021: a trigger already reached, or a trailing activation already passed."""
    is_buy = cmd.side is _BUY
    if cmd.kind is _TRAILING:
        value, field = cmd.activation_price, "activation_price"
        if not value or ((value < current) if is_buy else (value > current)):
            return None
    else:
        value, field = cmd.trigger_price, "trigger_price"
        upward = is_buy == (cmd.kind in (TriggerKind.STOP_MARKET, TriggerKind.STOP_LIMIT))
        if (current < value) if upward else (current > value):
            return None
    return C.TRIGGER_WOULD_FIRE_IMMEDIATELY, {"field": field, "value": value, "source": cmd.working_type.value, "current": current}


def _watched_price(st: VenueState, inst: Instrument, working: WorkingType) -> int:
    """The price a trigger watches now (0: none yet)."""
    if working is _MARK:
        return inst.ref_price
    return st.last_trade_price.get(inst.symbol, 0)


# --- handlers -------------------------------------------------------------------------------


def place_trigger_order(st: VenueState, seq: int, ts: int, cmd: PlaceTriggerOrder, out: list[object]) -> None:
    # --- validate -------------------------------------------------------------
    sym = cmd.instrument
    problem = order_target_problem(st, cmd.account, sym)
    if problem is not None:
        out.append(rejected(seq, ts, "place_trigger_order", problem[0], **problem[1]))
        return
    acct = st.accounts[cmd.account]
    inst = st.instruments[sym]
    problem = _shape_problem(inst, cmd)
    if problem is None and not inst.ref_price:
        problem = C.NO_REFERENCE_PRICE, {"instrument": sym}
    current = _watched_price(st, inst, cmd.working_type)
    if problem is None and not current:
        problem = C.NO_LAST_TRADE_PRICE, {"instrument": sym}
    if problem is None:
        problem = client_order_id_problem(acct, cmd.client_order_id)
    pending = st.triggers.get(sym, _NO_TRIGGERS)
    if problem is None and sum(1 for t in pending.values() if t.account == acct.account_id) >= MAX_TRIGGERS_PER_ACCOUNT_INSTRUMENT:
        problem = C.TOO_MANY_TRIGGER_ORDERS, {"account": acct.account_id, "limit": MAX_TRIGGERS_PER_ACCOUNT_INSTRUMENT, "instrument": sym}
    if problem is None:
        problem = _immediate_problem(cmd, current)
    # --- compliance gate: a trigger that could open exposure (decision D11 as for orders) ---
    reduce_only = cmd.reduce_only or cmd.close_position
    if problem is None and not reduce_only:
        problem, reduce_only = exposure_gate(acct, inst, acct.positions.get(sym), cmd.side is _BUY, cmd.qty, ts)
    if problem is not None:
        out.append(rejected(seq, ts, "place_trigger_order", problem[0], **problem[1]))
        return

    # --- accept -----------------------------------------------------------------------
    trailing_now = cmd.kind is _TRAILING and not cmd.activation_price
    trig = TriggerOrder(
        seq,
        acct.account_id,
        sym,
        cmd.side is _BUY,
        cmd.qty,
        cmd.kind,
        cmd.working_type,
        cmd.trigger_price,
        cmd.price,
        cmd.tif,
        reduce_only and not cmd.close_position,
        cmd.close_position,
        cmd.callback_bps,
        cmd.activation_price,
        cmd.stp,
        cmd.client_order_id,
        activated=trailing_now,
        extreme=current if trailing_now else 0,
    )
    if cmd.client_order_id:
        acct.client_order_ids[cmd.client_order_id] = seq
    st.triggers.setdefault(sym, PendingTriggers()).add(trig)
    out.append(
        TriggerOrderAccepted(
            seq=seq,
            ts_ns=ts,
            trigger_id=seq,
            account=acct.account_id,
            instrument=sym,
            side=cmd.side,
            kind=cmd.kind,
            working_type=cmd.working_type,
            working_price=current,
            qty=cmd.qty,
            trigger_price=cmd.trigger_price,
            price=cmd.price,
            tif=cmd.tif,
            reduce_only=reduce_only,
            close_position=cmd.close_position,
            callback_bps=cmd.callback_bps,
            activation_price=cmd.activation_price,
            client_order_id=cmd.client_order_id,
        )
    )


def cancel_trigger_order(st: VenueState, seq: int, ts: int, cmd: CancelTriggerOrder, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "cancel_trigger_order", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    sym = cmd.instrument
    if sym not in st.instruments:
        out.append(rejected(seq, ts, "cancel_trigger_order", C.UNKNOWN_INSTRUMENT, instrument=sym))
        return
    trigger_id = cmd.trigger_id
    if not trigger_id and cmd.client_order_id:
        trigger_id = acct.client_order_ids.get(cmd.client_order_id, 0)
    trig = st.triggers.get(sym, _NO_TRIGGERS).get(trigger_id)
    if trig is None or trig.account != acct.account_id:
        out.append(rejected(seq, ts, "cancel_trigger_order", C.UNKNOWN_TRIGGER_ORDER, trigger=cmd.trigger_id or cmd.client_order_id))
        return
    _remove(st, trig)
    out.append(_cancelled(trig, "USER", seq, ts))


def cancel_account_triggers(st: VenueState, account: int, instrument: str, reason: str, seq: int, ts: int, out: list[object]) -> None:
    """Cancel every pending trigger of ``account`` (on ``instrument``, or all if empty), in id order."""
    for sym in sorted(st.triggers):
        if instrument and sym != instrument:
            continue
        for trig in [t for _, t in sorted(st.triggers[sym].items()) if t.account == account]:
            _remove(st, trig)
            out.append(_cancelled(trig, reason, seq, ts))


def _remove(st: VenueState, trig: TriggerOrder) -> None:
    pending = st.triggers[trig.instrument]
    pending.remove(trig)
    if not pending:
        del st.triggers[trig.instrument]


def _cancelled(trig: TriggerOrder, reason: str, seq: int, ts: int, refusal: Rejected | None = None) -> TriggerOrderCancelled:
    if refusal is None:
        return TriggerOrderCancelled(seq=seq, ts_ns=ts, trigger_id=trig.trigger_id, account=trig.account, instrument=trig.instrument, reason=reason)
    return TriggerOrderCancelled(
        seq=seq,
        ts_ns=ts,
        trigger_id=trig.trigger_id,
        account=trig.account,
        instrument=trig.instrument,
        reason=refusal.reason,
        code=refusal.code,
        message=refusal.message,
        detail=refusal.detail,
    )


# --- firing (called from price_moves) --------------------------------------------------------


def fire_on_mark(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """The mark of ``sym`` changed: fire the mark-price triggers it reached, then cascade."""
    if sym not in st.triggers:
        return
    inst = st.instruments[sym]
    if inst.state is _HALTED:
        return
    _cascade(st, inst, _MARK, [inst.ref_price], seq, ts, out)


def fire_on_trades(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """Trades in ``sym`` moved the last price: observe each new trade price, in trade order."""
    if sym not in st.triggers or isinstance(out, _FiredOrderEvents):
        return  # nothing pending, or an order a trigger placed: the firing loop observes its trades
    inst = st.instruments[sym]
    if inst.state is _HALTED:
        return
    seen = st.trigger_trade_cursor.get(sym, 0)
    prices = []
    for e in out:
        if isinstance(e, TradeExecuted) and e.instrument == sym and e.trade_id > seen:
            prices.append(e.price)
            seen = e.trade_id
    if prices:
        st.trigger_trade_cursor[sym] = seen
        _cascade(st, inst, _LAST, prices, seq, ts, out)


def _cascade(st: VenueState, inst: Instrument, working: WorkingType, prices: list[int], seq: int, ts: int, out: list[object]) -> None:
    """Observe ``prices`` of ``working``; fire what they reach; observe the fired orders'
    trades as last prices, until nothing more fires."""
    while prices:
        firing = _observe(st, inst.symbol, working, prices, seq, ts, out)
        working, prices = _LAST, []
        for trig, observed in firing:
            prices += _fire(st, inst, trig, observed, seq, ts, out)


def _observe(
    st: VenueState, sym: str, working: WorkingType, prices: list[int], seq: int, ts: int, out: list[object]
) -> list[tuple[TriggerOrder, int]]:
    """Check each price, in order, against the pending triggers watching ``working``; move
    trailing stops; return the triggers that fire with the price that fired each, in firing order."""
    pending = st.triggers.get(sym)
    if not pending:
        return []
    fired: list[tuple[int, int, int, TriggerOrder, int]] = []
    moved: dict[int, tuple[TriggerOrder, int]] = {}
    low, high = min(prices), max(prices)
    for trig in pending.reachable(working, low, high):
        up = trig.upward
        if trig.kind is not _TRAILING:
            # no state between observations: the first price that reaches the level fires it
            level = trig.trigger_price
            if (high < level) if up else (low > level):
                continue
            for i, p in enumerate(prices):
                if (p >= level) if up else (p <= level):
                    fired.append((i, -abs(p - level), trig.trigger_id, trig, p))
                    break
            continue
        for i, p in enumerate(prices):
            if not trig.activated:
                if (p <= trig.activation_price) if trig.is_buy else (p >= trig.activation_price):
                    trig.activated = True
                    trig.extreme = p
                    moved[trig.trigger_id] = trig, p
                continue
            if (p < trig.extreme) if trig.is_buy else (p > trig.extreme):
                trig.extreme = p
                moved[trig.trigger_id] = trig, p
                continue
            level = trig.stop_price()
            if (p >= level) if up else (p <= level):
                fired.append((i, -abs(p - level), trig.trigger_id, trig, p))
                break
    done = {f[2] for f in fired}
    for tid in sorted(moved):
        trig, p = moved[tid]
        pending.retrack(trig)
        if tid not in done:
            out.append(
                TrailingStopMoved(
                    seq=seq,
                    ts_ns=ts,
                    trigger_id=tid,
                    account=trig.account,
                    instrument=sym,
                    working_type=working,
                    observed_price=p,
                    extreme=trig.extreme,
                    stop_price=trig.stop_price(),
                )
            )
    fired.sort(key=lambda f: f[:3])
    return [(f[3], f[4]) for f in fired]


def _fire(st: VenueState, inst: Instrument, trig: TriggerOrder, observed: int, seq: int, ts: int, out: list[object]) -> list[int]:
    """Place the order of a fired trigger through the order pipeline; return its trade prices."""
    from harbour.venue.orders import place_order  # orders imports this module (via price_moves)

    sym = inst.symbol
    _remove(st, trig)
    side = _BUY if trig.is_buy else Side.SELL
    out.append(
        TriggerOrderTriggered(
            seq=seq,
            ts_ns=ts,
            trigger_id=trig.trigger_id,
            account=trig.account,
            instrument=sym,
            side=side,
            kind=trig.kind,
            working_type=trig.working_type,
            observed_price=observed,
            stop_price=trig.stop_price(),
            order_id=trig.trigger_id,
        )
    )
    acct = st.accounts[trig.account]
    qty = trig.qty
    reduce_only = trig.reduce_only or trig.close_position
    if reduce_only:
        pos = acct.positions.get(sym)
        can_reduce = reducible_qty(pos, trig.is_buy) if pos is not None else 0
        if not can_reduce:
            out.append(_cancelled(trig, "", seq, ts, rejected(seq, ts, "place_order", C.REDUCE_ONLY_NO_POSITION)))
            return []
        if trig.close_position:
            qty = can_reduce if can_reduce < inst.max_qty else inst.max_qty
        elif can_reduce < qty:
            qty = can_reduce
    is_limit = trig.kind in _LIMIT_KINDS
    order = PlaceOrder(
        account=trig.account,
        instrument=sym,
        side=side,
        qty=qty,
        price=trig.price if is_limit else 0,
        order_type=OrderType.LIMIT if is_limit else OrderType.MARKET,
        tif=trig.tif,
        reduce_only=reduce_only,
        stp=trig.stp,
        client_order_id=trig.client_order_id,
    )
    coid = trig.client_order_id
    if coid:  # the trigger holds the client order id; the order it places carries it on
        del acct.client_order_ids[coid]
    events = _FiredOrderEvents()
    place_order(st, trig.trigger_id, ts, order, events)  # the order id is the trigger id
    if coid:
        acct.client_order_ids[coid] = trig.trigger_id
    prices: list[int] = []
    for e in events:
        if isinstance(e, Rejected):
            out.append(_cancelled(trig, "", seq, ts, e))
            return []
        if isinstance(e, TradeExecuted):
            prices.append(e.price)
            st.trigger_trade_cursor[sym] = e.trade_id
        out.append(msgspec.structs.replace(cast(msgspec.Struct, e), seq=seq))  # stamped with the command's seq
    return prices
