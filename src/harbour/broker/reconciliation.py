"""Daily custody reconciliation (N2/N4): the custodian's statement against the books.

Owns the break register's transitions. ``ReconcileCustody`` compares every
(client, asset) holding on the statement with the client's custody sub-ledger (a
client or asset missing on either side counts as zero):

* a difference with no open break for that (client, asset) opens a break
  (``CustodyBreakFound``);
* a difference with an open break of the same figures leaves it open, unchanged;
* a difference with an open break of other figures closes the old one
  (``SUPERSEDED_BY_<id>``) and opens a new one;
* an open break whose (client, asset) now agrees is closed (``CLEAN_RECONCILIATION``).

``ResolveCustodyBreak`` closes one open break with a resolution and a named approver.
While any break is open, ``margin.check_new_financing`` refuses every new advance
(CUSTODY_BREAK_OPEN). A missing statement counts like a break (docs/decisions.md
D37): once the broker reconciles (from its first statement, the
go-live reconciliation), an advance at time t needs a statement dated no earlier than
t's HKT date minus ``custody_statement_max_age_days`` (house default 2: yesterday's
end-of-day statement may still be in transit this morning; a whole missed day blocks),
else CUSTODY_STATEMENT_MISSING. Both block book-wide: the statement is the omnibus
account's, so a break or a gap leaves every client's VA unconfirmed. The statement itself is parsed at the edge
(``custody_statement.parse_custody_statement``), never by the engine.
"""

from __future__ import annotations

import datetime
from typing import Final

from harbour.broker.commands import ReconcileCustody, ResolveCustodyBreak
from harbour.broker.config import MAX_VA_UNITS_HELD
from harbour.broker.deadlines import hkt_date
from harbour.broker.events import CustodyBreakFound, CustodyBreakResolved, CustodyReconciled
from harbour.broker.rejects import rejected
from harbour.broker.state import BrokerState, CustodyBreak
from harbour.kernel.errors import RejectCode

C = RejectCode
CLEAN_RECONCILIATION: Final = "CLEAN_RECONCILIATION"


def _statement_problem(cmd: ReconcileCustody) -> tuple[RejectCode, dict[str, str | int]] | None:
    try:
        datetime.date.fromisoformat(cmd.statement_date)
    except ValueError:
        return C.INVALID_PARAMETER, {"problem": f"statement date {cmd.statement_date!r} is not YYYY-MM-DD"}
    if len(cmd.statement_date) != 10:
        return C.INVALID_PARAMETER, {"problem": f"statement date {cmd.statement_date!r} is not YYYY-MM-DD"}
    seen: set[tuple[int, str]] = set()
    for row in cmd.holdings:
        if row.client <= 0 or not row.asset or len(row.asset) > 16:
            return C.INVALID_PARAMETER, {"problem": f"bad statement row client {row.client} asset {row.asset!r}"}
        if row.qty < 0:
            return C.INVALID_PARAMETER, {"problem": f"statement quantity of client {row.client} {row.asset} is negative"}
        if row.qty > MAX_VA_UNITS_HELD:
            return C.AMOUNT_TOO_LARGE, {"field": f"statement quantity of client {row.client} {row.asset}", "value": row.qty, "ceiling": MAX_VA_UNITS_HELD}
        if (row.client, row.asset) in seen:
            return C.INVALID_PARAMETER, {"problem": f"client {row.client} {row.asset} appears twice on the statement"}
        seen.add((row.client, row.asset))
    return None


def statement_overdue(st: BrokerState, ts: int) -> dict[str, str | int] | None:
    """The detail of a missing custody statement at ``ts`` (once reconciling), or None."""
    if not st.last_reconciled_date:
        return None
    today = hkt_date(ts)
    last = datetime.date.fromisoformat(st.last_reconciled_date)
    max_age = st.config.custody_statement_max_age_days
    if (today - last).days <= max_age:
        return None
    return {"last_statement": st.last_reconciled_date, "max_age_days": max_age, "today": today.isoformat()}


def book_holdings(st: BrokerState) -> dict[tuple[int, str], int]:
    """Every non-zero (client, asset) holding of the custody sub-ledgers."""
    held: dict[tuple[int, str], int] = {}
    for cid, custody in st.custody.items():
        for lot in custody.lots():
            held[(cid, lot.asset)] = held.get((cid, lot.asset), 0) + lot.qty
    return held


def reconcile_custody(st: BrokerState, seq: int, ts: int, cmd: ReconcileCustody, out: list[object]) -> None:
    problem = _statement_problem(cmd)
    if problem:
        code, detail = problem
        out.append(rejected(seq, ts, "reconcile_custody", code, **detail))
        return
    statement = {(row.client, row.asset): row.qty for row in cmd.holdings}
    book = book_holdings(st)
    open_by_key = {(b.client, b.asset): b for b in st.open_custody_breaks()}
    found = resolved = 0
    for key in sorted(set(statement) | set(book) | set(open_by_key)):
        client, asset = key
        stated, held = statement.get(key, 0), book.get(key, 0)
        current = open_by_key.get(key)
        if stated == held:
            if current is not None:
                _close(current, CLEAN_RECONCILIATION, "", seq, ts, out)
                resolved += 1
            continue
        if current is not None and (current.statement_qty, current.book_qty) == (stated, held):
            continue  # the same break, still open
        new_id = len(st.custody_breaks) + 1
        if current is not None:
            _close(current, f"SUPERSEDED_BY_{new_id}", "", seq, ts, out)
            resolved += 1
        st.custody_breaks.append(
            CustodyBreak(break_id=new_id, statement_date=cmd.statement_date, client=client, asset=asset, statement_qty=stated, book_qty=held, found_ts_ns=ts)
        )
        out.append(CustodyBreakFound(seq=seq, ts_ns=ts, break_id=new_id, statement_date=cmd.statement_date, client=client, asset=asset, statement_qty=stated, book_qty=held))
        found += 1
    st.last_reconciled_date = cmd.statement_date
    out.append(
        CustodyReconciled(
            seq=seq, ts_ns=ts, statement_date=cmd.statement_date, rows=len(cmd.holdings), breaks_found=found,
            breaks_resolved=resolved, open_breaks=len(st.open_custody_breaks()),
        )
    )


def resolve_custody_break(st: BrokerState, seq: int, ts: int, cmd: ResolveCustodyBreak, out: list[object]) -> None:
    name = "resolve_custody_break"
    target = st.custody_breaks[cmd.break_id - 1] if 0 < cmd.break_id <= len(st.custody_breaks) else None
    if target is None or target.resolved:
        out.append(rejected(seq, ts, name, C.NO_OPEN_CUSTODY_BREAK, break_id=cmd.break_id))
        return
    if not cmd.approver.strip():
        out.append(rejected(seq, ts, name, C.APPROVER_REQUIRED, what=f"resolving custody break {cmd.break_id}"))
        return
    if not cmd.resolution.strip():
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="a custody break resolution must say what was done"))
        return
    _close(target, cmd.resolution, cmd.approver, seq, ts, out)


def _close(brk: CustodyBreak, resolution: str, approver: str, seq: int, ts: int, out: list[object]) -> None:
    brk.resolved = True
    brk.resolution = resolution
    brk.approver = approver
    brk.resolved_ts_ns = ts
    out.append(CustodyBreakResolved(seq=seq, ts_ns=ts, break_id=brk.break_id, client=brk.client, asset=brk.asset, resolution=resolution, approver=approver))
