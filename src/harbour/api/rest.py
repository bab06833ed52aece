"""The REST gateway: Binance USDⓈ-M routes (what ccxt's ``binanceusdm`` calls) over the venue.

A request goes: size limit -> parameters (the exact bytes kept for the signature) ->
authentication (key, IP, scope, signature, timestamp window) -> a job on the single writer
(``service``) that validates, submits commands and builds the answer from the state as of
its place in the order -> the answer, sent once the batch holding the command is durable.

Account endpoints act only for the account the key belongs to: no request parameter can
name another account, so an affiliated market maker's key reads and trades its own account
and nothing else. Staff roles (operator, compliance, auditor) hold no account and are
refused on account endpoints (their views come under /hk/v1).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

import msgspec

from harbour.api import errors as E
from harbour.api import views
from harbour.api.errors import ApiError
from harbour.api.keys import ACCOUNT_ROLES, ApiKey, KeyStore, Scope
from harbour.api.numbers import BadNumber, parse_decimal, parse_int, units
from harbour.api.readmodel import OrderRecord, TriggerRecord
from harbour.api.service import VenueService, WriterContext
from harbour.api.ws import StreamConfig, StreamHub, route_for
from harbour.venue.accounts import Account
from harbour.venue.commands import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CancelTriggerOrder,
    OrderType,
    PlaceOrder,
    PlaceTriggerOrder,
    SelfTradePrevention,
    SetLeverage,
    SetMarginMode,
    Side,
    TimeInForce,
    TriggerKind,
    WorkingType,
)
from harbour.venue.events import Rejected
from harbour.venue.instruments import Instrument

MAX_BODY_BYTES: Final = 16 * 1024
MAX_QUERY_BYTES: Final = 8 * 1024
DEFAULT_RECV_WINDOW_MS: Final = 5_000
MAX_RECV_WINDOW_MS: Final = 60_000
MAX_AHEAD_MS: Final = 1_000
CLIENT_ID_RE: Final = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
JSON_HEADERS: Final = {"content-type": "application/json"}
NS_PER_MS: Final = 1_000_000
OPENAPI_PATH: Final = "/openapi.json"

PUBLIC, KEY, SIGNED = "PUBLIC", "KEY", "SIGNED"


@dataclass(slots=True, kw_only=True)
class Call:
    """One authenticated request: its parameters and who sent it."""

    params: dict[str, str]
    key: ApiKey | None
    ip: str
    method: str
    path: str
    used: set[str] = field(default_factory=set)

    def get(self, name: str) -> str | None:
        self.used.add(name)
        value = self.params.get(name)
        return value if value not in (None, "") else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise E.error(E.MANDATORY_PARAM, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value

    @property
    def account_id(self) -> int:
        key = self.key
        if key is None or key.account is None or key.role not in ACCOUNT_ROLES:
            raise E.error(E.NOT_PERMITTED_FOR_ROLE, "This endpoint acts for an account: use a client or market-maker key.")
        return key.account


Handler = Callable[[Call, WriterContext], Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    handler: Handler
    security: str
    scope: Scope | None
    weight: int = 1
    writer: bool = True  # runs on the writer thread (anything reading or changing venue state)


@dataclass(slots=True)
class GatewayConfig:
    clock_ms: Callable[[], int] = field(default_factory=lambda: (lambda: time.time_ns() // NS_PER_MS))
    ip_weight_per_minute: int = 2_400  # Binance USDⓈ-M's REQUEST_WEIGHT limit
    key_weight_per_minute: int = 2_400
    ban_ms: int = 120_000  # a client that keeps sending after a 429 is refused (418) this long
    streams: StreamConfig = field(default_factory=StreamConfig)  # WebSocket limits and listen keys (api.ws)


class WeightLimiter:
    """Request weight per caller per clock minute (fixed windows), Binance style.

    Over the limit: HTTP 429 (-1003). A caller that keeps sending after its 429 is banned
    (HTTP 418) for ``ban_ms``, as Binance bans IPs that ignore 429s.
    """

    def __init__(self, limit: int, ban_ms: int) -> None:
        self.limit = limit
        self.ban_ms = ban_ms
        self._windows: dict[str, tuple[int, int, bool]] = {}  # caller -> (minute, used, warned)
        self._banned_until: dict[str, int] = {}

    def charge(self, caller: str, weight: int, now_ms: int) -> int:
        """Add ``weight``; return the caller's weight used this minute, or raise 429/418."""
        banned = self._banned_until.get(caller)
        if banned is not None:
            if now_ms < banned:
                raise ApiError(418, E.TOO_MANY_REQUESTS, f"Way too many requests; banned until {banned}.")
            del self._banned_until[caller]
        minute = now_ms // 60_000
        window, used, warned = self._windows.get(caller, (minute, 0, False))
        if window != minute:
            window, used, warned = minute, 0, False
            if len(self._windows) > 100_000:  # forget idle callers
                self._windows = {k: v for k, v in self._windows.items() if v[0] == minute}
        if used + weight > self.limit:
            if warned:
                self._banned_until[caller] = now_ms + self.ban_ms
                raise ApiError(418, E.TOO_MANY_REQUESTS, f"Way too many requests; banned until {now_ms + self.ban_ms}.")
            self._windows[caller] = (window, used, True)
            raise ApiError(429, E.TOO_MANY_REQUESTS, f"Too many requests; current limit is {self.limit} request weight per minute.")
        used += weight
        self._windows[caller] = (window, used, warned)
        return used


# --- helpers ------------------------------------------------------------------------------------


def required_instrument(ctx: WriterContext, call: Call, name: str = "symbol") -> Instrument:
    """The instrument the call's required ``name`` parameter names; an unknown one is BAD_SYMBOL."""
    sym = call.require(name)
    inst = ctx.state.instruments.get(sym)
    if inst is None:
        raise E.error(E.BAD_SYMBOL, sym)
    return inst


def optional_instrument(ctx: WriterContext, call: Call) -> Instrument | None:
    """The instrument the call's optional ``symbol`` names, or None; an unknown one is BAD_SYMBOL."""
    sym = call.get("symbol")
    if sym is None:
        return None
    inst = ctx.state.instruments.get(sym)
    if inst is None:
        raise E.error(E.BAD_SYMBOL, sym)
    return inst


def _account(ctx: WriterContext, call: Call) -> Account:
    acct = ctx.state.accounts.get(call.account_id)
    if acct is None:
        raise E.error(E.REJECTED_MBX_KEY, "the key's account is not open")
    return acct


def _decimal(call: Call, name: str, decimals: int, *, required: bool = True) -> int:
    text = call.get(name)
    if text is None:
        if required:
            call.require(name)
        return 0
    try:
        return parse_decimal(name, text, decimals)
    except BadNumber as bad:
        if "more than" in bad.why:
            raise E.error(E.BAD_PRECISION, f"Precision is over the maximum defined for this asset ({name}={text}).") from None
        raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}' is not a valid positive decimal: {text!r}.") from None


def _int(call: Call, name: str, *, low: int | None = None, high: int | None = None, default: int | None = None) -> int | None:
    text = call.get(name)
    if text is None:
        return default
    try:
        return parse_int(name, text, low=low, high=high)
    except BadNumber:
        raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}' is invalid: {text!r}.") from None


def _limit(call: Call, default: int, high: int) -> int:
    value = _int(call, "limit", low=1, high=high, default=default)
    assert value is not None
    return value


def _bool(call: Call, name: str) -> bool:
    text = call.get(name)
    if text is None:
        return False
    if text.lower() == "true":
        return True
    if text.lower() == "false":
        return False
    raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}' must be true or false.")


def _side(call: Call) -> Side:
    text = call.require("side")
    try:
        return Side(text.upper())
    except ValueError:
        raise E.error(E.INVALID_SIDE, f"Invalid side: {text!r}.") from None


def _client_id(call: Call, name: str) -> str:
    text = call.get(name)
    if text is None:
        return ""
    if not CLIENT_ID_RE.match(text):
        raise E.error(E.ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'.")
    return text


def _position_side(call: Call) -> None:
    side = call.get("positionSide")
    if side is not None and side.upper() != "BOTH":
        raise E.error(E.POSITION_SIDE_MISMATCH, "Order's position side does not match user's setting: the venue is one-way (BOTH) only.")


def _stp(call: Call) -> SelfTradePrevention:
    text = call.get("selfTradePreventionMode")
    if text is None or text.upper() in ("NONE", "EXPIRE_MAKER"):
        return SelfTradePrevention.EXPIRE_MAKER
    try:
        return SelfTradePrevention(text.upper())
    except ValueError:
        raise E.error(E.INVALID_PARAMETER, f"Invalid selfTradePreventionMode: {text!r}.") from None


_TIF: Final = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "GTX": TimeInForce.POST_ONLY}
_TRIGGER_KINDS: Final = {
    "STOP_MARKET": TriggerKind.STOP_MARKET,
    "STOP": TriggerKind.STOP_LIMIT,
    "TAKE_PROFIT_MARKET": TriggerKind.TAKE_PROFIT_MARKET,
    "TAKE_PROFIT": TriggerKind.TAKE_PROFIT_LIMIT,
    "TRAILING_STOP_MARKET": TriggerKind.TRAILING_STOP_MARKET,
}


def _tif(call: Call, default: TimeInForce) -> TimeInForce:
    text = call.get("timeInForce")
    if text is None:
        return default
    tif = _TIF.get(text.upper())
    if tif is None:
        raise E.error(E.INVALID_TIF, f"Invalid time in force: {text!r} (GTC, IOC, FOK or GTX).")
    return tif


def _rejection(events: list[Any]) -> Rejected | None:
    if events and type(events[0]) is Rejected:
        return events[0]
    return None


def _reject_error(rej: Rejected, inst: Instrument | None) -> ApiError:
    pd = inst.price_decimals if inst is not None else None
    qd = inst.qty_decimals if inst is not None else None
    return E.from_reject(rej.code, rej.message, detail=rej.detail, price_decimals=pd, qty_decimals=qd)


def _raise_if_rejected(events: list[Any], inst: Instrument | None = None) -> None:
    rej = _rejection(events)
    if rej is not None:
        raise _reject_error(rej, inst)


def _now_ms(ctx: WriterContext) -> int:
    return ctx.now_ns // NS_PER_MS


# --- public market data -------------------------------------------------------------------------


def h_ping(call: Call, ctx: WriterContext) -> Any:
    return {}


def _time(config: GatewayConfig) -> Handler:
    def handler(call: Call, ctx: WriterContext) -> Any:
        return {"serverTime": config.clock_ms()}

    return handler


def h_exchange_info(call: Call, ctx: WriterContext) -> Any:
    return views.exchange_info(ctx.state, _now_ms(ctx))


def h_depth(call: Call, ctx: WriterContext) -> Any:
    inst = required_instrument(ctx, call)
    return views.depth(ctx.state, ctx.reads, inst, _limit(call, 500, 1000), _now_ms(ctx))


def h_trades(call: Call, ctx: WriterContext) -> Any:
    inst = required_instrument(ctx, call)
    return views.recent_trades(ctx.reads, inst, _limit(call, 500, 1000))


def h_agg_trades(call: Call, ctx: WriterContext) -> Any:
    inst = required_instrument(ctx, call)
    return views.agg_trades(ctx.reads, inst, _limit(call, 500, 1000), _int(call, "startTime"), _int(call, "endTime"), _int(call, "fromId"))


def _klines(kind: str, symbol_param: str) -> Handler:
    def handler(call: Call, ctx: WriterContext) -> Any:
        inst = required_instrument(ctx, call, symbol_param)
        interval = call.require("interval")
        if interval not in views.INTERVAL_MS:
            raise E.error(E.INVALID_PARAMETER, f"Invalid interval {interval!r}.")
        return views.klines(ctx.reads, kind, inst, interval, _limit(call, 500, 1500), _int(call, "startTime"), _int(call, "endTime"))

    return handler


def h_ticker_24h(call: Call, ctx: WriterContext) -> Any:
    inst = optional_instrument(ctx, call)
    now = _now_ms(ctx)
    if inst is not None:
        return views.ticker_24h(ctx.state, ctx.reads, inst, now)
    return [views.ticker_24h(ctx.state, ctx.reads, i, now) for _, i in sorted(ctx.state.instruments.items())]


def h_ticker_price(call: Call, ctx: WriterContext) -> Any:
    def one(inst: Instrument) -> dict[str, Any]:
        last = ctx.state.last_trade_price.get(inst.symbol) or inst.ref_price
        return {"symbol": inst.symbol, "price": units(last, inst.price_decimals), "time": _now_ms(ctx)}

    inst = optional_instrument(ctx, call)
    return one(inst) if inst is not None else [one(i) for _, i in sorted(ctx.state.instruments.items())]


def h_book_ticker(call: Call, ctx: WriterContext) -> Any:
    inst = optional_instrument(ctx, call)
    now = _now_ms(ctx)
    if inst is not None:
        return views.book_ticker(ctx.state, ctx.reads, inst, now)
    return [views.book_ticker(ctx.state, ctx.reads, i, now) for _, i in sorted(ctx.state.instruments.items())]


def _premium_index() -> Handler:
    def handler(call: Call, ctx: WriterContext) -> Any:
        inst = optional_instrument(ctx, call)

        def one(i: Instrument) -> dict[str, Any]:
            interval = views.funding_interval_ns(ctx.state, i.symbol)
            return views.premium_index(ctx.state, ctx.reads, i, ctx.now_ns, interval)

        return one(inst) if inst is not None else [one(i) for _, i in sorted(ctx.state.instruments.items())]

    return handler


def _funding_info() -> Handler:
    def handler(call: Call, ctx: WriterContext) -> Any:
        rows = []
        for sym, _ in sorted(ctx.state.instruments.items()):
            interval = views.funding_interval_ns(ctx.state, sym)
            row: dict[str, Any] = {"symbol": sym, "fundingIntervalSeconds": interval // 1_000_000_000, "disclaimer": False}
            if interval % views.NS_PER_HOUR == 0:
                row["fundingIntervalHours"] = interval // views.NS_PER_HOUR
            rows.append(row)
        return rows

    return handler


def h_funding_rate(call: Call, ctx: WriterContext) -> Any:
    inst = required_instrument(ctx, call)
    return views.funding_history(ctx.reads, inst, _limit(call, 100, 1000), _int(call, "startTime"), _int(call, "endTime"))


def h_open_interest(call: Call, ctx: WriterContext) -> Any:
    inst = required_instrument(ctx, call)
    return {"symbol": inst.symbol, "openInterest": units(ctx.engine.open_interest(inst.symbol), inst.qty_decimals), "time": _now_ms(ctx)}


def h_empty_list(call: Call, ctx: WriterContext) -> Any:
    return []


# --- account -------------------------------------------------------------------------------------


def h_account(call: Call, ctx: WriterContext) -> Any:
    return views.account(ctx.state, ctx.reads, _account(ctx, call), _now_ms(ctx))


def h_balance(call: Call, ctx: WriterContext) -> Any:
    return views.balances(ctx.state, ctx.reads, _account(ctx, call), _now_ms(ctx))


def _position_risk(all_symbols: bool) -> Handler:
    def handler(call: Call, ctx: WriterContext) -> Any:
        inst = optional_instrument(ctx, call)
        return views.position_risk(ctx.state, ctx.reads, _account(ctx, call), inst.symbol if inst else "", _now_ms(ctx), all_symbols=all_symbols)

    return handler


def h_leverage_bracket(call: Call, ctx: WriterContext) -> Any:
    _account(ctx, call)
    inst = optional_instrument(ctx, call)
    rows = views.leverage_brackets(ctx.state, inst.symbol if inst else "")
    return rows[0] if inst is not None else rows


def h_leverage(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    leverage = _int(call, "leverage", low=1, high=125)
    if leverage is None:
        call.require("leverage")
        raise AssertionError
    _, events = ctx.submit(SetLeverage(account=acct.account_id, instrument=inst.symbol, leverage=leverage))
    _raise_if_rejected(events, inst)
    cap = max((t.max_notional for t in inst.tiers if t.max_leverage >= leverage), default=inst.tiers[0].max_notional)
    return {"symbol": inst.symbol, "leverage": leverage, "maxNotionalValue": units(cap // 10**6, 0)}


def h_margin_type(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    wanted = call.require("marginType").upper()
    if wanted not in ("ISOLATED", "CROSSED", "CROSS"):
        raise E.error(E.INVALID_PARAMETER, "marginType must be ISOLATED or CROSSED.")
    isolated = wanted == "ISOLATED"
    pos = acct.positions.get(inst.symbol)
    if (pos.isolated if pos is not None else False) == isolated:
        raise E.error(E.NO_NEED_TO_CHANGE_MARGIN_TYPE)
    if pos is not None and not pos.qty and (pos.open_buy_qty or pos.open_sell_qty):
        raise E.error(E.MARGIN_TYPE_WITH_OPEN_ORDERS, "Margin type cannot be changed if there exists open orders.")
    _, events = ctx.submit(SetMarginMode(account=acct.account_id, instrument=inst.symbol, isolated=isolated))
    _raise_if_rejected(events, inst)
    return {"code": 200, "msg": "success"}


def h_position_mode_set(call: Call, ctx: WriterContext) -> Any:
    _account(ctx, call)
    if _bool(call, "dualSidePosition"):
        raise E.error(E.FEATURE_NOT_SUPPORTED, "Hedge mode is not offered: positions are one-way (net) per instrument.")
    return {"code": 200, "msg": "success"}


def h_position_mode_get(call: Call, ctx: WriterContext) -> Any:
    _account(ctx, call)
    return {"dualSidePosition": False}


def h_multi_assets_get(call: Call, ctx: WriterContext) -> Any:
    _account(ctx, call)
    return {"multiAssetsMargin": True}


# --- orders ---------------------------------------------------------------------------------------


def _order_answer(ctx: WriterContext, rec: OrderRecord) -> dict[str, Any]:
    return views.order(rec, ctx.state.instruments[rec.symbol])


def _place_trigger(call: Call, ctx: WriterContext, acct: Account, inst: Instrument, type_: str, *, algo: bool) -> Any:
    kind = _TRIGGER_KINDS[type_]
    pd, qd = inst.price_decimals, inst.qty_decimals
    close = _bool(call, "closePosition")
    qty = 0 if close else _decimal(call, "quantity", qd)
    trigger_name = "triggerPrice" if algo or call.get("triggerPrice") is not None else "stopPrice"
    trailing = kind is TriggerKind.TRAILING_STOP_MARKET
    trigger = 0 if trailing else _decimal(call, trigger_name, pd)
    limit_kind = kind in (TriggerKind.STOP_LIMIT, TriggerKind.TAKE_PROFIT_LIMIT)
    price = _decimal(call, "price", pd, required=limit_kind)
    working = call.get("workingType") or "CONTRACT_PRICE"
    if working.upper() not in ("MARK_PRICE", "CONTRACT_PRICE"):
        raise E.error(E.INVALID_PARAMETER, "workingType must be MARK_PRICE or CONTRACT_PRICE.")
    callback = _decimal(call, "callbackRate", 2, required=trailing) if trailing else 0
    activation = _decimal(call, "activatePrice" if call.get("activatePrice") is not None else "activationPrice", pd, required=False)
    command = PlaceTriggerOrder(
        account=acct.account_id,
        instrument=inst.symbol,
        side=_side(call),
        kind=kind,
        working_type=WorkingType.MARK if working.upper() == "MARK_PRICE" else WorkingType.LAST,
        qty=qty,
        trigger_price=trigger,
        price=price,
        tif=_tif(call, TimeInForce.GTC) if limit_kind else TimeInForce.GTC,
        reduce_only=_bool(call, "reduceOnly"),
        close_position=close,
        callback_bps=callback,
        activation_price=activation,
        stp=_stp(call),
        client_order_id=_client_id(call, "clientAlgoId" if algo else "newClientOrderId"),
    )
    seq, events = ctx.submit(command)
    _raise_if_rejected(events, inst)
    rec = ctx.reads.triggers[seq]
    return views.algo_order(rec, inst) if algo else views.trigger_as_order(rec, inst)


def h_new_order(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    _position_side(call)
    type_ = call.require("type").upper()
    if type_ in _TRIGGER_KINDS:
        return _place_trigger(call, ctx, acct, inst, type_, algo=False)
    if type_ not in ("LIMIT", "MARKET"):
        raise E.error(E.INVALID_ORDER_TYPE, f"Invalid orderType {type_!r}.")
    side = _side(call)
    qty = _decimal(call, "quantity", inst.qty_decimals)
    market = type_ == "MARKET"
    if market and call.get("price") is not None:
        raise E.error(E.PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
    price = 0 if market else _decimal(call, "price", inst.price_decimals)
    tif = TimeInForce.IOC if market else _tif(call, TimeInForce.GTC)
    command = PlaceOrder(
        account=acct.account_id,
        instrument=inst.symbol,
        side=side,
        qty=qty,
        price=price,
        order_type=OrderType.MARKET if market else OrderType.LIMIT,
        tif=tif,
        reduce_only=_bool(call, "reduceOnly"),
        stp=_stp(call),
        client_order_id=_client_id(call, "newClientOrderId"),
    )
    seq, events = ctx.submit(command)
    rej = _rejection(events)
    if rej is not None:
        if rej.reason == "FOK_NOT_FILLABLE":
            return _order_answer(ctx, ctx.reads.record_expired(seq, ctx.last_ts_ns, acct.account_id, command))
        raise _reject_error(rej, inst)
    return _order_answer(ctx, ctx.reads.orders[seq])


def _find(call: Call, ctx: WriterContext, acct: Account, inst: Instrument, id_name: str, client_name: str) -> tuple[int, str]:
    order_id = _int(call, id_name, low=1)
    client_id = call.get(client_name) or ""
    if order_id is None and not client_id:
        raise E.error(E.MANDATORY_PARAM, f"Either '{id_name}' or '{client_name}' must be sent.")
    return order_id or 0, client_id


def h_query_order(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    order_id, client_id = _find(call, ctx, acct, inst, "orderId", "origClientOrderId")
    rec = ctx.reads.order(acct.account_id, inst.symbol, order_id, client_id)
    if rec is not None:
        return views.order(rec, inst)
    trig = ctx.reads.trigger(acct.account_id, inst.symbol, order_id, client_id)
    if trig is not None:
        return views.trigger_as_order(trig, inst)
    raise E.error(E.NO_SUCH_ORDER)


def h_cancel_order(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    order_id, client_id = _find(call, ctx, acct, inst, "orderId", "origClientOrderId")
    trig = ctx.reads.trigger(acct.account_id, inst.symbol, order_id, client_id)
    if trig is not None and trig.status == "NEW":
        _, events = ctx.submit(CancelTriggerOrder(account=acct.account_id, instrument=inst.symbol, trigger_id=trig.trigger_id))
        _raise_if_rejected(events, inst)
        return views.trigger_as_order(trig, inst)
    _, events = ctx.submit(CancelOrder(account=acct.account_id, instrument=inst.symbol, order_id=order_id, client_order_id=client_id))
    _raise_if_rejected(events, inst)
    rec = ctx.reads.order(acct.account_id, inst.symbol, order_id, client_id)
    if rec is None:
        raise E.error(E.CANCEL_REJECTED)
    return views.order(rec, inst)


def h_amend_order(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    order_id, client_id = _find(call, ctx, acct, inst, "orderId", "origClientOrderId")
    rec = ctx.reads.order(acct.account_id, inst.symbol, order_id, client_id)
    if rec is None or not rec.is_open:
        raise E.error(E.NO_SUCH_ORDER)
    side = _side(call)
    if side.value != rec.side:
        raise E.error(E.INVALID_SIDE, "The side of an order cannot be modified.")
    qty = _decimal(call, "quantity", inst.qty_decimals)
    price = _decimal(call, "price", inst.price_decimals)
    remaining = qty - rec.executed_qty
    if remaining <= 0:
        raise E.error(E.QTY_LESS_THAN_ZERO, "Quantity must exceed the quantity already executed.")
    _, events = ctx.submit(AmendOrder(account=acct.account_id, instrument=inst.symbol, order_id=rec.order_id, price=price, qty=remaining))
    _raise_if_rejected(events, inst)
    return views.order(rec, inst)


def h_open_orders(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = optional_instrument(ctx, call)
    recs = ctx.reads.open_orders(acct.account_id, inst.symbol if inst else "")
    return [views.order(r, ctx.state.instruments[r.symbol]) for r in recs]


def h_open_order(call: Call, ctx: WriterContext) -> Any:
    answer = h_query_order(call, ctx)
    if answer.get("status") not in ("NEW", "PARTIALLY_FILLED"):
        raise E.error(E.NO_SUCH_ORDER)
    return answer


def h_all_orders(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    limit = _limit(call, 500, 1000)
    start, end, from_id = _int(call, "startTime"), _int(call, "endTime"), _int(call, "orderId")
    mine: dict[int, OrderRecord] = ctx.reads.account_orders.get(acct.account_id) or {}
    rows = [
        r
        for r in mine.values()
        if r.symbol == inst.symbol
        and (start is None or r.time_ms >= start)
        and (end is None or r.time_ms <= end)
        and (from_id is None or r.order_id >= from_id)
    ]
    rows = rows[:limit] if (start is not None or from_id is not None) else rows[-limit:]
    return [views.order(r, inst) for r in rows]


def h_cancel_all(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    _, events = ctx.submit(CancelAllOrders(account=acct.account_id, instrument=inst.symbol))
    _raise_if_rejected(events, inst)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def h_user_trades(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    return views.user_trades(
        ctx.reads, inst, acct.account_id, _limit(call, 500, 1000), _int(call, "startTime"), _int(call, "endTime"), _int(call, "fromId"), _int(call, "orderId")
    )


# --- conditional (algo) orders -------------------------------------------------------------------


def h_new_algo(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    _position_side(call)
    algo_type = (call.get("algoType") or "CONDITIONAL").upper()
    if algo_type != "CONDITIONAL":
        raise E.error(E.INVALID_PARAMETER, f"algoType {algo_type!r} is not offered (CONDITIONAL only).")
    type_ = (call.get("type") or call.require("orderType")).upper()
    if type_ not in _TRIGGER_KINDS:
        raise E.error(E.INVALID_ORDER_TYPE, f"Invalid conditional order type {type_!r}.")
    return _place_trigger(call, ctx, acct, inst, type_, algo=True)


def _find_trigger(call: Call, ctx: WriterContext, acct: Account) -> TriggerRecord:
    trigger_id = _int(call, "algoId", low=1) or 0
    client_id = call.get("clientAlgoId") or ""
    if not trigger_id and not client_id:
        raise E.error(E.MANDATORY_PARAM, "Either 'algoId' or 'clientAlgoId' must be sent.")
    inst = optional_instrument(ctx, call)
    rec = ctx.reads.trigger(acct.account_id, inst.symbol if inst else "", trigger_id, client_id)
    if rec is None:
        raise E.error(E.NO_SUCH_ORDER)
    return rec


def h_query_algo(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    rec = _find_trigger(call, ctx, acct)
    return views.algo_order(rec, ctx.state.instruments[rec.symbol])


def h_cancel_algo(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    try:
        rec = _find_trigger(call, ctx, acct)
    except ApiError as error:
        if error.code == E.NO_SUCH_ORDER:
            raise E.error(E.CANCEL_REJECTED) from None
        raise
    _, events = ctx.submit(CancelTriggerOrder(account=acct.account_id, instrument=rec.symbol, trigger_id=rec.trigger_id))
    _raise_if_rejected(events, ctx.state.instruments.get(rec.symbol))
    answer = views.algo_order(rec, ctx.state.instruments[rec.symbol])
    answer.update({"code": "200", "msg": "success"})
    return answer


def h_open_algos(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = optional_instrument(ctx, call)
    return [views.algo_order(r, ctx.state.instruments[r.symbol]) for r in ctx.reads.open_triggers(acct.account_id, inst.symbol if inst else "")]


def h_all_algos(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    mine: dict[int, TriggerRecord] = ctx.reads.account_triggers.get(acct.account_id) or {}
    rows = [r for r in mine.values() if r.symbol == inst.symbol][-_limit(call, 500, 1000) :]
    return [views.algo_order(r, inst) for r in rows]


def h_cancel_all_algos(call: Call, ctx: WriterContext) -> Any:
    acct = _account(ctx, call)
    inst = required_instrument(ctx, call)
    for rec in ctx.reads.open_triggers(acct.account_id, inst.symbol):
        ctx.submit(CancelTriggerOrder(account=acct.account_id, instrument=inst.symbol, trigger_id=rec.trigger_id))
    return {"code": 200, "msg": "success"}


# --- the route table ------------------------------------------------------------------------------


def endpoints(config: GatewayConfig) -> dict[tuple[str, str], Endpoint]:
    R, T = Scope.READ, Scope.TRADE
    table: dict[tuple[str, str], Endpoint] = {}

    def add(method: str, paths: tuple[str, ...], endpoint: Endpoint) -> None:
        for path in paths:
            table[(method, path)] = endpoint

    add("GET", ("/fapi/v1/ping",), Endpoint(h_ping, PUBLIC, None, 1, writer=False))
    add("GET", ("/fapi/v1/time",), Endpoint(_time(config), PUBLIC, None, 1, writer=False))
    add("GET", ("/fapi/v1/exchangeInfo",), Endpoint(h_exchange_info, PUBLIC, None, 1))
    add("GET", ("/fapi/v1/depth",), Endpoint(h_depth, PUBLIC, None, 5))
    add("GET", ("/fapi/v1/trades",), Endpoint(h_trades, PUBLIC, None, 5))
    add("GET", ("/fapi/v1/aggTrades",), Endpoint(h_agg_trades, PUBLIC, None, 20))
    add("GET", ("/fapi/v1/klines",), Endpoint(_klines("trade", "symbol"), PUBLIC, None, 5))
    add("GET", ("/fapi/v1/markPriceKlines",), Endpoint(_klines("mark", "symbol"), PUBLIC, None, 5))
    add("GET", ("/fapi/v1/indexPriceKlines",), Endpoint(_klines("index", "pair"), PUBLIC, None, 5))
    add("GET", ("/fapi/v1/ticker/24hr",), Endpoint(h_ticker_24h, PUBLIC, None, 5))
    add("GET", ("/fapi/v1/ticker/price", "/fapi/v2/ticker/price"), Endpoint(h_ticker_price, PUBLIC, None, 2))
    add("GET", ("/fapi/v1/ticker/bookTicker",), Endpoint(h_book_ticker, PUBLIC, None, 2))
    add("GET", ("/fapi/v1/premiumIndex",), Endpoint(_premium_index(), PUBLIC, None, 1))
    add("GET", ("/fapi/v1/fundingRate",), Endpoint(h_funding_rate, PUBLIC, None, 1))
    add("GET", ("/fapi/v1/fundingInfo",), Endpoint(_funding_info(), PUBLIC, None, 1))
    add("GET", ("/fapi/v1/openInterest",), Endpoint(h_open_interest, PUBLIC, None, 1))
    # the two signed calls ccxt makes at load_markets with keys set: nothing to offer there
    add("GET", ("/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs"), Endpoint(h_empty_list, SIGNED, R, 10, writer=False))
    add("GET", ("/fapi/v2/account", "/fapi/v3/account"), Endpoint(h_account, SIGNED, R, 5))
    add("GET", ("/fapi/v2/balance", "/fapi/v3/balance"), Endpoint(h_balance, SIGNED, R, 5))
    add("GET", ("/fapi/v2/positionRisk",), Endpoint(_position_risk(True), SIGNED, R, 5))
    add("GET", ("/fapi/v3/positionRisk",), Endpoint(_position_risk(False), SIGNED, R, 5))
    add("GET", ("/fapi/v1/leverageBracket",), Endpoint(h_leverage_bracket, SIGNED, R, 1))
    add("POST", ("/fapi/v1/leverage",), Endpoint(h_leverage, SIGNED, T, 1))
    add("POST", ("/fapi/v1/marginType",), Endpoint(h_margin_type, SIGNED, T, 1))
    add("POST", ("/fapi/v1/positionSide/dual",), Endpoint(h_position_mode_set, SIGNED, T, 1))
    add("GET", ("/fapi/v1/positionSide/dual",), Endpoint(h_position_mode_get, SIGNED, R, 30))
    add("GET", ("/fapi/v1/multiAssetsMargin",), Endpoint(h_multi_assets_get, SIGNED, R, 30))
    add("POST", ("/fapi/v1/order",), Endpoint(h_new_order, SIGNED, T, 1))
    add("PUT", ("/fapi/v1/order",), Endpoint(h_amend_order, SIGNED, T, 1))
    add("GET", ("/fapi/v1/order",), Endpoint(h_query_order, SIGNED, R, 1))
    add("DELETE", ("/fapi/v1/order",), Endpoint(h_cancel_order, SIGNED, T, 1))
    add("GET", ("/fapi/v1/openOrders",), Endpoint(h_open_orders, SIGNED, R, 1))
    add("GET", ("/fapi/v1/openOrder",), Endpoint(h_open_order, SIGNED, R, 1))
    add("GET", ("/fapi/v1/allOrders",), Endpoint(h_all_orders, SIGNED, R, 5))
    add("DELETE", ("/fapi/v1/allOpenOrders",), Endpoint(h_cancel_all, SIGNED, T, 1))
    add("GET", ("/fapi/v1/userTrades",), Endpoint(h_user_trades, SIGNED, R, 5))
    add("POST", ("/fapi/v1/algoOrder",), Endpoint(h_new_algo, SIGNED, T, 1))
    add("GET", ("/fapi/v1/algoOrder",), Endpoint(h_query_algo, SIGNED, R, 1))
    add("DELETE", ("/fapi/v1/algoOrder",), Endpoint(h_cancel_algo, SIGNED, T, 1))
    add("GET", ("/fapi/v1/openAlgoOrders",), Endpoint(h_open_algos, SIGNED, R, 1))
    add("GET", ("/fapi/v1/allAlgoOrders",), Endpoint(h_all_algos, SIGNED, R, 5))
    add("DELETE", ("/fapi/v1/algoOpenOrders",), Endpoint(h_cancel_all_algos, SIGNED, T, 1))
    # the venue's own endpoints under /hk/v1 (api.hk): disclosures, PI status, index prints, waterfall, operator
    from harbour.api.hk import hk_endpoints

    table.update(hk_endpoints())
    return table


# --- the HTTP layer: a plain ASGI application with a dictionary route table -----------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[Any]]

_encode = msgspec.json.Encoder().encode
_JSON_TYPE: Final = (b"content-type", b"application/json")
_log = logging.getLogger("harbour.api.rest")


def _parse_pairs(raw: bytes, into: dict[str, str]) -> None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise E.error(E.ILLEGAL_CHARS, "Parameters must be URL-encoded ASCII.") from None
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in into:
            raise E.error(E.TOO_MANY_PARAMETERS, f"Duplicate values for a parameter detected ({name}).")
        into[name] = value


def _split_signature(total: bytes) -> tuple[bytes, str | None]:
    """(payload, signature) where the signature is the last parameter, as ccxt sends it."""
    marker = b"&signature="
    at = total.rfind(marker)
    if at >= 0:
        return total[:at], unquote(total[at + len(marker) :].decode("ascii", "replace"))
    if total.startswith(b"signature="):
        return b"", unquote(total[len(b"signature=") :].decode("ascii", "replace"))
    return total, None


async def _read_body(receive: Receive) -> bytes:
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the answer will go nowhere
            break
        chunks += message.get("body", b"")
        if len(chunks) > MAX_BODY_BYTES:
            raise ApiError(413, E.TOO_MANY_PARAMETERS, f"Request body larger than {MAX_BODY_BYTES} bytes.")
        if not message.get("more_body", False):
            break
    return bytes(chunks)


class Gateway:
    """The ASGI application and its request pipeline.

    ``app`` is the gateway itself: an ASGI callable that finds the endpoint by (method, path) in
    one dictionary (no per-request scan of route patterns) and hands the stream WebSocket
    paths to the stream hub.
    """

    def __init__(self, service: VenueService, keys: KeyStore, config: GatewayConfig | None = None) -> None:
        self.service = service
        self.keys = keys
        self.config = config or GatewayConfig()
        self.table = endpoints(self.config)
        self.streams = StreamHub(service, self.config.streams, self.config.clock_ms)  # WebSocket streams (api.ws)
        for method, listen_key_handler in self.streams.listen_key_handlers().items():
            self.table[(method, "/fapi/v1/listenKey")] = Endpoint(listen_key_handler, KEY, Scope.READ, 1, writer=False)
        from harbour.api.hk import bind

        bind(service)  # the gateway's journal of disclosure acknowledgements (api.acknowledgements)
        self.ip_weights = WeightLimiter(self.config.ip_weight_per_minute, self.config.ban_ms)
        self.key_weights = WeightLimiter(self.config.key_weight_per_minute, self.config.ban_ms)
        self.openapi_document = _encode(openapi(self.table))
        self.paths = frozenset(path for _, path in self.table) | {OPENAPI_PATH}
        self.app = self
        self.residence_ns: list[int] | None = None  # a benchmark sets a list: each request's time in the app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            route = route_for(scope.get("path", ""), scope.get("query_string", b""))
            if route is not None:
                await self.streams.serve(scope, receive, send, route)
            else:
                await send({"type": "websocket.close", "code": 1000})  # refused before the handshake: HTTP 403

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = time.perf_counter_ns()
        headers: list[tuple[bytes, bytes]] = []
        try:
            status, body = await self._handle(scope, receive, headers)
        except ApiError as error:
            status, body = error.status, _encode({"code": error.code, "msg": error.msg})
        except Exception:
            _log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            status, body = 500, _encode({"code": E.UNKNOWN, "msg": "An unknown error occurred while processing the request."})
        headers.append(_JSON_TYPE)
        headers.append((b"content-length", b"%d" % len(body)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if self.residence_ns is not None:
            self.residence_ns.append(time.perf_counter_ns() - started)

    async def _handle(self, scope: dict[str, Any], receive: Receive, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        method: str = scope["method"]
        path: str = scope["path"]
        endpoint = self.table.get((method, path))
        if endpoint is None:
            if path == OPENAPI_PATH and method == "GET":
                return 200, self.openapi_document
            if path in self.paths:
                raise ApiError(405, E.UNKNOWN, f"{method} is not supported on {path}.")
            raise ApiError(404, E.UNKNOWN, f"{path} is not an endpoint of this venue (see {OPENAPI_PATH}).")
        client = scope.get("client")
        ip = client[0] if client else ""
        now = self.config.clock_ms()
        used = self.ip_weights.charge("ip:" + ip, endpoint.weight, now)
        headers.append((b"x-mbx-used-weight-1m", b"%d" % used))
        call = await self._authenticate(scope, receive, method, path, ip, endpoint)
        if call.key is not None:
            key_used = self.key_weights.charge("key:" + call.key.key_id, endpoint.weight, now)
            headers.append((b"x-hbr-key-used-weight-1m", b"%d" % key_used))
        if not endpoint.writer:
            return 200, _encode(endpoint.handler(call, _NoWriter()))  # type: ignore[arg-type]

        def job(ctx: WriterContext) -> Any:
            return endpoint.handler(call, ctx)

        return 200, _encode(await self.service.run(job))

    async def _authenticate(self, scope: dict[str, Any], receive: Receive, method: str, path: str, ip: str, endpoint: Endpoint) -> Call:
        query: bytes = scope.get("query_string", b"")
        if len(query) > MAX_QUERY_BYTES:
            raise ApiError(414, E.TOO_MANY_PARAMETERS, "Query string too long.")
        key_id = ""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > MAX_BODY_BYTES:
                    raise ApiError(413, E.TOO_MANY_PARAMETERS, f"Request body larger than {MAX_BODY_BYTES} bytes.")
            elif name == b"x-mbx-apikey":
                key_id = value.decode("latin-1")
        body = await _read_body(receive) if method in ("POST", "PUT", "DELETE") else b""
        key: ApiKey | None = None
        if endpoint.security != PUBLIC:
            key = self._key(key_id, ip, endpoint)
        params: dict[str, str] = {}
        if endpoint.security == SIGNED:
            assert key is not None
            # Binance "totalParams": the query string then the body, the signature last in either
            q_payload, q_sig = _split_signature(query)
            b_payload, b_sig = _split_signature(body)
            _parse_pairs(q_payload, params)
            _parse_pairs(b_payload, params)
            self._check_signed(key, q_payload + b_payload, b_sig if b_sig is not None else q_sig, params)
        else:
            _parse_pairs(query, params)
            _parse_pairs(body, params)
        return Call(params=params, key=key, ip=ip, method=method, path=path)

    def _key(self, key_id: str, ip: str, endpoint: Endpoint) -> ApiKey:
        if not key_id:
            raise ApiError(401, E.BAD_API_KEY_FMT, E.MESSAGES[E.BAD_API_KEY_FMT])
        key = self.keys.get(key_id)
        if key is None or not key.allows_ip(ip) or (endpoint.scope is not None and endpoint.scope not in key.scopes):
            raise ApiError(401, E.REJECTED_MBX_KEY, E.MESSAGES[E.REJECTED_MBX_KEY])
        return key

    def _check_signed(self, key: ApiKey, payload: bytes, signature: str | None, params: dict[str, str]) -> None:
        if signature is None:
            raise E.error(E.MANDATORY_PARAM, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        if not self.keys.verify(key, payload, signature):
            raise ApiError(400, E.BAD_SIGNATURE, E.MESSAGES[E.BAD_SIGNATURE])
        stamp = params.get("timestamp")
        if stamp is None:
            raise E.error(E.MANDATORY_PARAM, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        try:
            timestamp = parse_int("timestamp", stamp, low=0)
            window_text = params.get("recvWindow")
            window = parse_int("recvWindow", window_text, low=1, high=MAX_RECV_WINDOW_MS) if window_text else DEFAULT_RECV_WINDOW_MS
        except BadNumber as bad:
            raise E.error(E.INVALID_PARAMETER, str(bad)) from None
        now = self.config.clock_ms()
        if timestamp >= now + MAX_AHEAD_MS or now - timestamp > window:
            raise ApiError(400, E.TIMESTAMP_OUTSIDE_WINDOW, E.MESSAGES[E.TIMESTAMP_OUTSIDE_WINDOW])


def openapi(table: dict[tuple[str, str], Endpoint]) -> dict[str, Any]:
    """An OpenAPI 3.1 description of the served routes, from the route table itself (``api.openapi``)."""
    from harbour.api.openapi import document

    return document(table)


class _NoWriter:
    """Stands in for the writer context of handlers that read no venue state."""


def create_app(service: VenueService, keys: KeyStore, config: GatewayConfig | None = None) -> Gateway:
    """The ASGI application of the gateway (routes under /fapi/v1, /fapi/v2, /fapi/v3 and /sapi/v1)."""
    return Gateway(service, keys, config)

