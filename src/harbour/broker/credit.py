"""Credit limits (K1): changes with reason and approver, the audit trail, and review triggers.

Owns ``ChangeCreditLimit`` and the review clock of each client's credit limit.

Rules:

* Every change records old and new limit, reason code, approver and time, as a
  ``CreditLimitChanged`` event and in the client's audit trail in state
  (``BrokerState.credit_limit_history``; the onboarding limit is its first entry).
* The reason must be one of ``ALLOWED_REASONS``. "VA_FINANCING_ENABLED" is refused: a
  limit never rises because VA financing exists (26EC5); any other unknown reason is
  refused too (``CREDIT_LIMIT_REASON_REFUSED``). An approver is required
  (``APPROVER_REQUIRED``). A review reason may confirm the limit unchanged.
* Reviews fall due at least every ``credit_review_period_ns`` (annual) and early on the
  triggers: a second margin call within ``review_call_window_ns`` (two calls in 30
  days), or the VA loan rising above ``review_va_loan_share_bps`` of the limit after an
  advance (see ``reviews``). A trigger emits ``CreditReviewDue`` once; a review reason
  restarts the clock. The annual review is flagged on the ``ReviewMargins`` tick once it
  is due. The third trigger of the rules table: while the client borrows, one deposit
  or withdrawal worth more than ``review_large_transfer_bps`` of the limit (house
  default 25%; cash at face, collateral at its mark).
* Stressed NAV (26EC5, regulation.md A1 items 9-10): every change records the client's
  NAV at the broker and its stressed NAV (BTC/ETH at the configured stress shock,
  ``valuation.client_nav``), the basis the change was assessed on. An increase must be
  supported by it: new limit <= ``credit_limit_max_stressed_nav_bps`` (house default
  200%) of the stressed NAV (0 if negative), else it is refused
  (CREDIT_LIMIT_ABOVE_STRESSED_NAV) unless the reason is WAIVER, the documented,
  management-approved risk assessment of K1 (e.g. capacity held outside the broker).
  The onboarding limit comes from the existing SMF process and is not re-assessed here.
* A lowered limit can put the client in call at once (M3), like any other change.
"""

from __future__ import annotations

from typing import Final

from harbour.broker.clients import CAUSE_SECURITIES, Client
from harbour.broker.commands import ChangeCreditLimit
from harbour.broker.config import MAX_CASH
from harbour.broker.events import CreditLimitChanged
from harbour.broker.margin import review_client
from harbour.broker.rejects import rejected
from harbour.broker.state import BrokerState, CreditLimitChange
from harbour.broker.valuation import client_nav
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, div_round_down

C = RejectCode

ONBOARDING: Final = "ONBOARDING"
ANNUAL_REVIEW: Final = "ANNUAL_REVIEW"
TRIGGERED_REVIEW: Final = "TRIGGERED_REVIEW"
REVIEW_REASONS: Final = frozenset({ANNUAL_REVIEW, TRIGGERED_REVIEW})
ALLOWED_REASONS: Final = REVIEW_REASONS | frozenset({"FINANCIAL_CAPACITY_CHANGE", "CLIENT_REQUEST", "RISK_REDUCTION", "WAIVER"})
REFUSED_REASON: Final = "VA_FINANCING_ENABLED"
WAIVER: Final = "WAIVER"


def record_onboarding_limit(st: BrokerState, client: Client, seq: int, ts: int) -> None:
    """The first audit-trail entry (the limit set by the existing SMF process) and the first review date."""
    st.credit_limit_history[client.client_id] = [
        CreditLimitChange(seq=seq, ts_ns=ts, old_limit=0, new_limit=client.credit_limit, reason_code=ONBOARDING, approver="SMF_ONBOARDING")
    ]
    client.review_due_ns = ts + st.config.credit_review_period_ns


def supported_limit(st: BrokerState, stressed_nav: int) -> int:
    """The largest credit limit a stressed NAV supports without a waiver (K1, 26EC5)."""
    return div_round_down(max(stressed_nav, 0) * st.config.credit_limit_max_stressed_nav_bps, BPS)


def change_credit_limit(st: BrokerState, seq: int, ts: int, cmd: ChangeCreditLimit, out: list[object]) -> None:
    name = "change_credit_limit"
    client = st.clients.get(cmd.client)
    nav = client_nav(st, cmd.client) if client is not None else None
    if client is None:
        out.append(rejected(seq, ts, name, C.UNKNOWN_CLIENT, client=cmd.client))
    elif cmd.reason_code not in ALLOWED_REASONS:
        why = "a limit never rises because VA financing exists" if cmd.reason_code == REFUSED_REASON else "not a recognised reason code"
        out.append(rejected(seq, ts, name, C.CREDIT_LIMIT_REASON_REFUSED, reason_code=cmd.reason_code, why=why))
    elif not cmd.approver.strip():
        out.append(rejected(seq, ts, name, C.APPROVER_REQUIRED, what=f"credit limit change of client {cmd.client}"))
    elif cmd.new_limit < 0:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="credit limit must not be negative"))
    elif cmd.new_limit > MAX_CASH:
        out.append(rejected(seq, ts, name, C.AMOUNT_TOO_LARGE, field="credit limit", value=cmd.new_limit, ceiling=MAX_CASH))
    elif cmd.new_limit == client.credit_limit and cmd.reason_code not in REVIEW_REASONS:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="the new limit equals the current one (only a review may confirm it)"))
    elif nav is not None and cmd.new_limit > client.credit_limit and cmd.reason_code != WAIVER and cmd.new_limit > supported_limit(st, nav.stressed_nav):
        out.append(
            rejected(
                seq, ts, name, C.CREDIT_LIMIT_ABOVE_STRESSED_NAV, client=cmd.client, new_limit=cmd.new_limit,
                supported=supported_limit(st, nav.stressed_nav), multiple_bps=st.config.credit_limit_max_stressed_nav_bps, stressed_nav=nav.stressed_nav,
            )
        )
    else:
        assert nav is not None
        old = client.credit_limit
        client.credit_limit = cmd.new_limit
        if cmd.reason_code in REVIEW_REASONS:
            client.review_due_ns = ts + st.config.credit_review_period_ns
            client.review_trigger = ""
        st.credit_limit_history.setdefault(cmd.client, []).append(
            CreditLimitChange(
                seq=seq, ts_ns=ts, old_limit=old, new_limit=cmd.new_limit, reason_code=cmd.reason_code, approver=cmd.approver,
                nav=nav.nav, stressed_nav=nav.stressed_nav,
            )
        )
        out.append(
            CreditLimitChanged(
                seq=seq, ts_ns=ts, client=cmd.client, old_limit=old, new_limit=cmd.new_limit,
                reason_code=cmd.reason_code, approver=cmd.approver, next_review_ns=client.review_due_ns,
                nav=nav.nav, stressed_nav=nav.stressed_nav,
            )
        )
        review_client(st, cmd.client, seq, ts, CAUSE_SECURITIES, out)
