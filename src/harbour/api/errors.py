"""The gateway's error table: Binance USDⓈ-M codes where ccxt maps them, our own for our rules.

Every error leaves as HTTP 4xx (5xx only for a fault of ours) with the body
``{"code": <negative int>, "msg": "<text>"}``. Engine rejects (``RejectCode``) are mapped
here and nowhere else; the message is the engine's rendered message (it names the
numbers), except where ccxt matches Binance's exact text, which is then kept verbatim.

Harbour's own rules (no Binance equivalent) use -9001..-9099, a range neither Binance nor
ccxt uses, so ccxt raises a plain ``ExchangeError`` carrying our code and message instead of
mistaking them for another Binance condition.
"""

from __future__ import annotations

from typing import Final

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MONEY_DECIMALS, format_units
from harbour.venue.rejects import render


class ApiError(Exception):
    """An error answer: HTTP status, Binance-style negative code, message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg


# --- Binance codes ccxt knows (messages kept verbatim where ccxt matches the text) -----------

UNKNOWN = -1000
DISCONNECTED = -1001
TOO_MANY_REQUESTS = -1003
TIMESTAMP_OUTSIDE_WINDOW = -1021
BAD_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM = -1102
UNKNOWN_PARAM = -1104
PARAM_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_SYMBOL = -1121
INVALID_PARAMETER = -1130
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
MARGIN_INSUFFICIENT = -2019
ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
REDUCE_ONLY_REJECT = -2022
MAX_POSITION_EXCEEDED = -2027
PRICE_LESS_THAN_ZERO = -4001
QTY_LESS_THAN_ZERO = -4003
QTY_LESS_THAN_MIN = -4004
QTY_GREATER_THAN_MAX = -4005
PRICE_NOT_ON_TICK = -4014
PRICE_HIGHER_THAN_BAND = -4016
QTY_NOT_ON_STEP = -4023
PRICE_LOWER_THAN_BAND = -4024
INVALID_LEVERAGE = -4028
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
MARGIN_TYPE_WITH_OPEN_ORDERS = -4047
MARGIN_TYPE_WITH_POSITION = -4048
MAX_STOP_ORDERS = -4045
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
POSITION_SIDE_MISMATCH = -4061
DUPLICATE_CLIENT_ORDER_ID = -4116
POST_ONLY_REJECTED = -5022
NO_NEED_TO_MODIFY = -5027

# --- Harbour's own rules: -9001..-9099 ---------------------------------------------------------

PI_STATUS_EXPIRED = -9001
NOT_PROFESSIONAL_INVESTOR = -9002
INSTRUMENT_CLOSE_ONLY = -9003
MARGIN_ASSET_NOT_ELIGIBLE = -9004
INSTRUMENT_HALTED = -9005
NO_REFERENCE_PRICE = -9006
CLIENT_FIRST_PRIORITY = -9007  # reserved: an affiliated-MM instruction refused to keep clients first
NOT_PERMITTED_FOR_ROLE = -9008
NO_LAST_TRADE_PRICE = -9009
WITHDRAWALS_PAUSED = -9010
FEATURE_NOT_SUPPORTED = -9011
NOT_YOUR_ACCOUNT = -9012
DISCLOSURE_NOT_CURRENT = -9013

# Verbatim Binance texts (ccxt matches some of these exactly).
MESSAGES: Final[dict[int, str]] = {
    TIMESTAMP_OUTSIDE_WINDOW: "Timestamp for this request is outside of the recvWindow.",
    BAD_SIGNATURE: "Signature for this request is not valid.",
    REJECTED_MBX_KEY: "Invalid API-key, IP, or permissions for action.",
    BAD_API_KEY_FMT: "API-key format invalid.",
    CANCEL_REJECTED: "Unknown order sent.",
    NO_SUCH_ORDER: "Order does not exist.",
    MARGIN_INSUFFICIENT: "Margin is insufficient.",
    NO_NEED_TO_CHANGE_MARGIN_TYPE: "No need to change margin type.",
    NO_NEED_TO_CHANGE_POSITION_SIDE: "No need to change position side.",
    BAD_SYMBOL: "Invalid symbol.",
    POST_ONLY_REJECTED: "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    ORDER_WOULD_IMMEDIATELY_TRIGGER: "Order would immediately trigger.",
    REDUCE_ONLY_REJECT: "ReduceOnly Order is rejected.",
    NO_NEED_TO_MODIFY: "No need to modify the order.",
}

C = RejectCode

# RejectCode -> Binance/Harbour code. Kept messages (MESSAGES) win; otherwise the engine's text.
_BY_REJECT: Final[dict[RejectCode, int]] = {
    C.UNKNOWN_INSTRUMENT: BAD_SYMBOL,
    C.QUANTITY_NOT_POSITIVE: QTY_LESS_THAN_ZERO,
    C.PRICE_NOT_POSITIVE: PRICE_LESS_THAN_ZERO,
    C.PRICE_OFF_TICK: PRICE_NOT_ON_TICK,
    C.QUANTITY_OFF_LOT: QTY_NOT_ON_STEP,
    C.QUANTITY_BELOW_MINIMUM: QTY_LESS_THAN_MIN,
    C.QUANTITY_ABOVE_MAXIMUM: QTY_GREATER_THAN_MAX,
    C.DUPLICATE_CLIENT_ORDER_ID: DUPLICATE_CLIENT_ORDER_ID,
    C.UNKNOWN_ORDER: CANCEL_REJECTED,
    C.UNKNOWN_TRIGGER_ORDER: CANCEL_REJECTED,
    C.INVALID_PARAMETER: INVALID_PARAMETER,
    C.MALFORMED_COMMAND: INVALID_PARAMETER,
    C.PRICE_REQUIRED: MANDATORY_PARAM,
    C.PRICE_NOT_ALLOWED: PARAM_NOT_REQUIRED,
    C.AMEND_NO_CHANGE: NO_NEED_TO_MODIFY,
    C.AMEND_WOULD_CROSS: POST_ONLY_REJECTED,
    C.INSUFFICIENT_MARGIN: MARGIN_INSUFFICIENT,
    C.INSUFFICIENT_ISOLATED_MARGIN: MARGIN_INSUFFICIENT,
    C.INSUFFICIENT_FREE_COLLATERAL: MARGIN_INSUFFICIENT,
    C.INSUFFICIENT_BALANCE: MARGIN_INSUFFICIENT,
    C.REDUCE_ONLY_WOULD_INCREASE: REDUCE_ONLY_REJECT,
    C.REDUCE_ONLY_NO_POSITION: REDUCE_ONLY_REJECT,
    C.POSITION_LIMIT_EXCEEDED: MAX_POSITION_EXCEEDED,
    C.LEVERAGE_OUT_OF_RANGE: INVALID_LEVERAGE,
    C.MARGIN_MODE_CHANGE_WITH_EXPOSURE: MARGIN_TYPE_WITH_POSITION,
    C.POST_ONLY_WOULD_CROSS: POST_ONLY_REJECTED,
    C.TRIGGER_WOULD_FIRE_IMMEDIATELY: ORDER_WOULD_IMMEDIATELY_TRIGGER,
    C.TRIGGER_PRICE_NOT_POSITIVE: PRICE_LESS_THAN_ZERO,
    C.TRIGGER_PRICE_OFF_TICK: PRICE_NOT_ON_TICK,
    C.TRIGGER_PRICE_ABOVE_CEILING: PRICE_HIGHER_THAN_BAND,
    C.TRIGGER_FIELD_REQUIRED: MANDATORY_PARAM,
    C.TRIGGER_FIELD_NOT_ALLOWED: PARAM_NOT_REQUIRED,
    C.CALLBACK_OUT_OF_RANGE: INVALID_PARAMETER,
    C.TOO_MANY_TRIGGER_ORDERS: MAX_STOP_ORDERS,
    C.NO_LAST_TRADE_PRICE: NO_LAST_TRADE_PRICE,
    C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED: PI_STATUS_EXPIRED,
    C.NOT_PROFESSIONAL_INVESTOR: NOT_PROFESSIONAL_INVESTOR,
    C.INSTRUMENT_CLOSE_ONLY: INSTRUMENT_CLOSE_ONLY,
    C.MARGIN_ASSET_NOT_ELIGIBLE: MARGIN_ASSET_NOT_ELIGIBLE,
    C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN: MARGIN_ASSET_NOT_ELIGIBLE,
    C.INSTRUMENT_HALTED: INSTRUMENT_HALTED,
    C.NO_REFERENCE_PRICE: NO_REFERENCE_PRICE,
    C.WITHDRAWALS_PAUSED: WITHDRAWALS_PAUSED,
}

# Harbour's own codes carry a sentence a client can act on, before the engine's detail.
_OWN_PREFIX: Final[dict[int, str]] = {
    PI_STATUS_EXPIRED: "Professional-investor status expired: renew it with the platform; until then orders may only reduce positions.",
    NOT_PROFESSIONAL_INVESTOR: "No professional-investor status on record: orders may only reduce positions.",
    INSTRUMENT_CLOSE_ONLY: "Instrument is close-only: orders may only reduce positions.",
    MARGIN_ASSET_NOT_ELIGIBLE: "Margin asset is not eligible.",
    INSTRUMENT_HALTED: "Instrument is halted: no new orders or amendments; cancels are accepted.",
    NO_REFERENCE_PRICE: "Instrument has no mark price yet.",
    NO_LAST_TRADE_PRICE: "Instrument has not traded yet: use workingType=MARK_PRICE.",
    WITHDRAWALS_PAUSED: "Withdrawals are paused while an unresolved deficit exists.",
}

# What each of Harbour's own codes means (published in the OpenAPI document); emitted: by whom.
OWN_CODES: Final[dict[int, tuple[str, str]]] = {
    PI_STATUS_EXPIRED: ("PI_STATUS_EXPIRED", _OWN_PREFIX[PI_STATUS_EXPIRED]),
    NOT_PROFESSIONAL_INVESTOR: ("NOT_PROFESSIONAL_INVESTOR", _OWN_PREFIX[NOT_PROFESSIONAL_INVESTOR]),
    INSTRUMENT_CLOSE_ONLY: ("INSTRUMENT_CLOSE_ONLY", _OWN_PREFIX[INSTRUMENT_CLOSE_ONLY]),
    MARGIN_ASSET_NOT_ELIGIBLE: ("MARGIN_ASSET_NOT_ELIGIBLE", "Margin asset is not eligible (not on the HKMA register or bank allowlist, or a virtual asset)."),
    INSTRUMENT_HALTED: ("INSTRUMENT_HALTED", _OWN_PREFIX[INSTRUMENT_HALTED]),
    NO_REFERENCE_PRICE: ("NO_REFERENCE_PRICE", _OWN_PREFIX[NO_REFERENCE_PRICE]),
    CLIENT_FIRST_PRIORITY: (
        "CLIENT_FIRST_PRIORITY",
        "Reserved, never emitted: client-first priority is structural (each price level fills its client queue before the "
        "affiliated market maker's), so no instruction has to be refused for it.",
    ),
    NOT_PERMITTED_FOR_ROLE: ("NOT_PERMITTED_FOR_ROLE", "The key's role may not call this endpoint (see x-roles)."),
    NO_LAST_TRADE_PRICE: ("NO_LAST_TRADE_PRICE", _OWN_PREFIX[NO_LAST_TRADE_PRICE]),
    WITHDRAWALS_PAUSED: ("WITHDRAWALS_PAUSED", _OWN_PREFIX[WITHDRAWALS_PAUSED]),
    FEATURE_NOT_SUPPORTED: ("FEATURE_NOT_SUPPORTED", "Not offered by this venue (hedge mode: positions are one-way)."),
    NOT_YOUR_ACCOUNT: ("NOT_YOUR_ACCOUNT", "A client or market-maker key reads its own account only: 'account' named another one."),
    DISCLOSURE_NOT_CURRENT: (
        "DISCLOSURE_NOT_CURRENT",
        "Only the current disclosure can be acknowledged: read /hk/v1/disclosures and acknowledge the version and content hash it shows.",
    ),
}


def own_codes() -> list[tuple[int, str, str]]:
    """(code, name, meaning) of every Harbour code, -9001 first."""
    return [(code, name, text) for code, (name, text) in sorted(OWN_CODES.items(), reverse=True)]


_PRICE_FIELDS: Final = frozenset({"price", "low", "high", "reference", "best", "value", "current", "ceiling", "tick"})
_QTY_FIELDS: Final = frozenset({"qty", "min_qty", "max_qty", "lot", "fillable", "position"})
_MONEY_FIELDS: Final = frozenset({"required", "available", "remaining", "balance", "amount", "notional"})


def humanise(
    code: int, message: str, detail: dict[str, str | int] | None, price_decimals: int | None, qty_decimals: int | None
) -> str:
    """The engine's message re-rendered with prices, quantities and money as decimals."""
    if not detail or price_decimals is None or qty_decimals is None:
        return message
    try:
        reject = RejectCode(code)
    except ValueError:
        return message
    shown: dict[str, str | int] = {}
    for name, value in detail.items():
        if not isinstance(value, int):
            shown[name] = value
        elif name in _PRICE_FIELDS:
            shown[name] = format_units(value, price_decimals)
        elif name in _QTY_FIELDS:
            shown[name] = format_units(value, qty_decimals)
        elif name in _MONEY_FIELDS or (name == "limit" and reject is C.POSITION_LIMIT_EXCEEDED):
            shown[name] = format_units(value, MONEY_DECIMALS)
        else:
            shown[name] = value
    return render(reject, shown)


def from_reject(
    code: int,
    message: str,
    *,
    querying: bool = False,
    detail: dict[str, str | int] | None = None,
    price_decimals: int | None = None,
    qty_decimals: int | None = None,
) -> ApiError:
    """The API error of an engine reject (``Rejected.code`` and its rendered message).

    With the instrument's decimals the message shows prices and quantities as decimals.
    ``querying``: an unknown order on a query is -2013 "Order does not exist." (on a cancel
    it is -2011 "Unknown order sent."), as ccxt expects.
    """
    band_above = _above(detail)
    message = humanise(code, message, detail, price_decimals, qty_decimals)
    try:
        reject = RejectCode(code)
    except ValueError:
        return ApiError(400, NEW_ORDER_REJECTED, message)
    api_code = _BY_REJECT.get(reject, NEW_ORDER_REJECTED)
    if api_code == CANCEL_REJECTED and querying:
        api_code = NO_SUCH_ORDER
    if reject is C.PRICE_OUTSIDE_BAND:
        api_code = PRICE_HIGHER_THAN_BAND if band_above else PRICE_LOWER_THAN_BAND
    if api_code in MESSAGES:
        text = MESSAGES[api_code] + " " + message
    elif api_code in _OWN_PREFIX:
        text = _OWN_PREFIX[api_code] + " " + message
    else:
        text = message
    return ApiError(400, api_code, text)


def _above(detail: dict[str, str | int] | None) -> bool:
    """A price outside the band: above it (else below)."""
    if not detail:
        return True
    price, high = detail.get("price"), detail.get("high")
    return not (isinstance(price, int) and isinstance(high, int)) or price > high


def error(code: int, msg: str = "", status: int = 400) -> ApiError:
    """An API error with Binance's verbatim text for ``code`` when it has one, plus detail."""
    base = MESSAGES.get(code, "")
    text = (base + " " + msg).strip() if base else msg
    return ApiError(status, code, text)
