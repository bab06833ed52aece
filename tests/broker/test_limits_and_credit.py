"""K1 credit limits and C1-C4 concentration and book limits with the exceptions register.

Every step runs through the test driver, which checks the invariants and that a rejected
command changes nothing.
"""

from __future__ import annotations

from harbour.broker.commands import BuyVirtualAsset, ChangeCreditLimit, RecordLimitException, ReviewMargins, WithdrawVirtualAsset
from harbour.broker.events import (
    CreditLimitChanged,
    CreditReviewDue,
    LimitExceptionApplied,
    LimitExceptionRecorded,
    LoanAdvanced,
    MarginCallIssued,
)
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, HOUR_NS, Broker, coins, hkd

C = RejectCode
DAY_NS = 24 * HOUR_NS


def _buy4(client: int = 1) -> BuyVirtualAsset:
    return BuyVirtualAsset(client=client, asset="BTC", qty=coins(4), price=BTC_100K)


def _exception(b: Broker, limit_id: str, client: int, *, hours: int = 24) -> LimitExceptionRecorded:
    out = b.ok(RecordLimitException(limit_id=limit_id, client=client, justification="board-approved strategic client", approver="CRO", expiry_ns=b.ts + hours * HOUR_NS))
    return b.events_of(LimitExceptionRecorded, out)[0]  # type: ignore[no-any-return]


# --- C1-C4 ------------------------------------------------------------------------------


def test_c1_va_share_above_half_of_margin_value_blocks_new_financing_and_changes_nothing() -> None:
    b = Broker()
    b.book_figures()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))  # the §2.2 pure-VA client: VA is all of its margin value

    rej = b.reject(_buy4(), C.VA_SHARE_LIMIT_EXCEEDED)

    assert rej.detail["limit_id"] == "C1"
    assert b.state.loan(1) == 0


def test_c1_mixed_client_within_half_is_financed() -> None:
    b = Broker()
    b.book_figures()

    b.mixed_client(1)  # VA term 160,000 of MV 860,000

    assert b.state.loan(1) == hkd(400_000)


def test_c1_breach_is_allowed_with_an_exceptions_register_entry_and_names_it() -> None:
    b = Broker()
    b.book_figures()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))
    entry = _exception(b, "C1", 1)

    out = b.ok(_buy4())

    applied = b.events_of(LimitExceptionApplied, out)
    assert [(a.exception_id, a.limit_id, a.client) for a in applied] == [(entry.exception_id, "C1", 1)]
    assert applied[0].value > applied[0].limit
    assert b.events_of(LoanAdvanced, out)[0].amount == hkd(400_000)
    register = b.state.limit_exceptions
    assert [(e.limit_id, e.client, e.justification, e.approver) for e in register] == [("C1", 1, "board-approved strategic client", "CRO")]


def test_exception_for_another_client_or_after_expiry_does_not_allow_the_breach() -> None:
    b = Broker()
    b.book_figures()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.onboard(2)
    b.deposit_va(1, "BTC", coins(10))
    _exception(b, "C1", 2)
    _exception(b, "C1", 1, hours=1)
    b.ok(ReviewMargins(), ts=b.ts + 2 * HOUR_NS)

    b.reject(_buy4(), C.VA_SHARE_LIMIT_EXCEEDED)

    assert len(b.state.limit_exceptions) == 2  # expired entries stay in the register


def test_c2_single_client_and_related_group_limits_block_new_financing() -> None:
    b = Broker()
    b.book_figures(shareholders_funds=hkd(1_000_000))  # 20% -> 200,000 per client and per group
    b.mixed_client(1, related_group="G", financed_btc=0)
    b.mixed_client(2, related_group="G", financed_btc=0)
    b.waive_single_stock_limit("0005")  # 1,400,000 of 0005 margin value is above C5's 200,000 too

    b.reject(_buy4(1), C.SINGLE_CLIENT_LIMIT_EXCEEDED)
    b.buy(1, "BTC", coins(1), BTC_100K)
    b.buy(2, "BTC", coins(1), BTC_100K)
    rej = b.reject(BuyVirtualAsset(client=2, asset="BTC", qty=coins(1) // 10, price=BTC_100K), C.RELATED_GROUP_LIMIT_EXCEEDED)

    assert rej.detail["value"] == hkd(210_000)
    assert rej.detail["limit"] == hkd(200_000)


def test_c2_group_exception_lets_the_member_borrow() -> None:
    b = Broker()
    b.book_figures(shareholders_funds=hkd(1_000_000))
    b.list_security("0005", 7_000, hkd(100))
    b.waive_single_stock_limit("0005")
    b.mixed_client(1, related_group="G", financed_btc=2)
    b.mixed_client(2, related_group="G", financed_btc=0)
    _exception(b, "C2_GROUP", 2)

    out = b.buy(2, "BTC", coins(1), BTC_100K)

    assert [a.limit_id for a in b.events_of(LimitExceptionApplied, out)] == ["C2_GROUP", "C5_STOCK"]


def test_c4_va_share_of_book_and_total_loans_over_five_times_capital_block_new_financing() -> None:
    share = Broker()
    share.book_figures(securities_margin_loans=hkd(1_000_000))
    share.mixed_client(1, financed_btc=0)
    share.reject(_buy4(), C.VA_BOOK_SHARE_EXCEEDED)

    total = Broker()
    total.book_figures(capital=hkd(1_000_000), securities_margin_loans=hkd(4_800_000))
    total.mixed_client(1, financed_btc=0)
    rej = total.reject(_buy4(), C.TOTAL_MARGIN_LOANS_EXCEEDED)
    assert (rej.detail["value"], rej.detail["limit"]) == (hkd(5_200_000), hkd(5_000_000))


def test_c4_book_exception_is_recorded_for_the_book_and_allows_the_advance() -> None:
    b = Broker()
    b.book_figures(securities_margin_loans=hkd(1_000_000))
    b.mixed_client(1, financed_btc=0)
    _exception(b, "C4_VA_SHARE", 0)

    out = b.ok(_buy4())

    assert [(a.limit_id, a.client) for a in b.events_of(LimitExceptionApplied, out)] == [("C4_VA_SHARE", 1)]


def test_register_entry_needs_a_known_limit_scope_justification_approver_and_future_expiry() -> None:
    b = Broker()
    b.onboard(1)
    later = b.ts + DAY_NS

    b.reject(RecordLimitException(limit_id="C9", client=1, justification="x", approver="CRO", expiry_ns=later), C.INVALID_PARAMETER)
    b.reject(RecordLimitException(limit_id="C4_TOTAL_LOANS", client=1, justification="x", approver="CRO", expiry_ns=later), C.INVALID_PARAMETER)
    b.reject(RecordLimitException(limit_id="C1", client=7, justification="x", approver="CRO", expiry_ns=later), C.UNKNOWN_CLIENT)
    b.reject(RecordLimitException(limit_id="C1", client=1, justification=" ", approver="CRO", expiry_ns=later), C.INVALID_PARAMETER)
    b.reject(RecordLimitException(limit_id="C1", client=1, justification="x", approver="", expiry_ns=later), C.APPROVER_REQUIRED)
    b.reject(RecordLimitException(limit_id="C1", client=1, justification="x", approver="CRO", expiry_ns=b.ts), C.INVALID_PARAMETER)

    assert b.state.limit_exceptions == []


def test_limits_are_not_checked_before_book_figures_are_recorded() -> None:
    b = Broker()

    b.pure_va_client(1)  # the §2.2 worked example: C1 would refuse it once limits are in force

    assert b.state.loan(1) == hkd(400_000)


# --- K1 -----------------------------------------------------------------------------------


def test_k1_credit_limit_changes_keep_an_audit_trail_with_old_new_reason_approver_and_time() -> None:
    b = Broker()
    b.onboard(1, credit_limit=hkd(5_000_000))
    t1 = b.ts + 1
    out1 = b.ok(ChangeCreditLimit(client=1, new_limit=hkd(3_000_000), reason_code="RISK_REDUCTION", approver="head-of-credit"), ts=t1)
    out2 = b.ok(ChangeCreditLimit(client=1, new_limit=hkd(3_000_000), reason_code="ANNUAL_REVIEW", approver="credit-committee"))

    ev = b.events_of(CreditLimitChanged, out1)[0]
    assert (ev.old_limit, ev.new_limit, ev.reason_code, ev.approver, ev.ts_ns) == (hkd(5_000_000), hkd(3_000_000), "RISK_REDUCTION", "head-of-credit", t1)
    assert b.events_of(CreditLimitChanged, out2)[0].next_review_ns == b.ts + 365 * DAY_NS
    trail = [(e.old_limit, e.new_limit, e.reason_code, e.approver) for e in b.state.credit_limit_history[1]]
    assert trail == [
        (0, hkd(5_000_000), "ONBOARDING", "SMF_ONBOARDING"),
        (hkd(5_000_000), hkd(3_000_000), "RISK_REDUCTION", "head-of-credit"),
        (hkd(3_000_000), hkd(3_000_000), "ANNUAL_REVIEW", "credit-committee"),
    ]
    assert b.state.clients[1].credit_limit == hkd(3_000_000)


def test_k1_va_financing_enabled_and_unknown_reasons_are_refused_and_change_nothing() -> None:
    b = Broker()
    b.onboard(1)

    rej = b.reject(ChangeCreditLimit(client=1, new_limit=hkd(9_000_000), reason_code="VA_FINANCING_ENABLED", approver="CEO"), C.CREDIT_LIMIT_REASON_REFUSED)
    b.reject(ChangeCreditLimit(client=1, new_limit=hkd(9_000_000), reason_code="BECAUSE", approver="CEO"), C.CREDIT_LIMIT_REASON_REFUSED)
    b.reject(ChangeCreditLimit(client=1, new_limit=hkd(9_000_000), reason_code="CLIENT_REQUEST", approver=""), C.APPROVER_REQUIRED)
    b.reject(ChangeCreditLimit(client=9, new_limit=hkd(1), reason_code="CLIENT_REQUEST", approver="CEO"), C.UNKNOWN_CLIENT)
    b.reject(ChangeCreditLimit(client=1, new_limit=hkd(5_000_000), reason_code="CLIENT_REQUEST", approver="CEO"), C.INVALID_PARAMETER)

    assert "never rises because VA financing exists" in rej.message
    assert len(b.state.credit_limit_history[1]) == 1


def test_k1_lowering_the_limit_below_the_loan_puts_the_client_in_call() -> None:
    b = Broker()
    b.pure_va_client(1)

    out = b.ok(ChangeCreditLimit(client=1, new_limit=hkd(300_000), reason_code="RISK_REDUCTION", approver="head-of-credit"))

    assert b.events_of(MarginCallIssued, out)
    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=1, price=BTC_100K), C.MARGIN_CALL_OUTSTANDING)


def test_k1_review_falls_due_when_the_va_loan_exceeds_half_the_limit_and_a_review_clears_it() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, credit_limit=hkd(700_000))
    b.deposit_va(1, "BTC", coins(10))

    out = b.buy(1, "BTC", coins(4), BTC_100K)  # 400,000 > 50% of 700,000

    due = b.events_of(CreditReviewDue, out)
    assert [(d.client, d.trigger, d.due_ns) for d in due] == [(1, "VA_LOAN_ABOVE_SHARE_OF_LIMIT", b.ts)]
    assert not b.events_of(CreditReviewDue, b.buy(1, "BTC", coins(1) // 10, BTC_100K))  # once until reviewed
    b.ok(ChangeCreditLimit(client=1, new_limit=hkd(700_000), reason_code="TRIGGERED_REVIEW", approver="credit-committee"))
    assert b.state.clients[1].review_trigger == ""
    assert b.state.clients[1].review_due_ns == b.ts + 365 * DAY_NS


def test_k1_two_margin_calls_within_thirty_days_make_the_review_due() -> None:
    b = Broker()
    b.pure_va_client(1)
    b.mark_va("BTC", BTC_100K * 70 // 100)  # call 1
    b.deposit_cash(1, hkd(200_000))  # met
    assert b.state.clients[1].call is None

    out = b.mark_va("BTC", BTC_100K * 30 // 100, ts=b.ts + 10 * DAY_NS)  # call 2, ten days later

    assert b.events_of(MarginCallIssued, out)
    assert [d.trigger for d in b.events_of(CreditReviewDue, out)] == ["MARGIN_CALLS_IN_WINDOW"]


def test_k1_annual_review_is_flagged_on_the_tick_once_a_year_has_passed() -> None:
    b = Broker()
    b.onboard(1)
    assert not b.events_of(CreditReviewDue, b.ok(ReviewMargins(), ts=b.ts + 364 * DAY_NS))

    out = b.ok(ReviewMargins(), ts=b.ts + 2 * DAY_NS)

    assert [d.trigger for d in b.events_of(CreditReviewDue, out)] == ["ANNUAL"]


def test_k1_a_large_cash_deposit_while_borrowing_makes_the_review_due() -> None:
    b = Broker()
    b.pure_va_client(1)  # loan 400,000
    limit = b.state.clients[1].credit_limit

    out = b.deposit_cash(1, limit // 4 + 1)  # just above 25% of the limit

    assert [(d.client, d.trigger) for d in b.events_of(CreditReviewDue, out)] == [(1, "LARGE_DEPOSIT")]


def test_k1_a_deposit_of_a_quarter_of_the_limit_or_less_does_not_trigger_a_review() -> None:
    b = Broker()
    b.pure_va_client(1)

    out = b.deposit_cash(1, b.state.clients[1].credit_limit // 4)

    assert b.events_of(CreditReviewDue, out) == []


def test_k1_collateral_deposits_at_onboarding_without_a_loan_do_not_trigger_a_review() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, credit_limit=hkd(700_000))

    out = b.deposit_va(1, "BTC", coins(10))  # 1,000,000 HKD, but nothing is borrowed yet

    assert b.events_of(CreditReviewDue, out) == []


def test_k1_a_large_va_withdrawal_while_borrowing_makes_the_review_due() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, credit_limit=hkd(1_000_000))
    b.deposit_va(1, "BTC", coins(20))
    b.buy(1, "BTC", coins(1), BTC_100K)  # loan 100,000

    out = b.ok(WithdrawVirtualAsset(client=1, asset="BTC", qty=coins(3)))  # 300,000 HKD at the mark > 25% of 1,000,000

    assert [d.trigger for d in b.events_of(CreditReviewDue, out)] == ["LARGE_WITHDRAWAL"]
