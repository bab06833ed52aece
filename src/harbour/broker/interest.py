"""Interest on margin loans: the rules table's loan L includes accrued interest; M8 stops it on written-off debt.

Owns ``AccrueInterest``, the scheduler's charge for ``days`` days (the simulation sends it once a
day at the HKEX close). For every client with a loan, in client-id order, the interest
loan x rate x days / (365 x 10000), rounded up (charged), is added to the loan and credited to
the broker's ``INTEREST_INCOME`` account in one balanced transfer, then the client is reviewed
(interest can put a client in call, M3). A residual written off to ``BAD_DEBT:<c>`` accrues
nothing (M8), and neither does a client without a loan. The rate is the config's
``interest_rate_bps`` a year (house default 8%).
"""

from __future__ import annotations

from typing import Final

from harbour.broker.clients import CAUSE_SECURITIES
from harbour.broker.commands import AccrueInterest
from harbour.broker.events import InterestAccrued
from harbour.broker.margin import review_client
from harbour.broker.rejects import rejected
from harbour.broker.state import HKD, INTEREST_INCOME, BrokerState, loan_account
from harbour.broker.transfers import post_main
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, div_round_up

DAYS_PER_YEAR: Final = 365


def interest_for(loan: int, rate_bps: int, days: int) -> int:
    """Interest on ``loan`` HKD micro at ``rate_bps`` a year for ``days`` days, rounded up (charged)."""
    return div_round_up(loan * rate_bps * days, DAYS_PER_YEAR * BPS)


def accrue_interest(st: BrokerState, seq: int, ts: int, cmd: AccrueInterest, out: list[object]) -> None:
    if not 1 <= cmd.days <= 366:
        out.append(rejected(seq, ts, "accrue_interest", RejectCode.INVALID_PARAMETER, problem=f"interest is accrued for 1 to 366 days, got {cmd.days}"))
        return
    rate = st.config.interest_rate_bps
    for cid in sorted(st.clients):
        loan = st.loan(cid)
        amount = interest_for(loan, rate, cmd.days) if loan > 0 else 0
        if amount <= 0:
            continue
        post_main(st, seq, ts, "INTEREST", [(loan_account(cid), HKD, -amount), (INTEREST_INCOME, HKD, amount)], f"{cmd.days} day(s) at {rate} bps a year", out)
        out.append(InterestAccrued(seq=seq, ts_ns=ts, client=cid, amount=amount, loan_after=st.loan(cid), rate_bps=rate, days=cmd.days))
        review_client(st, cid, seq, ts, CAUSE_SECURITIES, out)
