"""Interest on margin loans: L includes accrued interest (rules table), and M8 stops it on written-off debt."""

from __future__ import annotations

from harbour.broker import BrokerConfig
from harbour.broker.commands import AccrueInterest
from harbour.broker.events import InterestAccrued, MarginCallIssued
from harbour.broker.state import INTEREST_INCOME
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, Broker, hkd


def test_a_day_of_interest_at_the_house_8_percent_is_added_to_the_loan_and_credited_to_the_broker() -> None:
    b = Broker()
    b.pure_va_client(1)  # loan 400,000

    out = b.ok(AccrueInterest(days=1))

    [ev] = b.events_of(InterestAccrued, out)
    assert ev.amount == 87_671_233  # 400,000 x 8% / 365 = 87.671232.. HKD, rounded up (charged)
    assert b.state.loan(1) == ev.loan_after == hkd(400_000) + ev.amount
    assert b.state.ledger.balance(INTEREST_INCOME, "HKD") == ev.amount


def test_interest_counts_in_the_loan_and_can_put_a_client_in_call() -> None:
    b = Broker()
    b.pure_va_client(1)
    b.mark_va("BTC", hkd(71_500))  # MV 400,400 against 400,000: R = 99.9%, no call
    assert b.state.clients[1].call is None

    out = b.ok(AccrueInterest(days=30))  # + 2,630.14 HKD

    assert b.events_of(MarginCallIssued, out) and b.figures(1).loan > b.figures(1).margin_value


def test_written_off_debt_and_clients_without_a_loan_accrue_no_interest() -> None:
    b = Broker()
    b.pure_va_client(1)
    b.onboard(2)
    b.deposit_cash(2, hkd(1_000_000))
    b.mark_va("BTC", BTC_100K * 20 // 100)  # client 1 sold out, the residual written off (M8)
    written_off = b.state.bad_debt(1)

    out = b.ok(AccrueInterest(days=30))

    assert written_off > 0 and b.state.bad_debt(1) == written_off and b.state.loan(1) == 0
    assert b.events_of(InterestAccrued, out) == []


def test_the_rate_is_configurable_and_zero_charges_nothing() -> None:
    b = Broker(BrokerConfig(interest_rate_bps=0))
    b.pure_va_client(1)

    assert b.events_of(InterestAccrued, b.ok(AccrueInterest(days=365))) == []
    b.reject(AccrueInterest(days=0), RejectCode.INVALID_PARAMETER)
