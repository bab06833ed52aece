"""Venue endpoints beyond the Binance dialect, under /hk/v1: what an SFC-licensed venue shows.

Public (no key): the current disclosure (version, hashes, content), index prints with their
inputs, the loss waterfall's state, funding history with its interval stated on every row,
instrument trading states, the margin-asset register.

Signed, per role (``keys.Role``):

* client and affiliated market maker: their own professional-investor status, ADL rank per
  position, waterfall events they took part in, funding payments, disclosure
  acknowledgements (and acknowledging the current disclosure). A request naming another
  account is refused (-9012): these keys read their own account and nothing else.
* operator: instrument state changes (open, close-only, halt) and margin-asset register
  updates, each a journaled venue command (``SetInstrumentState``, ``SetIssuerRegister``,
  ``SetDepositBankAllowlist``, ``SetMarginAssetHaircut``); and every read.
* compliance, auditor: every read, for every account (``account`` narrows it); no writes.

Each route carries its roles, which the route guard enforces before the handler runs, and
its documentation, which ``openapi`` publishes. Handlers run on the writer thread, like the
dialect's, so they read one consistent state.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import msgspec

from harbour.api import errors as E
from harbour.api.acknowledgements import AcknowledgeDisclosure, Acknowledgement, AcknowledgementLog
from harbour.api.hk_records import Liquidation, VenueRecords
from harbour.api.keys import ACCOUNT_ROLES, Role, Scope
from harbour.api.numbers import BadNumber, parse_int, rate_e8, units
from harbour.api.openapi import Param
from harbour.api.readmodel import ReadModel
from harbour.api.rest import PUBLIC, SIGNED, Call, Endpoint, Handler, optional_instrument, required_instrument
from harbour.api.service import JOURNAL_FILE_NAME, VenueService, WriterContext
from harbour.compliance.rules import can_increase_exposure
from harbour.kernel.assets import AssetKind
from harbour.kernel.money import MONEY_DECIMALS
from harbour.prices.index import IndexPrint, recompute
from harbour.venue.accounts import Account
from harbour.venue.commands import (
    AccountKind,
    InstrumentState,
    SetDepositBankAllowlist,
    SetInstrumentState,
    SetIssuerRegister,
    SetMarginAssetHaircut,
    VenueCommand,
)
from harbour.venue.disclosure import Disclosure, build_disclosure, content_hash, layer_sizes
from harbour.venue.events import (
    AssetListed,
    DepositBankAllowlistUpdated,
    FundingSettled,
    IndexPublished,
    InstrumentStateChanged,
    IssuerRegisterUpdated,
    MarginAssetHaircutSet,
    Rejected,
)
from harbour.venue.instruments import Instrument
from harbour.venue.liquidation import WATERFALL, adl_queue, liquidation_price
from harbour.venue.margin import unrealised_pnl
from harbour.venue.state import DEFICIT, INSURANCE_FUND, PLATFORM_CAPITAL, RISK_CURRENCY, VenueState

PREFIX: Final = "/hk/v1"
NS_PER_MS: Final = 1_000_000
NS_PER_SECOND: Final = 1_000_000_000
DISCLOSURE_ID: Final = "rulebook"
HASH_HEX_LENGTH: Final = 64
MAX_REASON: Final = 200
MAX_NAMES: Final = 100
SCORE_DECIMALS: Final = 8
ADL_QUANTILES: Final = 5  # Binance's adlQuantile 0..4 (4: first in line)

ACCOUNT: Final = frozenset(ACCOUNT_ROLES)
STAFF: Final = frozenset({Role.OPERATOR, Role.COMPLIANCE, Role.AUDITOR})
EVERY_KEY: Final = ACCOUNT | STAFF
OPERATOR: Final = frozenset({Role.OPERATOR})

# the rows of LossReported in the order the published waterfall uses them
LAYER_ORDER: Final = ("DEFAULTER_MARGIN", "DEFAULTER_GAINS", "LIQUIDATION_FEE", "INSURANCE_FUND", "OPERATOR_TRANCHE", "DEFICIT")
_PLATFORM_LAYERS: Final = (("INSURANCE_FUND", INSURANCE_FUND), ("OPERATOR_TRANCHE", PLATFORM_CAPITAL), ("DEFICIT", DEFICIT))


@dataclass(frozen=True, slots=True, kw_only=True)
class HkRoute:
    """One /hk/v1 route: what it does, who may call it, and its documentation."""

    method: str
    path: str
    handler: Handler
    security: str  # PUBLIC or SIGNED
    scope: Scope | None
    roles: frozenset[Role] | None  # None: public, no key
    weight: int
    summary: str
    description: str
    params: tuple[Param, ...] = ()


# --- binding the gateway's own journal to a venue service ---------------------------------------

_LOGS: weakref.WeakKeyDictionary[ReadModel, AcknowledgementLog] = weakref.WeakKeyDictionary()


def bind(service: VenueService) -> None:
    """Give ``service`` its acknowledgement log (once; gateways on one service share it)."""
    if service.reads not in _LOGS:
        _LOGS[service.reads] = AcknowledgementLog(service.directory, service.directory / JOURNAL_FILE_NAME)


def _log(ctx: WriterContext) -> AcknowledgementLog:
    log = _LOGS.get(ctx.reads)
    if log is None:
        raise E.error(E.UNKNOWN, "Disclosure acknowledgements are not available on this server.", 503)
    return log


def _records(ctx: WriterContext) -> VenueRecords:
    return ctx.reads.hk


# --- parameters and roles ---------------------------------------------------------------------


def _int(call: Call, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
    text = call.get(name)
    if text is None:
        return None
    try:
        return parse_int(name, text, low=low, high=high)
    except BadNumber:
        raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}' is invalid: {text!r}.") from None


def _required_int(call: Call, name: str, *, low: int | None = None, high: int | None = None) -> int:
    call.require(name)
    value = _int(call, name, low=low, high=high)
    assert value is not None
    return value


def _limit(call: Call, default: int, high: int) -> int:
    value = _int(call, "limit", low=1, high=high)
    return default if value is None else value


def _bool(call: Call, name: str) -> bool:
    text = call.get(name)
    if text is None or text.lower() == "false":
        return False
    if text.lower() == "true":
        return True
    raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}' must be true or false.")


def _subject(call: Call, ctx: WriterContext) -> int | None:
    """The account a read is about: the key's own for clients and the market maker (naming
    another is refused); for staff the ``account`` named, or None for every account."""
    key = call.key
    assert key is not None
    named = _int(call, "account", low=0)
    if key.role in ACCOUNT_ROLES:
        if named is not None and named != key.account:
            raise E.error(E.NOT_YOUR_ACCOUNT, E.OWN_CODES[E.NOT_YOUR_ACCOUNT][1])
        return key.account
    if named is not None and named not in ctx.state.accounts:
        raise E.error(E.INVALID_PARAMETER, f"Unknown account {named}.")
    return named


def _in_window(ts_ns: int, start_ms: int | None, end_ms: int | None) -> bool:
    ms = ts_ns // NS_PER_MS
    return (start_ms is None or ms >= start_ms) and (end_ms is None or ms <= end_ms)


def _page(rows: list[Any], limit: int, start_ms: int | None) -> list[Any]:
    """Binance paging: the first ``limit`` from ``startTime`` when given, else the latest ``limit``."""
    return rows[:limit] if start_ms is not None else rows[-limit:]


def _guard(roles: frozenset[Role] | None, handler: Handler) -> Handler:
    if roles is None:
        return handler
    names = ", ".join(sorted(r.value for r in roles))

    def guarded(call: Call, ctx: WriterContext) -> Any:
        key = call.key
        if key is None or key.role not in roles:
            role = key.role.value if key is not None else "missing"
            raise E.error(E.NOT_PERMITTED_FOR_ROLE, f"Not permitted for a {role} key: this endpoint is for {names} keys.")
        return handler(call, ctx)

    guarded.__doc__ = handler.__doc__
    return guarded


def _submit(ctx: WriterContext, command: VenueCommand) -> tuple[int, list[Any]]:
    seq, events = ctx.submit(command)
    if events and type(events[0]) is Rejected:
        rej: Rejected = events[0]
        raise E.from_reject(rej.code, rej.message, detail=rej.detail)
    return seq, events


def _names(call: Call, name: str) -> tuple[str, ...]:
    """A JSON array of names (issuers, banks), as Binance takes lists in one parameter."""
    text = call.require(name)
    try:
        names = msgspec.json.decode(text, type=list[str])
    except msgspec.DecodeError:
        raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}' must be a JSON array of strings, e.g. [\"ISSUER-A\"].") from None
    cleaned = [n.strip() for n in names]
    if len(cleaned) > MAX_NAMES or any(not n or len(n) > 64 for n in cleaned) or len(set(cleaned)) != len(cleaned):
        raise E.error(E.INVALID_PARAMETER, f"Parameter '{name}': at most {MAX_NAMES} distinct, non-empty names of at most 64 characters.")
    return tuple(sorted(cleaned))


def _reason(call: Call) -> str:
    """The operator's reason, with the key that gave it (the venue command has no 'by' field)."""
    reason = call.require("reason").strip()
    if not reason or len(reason) > MAX_REASON:
        raise E.error(E.INVALID_PARAMETER, f"Parameter 'reason' must be 1..{MAX_REASON} characters.")
    key = call.key
    assert key is not None
    return f"{reason} (operator key {key.label or key.key_id[:16]})"


# --- formatting -------------------------------------------------------------------------------


def _ms(ts_ns: int) -> int:
    return ts_ns // NS_PER_MS


def _money(value: int) -> str:
    return units(value, MONEY_DECIMALS)


def _price(value: int | None, inst: Instrument | None) -> str | int | None:
    if value is None:
        return None
    return units(value, inst.price_decimals) if inst is not None else value


def _qty(value: int, inst: Instrument | None) -> str | int:
    return units(value, inst.qty_decimals) if inst is not None else value


def _fraction(value: Fraction, decimals: int) -> str:
    """A non-negative fraction as a decimal string, cut (not rounded) to ``decimals``."""
    return units(value.numerator * 10**decimals // value.denominator, decimals)


# --- disclosures and acknowledgements ------------------------------------------------------------


def _disclosure(ctx: WriterContext) -> Disclosure:
    r = _records(ctx)
    return build_disclosure(ctx.state, as_of_seq=r.last_seq, as_of_ts_ns=r.last_ts_ns)


def _disclosure_id(call: Call) -> str:
    ident = call.get("id") or DISCLOSURE_ID
    if ident != DISCLOSURE_ID:
        raise E.error(E.INVALID_PARAMETER, f"Unknown disclosure {ident!r}; the venue publishes {DISCLOSURE_ID!r}.")
    return ident


def h_disclosures(call: Call, ctx: WriterContext) -> Any:
    """The current disclosure: version, content and document hashes, and the content itself."""
    _disclosure_id(call)
    fmt = (call.get("format") or "json").lower()
    if fmt not in ("json", "markdown"):
        raise E.error(E.INVALID_PARAMETER, "Parameter 'format' must be json or markdown.")
    d = _disclosure(ctx)
    doc = d.document
    return {
        "time": _ms(ctx.now_ns),
        "disclosures": [
            {
                "id": DISCLOSURE_ID,
                "title": doc["title"],
                "schema": doc["schema"],
                "version": d.version,
                "effectiveFromSeq": doc["effective_from_seq"],
                "hashAlgorithm": doc["hash_algorithm"],
                "contentHash": d.content_hash,
                "documentHash": doc["document_hash"],
                "asOfSeq": _records(ctx).last_seq,
                "format": fmt,
                "content": doc if fmt == "json" else d.markdown(),
            }
        ],
    }


def _ack_view(ack: Acknowledgement) -> dict[str, Any]:
    r = ack.record
    return {
        "ackId": ack.ack_id,
        "account": r.account,
        "id": r.disclosure,
        "version": r.version,
        "contentHash": r.content_hash,
        "acknowledgedAt": _ms(ack.ts_ns),
        "venueSeq": r.venue_seq,
    }


def h_acknowledge(call: Call, ctx: WriterContext) -> Any:
    """Acknowledge the current disclosure (journaled; idempotent for a version already acknowledged)."""
    key = call.key
    assert key is not None and key.account is not None
    ident = _disclosure_id(call)
    version = _required_int(call, "version", low=0)
    digest = call.require("contentHash").lower()
    if len(digest) != HASH_HEX_LENGTH or any(c not in "0123456789abcdef" for c in digest):
        raise E.error(E.INVALID_PARAMETER, "Parameter 'contentHash' must be 64 hex digits.")
    d = _disclosure(ctx)
    if version != d.version or digest != d.content_hash:
        raise E.error(
            E.DISCLOSURE_NOT_CURRENT,
            f"{E.OWN_CODES[E.DISCLOSURE_NOT_CURRENT][1]} Current: version {d.version}, content hash {d.content_hash}; "
            f"sent: version {version}, content hash {digest}.",
        )
    log = _log(ctx)
    done = log.find(key.account, ident, version, digest)
    if done is None:
        record = AcknowledgeDisclosure(
            account=key.account, disclosure=ident, version=version, content_hash=digest, key_id=key.key_id, venue_seq=_records(ctx).last_seq
        )
        done = log.record(record, ctx.now_ns)
    return _ack_view(done)


def h_acknowledgements(call: Call, ctx: WriterContext) -> Any:
    """Acknowledgements recorded, and whether each account acknowledged the current version."""
    subject = _subject(call, ctx)
    d = _disclosure(ctx)
    log = _log(ctx)
    rows = log.of(subject) if subject is not None else log.all()
    accounts = [subject] if subject is not None else sorted(ctx.state.accounts)
    return {
        "time": _ms(ctx.now_ns),
        "current": {"id": DISCLOSURE_ID, "version": d.version, "contentHash": d.content_hash},
        "accounts": [{"account": a, "acknowledgedCurrent": log.find(a, DISCLOSURE_ID, d.version, d.content_hash) is not None} for a in accounts],
        "acknowledgements": [_ack_view(a) for a in rows],
    }


# --- professional-investor status ------------------------------------------------------------------


def _pi_status(acct: Account, now_ns: int) -> str:
    if acct.kind is AccountKind.AFFILIATED_MM:
        return "NOT_APPLICABLE"
    if acct.pi_expiry_ns == 0:
        return "NONE"
    return "VALID" if can_increase_exposure(acct.pi_expiry_ns, now_ns) else "EXPIRED"


def h_professional_investor(call: Call, ctx: WriterContext) -> Any:
    """Professional-investor status and expiry (the venue's PI gate), with its change history."""
    subject = _subject(call, ctx)
    now = ctx.now_ns
    ids = [subject] if subject is not None else sorted(ctx.state.accounts)
    rows = []
    for account_id in ids:
        acct = ctx.state.accounts.get(account_id)
        if acct is None:
            continue
        status = _pi_status(acct, now)
        expiry = acct.pi_expiry_ns
        rows.append(
            {
                "account": account_id,
                "accountKind": acct.kind.value,
                "legalEntity": acct.legal_entity,
                "status": status,
                "expiryTime": _ms(expiry) if expiry else None,
                "reverificationDue": _ms(expiry) if expiry and acct.kind is AccountKind.CLIENT else None,
                "canIncreaseExposure": status in ("VALID", "NOT_APPLICABLE"),
                "history": [
                    {"seq": c.seq, "time": _ms(c.ts_ns), "oldExpiryTime": _ms(c.old_expiry_ns) or None, "newExpiryTime": _ms(c.new_expiry_ns) or None}
                    for c in _records(ctx).pi_changes.get(account_id, ())
                ],
            }
        )
    return {"time": _ms(now), "accounts": rows}


# --- index prints ---------------------------------------------------------------------------------


def _print_view(e: IndexPublished, inst: Instrument, raw: bool) -> dict[str, Any]:
    p: IndexPrint = e.print
    row: dict[str, Any] = {
        "symbol": e.instrument,
        "seq": e.seq,
        "time": _ms(p.ts_ns),
        "tsNs": p.ts_ns,
        "value": _price(p.value, inst),
        "fallback": p.fallback.value,
        "median": _price(p.median, inst),
        "methodologyVersion": p.methodology_version,
        "liveConstituents": p.live_constituents,
        "minLiveConstituents": p.methodology.min_live_constituents,
        "inputs": [{"venue": i.venue, "kind": i.kind.value, "price": _price(i.price, inst), "observedAtNs": i.ts_ns} for i in p.inputs],
        "weights": [
            {"venue": w.venue, "configuredWeight": w.configured_weight, "weight": w.weight, "price": _price(w.price, inst), "kind": w.kind.value if w.kind else None}
            for w in p.weights
        ],
        "exclusions": [
            {"venue": x.input.venue, "kind": x.input.kind.value, "price": _price(x.input.price, inst), "observedAtNs": x.input.ts_ns, "reason": x.reason.value, "detail": x.detail}
            for x in p.exclusions
        ],
        "clamps": [
            {
                "venue": c.venue,
                "priceIn": _price(c.price_in, inst),
                "priceOut": _price(c.price_out, inst),
                "median": _price(c.median, inst),
                "bandLow": _price(c.band_low, inst),
                "bandHigh": _price(c.band_high, inst),
            }
            for c in p.clamps
        ],
        "carriedLastGood": None if p.carried_last_good is None else {"value": _price(p.carried_last_good.value, inst), "tsNs": p.carried_last_good.ts_ns},
        "lastGood": None if p.last_good is None else {"value": _price(p.last_good.value, inst), "tsNs": p.last_good.ts_ns},
        "printHash": content_hash(p),
        "recomputes": recompute(p) == p,
    }
    if raw:
        row["print"] = msgspec.to_builtins(p)
    return row


def h_index_prints(call: Call, ctx: WriterContext) -> Any:
    """Index prints with every input offered, the weights used, exclusions and clamps with reasons."""
    inst = required_instrument(ctx, call)
    limit = _limit(call, 100, 1000)
    start, end = _int(call, "startTime"), _int(call, "endTime")
    raw = _bool(call, "raw")
    rows = [e for e in _records(ctx).prints.get(inst.symbol, ()) if _in_window(e.print.ts_ns, start, end)]
    return [_print_view(e, inst, raw) for e in _page(rows, limit, start)]


# --- the loss waterfall -----------------------------------------------------------------------------


def _layers(rows: Iterable[tuple[str, str, int]]) -> list[dict[str, Any]]:
    order = {name: i for i, name in enumerate(LAYER_ORDER)}
    return [
        {"layer": layer, "asset": asset, "amount": _money(amount)}
        for layer, asset, amount in sorted(rows, key=lambda r: (order.get(r[0], len(order)), r[1]))
    ]


def _liquidation_view(rec: Liquidation, st: VenueState, viewer: int | None, *, public: bool = False) -> dict[str, Any]:
    """One liquidation. ``viewer`` None: staff, every account shown. An account viewer sees its
    own id only; another account's figures are left out (a deleveraged counterparty sees its own
    ADL rows, not the defaulter's margin). ``public``: no account at all."""
    own = not public and (viewer is None or viewer == rec.account)
    report = rec.report
    row: dict[str, Any] = {
        "id": rec.liquidation_id,
        "seq": rec.seq,
        "time": _ms(rec.ts_ns),
        "scope": rec.scope or "CROSS",
        "account": rec.account if own else None,
        "currency": rec.currency or None,
        "marginBalance": _money(rec.margin_balance) if own and rec.currency else None,
        "maintenance": _money(rec.maintenance) if own and rec.currency else None,
        "closed": [],
        "layers": _layers(report.layers) if report is not None else [],
        "steps": [],
        "adl": [],
    }
    if report is not None:
        row["closed"] = [{"symbol": s, "qty": _qty(q, st.instruments.get(s))} for s, q in report.closed]
    for s in rec.steps:
        inst = st.instruments.get(s.instrument)
        row["steps"].append(
            {
                "symbol": s.instrument,
                "side": s.side.value,
                "qty": _qty(s.qty, inst),
                "mark": _price(s.mark, inst),
                "bankruptcyPrice": _price(s.bankruptcy_price, inst),
                "bookQty": _qty(s.book_qty, inst),
                "backstopQty": _qty(s.backstop_qty, inst),
                "adlQty": _qty(s.adl_qty, inst),
                "liquidationFee": _money(s.liquidation_fee),
            }
        )
    for a in rec.adl:
        mine = not public and (viewer is None or viewer == a.counterparty)
        if not (own or mine):
            continue
        inst = st.instruments.get(a.instrument)
        row["adl"].append(
            {
                "tradeId": a.trade_id,
                "symbol": a.instrument,
                "price": _price(a.price, inst),
                "qty": _qty(a.qty, inst),
                "counterparty": a.counterparty if mine else None,
                "counterpartySide": a.counterparty_side.value,
                "rank": a.rank,
                "score": a.score if mine else None,
                "accountRealizedPnl": _money(a.account_realised_pnl) if own else None,
                "counterpartyRealizedPnl": _money(a.counterparty_realised_pnl) if mine else None,
            }
        )
    if public:
        row["adl"] = []
        row["adlTrades"] = len(rec.adl)
        row["adlQty"] = [{"symbol": s, "qty": _qty(sum(a.qty for a in rec.adl if a.instrument == s), st.instruments.get(s))} for s in sorted({a.instrument for a in rec.adl})]
    return row


def _stress(st: VenueState) -> dict[str, Any] | None:
    r = st.stress_report
    if r is None:
        return None
    return {
        "reportHash": r.report_hash,
        "asOfSeq": r.as_of_seq,
        "asOfStateHash": r.as_of_state_hash,
        "libraryVersion": r.library_version,
        "scenarios": r.scenarios,
        "riskCurrency": r.risk_currency,
        "insuranceFund": _money(r.insurance_fund),
        "capitalTranche": _money(r.capital_tranche),
        "worstScenario": r.worst_scenario,
        "worstCover2Loss": _money(r.worst_cover2_loss),
        "worstTotalLoss": _money(r.worst_total_loss),
        "worstAdl": _money(r.worst_adl),
        "cover2Failures": r.cover2_failures,
        "cover2Covered": r.cover2_covered,
    }


def h_waterfall(call: Call, ctx: WriterContext) -> Any:
    """The loss waterfall now: its order, each platform layer's holdings, what each layer paid so far."""
    st = ctx.state
    r = _records(ctx)
    limit = _limit(call, 20, 200)
    sizes = layer_sizes(st)
    return {
        "time": _ms(ctx.now_ns),
        "riskCurrency": RISK_CURRENCY,
        "order": list(WATERFALL),
        "platformLayers": [
            {
                "layer": layer,
                "ledgerAccount": account,
                "holdings": [{"asset": a, "amount": _money(b)} for a, b in sorted(sizes[account]["holdings"].items())],
                "valueInRiskCurrency": _money(sizes[account]["value_in_risk_currency"]),
            }
            for layer, account in _PLATFORM_LAYERS
        ],
        "withdrawalsPaused": st.withdrawals_paused(),
        "liquidations": r.liquidation_count,
        "adlTrades": r.adl_trade_count,
        "paidSinceStart": _layers((layer, asset, amount) for (layer, asset), amount in r.layer_totals.items()),
        "latestStressReport": _stress(st),
        "recent": [_liquidation_view(rec, st, None, public=True) for rec in list(r.liquidations)[-limit:]],
    }


def h_waterfall_events(call: Call, ctx: WriterContext) -> Any:
    """Liquidations with their steps, the layers that paid and the ADL trades (yours, or all for staff)."""
    subject = _subject(call, ctx)
    key = call.key
    assert key is not None
    viewer = subject if key.role in ACCOUNT_ROLES else None
    limit = _limit(call, 100, 1000)
    start, end = _int(call, "startTime"), _int(call, "endTime")
    rows = [rec for rec in _records(ctx).liquidations if (subject is None or rec.involves(subject)) and _in_window(rec.ts_ns, start, end)]
    return {"time": _ms(ctx.now_ns), "liquidations": [_liquidation_view(rec, ctx.state, viewer) for rec in _page(rows, limit, start)]}


# --- ADL rank --------------------------------------------------------------------------------------


def h_adl_rank(call: Call, ctx: WriterContext) -> Any:
    """Each position's place in the published ADL queue (rank 1 is deleveraged first)."""
    subject = _subject(call, ctx)
    inst_filter = optional_instrument(ctx, call)
    st = ctx.state
    queues: dict[tuple[str, bool], list[tuple[int, Fraction]]] = {}
    rows = []
    for account_id in [subject] if subject is not None else sorted(st.accounts):
        acct = st.accounts.get(account_id)
        if acct is None:
            continue
        for sym, pos in sorted(acct.positions.items()):
            if not pos.qty or (inst_filter is not None and sym != inst_filter.symbol):
                continue
            inst = st.instruments[sym]
            long = pos.qty > 0
            queue = queues.get((sym, long))
            if queue is None:
                queue = queues[(sym, long)] = adl_queue(st, sym, long)
            rank = next(i for i, (a, _) in enumerate(queue, 1) if a == account_id)
            size = len(queue)
            score = queue[rank - 1][1]
            rows.append(
                {
                    "account": account_id,
                    "symbol": sym,
                    "positionSide": "LONG" if long else "SHORT",
                    "positionAmt": units(pos.qty, inst.qty_decimals),
                    "marginType": "isolated" if pos.isolated else "cross",
                    "unRealizedProfit": _money(unrealised_pnl(pos, inst)),
                    "markPrice": units(inst.ref_price, inst.price_decimals),
                    "liquidationPrice": _price(liquidation_price(st, account_id, sym), inst),
                    "rank": rank,
                    "queueSize": size,
                    "adlQuantile": min(ADL_QUANTILES - 1, ADL_QUANTILES * (size - rank + 1) // size),
                    "score": f"{score.numerator}/{score.denominator}",
                    "scoreDecimal": _fraction(score, SCORE_DECIMALS),
                }
            )
    return {"time": _ms(ctx.now_ns), "positions": rows}


# --- funding ---------------------------------------------------------------------------------------


def _interval(e: FundingSettled) -> dict[str, Any]:
    return {
        "fundingTime": _ms(e.ts_ns),
        "intervalStart": _ms(e.ts_ns - e.interval_ns),
        "intervalEnd": _ms(e.ts_ns),
        "intervalNs": e.interval_ns,
        "intervalSeconds": e.interval_ns // NS_PER_SECOND,
    }


def h_funding_history(call: Call, ctx: WriterContext) -> Any:
    """Funding settlements: the interval (start, end, length), the rate with its unit and sign, totals."""
    inst = required_instrument(ctx, call)
    limit = _limit(call, 100, 1000)
    start, end = _int(call, "startTime"), _int(call, "endTime")
    rows = [e for e in _records(ctx).funding.get(inst.symbol, ()) if _in_window(e.ts_ns, start, end)]
    out = []
    for e in _page(rows, limit, start):
        row: dict[str, Any] = {"symbol": e.instrument, "seq": e.seq}
        row.update(_interval(e))
        row.update(
            {
                "fundingRate": rate_e8(e.rate_e8),
                "rateE8": e.rate_e8,
                "rateUnit": e.rate_unit,
                "signConvention": e.sign_convention,
                "markPrice": units(e.mark_price, inst.price_decimals),
                "settlementAsset": inst.settlement_asset,
                "positions": len(e.accounts),
                "totalPaid": _money(e.total_paid),
                "totalReceived": _money(e.total_received),
                "residue": _money(e.residue),
                "shortfallCovered": _money(e.shortfall_covered),
            }
        )
        out.append(row)
    return out


def h_funding_payments(call: Call, ctx: WriterContext) -> Any:
    """What each account paid (positive) or received (negative) at each settlement, with its position."""
    subject = _subject(call, ctx)
    inst = required_instrument(ctx, call)
    limit = _limit(call, 100, 1000)
    start, end = _int(call, "startTime"), _int(call, "endTime")
    rows: list[dict[str, Any]] = []
    for e in _records(ctx).funding.get(inst.symbol, ()):
        if not _in_window(e.ts_ns, start, end):
            continue
        for account, qty, payment in e.accounts:
            if subject is not None and account != subject:
                continue
            row: dict[str, Any] = {"symbol": e.instrument, "seq": e.seq, "account": account}
            row.update(_interval(e))
            row.update(
                {
                    "fundingRate": rate_e8(e.rate_e8),
                    "markPrice": units(e.mark_price, inst.price_decimals),
                    "positionAmt": units(qty, inst.qty_decimals),
                    "payment": _money(payment),
                    "direction": "PAID" if payment > 0 else "RECEIVED" if payment < 0 else "NONE",
                    "asset": inst.settlement_asset,
                }
            )
            rows.append(row)
    return _page(rows, limit, start)


# --- instrument states --------------------------------------------------------------------------------


def _state_change(e: InstrumentStateChanged) -> dict[str, Any]:
    return {"symbol": e.instrument, "seq": e.seq, "time": _ms(e.ts_ns), "old": e.old.value, "new": e.new.value, "reason": e.reason}


def h_instrument_states(call: Call, ctx: WriterContext) -> Any:
    """Each instrument's trading state (OPEN, CLOSE_ONLY, HALTED) and its recent changes with reasons."""
    limit = _limit(call, 20, 1000)
    changes = list(_records(ctx).state_changes)
    return {
        "time": _ms(ctx.now_ns),
        "instruments": [
            {
                "symbol": sym,
                "state": inst.state.value,
                "sfcApprovalRef": inst.sfc_approval_ref,
                "changes": [_state_change(e) for e in [c for c in changes if c.instrument == sym][-limit:]],
            }
            for sym, inst in sorted(ctx.state.instruments.items())
        ],
    }


def h_set_instrument_state(call: Call, ctx: WriterContext) -> Any:
    """Open, close-only or halt an instrument (operator; journaled SetInstrumentState)."""
    inst = required_instrument(ctx, call)
    text = call.require("state").upper()
    try:
        state = InstrumentState(text)
    except ValueError:
        raise E.error(E.INVALID_PARAMETER, "Parameter 'state' must be OPEN, CLOSE_ONLY or HALTED.") from None
    _, events = _submit(ctx, SetInstrumentState(instrument=inst.symbol, state=state, reason=_reason(call)))
    changed = next(e for e in events if type(e) is InstrumentStateChanged)
    return _state_change(changed)


# --- the margin-asset register ----------------------------------------------------------------------


def _eligibility(st: VenueState, asset: str) -> tuple[bool, str]:
    spec = st.registry.assets[asset]
    if spec.kind is AssetKind.VIRTUAL_ASSET:
        return False, "virtual assets are never accepted as perpetual margin"
    if spec.kind is AssetKind.STABLECOIN:
        on = spec.issuer in st.registry.issuers
        return on, "issuer " + ("on" if on else "not on") + " the HKMA licensed stablecoin issuer register"
    if spec.kind is AssetKind.TOKENISED_DEPOSIT:
        on = spec.issuer in st.registry.banks
        return on, "issuing bank " + ("on" if on else "not on") + " the tokenised-deposit allowlist"
    return True, "fiat currency"


def _register_update(e: object) -> dict[str, Any]:
    if isinstance(e, AssetListed):
        body: dict[str, Any] = {"type": "ASSET_LISTED", "asset": e.asset, "kind": e.kind, "currency": e.currency, "issuer": e.issuer, "haircutBps": e.haircut_bps}
    elif isinstance(e, IssuerRegisterUpdated):
        body = {
            "type": "ISSUER_REGISTER",
            "issuers": list(e.issuers),
            "added": list(e.added),
            "removed": list(e.removed),
            "registerRef": e.register_ref,
            "assetsNowIneligible": list(e.assets_now_ineligible),
        }
    elif isinstance(e, DepositBankAllowlistUpdated):
        body = {"type": "DEPOSIT_BANK_ALLOWLIST", "banks": list(e.banks), "assetsNowIneligible": list(e.assets_now_ineligible)}
    elif isinstance(e, MarginAssetHaircutSet):
        body = {"type": "HAIRCUT", "asset": e.asset, "oldBps": e.old_bps, "newBps": e.new_bps}
    else:
        raise TypeError(type(e).__name__)
    body["seq"] = e.seq
    body["time"] = _ms(e.ts_ns)
    return body


def h_margin_assets(call: Call, ctx: WriterContext) -> Any:
    """The margin-asset register: assets with haircut and eligibility (and why), the HKMA issuer
    register snapshot, the tokenised-deposit bank allowlist, FX rates, and recent updates."""
    limit = _limit(call, 100, 1000)
    st = ctx.state
    reg = st.registry
    assets = []
    for asset, spec in sorted(reg.assets.items()):
        eligible, why = _eligibility(st, asset)
        assets.append(
            {"asset": asset, "kind": spec.kind.value, "currency": spec.currency, "issuer": spec.issuer, "haircutBps": spec.haircut_bps, "eligible": eligible, "why": why}
        )
    return {
        "time": _ms(ctx.now_ns),
        "assets": assets,
        "issuerRegister": {"issuers": sorted(reg.issuers), "registerRef": reg.register_ref},
        "depositBankAllowlist": sorted(reg.banks),
        "fxRates": [{"base": b, "quote": q, "rate": units(r, 8)} for (b, q), r in sorted(reg.fx_e8.items())],
        "updates": [_register_update(e) for e in list(_records(ctx).register_updates)[-limit:]],
    }


def _register_answer(events: list[Any]) -> Any:
    return _register_update(next(e for e in events if isinstance(e, (IssuerRegisterUpdated, DepositBankAllowlistUpdated, MarginAssetHaircutSet))))


def h_set_issuer_register(call: Call, ctx: WriterContext) -> Any:
    """Replace the HKMA licensed stablecoin issuer register snapshot (operator; SetIssuerRegister)."""
    issuers = _names(call, "issuers")
    ref = call.require("registerRef").strip()
    if not ref or len(ref) > MAX_REASON:
        raise E.error(E.INVALID_PARAMETER, f"Parameter 'registerRef' must be 1..{MAX_REASON} characters.")
    _, events = _submit(ctx, SetIssuerRegister(issuers=issuers, register_ref=ref))
    return _register_answer(events)


def h_set_bank_allowlist(call: Call, ctx: WriterContext) -> Any:
    """Replace the tokenised-deposit bank allowlist (operator; SetDepositBankAllowlist)."""
    _, events = _submit(ctx, SetDepositBankAllowlist(banks=_names(call, "banks")))
    return _register_answer(events)


def h_set_haircut(call: Call, ctx: WriterContext) -> Any:
    """Set a margin asset's haircut in basis points (operator; SetMarginAssetHaircut)."""
    asset = call.require("asset")
    haircut = _required_int(call, "haircutBps", low=0)
    _, events = _submit(ctx, SetMarginAssetHaircut(asset=asset, haircut_bps=haircut))
    return _register_answer(events)


# --- the route table --------------------------------------------------------------------------------

_SYMBOL = Param("symbol", "string", "Instrument symbol, e.g. BTCUSD.", required=True)
_SYMBOL_OPT = Param("symbol", "string", "Instrument symbol; all instruments when absent.")
_ACCOUNT = Param(
    "account", "integer", "Staff keys: the account to read (every account when absent). Client and market-maker keys: may only name their own account (else -9012)."
)
_LIMIT_100 = Param("limit", "integer", "Rows to return (default 100, at most 1000).")
_START = Param("startTime", "integer", "From this time (ms, inclusive); with it the oldest rows come first, without it the latest.")
_END = Param("endTime", "integer", "Up to this time (ms, inclusive).")
_REASON = Param("reason", "string", "Why (1..200 characters); journaled with the command, with the operator key that sent it.", required=True)
_R, _T = Scope.READ, Scope.TRADE


def routes() -> list[HkRoute]:
    """Every /hk/v1 route, in the order the OpenAPI document lists them."""
    return [
        HkRoute(
            method="GET",
            path=f"{PREFIX}/disclosures",
            handler=h_disclosures,
            security=PUBLIC,
            scope=None,
            roles=None,
            weight=5,
            summary="Current disclosures: version, hashes and content",
            description="The rulebook disclosure generated from the live venue state (venue.disclosure): `version` is the venue's "
            "configuration version, `contentHash` = blake2b-256 of the canonical JSON (sorted keys, no whitespace) of `content.rules`, "
            "`documentHash` covers the whole document including the current figures as of `asOfSeq`. A client can recompute "
            "`contentHash` from `content.rules` itself.",
            params=(
                Param("id", "string", "Disclosure id; the venue publishes `rulebook`.", enum=(DISCLOSURE_ID,)),
                Param("format", "string", "`json` (default): the document; `markdown`: its rendering, same numbers.", enum=("json", "markdown")),
            ),
        ),
        HkRoute(
            method="POST",
            path=f"{PREFIX}/disclosures/acknowledgement",
            handler=h_acknowledge,
            security=SIGNED,
            scope=_T,
            roles=ACCOUNT,
            weight=1,
            summary="Acknowledge the current disclosure",
            description="Records that the key's account acknowledged the disclosure version and content hash it names, in the "
            "gateway's own journal (hash-chained, fsynced before the answer). Only the current version is accepted (-9013 "
            "otherwise, with the current version and hash in the message). Acknowledging a version already acknowledged "
            "returns the existing record.",
            params=(
                Param("id", "string", "Disclosure id (default `rulebook`).", enum=(DISCLOSURE_ID,)),
                Param("version", "integer", "The disclosure version acknowledged.", required=True),
                Param("contentHash", "string", "The disclosure's contentHash (64 hex digits).", required=True),
            ),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/disclosures/acknowledgements",
            handler=h_acknowledgements,
            security=SIGNED,
            scope=_R,
            roles=EVERY_KEY,
            weight=5,
            summary="Disclosure acknowledgements",
            description="The current version and hash, whether each account acknowledged it, and every acknowledgement recorded "
            "(version, content hash, time, the venue seq when acknowledged). Client and market-maker keys see their own account only.",
            params=(_ACCOUNT,),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/professionalInvestor",
            handler=h_professional_investor,
            security=SIGNED,
            scope=_R,
            roles=EVERY_KEY,
            weight=1,
            summary="Professional-investor status and expiry",
            description="Status as the venue's PI gate applies it now: VALID (may open positions), EXPIRED (may only reduce, -9001 "
            "otherwise), NONE (never had a status, -9002), NOT_APPLICABLE (the affiliated market maker). With the expiry, the "
            "re-verification due date and every change of the expiry (seq, time, old, new).",
            params=(_ACCOUNT,),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/indexPrints",
            handler=h_index_prints,
            security=PUBLIC,
            scope=None,
            roles=None,
            weight=5,
            summary="Index prints with their inputs",
            description="Each IOSCO index determination: every input offered (venue, kind, price, observation time), the weight "
            "each constituent got and the price used, exclusions and clamps with their reasons, the fallback, the methodology "
            "version, `printHash` (blake2b-256 of the canonical JSON of the print) and `recomputes` (the print recomputed from "
            "its own record equals it bit for bit). `raw=true` adds the print in integer units, as journaled.",
            params=(_SYMBOL, _LIMIT_100, _START, _END, Param("raw", "boolean", "Add the journaled print (integers) as `print`.")),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/lossWaterfall",
            handler=h_waterfall,
            security=PUBLIC,
            scope=None,
            roles=None,
            weight=5,
            summary="Loss waterfall state",
            description="The published order of the loss waterfall, each platform layer's holdings (insurance fund, operator "
            "tranche, uncovered deficit) with their value in the risk currency, whether withdrawals are paused, what each layer "
            "paid since the venue started, the latest stress test, and the most recent liquidations without account identities.",
            params=(Param("limit", "integer", "Recent liquidations to list (default 20, at most 200)."),),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/lossWaterfall/events",
            handler=h_waterfall_events,
            security=SIGNED,
            scope=_R,
            roles=EVERY_KEY,
            weight=5,
            summary="Loss waterfall events",
            description="Liquidations (trigger figures, each step: book, backstop and ADL quantities at the bankruptcy price), the "
            "layers that paid, in order, and the ADL trades. Client and market-maker keys: liquidations of their own account, "
            "and their own ADL trades as a deleveraged counterparty (the defaulter's identity and figures left out). Staff: all.",
            params=(_ACCOUNT, _LIMIT_100, _START, _END),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/adlRank",
            handler=h_adl_rank,
            security=SIGNED,
            scope=_R,
            roles=EVERY_KEY,
            weight=5,
            summary="ADL rank per position",
            description="Each open position's place in the published auto-deleveraging queue of its side (rank 1 is closed first "
            "when an opposite position defaults beyond the insurance fund and tranche): score = profit ratio x effective leverage "
            "as an exact fraction and cut to 8 decimals, queue size, Binance-style `adlQuantile` 0..4 (4: first in line), and the "
            "liquidation price.",
            params=(_ACCOUNT, _SYMBOL_OPT),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/fundingHistory",
            handler=h_funding_history,
            security=PUBLIC,
            scope=None,
            roles=None,
            weight=1,
            summary="Funding history with explicit interval",
            description="Every settled funding interval: its start, end (the settlement time) and length (`intervalNs` exact), the "
            "rate per interval with its unit and sign convention on the row, the mark, totals paid and received, the residue to "
            "the insurance fund and any shortfall the platform covered.",
            params=(_SYMBOL, _LIMIT_100, _START, _END),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/fundingPayments",
            handler=h_funding_payments,
            security=SIGNED,
            scope=_R,
            roles=EVERY_KEY,
            weight=5,
            summary="Funding payments per account",
            description="Per settlement and account: the interval, rate, mark, the position and the payment (positive paid, "
            "negative received) in the settlement asset. Client and market-maker keys see their own account only.",
            params=(_SYMBOL, _ACCOUNT, _LIMIT_100, _START, _END),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/instrumentState",
            handler=h_instrument_states,
            security=PUBLIC,
            scope=None,
            roles=None,
            weight=1,
            summary="Instrument trading states",
            description="Each instrument's state (OPEN; CLOSE_ONLY: every new order must reduce, -9003; HALTED: no new orders "
            "or amendments, cancels accepted, -9005), its SFC approval reference, and its recent state changes with reasons.",
            params=(Param("limit", "integer", "Changes per instrument (default 20, at most 1000)."),),
        ),
        HkRoute(
            method="POST",
            path=f"{PREFIX}/operator/instrumentState",
            handler=h_set_instrument_state,
            security=SIGNED,
            scope=_T,
            roles=OPERATOR,
            weight=1,
            summary="Change an instrument's trading state (operator)",
            description="Journals SetInstrumentState. CLOSE_ONLY: new orders are treated as reduce-only and resting ones fill "
            "only as far as they reduce (D11). HALTED: no new orders or amendments. OPEN resumes trading (a good index print "
            "never resumes a halted instrument by itself).",
            params=(_SYMBOL, Param("state", "string", "The new state.", required=True, enum=("OPEN", "CLOSE_ONLY", "HALTED")), _REASON),
        ),
        HkRoute(
            method="GET",
            path=f"{PREFIX}/marginAssets",
            handler=h_margin_assets,
            security=PUBLIC,
            scope=None,
            roles=None,
            weight=1,
            summary="Margin-asset register",
            description="Every listed asset with its kind, currency, issuer, haircut and whether it counts as margin now (and why), "
            "the HKMA licensed stablecoin issuer register snapshot and its reference, the tokenised-deposit bank allowlist, FX "
            "rates, and recent register updates.",
            params=(Param("limit", "integer", "Recent updates to list (default 100, at most 1000)."),),
        ),
        HkRoute(
            method="POST",
            path=f"{PREFIX}/operator/issuerRegister",
            handler=h_set_issuer_register,
            security=SIGNED,
            scope=_T,
            roles=OPERATOR,
            weight=1,
            summary="Replace the HKMA issuer register snapshot (operator)",
            description="Journals SetIssuerRegister. A stablecoin whose issuer leaves the register counts zero for new risk from "
            "the next command on; the answer names the assets that became ineligible.",
            params=(
                Param("issuers", "string", 'JSON array of issuer names, e.g. ["ISSUER-A","ISSUER-B"].', required=True),
                Param("registerRef", "string", "Reference of the register snapshot (date or version).", required=True),
            ),
        ),
        HkRoute(
            method="POST",
            path=f"{PREFIX}/operator/depositBankAllowlist",
            handler=h_set_bank_allowlist,
            security=SIGNED,
            scope=_T,
            roles=OPERATOR,
            weight=1,
            summary="Replace the tokenised-deposit bank allowlist (operator)",
            description="Journals SetDepositBankAllowlist; the answer names the assets that became ineligible.",
            params=(Param("banks", "string", 'JSON array of bank names, e.g. ["BANK-A"].', required=True),),
        ),
        HkRoute(
            method="POST",
            path=f"{PREFIX}/operator/marginAssetHaircut",
            handler=h_set_haircut,
            security=SIGNED,
            scope=_T,
            roles=OPERATOR,
            weight=1,
            summary="Set a margin asset's haircut (operator)",
            description="Journals SetMarginAssetHaircut (0..9999 bps). A virtual asset is refused (-9004): it is never margin.",
            params=(Param("asset", "string", "Listed asset code.", required=True), Param("haircutBps", "integer", "Haircut in basis points.", required=True)),
        ),
    ]


def hk_endpoints() -> dict[tuple[str, str], Endpoint]:
    """The /hk/v1 routes as gateway endpoints, each behind its role guard."""
    return {(r.method, r.path): Endpoint(_guard(r.roles, r.handler), r.security, r.scope, r.weight) for r in routes()}
