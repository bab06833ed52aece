"""K1 review triggers: when a client's credit limit falls due for review early.

Owns the trigger checks called from the margin state machine, the advance path and the
scheduler tick (see ``credit`` for the rules). Each trigger fires once until a review
reason restarts the clock.
"""

from __future__ import annotations

from typing import Final

from harbour.broker.clients import Client
from harbour.broker.events import CreditReviewDue
from harbour.broker.state import BrokerState
from harbour.kernel.money import BPS

TRIGGER_ANNUAL: Final = "ANNUAL"
TRIGGER_CALLS: Final = "MARGIN_CALLS_IN_WINDOW"
TRIGGER_VA_LOAN: Final = "VA_LOAN_ABOVE_SHARE_OF_LIMIT"
TRIGGER_LARGE_DEPOSIT: Final = "LARGE_DEPOSIT"
TRIGGER_LARGE_WITHDRAWAL: Final = "LARGE_WITHDRAWAL"


def review_falls_due(client: Client, trigger: str, seq: int, ts: int, out: list[object]) -> None:
    """Make the client's credit review due now for ``trigger`` (once until it is reviewed)."""
    if client.review_trigger:
        return
    client.review_trigger = trigger
    client.review_due_ns = min(client.review_due_ns, ts)
    out.append(CreditReviewDue(seq=seq, ts_ns=ts, client=client.client_id, trigger=trigger, due_ns=client.review_due_ns))


def on_margin_call(st: BrokerState, client: Client, seq: int, ts: int, out: list[object]) -> None:
    """K1 trigger: a second call within the window makes the review due."""
    if client.last_call_ts_ns >= 0 and ts - client.last_call_ts_ns <= st.config.review_call_window_ns:
        review_falls_due(client, TRIGGER_CALLS, seq, ts, out)
    client.last_call_ts_ns = ts


def on_advance(st: BrokerState, client: Client, seq: int, ts: int, out: list[object]) -> None:
    """K1 trigger: the VA loan is above the configured share of the credit limit."""
    if st.loan(client.client_id) * BPS > st.config.review_va_loan_share_bps * client.credit_limit:
        review_falls_due(client, TRIGGER_VA_LOAN, seq, ts, out)


def on_transfer(st: BrokerState, client: Client, value: int, trigger: str, seq: int, ts: int, out: list[object], *, borrowing: bool | None = None) -> None:
    """K1 trigger: while the client borrows, one deposit or withdrawal worth more than the configured share of the limit.

    ``value`` is cash at face or collateral at its mark; ``borrowing`` defaults to "a loan is outstanding now".
    Without a loan the limit is not in use and the annual review covers it (onboarding deposits do not trigger).
    """
    if borrowing is None:
        borrowing = st.loan(client.client_id) > 0
    if borrowing and client.credit_limit > 0 and value * BPS > st.config.review_large_transfer_bps * client.credit_limit:
        review_falls_due(client, trigger, seq, ts, out)


def flag_annual_reviews(st: BrokerState, seq: int, ts: int, out: list[object]) -> None:
    """K1: flag every client whose periodic review date has passed (on the scheduler tick)."""
    for cid in sorted(st.clients):
        client = st.clients[cid]
        if client.review_due_ns <= ts:
            review_falls_due(client, TRIGGER_ANNUAL, seq, ts, out)
