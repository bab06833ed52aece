"""The margin state machine (M1-M5): pre-trade check, warning, call, forced-sale triggers.

Owns the decisions taken on a client's figures; ``sellout`` owns the sale itself.

* M1 ``check_new_financing``: new financing only if post-trade R <= call ratio (100%),
  L <= credit limit, the client holds a facility and a passed suitability record, and
  no call is outstanding, no custody break is open and no daily statement is missing
  (N2, ``reconciliation``), and the SMF extract C2/C5 count is current (``limits``);
  then the C1-C5 limits (``limits.check_limits``).
* K1: a second call within the review window makes the credit review due (``reviews``).
* M2: R > warning ratio (85%) -> warning (issued once on entry, cleared on exit).
* M3: R > call ratio or L > credit limit -> margin call for the shortfall S, which
  stops further advances and collateral withdrawals until the call is met.
* M4: the deadline depends on what moved: a VA mark -> VA-driven, anything else ->
  securities-driven (see ``deadlines``).
* M5: forced sale at once when R >= forced-sale ratio (130%), when the call is past its
  deadline, or when E <= equity floor (10%) x market value; only while a loan remains
  and R is above the target R*.
* The call is met when R <= call ratio and L <= credit limit again.

Every transition emits an event carrying the figures and price snapshot it used.
"""

from __future__ import annotations

from typing import Final

from harbour.broker.clients import CALL, NORMAL, WARNING, CallRecord, Client
from harbour.broker.config import BrokerConfig
from harbour.broker.deadlines import call_deadline_ns
from harbour.broker.events import (
    ForcedSaleCompleted,
    ForcedSaleStarted,
    MarginCallIssued,
    MarginCallMet,
    MarginFigures,
    MarginWarningCleared,
    MarginWarningIssued,
)
from harbour.broker.limits import smf_extract_stale
from harbour.broker.reconciliation import statement_overdue
from harbour.broker.reviews import on_margin_call
from harbour.broker.sellout import book_bad_debt_if_nothing_left, has_saleable_collateral_left, sale_order, sell_down_to_target
from harbour.broker.state import BrokerState
from harbour.broker.valuation import client_figures, price_snapshot, ratio_above, ratio_at_or_above, ratio_bps
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS

RATIO_AT_FORCED_SALE_LINE: Final = "RATIO_AT_FORCED_SALE_LINE"
DEADLINE_PASSED: Final = "DEADLINE_PASSED"
EQUITY_BELOW_FLOOR: Final = "EQUITY_BELOW_FLOOR"

Problem = tuple[RejectCode, dict[str, str | int]]


def is_callable(fig: MarginFigures, config: BrokerConfig) -> bool:
    """M3: the loan is above the call ratio of margin value, or above the credit limit."""
    return ratio_above(fig.loan, fig.margin_value, config.call_ratio_bps) or fig.loan > fig.credit_limit


def forced_sale_trigger(fig: MarginFigures, client: Client, config: BrokerConfig, ts_ns: int) -> str:
    """M5: why a forced sale must start now, or "" if none applies."""
    if fig.loan <= 0:
        return ""
    if ratio_at_or_above(fig.loan, fig.margin_value, config.forced_sale_ratio_bps):
        return RATIO_AT_FORCED_SALE_LINE
    if client.call is not None and ts_ns >= client.call.deadline_ns:
        return DEADLINE_PASSED
    if fig.equity * BPS <= config.equity_floor_bps * fig.market_value:
        return EQUITY_BELOW_FLOOR
    return ""


def check_new_financing(st: BrokerState, client: Client, after: MarginFigures, ts: int) -> Problem | None:
    """M1 (with E1, M3, N2 and the C2/C5 data currency): may ``client`` be advanced the loan that leads to ``after`` at ``ts``?"""
    cid = client.client_id
    if not client.facility_open:
        return RejectCode.NO_VA_FACILITY, {"client": cid}
    if not client.va_suitable:
        return RejectCode.NO_VA_SUITABILITY, {"client": cid}
    if client.credit_limit <= 0:
        return RejectCode.NO_CREDIT_LIMIT, {"client": cid}
    if client.call is not None:
        return RejectCode.MARGIN_CALL_OUTSTANDING, {"client": cid}
    open_breaks = st.open_custody_breaks()
    if open_breaks:
        return RejectCode.CUSTODY_BREAK_OPEN, {"client": cid, "open_breaks": len(open_breaks), "break_id": open_breaks[0].break_id}
    missing = statement_overdue(st, ts)
    if missing is not None:
        return RejectCode.CUSTODY_STATEMENT_MISSING, {"client": cid, **missing}
    stale = smf_extract_stale(st, ts)
    if stale is not None:
        return RejectCode.SMF_EXTRACT_STALE, {"client": cid, **stale}
    if ratio_above(after.loan, after.margin_value, st.config.call_ratio_bps):
        shown = ratio_bps(after.loan, after.margin_value)
        return RejectCode.RATIO_WOULD_EXCEED_LIMIT, {"ratio_bps": "unbounded" if shown is None else shown, "limit_bps": st.config.call_ratio_bps}
    if after.loan > client.credit_limit:
        return RejectCode.CREDIT_LIMIT_EXCEEDED, {"loan": after.loan, "credit_limit": client.credit_limit}
    return None


def review_client(st: BrokerState, cid: int, seq: int, ts: int, cause: str, out: list[object]) -> None:
    """Re-examine one client at ``ts``: issue or meet calls, sell if M5 says so, warn."""
    client = st.clients[cid]
    cfg = st.config
    fig = client_figures(st, cid)
    if client.call is None and is_callable(fig, cfg):
        deadline = call_deadline_ns(ts, cause, cfg)
        client.call = CallRecord(issued_seq=seq, issued_ts_ns=ts, deadline_ns=deadline, cause=cause, shortfall=fig.shortfall)
        client.status = CALL
        out.append(MarginCallIssued(seq=seq, ts_ns=ts, client=cid, cause=cause, deadline_ns=deadline, shortfall=fig.shortfall, figures=fig, prices=price_snapshot(st, cid)))
        on_margin_call(st, client, seq, ts, out)
    trigger = forced_sale_trigger(fig, client, cfg, ts)
    if trigger:
        fig = _force_sale(st, client, trigger, fig, seq, ts, out)
    if client.call is not None and not is_callable(fig, cfg):
        client.call = None
        client.status = NORMAL
        out.append(MarginCallMet(seq=seq, ts_ns=ts, client=cid, figures=fig, prices=price_snapshot(st, cid)))
    if client.call is None:
        warned = ratio_above(fig.loan, fig.margin_value, cfg.warning_ratio_bps)
        if warned and client.status == NORMAL:
            client.status = WARNING
            out.append(MarginWarningIssued(seq=seq, ts_ns=ts, client=cid, figures=fig, prices=price_snapshot(st, cid)))
        elif not warned and client.status == WARNING:
            client.status = NORMAL
            out.append(MarginWarningCleared(seq=seq, ts_ns=ts, client=cid, figures=fig, prices=price_snapshot(st, cid)))


def _force_sale(st: BrokerState, client: Client, trigger: str, fig: MarginFigures, seq: int, ts: int, out: list[object]) -> MarginFigures:
    """Run one forced sale (M6-M8) if it can do anything now; return the figures after it."""
    cid = client.client_id
    cfg = st.config
    above_target = ratio_above(fig.loan, fig.margin_value, cfg.target_ratio_bps)
    can_sell = above_target and bool(sale_order(st, cid))
    owes_with_nothing_left = not has_saleable_collateral_left(st, cid)
    if not can_sell and not owes_with_nothing_left:
        return fig  # e.g. only securities left while HKEX is closed: wait for the session
    out.append(ForcedSaleStarted(seq=seq, ts_ns=ts, client=cid, trigger=trigger, figures=fig, prices=price_snapshot(st, cid)))
    if can_sell:
        sell_down_to_target(st, cid, seq, ts, out)
    book_bad_debt_if_nothing_left(st, cid, seq, ts, out)
    after = client_figures(st, cid)
    reached = not ratio_above(after.loan, after.margin_value, cfg.target_ratio_bps)
    out.append(ForcedSaleCompleted(seq=seq, ts_ns=ts, client=cid, target_reached=reached, figures=after, prices=price_snapshot(st, cid)))
    return after
