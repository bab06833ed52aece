"""The OpenAPI 3.1 document the gateway serves at /openapi.json: every route it serves.

Built from the route table itself (``rest.endpoints``), so a served route cannot be missing
from it: each operation states its security, the key roles that may call it, its request
weight, its parameters and the error shape. The dialect's operations are described here
(``DIALECT``: Binance USDⓈ-M, as ccxt's ``binanceusdm`` calls them); the /hk/v1 ones next
to their handlers (``hk.routes``). A route served without a description here still appears,
marked ``x-undocumented``, and the test suite fails on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from harbour.api.rest import Endpoint


@dataclass(frozen=True, slots=True)
class Param:
    """One request parameter (query string, or form body for POST/PUT; Binance takes either)."""

    name: str
    type: str  # string | integer | boolean | decimal
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Doc:
    summary: str
    description: str = ""
    params: tuple[Param, ...] = ()


ACCOUNT_ROLES_TEXT: Final = ("CLIENT", "AFFILIATED_MM")
EVERY_ROLE: Final = ("AFFILIATED_MM", "AUDITOR", "CLIENT", "COMPLIANCE", "OPERATOR")
ACCOUNT_FREE: Final = frozenset({"/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs"})

_SYM = Param("symbol", "string", "Instrument symbol (BTCUSD, ETHHKD).", required=True)
_SYM_OPT = Param("symbol", "string", "Instrument symbol; every instrument when absent.")
_PAIR = Param("pair", "string", "Instrument symbol (the index's instrument).", required=True)
_INTERVAL = Param("interval", "string", "Candle interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w.", required=True)
_START = Param("startTime", "integer", "From this time (ms).")
_END = Param("endTime", "integer", "Up to this time (ms).")


def _limit(default: int, high: int) -> Param:
    return Param("limit", "integer", f"Rows (default {default}, at most {high}).")


_ORDER_ID = Param("orderId", "integer", "Order id (or origClientOrderId).")
_ORIG_CLIENT = Param("origClientOrderId", "string", "Client order id (or orderId).")
_SIDE = Param("side", "string", "BUY or SELL.", required=True, enum=("BUY", "SELL"))
_QTY = Param("quantity", "decimal", "Quantity in the instrument's quantity precision (more decimals: -1111).")
_PRICE = Param("price", "decimal", "Limit price in the price precision, on the tick (-4014 otherwise).")
_TIF = Param("timeInForce", "string", "GTC, IOC, FOK or GTX (post-only).", enum=("GTC", "IOC", "FOK", "GTX"))
_REDUCE = Param("reduceOnly", "boolean", "Only reduce the position.")
_POS_SIDE = Param("positionSide", "string", "BOTH only (the venue is one-way); anything else is -4061.")
_STP = Param("selfTradePreventionMode", "string", "EXPIRE_MAKER (default, also for NONE), EXPIRE_TAKER or EXPIRE_BOTH.")
_TRIGGER_PARAMS: Final = (
    Param("triggerPrice", "decimal", "Trigger price (stop and take-profit kinds)."),
    Param("stopPrice", "decimal", "Trigger price, the older name."),
    Param("closePosition", "boolean", "Close the whole position when it fires."),
    Param("workingType", "string", "MARK_PRICE or CONTRACT_PRICE (last trade, the default).", enum=("MARK_PRICE", "CONTRACT_PRICE")),
    Param("callbackRate", "decimal", "Trailing stop callback in percent, 0.1..10."),
    Param("activatePrice", "decimal", "Trailing stop activation price (also activationPrice)."),
)
_ALGO_ID = Param("algoId", "integer", "Conditional order id (or clientAlgoId).")
_CLIENT_ALGO = Param("clientAlgoId", "string", "Client id of the conditional order (or algoId).")

DIALECT: Final[dict[tuple[str, str], Doc]] = {
    ("GET", "/fapi/v1/ping"): Doc("Test connectivity", "Answers {}."),
    ("GET", "/fapi/v1/time"): Doc("Server time", "The server's clock in ms (signed requests must be within recvWindow of it)."),
    ("GET", "/fapi/v1/exchangeInfo"): Doc(
        "Instruments, filters and limits", "Symbols with price/lot filters from the venue's instruments, margin assets, rate limits."
    ),
    ("GET", "/fapi/v1/depth"): Doc("Order book", "Aggregated levels; lastUpdateId = seq of the last command that changed the book.", (_SYM, _limit(500, 1000))),
    ("GET", "/fapi/v1/trades"): Doc("Recent public trades", "", (_SYM, _limit(500, 1000))),
    ("GET", "/fapi/v1/aggTrades"): Doc("Aggregate trades", "", (_SYM, _limit(500, 1000), _START, _END, Param("fromId", "integer", "From this trade id."))),
    ("GET", "/fapi/v1/klines"): Doc("Trade candles", "", (_SYM, _INTERVAL, _limit(500, 1500), _START, _END)),
    ("GET", "/fapi/v1/markPriceKlines"): Doc("Mark price candles", "", (_SYM, _INTERVAL, _limit(500, 1500), _START, _END)),
    ("GET", "/fapi/v1/indexPriceKlines"): Doc("Index price candles", "", (_PAIR, _INTERVAL, _limit(500, 1500), _START, _END)),
    ("GET", "/fapi/v1/ticker/24hr"): Doc("24-hour statistics", "", (_SYM_OPT,)),
    ("GET", "/fapi/v1/ticker/price"): Doc("Last price", "", (_SYM_OPT,)),
    ("GET", "/fapi/v2/ticker/price"): Doc("Last price (v2 path)", "", (_SYM_OPT,)),
    ("GET", "/fapi/v1/ticker/bookTicker"): Doc("Best bid and ask", "", (_SYM_OPT,)),
    ("GET", "/fapi/v1/premiumIndex"): Doc(
        "Mark, index and funding", "Mark and index price, last funding rate, next funding time and the funding interval (seconds, and hours when whole).", (_SYM_OPT,)
    ),
    ("GET", "/fapi/v1/fundingRate"): Doc("Funding rate history", "Each row states its funding interval in seconds.", (_SYM, _limit(100, 1000), _START, _END)),
    ("GET", "/fapi/v1/fundingInfo"): Doc("Funding intervals", "Each instrument's configured funding interval."),
    ("GET", "/fapi/v1/openInterest"): Doc("Open interest", "", (_SYM,)),
    ("GET", "/sapi/v1/capital/config/getall"): Doc("Spot wallet coins (ccxt load)", "Signed call ccxt makes at load_markets; answers []."),
    ("GET", "/sapi/v1/margin/allPairs"): Doc("Spot margin pairs (ccxt load)", "Signed call ccxt makes at load_markets; answers []."),
    ("GET", "/fapi/v2/account"): Doc("Account (v2 path)", "Multi-asset account: every asset held, totals in HKD (riskCurrency), positions."),
    ("GET", "/fapi/v3/account"): Doc("Account", "Multi-asset account: every asset held, totals in HKD (riskCurrency), positions."),
    ("GET", "/fapi/v2/balance"): Doc("Balances (v2 path)", "Per asset: wallet, cross unrealised PnL, available balance."),
    ("GET", "/fapi/v3/balance"): Doc("Balances", "Per asset: wallet, cross unrealised PnL, available balance."),
    ("GET", "/fapi/v2/positionRisk"): Doc("Positions (v2: every instrument)", "Entry, mark, liquidation price, leverage, margin type.", (_SYM_OPT,)),
    ("GET", "/fapi/v3/positionRisk"): Doc("Positions (v3: open ones)", "Entry, mark, liquidation price, leverage, margin type.", (_SYM_OPT,)),
    ("GET", "/fapi/v1/leverageBracket"): Doc("Margin brackets", "The published bracket table (notional caps, leverage, maintenance).", (_SYM_OPT,)),
    ("POST", "/fapi/v1/leverage"): Doc("Set leverage", "SetLeverage (1..the bracket maximum).", (_SYM, Param("leverage", "integer", "1..125.", required=True))),
    ("POST", "/fapi/v1/marginType"): Doc(
        "Set margin type", "SetMarginMode; -4046 if unchanged.", (_SYM, Param("marginType", "string", "ISOLATED or CROSSED.", required=True, enum=("ISOLATED", "CROSSED")))
    ),
    ("POST", "/fapi/v1/positionSide/dual"): Doc(
        "Position mode", "One-way only: dualSidePosition=true is -9011.", (Param("dualSidePosition", "boolean", "Must be false.", required=True),)
    ),
    ("GET", "/fapi/v1/positionSide/dual"): Doc("Position mode", "Always {dualSidePosition: false}."),
    ("GET", "/fapi/v1/multiAssetsMargin"): Doc("Multi-assets mode", "Always true: every eligible margin asset counts."),
    ("POST", "/fapi/v1/order"): Doc(
        "New order",
        "LIMIT and MARKET orders (PlaceOrder) and the conditional kinds STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, "
        "TRAILING_STOP_MARKET (PlaceTriggerOrder). Answered after the command is journaled; the full order (RESULT). "
        "Harbour's rules: -9001 PI expired, -9002 not PI, -9003 close-only, -9005 halted, -9006 no mark yet.",
        (
            _SYM,
            _SIDE,
            Param("type", "string", "Order type.", required=True),
            _QTY,
            _PRICE,
            _TIF,
            _REDUCE,
            Param("newClientOrderId", "string", "Client order id, once per account ever (-4116 on reuse)."),
            _POS_SIDE,
            _STP,
            *_TRIGGER_PARAMS,
        ),
    ),
    ("PUT", "/fapi/v1/order"): Doc(
        "Amend order", "AmendOrder: new price and total quantity; never trades (-5022 if it would cross).", (_SYM, _SIDE, _ORDER_ID, _ORIG_CLIENT, _QTY, _PRICE)
    ),
    ("GET", "/fapi/v1/order"): Doc("Query order", "An order or conditional order of the key's account.", (_SYM, _ORDER_ID, _ORIG_CLIENT)),
    ("DELETE", "/fapi/v1/order"): Doc("Cancel order", "", (_SYM, _ORDER_ID, _ORIG_CLIENT)),
    ("GET", "/fapi/v1/openOrders"): Doc("Open orders", "", (_SYM_OPT,)),
    ("GET", "/fapi/v1/openOrder"): Doc("One open order", "", (_SYM, _ORDER_ID, _ORIG_CLIENT)),
    ("GET", "/fapi/v1/allOrders"): Doc("Order history", "Open and closed orders (the last 2,000 closed per account).", (_SYM, _ORDER_ID, _START, _END, _limit(500, 1000))),
    ("DELETE", "/fapi/v1/allOpenOrders"): Doc("Cancel all open orders", "", (_SYM,)),
    ("GET", "/fapi/v1/userTrades"): Doc(
        "Account trades",
        "The key's account's fills, including forced ones: liquidation fills and auto-deleveraging trades carry orderId 0 "
        "(no order of the account; see /hk/v1/lossWaterfall/events).",
        (_SYM, _START, _END, Param("fromId", "integer", "From this trade id."), _ORDER_ID, _limit(500, 1000)),
    ),
    ("POST", "/fapi/v1/algoOrder"): Doc(
        "New conditional order",
        "PlaceTriggerOrder (algoType CONDITIONAL).",
        (
            _SYM,
            _SIDE,
            Param("algoType", "string", "CONDITIONAL (default)."),
            Param("type", "string", "STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET or TRAILING_STOP_MARKET (also orderType).", required=True),
            _QTY,
            _PRICE,
            _TIF,
            _REDUCE,
            _CLIENT_ALGO,
            _POS_SIDE,
            _STP,
            *_TRIGGER_PARAMS,
        ),
    ),
    ("GET", "/fapi/v1/algoOrder"): Doc("Query conditional order", "", (_ALGO_ID, _CLIENT_ALGO, _SYM_OPT)),
    ("DELETE", "/fapi/v1/algoOrder"): Doc("Cancel conditional order", "", (_ALGO_ID, _CLIENT_ALGO, _SYM_OPT)),
    ("GET", "/fapi/v1/openAlgoOrders"): Doc("Open conditional orders", "", (_SYM_OPT,)),
    ("GET", "/fapi/v1/allAlgoOrders"): Doc("Conditional order history", "", (_SYM, _limit(500, 1000))),
    ("DELETE", "/fapi/v1/algoOpenOrders"): Doc("Cancel all conditional orders", "", (_SYM,)),
    ("POST", "/fapi/v1/listenKey"): Doc("Start a user data stream", "A listen key for the private WebSocket stream of the key's account."),
    ("PUT", "/fapi/v1/listenKey"): Doc("Keep a user data stream alive", ""),
    ("DELETE", "/fapi/v1/listenKey"): Doc("Close a user data stream", ""),
}

_SIGNED_PARAMS: Final = (
    Param("timestamp", "integer", "Client time in ms; within recvWindow of the server's (-1021).", required=True),
    Param("recvWindow", "integer", "Validity window in ms (default 5000, at most 60000)."),
    Param("signature", "string", "Last parameter: hex HMAC-SHA256, or base64 Ed25519, over the exact query/body before it (-1022).", required=True),
)


def _schema(p: Param) -> dict[str, Any]:
    if p.type == "decimal":
        schema: dict[str, Any] = {"type": "string", "format": "decimal", "pattern": r"^[0-9]+(\.[0-9]+)?$"}
    elif p.type == "boolean":
        schema = {"type": "string", "enum": ["true", "false"]}
    else:
        schema = {"type": p.type}
    if p.enum:
        schema["enum"] = list(p.enum)
    return schema


def _parameters(method: str, params: tuple[Param, ...]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if method in ("GET", "DELETE"):
        return [{"name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": _schema(p)} for p in params], None
    properties = {p.name: {**_schema(p), "description": p.description} for p in params}
    body: dict[str, Any] = {"type": "object", "properties": properties}
    required = [p.name for p in params if p.required]
    if required:
        body["required"] = required
    return [], {"required": bool(required), "content": {"application/x-www-form-urlencoded": {"schema": body}}}


ERROR_RESPONSE: Final = {
    "description": 'Error: {"code": <negative int>, "msg": <text>} (see info.x-error-codes)',
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def document(table: dict[tuple[str, str], Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in ``table``."""
    from harbour.api import errors as E
    from harbour.api import hk
    from harbour.api.rest import KEY, PUBLIC

    hk_docs = {(r.method, r.path): r for r in hk.routes()}
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), e in sorted(table.items()):
        route = hk_docs.get((method, path))
        if route is not None:
            doc: Doc | None = Doc(route.summary, route.description, route.params)
            roles = sorted(r.value for r in route.roles) if route.roles is not None else []
        else:
            doc = DIALECT.get((method, path))
            if e.security == PUBLIC:
                roles = []
            elif path in ACCOUNT_FREE:
                roles = list(EVERY_ROLE)
            else:
                roles = list(ACCOUNT_ROLES_TEXT)
        params = doc.params if doc is not None else ()
        if e.security != PUBLIC and e.security != KEY:
            params = params + _SIGNED_PARAMS
        query, body = _parameters(method, params)
        lines = (e.handler.__doc__ or "").strip().splitlines()
        op: dict[str, Any] = {
            "operationId": f"{method.lower()}{path.replace('/', '_')}",
            "summary": doc.summary if doc is not None else (lines[0] if lines else f"{method} {path}"),
            "description": doc.description if doc is not None and doc.description else (doc.summary if doc is not None else ""),
            "tags": ["hk" if path.startswith("/hk/") else "binance-usdm"],
            "parameters": query,
            "responses": {"200": {"description": "JSON answer", "content": {"application/json": {}}}, "4XX": ERROR_RESPONSE, "5XX": ERROR_RESPONSE},
            "x-weight": e.weight,
            "x-roles": roles,
        }
        if body is not None:
            op["requestBody"] = body
        if doc is None:
            op["x-undocumented"] = True
        if e.security != PUBLIC:
            op["security"] = [{"apiKey": []}] if e.security == KEY else [{"apiKey": [], "signature": []}]
            op["x-scope"] = e.scope.value if e.scope is not None else None
        else:
            op["security"] = []
        paths.setdefault(path, {})[method.lower()] = op
    paths["/openapi.json"] = {
        "get": {
            "operationId": "get_openapi",
            "summary": "This document",
            "description": "The OpenAPI 3.1 description of every route the gateway serves, built from its route table.",
            "tags": ["meta"],
            "parameters": [],
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 JSON", "content": {"application/json": {}}}},
            "x-roles": [],
            "x-weight": 0,
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Harbour trading gateway",
            "version": "1",
            "description": "Binance USDⓈ-M futures REST dialect (what ccxt's binanceusdm calls) under /fapi and /sapi, and the "
            "venue's own endpoints under /hk/v1 (disclosures, professional-investor status, index prints, loss waterfall, ADL "
            "rank, funding, instrument states, margin-asset register, operator actions). SIGNED requests carry the key in "
            "X-MBX-APIKEY and, in the query or form body, timestamp, optional recvWindow and, last, signature = hex "
            "HMAC-SHA256 (or base64 Ed25519) over the exact bytes before it. `x-roles` lists the key roles an operation "
            "accepts (empty: public, no key); other roles get -9008, a key without the scope -2015. Client and "
            "affiliated-market-maker keys act for and read their own account only. Harbour's own rules answer with codes "
            "-9001..-9099 (info.x-error-codes).",
            "x-error-codes": [{"code": code, "name": name, "meaning": text} for code, name, text in E.own_codes()],
        },
        "tags": [
            {"name": "binance-usdm", "description": "Binance USDⓈ-M dialect"},
            {"name": "hk", "description": "Venue endpoints of an SFC-licensed platform"},
            {"name": "meta", "description": "About the API"},
        ],
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-MBX-APIKEY"},
                "signature": {"type": "apiKey", "in": "query", "name": "signature"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "msg"],
                    "properties": {"code": {"type": "integer"}, "msg": {"type": "string"}},
                }
            },
        },
        "paths": paths,
    }
