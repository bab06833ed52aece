"""Funding computed in columns settles exactly as the account-by-account settlement did.

``funding.settle_funding`` computes every payment as int64 columns and posts the plain cases
without a call per payer (so 10^6 positions settle in well under a second, see bench/). The
rule is unchanged: the same payments to the unit, the same postings in the same order, the
same events and the same ledger. ``reference_settle`` below is the settlement as it was
written before, one account at a time; these tests hold the two equal.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harbour.ledger.book import Ledger
from harbour.prices.funding import RATE_UNIT, SIGN_CONVENTION, funding_payment
from harbour.venue import VenueState
from harbour.venue.commands import SettleFunding
from harbour.venue.events import FundingSettled, TransferPosted
from harbour.venue.funding import payments, settle_funding
from harbour.venue.mark import FundingTerms
from harbour.venue.settlement import GainsApplied, Postings, cover_shortfall, pay, report_gains
from harbour.venue.state import INSURANCE_FUND, isolated_account

from properties.profile import examples
from properties.streams import Setup, commands_for, open_accounts, setups, streams
from venue.helpers import BTCUSD, ETHHKD, Venue


def reference_settle(st: VenueState, seq: int, ts: int, cmd: SettleFunding, out: list[object]) -> None:
    """The settlement of a valid ``SettleFunding``, one account at a time (the former code)."""
    inst = st.instruments[cmd.instrument]
    sym = inst.symbol
    uv = inst.unit_value
    rows: list[tuple[int, int | str, int, int, bool]] = []
    for account_id in sorted(st.accounts):
        pos = st.accounts[account_id].positions.get(sym)
        if pos is None or not pos.qty:
            continue
        payment = funding_payment(pos.qty, abs(pos.qty) * cmd.mark_price * uv, cmd.rate_e8)
        wallet: int | str = isolated_account(account_id, sym) if pos.isolated else account_id
        rows.append((account_id, wallet, pos.qty, payment, pos.isolated))
    total_paid = sum(r[3] for r in rows if r[3] > 0)
    total_received = -sum(r[3] for r in rows if r[3] < 0)
    st.funding_terms[sym] = FundingTerms(rate_e8=cmd.rate_e8, interval_ns=cmd.interval_ns, next_funding_ns=ts + cmd.interval_ns)
    asset = inst.settlement_asset
    residue = total_paid - total_received
    postings: Postings = []
    missing = 0
    gains: GainsApplied = []
    for _, wallet, _, payment, isolated in rows:
        if payment > 0:
            missing += pay(st, wallet, not isolated, asset, payment, postings, gains)
    if missing:
        cover_shortfall(st, asset, missing, postings)
    for _, wallet, _, payment, _ in rows:
        if payment < 0:
            postings.append((wallet, asset, -payment))
    if residue:
        postings.append((INSURANCE_FUND, asset, residue))
    out.append(
        FundingSettled(
            seq=seq,
            ts_ns=ts,
            instrument=sym,
            rate_e8=cmd.rate_e8,
            interval_ns=cmd.interval_ns,
            mark_price=cmd.mark_price,
            sign_convention=SIGN_CONVENTION,
            rate_unit=RATE_UNIT,
            accounts=tuple((account_id, qty, payment) for account_id, _, qty, payment, _ in rows),
            total_paid=total_paid,
            total_received=total_received,
            residue=residue,
            shortfall_covered=missing,
        )
    )
    if postings:
        transfer_id = st.ledger.post(postings)
        out.append(
            TransferPosted(seq=seq, ts_ns=ts, transfer_id=transfer_id, kind="FUNDING", postings=tuple(postings), reference=f"funding:{sym}:{seq}")
        )
        report_gains(st, gains, transfer_id, seq, ts, out)


rates = st.one_of(st.integers(-10_000, 10_000), st.integers(-(10**8), 10**8), st.sampled_from([0, 1, -1, 10**8, -(10**8)]))


@examples(300)
@given(
    qtys=st.lists(st.one_of(st.integers(-(10**6), 10**6), st.integers(-(2**63) + 1, 2**63 - 1), st.integers(-(10**30), 10**30)), max_size=8),
    unit_notional=st.one_of(st.integers(1, 10**8), st.integers(1, 10**18)),
    rate_e8=rates,
)
def test_column_payments_equal_the_funding_payment_of_each_position(qtys: list[int], unit_notional: int, rate_e8: int) -> None:
    assert payments(qtys, unit_notional, rate_e8) == [funding_payment(q, abs(q) * unit_notional, rate_e8) for q in qtys]


@examples(60)
@given(setup=setups(), stream=streams(max_size=60), sym=st.sampled_from([BTCUSD, ETHHKD]), rate_e8=rates, mark_bps=st.integers(-3_000, 3_000))
def test_funding_settles_to_the_same_events_and_ledger_as_the_account_by_account_settlement(
    setup: Setup, stream: list[tuple[Any, ...]], sym: str, rate_e8: int, mark_bps: int
) -> None:
    v = Venue(check_rejects=False)
    open_accounts(v, setup)
    for intent in stream:
        for command in commands_for(v, intent):
            v.do(command)
    inst = v.state.instruments[sym]
    cmd = SettleFunding(
        instrument=sym, rate_e8=rate_e8, interval_ns=inst.funding_schedule.interval_ns, mark_price=max(inst.ref_price * (10_000 + mark_bps) // 10_000, 1)
    )
    snapshot = v.state.encode()
    by_columns, by_account = VenueState.decode(snapshot), VenueState.decode(snapshot)
    out_columns: list[object] = []
    out_account: list[object] = []

    settle_funding(by_columns, v.seq + 1, v.ts + 1, cmd, out_columns)
    reference_settle(by_account, v.seq + 1, v.ts + 1, cmd, out_account)

    assert out_columns == out_account
    assert by_columns.state_hash() == by_account.state_hash()


def test_accounts_opened_out_of_id_order_settle_in_account_order() -> None:
    v = Venue()
    for account in (7, 3, 5):
        v.open_client(account, usd=1_000_000)
    v.cross(7, 3, BTCUSD, "BUY", 1_000, v.state.instruments[BTCUSD].ref_price)
    v.cross(5, 7, BTCUSD, "BUY", 2_000, v.state.instruments[BTCUSD].ref_price)
    inst = v.state.instruments[BTCUSD]
    cmd = SettleFunding(instrument=BTCUSD, rate_e8=10_000, interval_ns=inst.funding_schedule.interval_ns, mark_price=inst.ref_price)
    snapshot = v.state.encode()
    by_columns, by_account = VenueState.decode(snapshot), VenueState.decode(snapshot)
    out_columns: list[object] = []
    out_account: list[object] = []
    by_columns.accounts = {a: by_columns.accounts[a] for a in (7, 3, 5)}  # as opened, not as restored

    settle_funding(by_columns, v.seq + 1, v.ts + 1, cmd, out_columns)
    reference_settle(by_account, v.seq + 1, v.ts + 1, cmd, out_account)

    assert [row[0] for row in out_columns[0].accounts] == [3, 5, 7]  # type: ignore[attr-defined]
    assert out_columns == out_account
    assert by_columns.state_hash() == by_account.state_hash()


def test_reading_many_balances_at_once_equals_reading_each() -> None:
    ledger = Ledger()
    ledger.post([("EXTERNAL", "USD", -30), (1, "USD", 10), ("ISO:2:BTCUSD", "USD", 20), (1, "HKD", 5), ("EXTERNAL", "HKD", -5)])
    accounts: list[int | str] = [1, "ISO:2:BTCUSD", 3, "EXTERNAL", 1]

    assert ledger.balances_of(accounts, "USD") == [ledger.balance(a, "USD") for a in accounts] == [10, 20, 0, -30, 10]
    assert ledger.balances_of(accounts, "HKD") == [5, 0, 0, -5, 5]
