"""Concentration and book limits (C1, C2, C4, C5) and the exceptions register.

Owns the limit part of the M1 pre-trade check for new financing, the book figures they
are measured against, the book-wide concentration figures and the exceptions register.

Limits (house defaults in ``BrokerConfig``), each checked on the post-trade figures of
a new advance:

* ``C1`` VA term (sum of the BTC/ETH margin-value terms) <= 50% of the client's margin
  value (house view).
* ``C2_CLIENT`` the client's margin loans in every product (the engine's VA loan plus its
  loans in the SMF books outside this engine, from the recorded SMF extract) <= 20% of
  shareholders' funds; ``C2_GROUP`` the loans of the client's related group (clients
  registered with the same ``related_group``, each with its SMF loans, plus the recorded
  loans to group members without an account here) <= 20% of shareholders' funds.
* ``C4_VA_SHARE`` total VA financing <= 15% of total margin loans (VA loans plus the
  recorded securities margin loans); ``C4_TOTAL_LOANS`` total margin loans <= 5 x capital;
  ``C4_LIQUIDITY`` the book's BTC (ETH) collateral, every client's holding after the
  purchase, <= one day of liquidation capacity: ADV x 20% participation x 1 day, checked
  for the asset bought once its ADV is recorded (``RecordAverageDailyVolume``).
* ``C5_STOCK`` the book's margin value in one security (all clients here, effective ratio,
  plus the recorded margin value of the SMF book outside this engine) <= 20% of
  shareholders' funds; ``C5_GROUP`` in one correlated group (securities listed
  with the same ``correlation_group``) <= 40%. An advance is refused while a security
  (group) the client holds as collateral is above its limit: no new lending against it.
  A security or group the client does not hold does not stop its advance.

The limits are in force from the first ``RecordBookFigures``: C2, C4 and C5 are measured
against those figures, and before them the book is not known (see docs/decisions.md).

Data currency of the SMF extract (C2/C5): the extract is a daily input, and C2/C5 measured
on an old one are not measured at all. An extract recorded on HKT day D (by the command's
journaled timestamp) is current until ``smf_extract_cutoff_minutes_hkt`` (house default
12:00 HKT) on the ``smf_extract_max_age_business_days``-th (house default 1st) HK business
day after D; the instant itself is still current. After it, every new advance is refused
(SMF_EXTRACT_STALE) until the next ``RecordBookFigures``; repayments, withdrawals within
limits, forced sales, cash-paid purchases and credit-limit changes are not blocked. The
rule is in force while the latest record carries an SMF extract, or always when
``smf_extract_required`` says an SMF book exists (then an advance before any record is
refused too); otherwise this engine's book is the whole book and there is nothing to age.
The broker's securities margin book lives in its SMF system, not here: this engine holds
the VA loans and the collateral pledged to them. C2 (all products) and C5 (the whole book)
therefore add the SMF extract recorded with the book figures; an empty extract means
this engine's book is the whole book (and the SMF monitor says which basis it used).
C3 (size multiplier k by holding against ADV) and the C5 size haircut for stocks are part
of the valuation (``valuation.size_k_bps``), the V3 size add-on part of the haircut.

A breach rejects the advance with the limit's own code and changes nothing, unless an
unexpired exceptions-register entry for that limit (and client, or the book, and the
instrument of a per-instrument limit) exists: then the advance goes ahead and a
``LimitExceptionApplied`` event names the entry. The register entry needs a
justification, an approver and an expiry in the future.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from harbour.broker.clients import Client
from harbour.broker.commands import RecordBookFigures, RecordLimitException
from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS, HOUR_NS, MAX_CASH
from harbour.broker.deadlines import business_day_cutoff_ns, hkt_text
from harbour.broker.events import BookFiguresRecorded, LimitExceptionApplied, LimitExceptionRecorded
from harbour.broker.rejects import rejected
from harbour.broker.state import BookFigures, BrokerState, LimitException
from harbour.broker.valuation import SECURITY, VIRTUAL_ASSET, Position, margin_term, positions
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, div_round_down

C = RejectCode

C1: Final = "C1"
C2_CLIENT: Final = "C2_CLIENT"
C2_GROUP: Final = "C2_GROUP"
C4_VA_SHARE: Final = "C4_VA_SHARE"
C4_TOTAL_LOANS: Final = "C4_TOTAL_LOANS"
C4_LIQUIDITY: Final = "C4_LIQUIDITY"
C5_STOCK: Final = "C5_STOCK"
C5_GROUP: Final = "C5_GROUP"
CLIENT_LIMITS: Final = (C1, C2_CLIENT, C2_GROUP)
BOOK_LIMITS: Final = (C4_VA_SHARE, C4_TOTAL_LOANS, C4_LIQUIDITY, C5_STOCK, C5_GROUP)
INSTRUMENT_LIMITS: Final = (C4_LIQUIDITY, C5_STOCK, C5_GROUP)  # a register entry names the instrument
LIMIT_IDS: Final = CLIENT_LIMITS + BOOK_LIMITS

_CODES: Final = {
    C1: C.VA_SHARE_LIMIT_EXCEEDED,
    C2_CLIENT: C.SINGLE_CLIENT_LIMIT_EXCEEDED,
    C2_GROUP: C.RELATED_GROUP_LIMIT_EXCEEDED,
    C4_VA_SHARE: C.VA_BOOK_SHARE_EXCEEDED,
    C4_TOTAL_LOANS: C.TOTAL_MARGIN_LOANS_EXCEEDED,
    C4_LIQUIDITY: C.LIQUIDATION_CAPACITY_EXCEEDED,
    C5_STOCK: C.SINGLE_STOCK_LIMIT_EXCEEDED,
    C5_GROUP: C.CORRELATED_GROUP_LIMIT_EXCEEDED,
}

Problem = tuple[RejectCode, dict[str, str | int]]


class Breach(NamedTuple):
    limit_id: str
    value: int
    limit: int
    instrument: str = ""


# --- book-wide figures (read by the limits and by the SMF monitor) ----------------------------


def book_va_units(st: BrokerState, asset: str) -> int:
    """Every client's holding of ``asset`` (VA units): the book's collateral in it."""
    return sum(custody.holding(asset) for custody in st.custody.values())


def liquidation_capacity(st: BrokerState, asset: str) -> int | None:
    """C4: the book's one-day liquidation capacity of ``asset`` (VA units), or None without an ADV."""
    adv = st.average_daily_volumes.get(asset)
    if adv is None:
        return None
    return div_round_down(adv.qty * st.config.liquidation_participation_bps, BPS) * st.config.liquidation_days


def security_margin_values(st: BrokerState, *, with_smf: bool = True) -> dict[str, int]:
    """C5: the book's margin value (house view, effective ratio) in each security: all clients here, plus
    (``with_smf``) the SMF book's margin value outside this engine as last recorded."""
    out: dict[str, int] = {}
    for cid in st.clients:
        for p in positions(st, cid):
            if p.kind == SECURITY:
                out[p.instrument] = out.get(p.instrument, 0) + margin_term(p.value, p.margin_ratio_bps)
    if with_smf and st.book is not None:
        for row in st.book.security_margin_values:
            out[row.security] = out.get(row.security, 0) + row.margin_value
    return out


def client_all_loans(st: BrokerState, client: int, loan: int) -> int:
    """C2: a client's margin loans in every product: ``loan`` here plus its recorded SMF loans."""
    return loan + (st.book.smf_client_loan(client) if st.book is not None else 0)


def group_all_loans(st: BrokerState, related_group: str, loans: dict[int, int]) -> int:
    """C2: a related group's loans: each member's here (``loans``) and in the SMF books, plus members without an account here."""
    members = sum(client_all_loans(st, c, loans[c]) for c, other in st.clients.items() if other.related_group == related_group)
    return members + (st.book.smf_group_loan(related_group) if st.book is not None else 0)


def smf_extract_in_force(st: BrokerState) -> bool:
    """Whether new financing needs a current SMF extract: the latest record carries one, or the config says an SMF book exists."""
    return st.config.smf_extract_required or (st.book is not None and st.book.has_smf_extract)


def smf_extract_expiry_ns(st: BrokerState) -> int | None:
    """The last instant (UTC ns) the recorded SMF extract is current, or None if nothing is recorded."""
    if st.book is None:
        return None
    cfg = st.config
    return business_day_cutoff_ns(st.book.recorded_ts_ns, cfg.smf_extract_max_age_business_days, cfg.smf_extract_cutoff_minutes_hkt, cfg)


def smf_extract_stale(st: BrokerState, ts: int) -> dict[str, str | int] | None:
    """The detail of a stale (or, when required, missing) SMF extract at ``ts``, or None if C2/C5 may be measured."""
    if not smf_extract_in_force(st):
        return None
    expiry = smf_extract_expiry_ns(st)
    if expiry is not None and ts <= expiry:
        return None
    recorded = st.book.recorded_ts_ns if st.book is not None else None
    return {
        "recorded": "never" if recorded is None else hkt_text(recorded),
        "age": "unknown" if recorded is None else _hours_text(ts - recorded),
        "valid_until": "no extract recorded" if expiry is None else hkt_text(expiry),
        "now": hkt_text(ts),
    }


def _hours_text(ns: int) -> str:
    whole, part = divmod(ns, HOUR_NS)
    return f"{whole} h {part * 60 // HOUR_NS:02d} min"


def group_margin_values(st: BrokerState, by_security: dict[str, int]) -> dict[str, int]:
    """C5: the book's margin value in each correlated group of securities."""
    out: dict[str, int] = {}
    for code, value in by_security.items():
        group = st.securities[code].correlation_group
        if group:
            out[group] = out.get(group, 0) + value
    return out


def active_exception(st: BrokerState, limit_id: str, client: int, ts: int, instrument: str = "") -> LimitException | None:
    """The latest unexpired register entry for ``limit_id``, ``client`` (0 = book) and ``instrument``."""
    scope = 0 if limit_id in BOOK_LIMITS else client
    for entry in reversed(st.limit_exceptions):
        if entry.limit_id == limit_id and entry.client == scope and entry.instrument == instrument and entry.expiry_ns > ts:
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
    all_loans = client_all_loans(st, cid, loans[cid])
    if all_loans > client_cap:
        found.append(Breach(C2_CLIENT, all_loans, client_cap))
    if client.related_group:
        group_loans = group_all_loans(st, client.related_group, loans)
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
    for asset in sorted(a for a in adjust if a in ELIGIBLE_VIRTUAL_ASSETS):
        capacity = liquidation_capacity(st, asset)
        after = book_va_units(st, asset) + adjust[asset]
        if capacity is not None and after > capacity:
            found.append(Breach(C4_LIQUIDITY, after, capacity, asset))
    found += _concentration_breaches(st, held)
    return found


def _concentration_breaches(st: BrokerState, held: list[Position]) -> list[Breach]:
    """C5: every security (then group) the client holds with margin value whose book figure is above its limit."""
    book = st.book
    assert book is not None
    cfg = st.config
    mine = sorted(p.instrument for p in held if p.kind == SECURITY and margin_term(p.value, p.margin_ratio_bps) > 0)
    if not mine:
        return []
    by_security = security_margin_values(st)
    stock_cap = div_round_down(book.shareholders_funds * cfg.single_stock_max_bps, BPS)
    found = [Breach(C5_STOCK, by_security[code], stock_cap, code) for code in mine if by_security.get(code, 0) > stock_cap]
    groups = sorted({st.securities[code].correlation_group for code in mine} - {""})
    if groups:
        by_group = group_margin_values(st, by_security)
        group_cap = div_round_down(book.shareholders_funds * cfg.correlated_group_max_bps, BPS)
        found += [Breach(C5_GROUP, by_group[g], group_cap, g) for g in groups if by_group.get(g, 0) > group_cap]
    return found


def check_limits(st: BrokerState, client: Client, adjust: dict[str, int], financed: int, ts: int) -> tuple[Problem | None, list[tuple[Breach, LimitException]]]:
    """C1-C5 for a new advance: the first breach not covered by the register, or the entries used."""
    used: list[tuple[Breach, LimitException]] = []
    for breach in breaches(st, client, adjust, financed):
        entry = active_exception(st, breach.limit_id, client.client_id, ts, breach.instrument)
        if entry is None:
            detail: dict[str, str | int] = {"client": client.client_id, "limit_id": breach.limit_id, "value": breach.value, "limit": breach.limit}
            if breach.instrument:
                detail["instrument"] = breach.instrument
            return (_CODES[breach.limit_id], detail), []
        used.append((breach, entry))
    return None, used


def applied_events(seq: int, ts: int, client: int, used: list[tuple[Breach, LimitException]]) -> list[LimitExceptionApplied]:
    return [
        LimitExceptionApplied(
            seq=seq, ts_ns=ts, exception_id=e.exception_id, limit_id=b.limit_id, client=client, value=b.value, limit=b.limit, instrument=b.instrument,
        )
        for b, e in used
    ]


# --- handlers -----------------------------------------------------------------------------


def _smf_extract_problem(st: BrokerState, cmd: RecordBookFigures) -> Problem | None:
    """Why the SMF extract of ``cmd`` cannot be recorded, or None."""
    amounts = [("client loan", r.amount) for r in cmd.client_loans] + [("group loan", r.amount) for r in cmd.group_loans]
    amounts += [("security margin value", r.margin_value) for r in cmd.security_margin_values]
    for field, value in amounts:
        if value < 0:
            return C.INVALID_PARAMETER, {"problem": f"SMF extract: a {field} must not be negative, got {value}"}
        if value > MAX_CASH:
            return C.AMOUNT_TOO_LARGE, {"field": f"SMF extract {field}", "value": value, "ceiling": MAX_CASH}
    clients = [r.client for r in cmd.client_loans]
    groups = [r.related_group for r in cmd.group_loans]
    codes = [r.security for r in cmd.security_margin_values]
    if any(c <= 0 for c in clients) or any(not g.strip() for g in groups):
        return C.INVALID_PARAMETER, {"problem": "SMF extract: client ids must be positive and group names non-empty"}
    for what, keys in (("client", clients), ("related group", groups), ("security", codes)):
        if len(set(keys)) != len(keys):
            return C.INVALID_PARAMETER, {"problem": f"SMF extract: a {what} appears twice"}
    for code in codes:
        if code not in st.securities:
            return C.UNKNOWN_SECURITY, {"security": code}
    loans = sum(r.amount for r in cmd.client_loans) + sum(r.amount for r in cmd.group_loans)
    if loans > cmd.securities_margin_loans:
        return C.INVALID_PARAMETER, {"problem": f"SMF extract: client and group loans {loans} exceed the securities margin loan book {cmd.securities_margin_loans}"}
    return None


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
    problem = _smf_extract_problem(st, cmd)
    if problem is not None:
        out.append(rejected(seq, ts, name, problem[0], **problem[1]))
        return
    st.book = BookFigures(
        shareholders_funds=cmd.shareholders_funds, capital=cmd.capital, securities_margin_loans=cmd.securities_margin_loans, recorded_ts_ns=ts,
        client_loans=cmd.client_loans, group_loans=cmd.group_loans, security_margin_values=cmd.security_margin_values,
    )  # fmt: skip
    out.append(BookFiguresRecorded(
        seq=seq, ts_ns=ts, shareholders_funds=cmd.shareholders_funds, capital=cmd.capital, securities_margin_loans=cmd.securities_margin_loans,
        client_loans=cmd.client_loans, group_loans=cmd.group_loans, security_margin_values=cmd.security_margin_values,
    ))  # fmt: skip


def record_limit_exception(st: BrokerState, seq: int, ts: int, cmd: RecordLimitException, out: list[object]) -> None:
    name = "record_limit_exception"
    problem: Problem | None = None
    if cmd.limit_id not in LIMIT_IDS:
        problem = C.INVALID_PARAMETER, {"problem": f"unknown limit {cmd.limit_id!r}: one of {', '.join(LIMIT_IDS)}"}
    elif cmd.limit_id in BOOK_LIMITS and cmd.client != 0:
        problem = C.INVALID_PARAMETER, {"problem": f"{cmd.limit_id} is a book limit: client must be 0"}
    elif cmd.limit_id in CLIENT_LIMITS and cmd.client not in st.clients:
        problem = C.UNKNOWN_CLIENT, {"client": cmd.client}
    elif cmd.limit_id not in INSTRUMENT_LIMITS and cmd.instrument:
        problem = C.INVALID_PARAMETER, {"problem": f"{cmd.limit_id} is not a per-instrument limit: instrument must be empty"}
    elif cmd.limit_id == C4_LIQUIDITY and cmd.instrument not in ELIGIBLE_VIRTUAL_ASSETS:
        problem = C.INVALID_PARAMETER, {"problem": f"{C4_LIQUIDITY} needs the instrument BTC or ETH, got {cmd.instrument!r}"}
    elif cmd.limit_id == C5_STOCK and cmd.instrument not in st.securities:
        problem = C.UNKNOWN_SECURITY, {"security": cmd.instrument}
    elif cmd.limit_id == C5_GROUP and not any(r.correlation_group == cmd.instrument for r in st.securities.values() if cmd.instrument):
        problem = C.INVALID_PARAMETER, {"problem": f"{C5_GROUP} needs the name of a correlated group of listed securities, got {cmd.instrument!r}"}
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
        instrument=cmd.instrument,
    )
    st.limit_exceptions.append(entry)
    out.append(
        LimitExceptionRecorded(
            seq=seq, ts_ns=ts, exception_id=entry.exception_id, limit_id=entry.limit_id, client=entry.client,
            justification=entry.justification, approver=entry.approver, expiry_ns=entry.expiry_ns, instrument=entry.instrument,
        )
    )
