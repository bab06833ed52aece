"""Concentration and book limits (C1, C2, C4) and the exceptions register.

Owns the limit part of the M1 pre-trade check for new financing, the book figures they
are measured against, and the exceptions register.

Limits (house defaults in ``BrokerConfig``), each checked on the post-trade figures of
a new advance:

* ``C1`` VA term (sum of the BTC/ETH margin-value terms) <= 50% of the client's margin
  value (house view).
* ``C2_CLIENT`` the client's margin loans (the engine's VA loan) <= 20% of shareholders'
  funds; ``C2_GROUP`` the loans of the client's related group (clients registered with
  the same ``related_group``) <= 20% of shareholders' funds.
* ``C4_VA_SHARE`` total VA financing <= 15% of total margin loans (VA loans plus the
  recorded securities margin loans); ``C4_TOTAL_LOANS`` total margin loans <= 5 x capital.

The limits are in force from the first ``RecordBookFigures``: C2 and C4 are measured
against those figures, and before them the book is not known (see docs/decisions.md).
C3 (size add-on) is part of the haircut (V3, ``valuation.va_haircut_bps``).

A breach rejects the advance with the limit's own code and changes nothing, unless an
unexpired exceptions-register entry for that limit (and client, or the book) exists:
then the advance goes ahead and a ``LimitExceptionApplied`` event names the entry. The
register entry needs a justification, an approver and an expiry in the future.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from harbour.broker.clients import Client
from harbour.broker.commands import RecordBookFigures, RecordLimitException
from harbour.broker.config import MAX_CASH
from harbour.broker.events import BookFiguresRecorded, LimitExceptionApplied, LimitExceptionRecorded
from harbour.broker.rejects import rejected
from harbour.broker.state import BookFigures, BrokerState, LimitException
from harbour.broker.valuation import VIRTUAL_ASSET, margin_term, positions
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, div_round_down

C = RejectCode

C1: Final = "C1"
C2_CLIENT: Final = "C2_CLIENT"
C2_GROUP: Final = "C2_GROUP"
C4_VA_SHARE: Final = "C4_VA_SHARE"
C4_TOTAL_LOANS: Final = "C4_TOTAL_LOANS"
CLIENT_LIMITS: Final = (C1, C2_CLIENT, C2_GROUP)
BOOK_LIMITS: Final = (C4_VA_SHARE, C4_TOTAL_LOANS)
LIMIT_IDS: Final = CLIENT_LIMITS + BOOK_LIMITS

_CODES: Final = {
    C1: C.VA_SHARE_LIMIT_EXCEEDED,
    C2_CLIENT: C.SINGLE_CLIENT_LIMIT_EXCEEDED,
    C2_GROUP: C.RELATED_GROUP_LIMIT_EXCEEDED,
    C4_VA_SHARE: C.VA_BOOK_SHARE_EXCEEDED,
    C4_TOTAL_LOANS: C.TOTAL_MARGIN_LOANS_EXCEEDED,
}

Problem = tuple[RejectCode, dict[str, str | int]]


class Breach(NamedTuple):
    limit_id: str
    value: int
    limit: int


def active_exception(st: BrokerState, limit_id: str, client: int, ts: int) -> LimitException | None:
    """The latest unexpired register entry for ``limit_id`` and ``client`` (0 = book)."""
    scope = 0 if limit_id in BOOK_LIMITS else client
    for entry in reversed(st.limit_exceptions):
        if entry.limit_id == limit_id and entry.client == scope and entry.expiry_ns > ts:
            return entry
    return None


def breaches(st: BrokerState, client: Client, adjust: dict[str, int], financed: int) -> list[Breach]:
    """Every C-limit the advance of ``financed`` (buying ``adjust``) would breach, in rule order."""
    book = st.book
    if book is None or financed <= 0:
        return []
    cfg = st.config
    cid = client.client_id
    found: list[Breach] = []
    held = positions(st, cid, adjust)
    margin_value = sum(margin_term(p.value, p.margin_ratio_bps) for p in held)
    va_term = sum(margin_term(p.value, p.margin_ratio_bps) for p in held if p.kind == VIRTUAL_ASSET)
    if va_term * BPS > cfg.va_share_max_bps * margin_value:
        found.append(Breach(C1, va_term, div_round_down(margin_value * cfg.va_share_max_bps, BPS)))
    loans = {c: st.loan(c) for c in st.clients}
    loans[cid] += financed
    client_cap = div_round_down(book.shareholders_funds * cfg.single_client_max_bps, BPS)
    if loans[cid] > client_cap:
        found.append(Breach(C2_CLIENT, loans[cid], client_cap))
    if client.related_group:
        group_loans = sum(loans[c] for c, other in st.clients.items() if other.related_group == client.related_group)
        group_cap = div_round_down(book.shareholders_funds * cfg.related_group_max_bps, BPS)
        if group_loans > group_cap:
            found.append(Breach(C2_GROUP, group_loans, group_cap))
    va_loans = sum(loans.values())
    total = va_loans + book.securities_margin_loans
    if va_loans * BPS > cfg.va_book_share_max_bps * total:
        found.append(Breach(C4_VA_SHARE, va_loans, div_round_down(total * cfg.va_book_share_max_bps, BPS)))
    total_cap = div_round_down(book.capital * cfg.total_loans_max_capital_bps, BPS)
    if total > total_cap:
        found.append(Breach(C4_TOTAL_LOANS, total, total_cap))
    return found


def check_limits(st: BrokerState, client: Client, adjust: dict[str, int], financed: int, ts: int) -> tuple[Problem | None, list[tuple[Breach, LimitException]]]:
    """C1-C4 for a new advance: the first breach not covered by the register, or the entries used."""
    used: list[tuple[Breach, LimitException]] = []
    for breach in breaches(st, client, adjust, financed):
        entry = active_exception(st, breach.limit_id, client.client_id, ts)
        if entry is None:
            detail: dict[str, str | int] = {"client": client.client_id, "limit_id": breach.limit_id, "value": breach.value, "limit": breach.limit}
            return (_CODES[breach.limit_id], detail), []
        used.append((breach, entry))
    return None, used


def applied_events(seq: int, ts: int, client: int, used: list[tuple[Breach, LimitException]]) -> list[LimitExceptionApplied]:
    return [
        LimitExceptionApplied(seq=seq, ts_ns=ts, exception_id=e.exception_id, limit_id=b.limit_id, client=client, value=b.value, limit=b.limit)
        for b, e in used
    ]


# --- handlers -----------------------------------------------------------------------------


def record_book_figures(st: BrokerState, seq: int, ts: int, cmd: RecordBookFigures, out: list[object]) -> None:
    name = "record_book_figures"
    for field, value in (("shareholders funds", cmd.shareholders_funds), ("capital", cmd.capital)):
        if value <= 0:
            out.append(rejected(seq, ts, name, C.AMOUNT_NOT_POSITIVE, field=field, value=value))
            return
    for field, value in (("shareholders funds", cmd.shareholders_funds), ("capital", cmd.capital), ("securities margin loans", cmd.securities_margin_loans)):
        if value > MAX_CASH:
            out.append(rejected(seq, ts, name, C.AMOUNT_TOO_LARGE, field=field, value=value, ceiling=MAX_CASH))
            return
    if cmd.securities_margin_loans < 0:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="securities margin loans must not be negative"))
        return
    st.book = BookFigures(shareholders_funds=cmd.shareholders_funds, capital=cmd.capital, securities_margin_loans=cmd.securities_margin_loans, recorded_ts_ns=ts)
    out.append(BookFiguresRecorded(seq=seq, ts_ns=ts, shareholders_funds=cmd.shareholders_funds, capital=cmd.capital, securities_margin_loans=cmd.securities_margin_loans))


def record_limit_exception(st: BrokerState, seq: int, ts: int, cmd: RecordLimitException, out: list[object]) -> None:
    name = "record_limit_exception"
    problem: Problem | None = None
    if cmd.limit_id not in LIMIT_IDS:
        problem = C.INVALID_PARAMETER, {"problem": f"unknown limit {cmd.limit_id!r}: one of {', '.join(LIMIT_IDS)}"}
    elif cmd.limit_id in BOOK_LIMITS and cmd.client != 0:
        problem = C.INVALID_PARAMETER, {"problem": f"{cmd.limit_id} is a book limit: client must be 0"}
    elif cmd.limit_id in CLIENT_LIMITS and cmd.client not in st.clients:
        problem = C.UNKNOWN_CLIENT, {"client": cmd.client}
    elif not cmd.justification.strip():
        problem = C.INVALID_PARAMETER, {"problem": "an exception needs a justification"}
    elif not cmd.approver.strip():
        problem = C.APPROVER_REQUIRED, {"what": f"exception to {cmd.limit_id}"}
    elif cmd.expiry_ns <= ts:
        problem = C.INVALID_PARAMETER, {"problem": "an exception's expiry must be in the future"}
    if problem is not None:
        code, detail = problem
        out.append(rejected(seq, ts, name, code, **detail))
        return
    entry = LimitException(
        exception_id=len(st.limit_exceptions) + 1,
        limit_id=cmd.limit_id,
        client=cmd.client,
        justification=cmd.justification,
        approver=cmd.approver,
        recorded_ts_ns=ts,
        expiry_ns=cmd.expiry_ns,
    )
    st.limit_exceptions.append(entry)
    out.append(
        LimitExceptionRecorded(
            seq=seq, ts_ns=ts, exception_id=entry.exception_id, limit_id=entry.limit_id, client=entry.client,
            justification=entry.justification, approver=entry.approver, expiry_ns=entry.expiry_ns,
        )
    )
