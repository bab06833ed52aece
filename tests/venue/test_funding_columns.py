"""Funding settled the fast way settles exactly as the account-by-account settlement did.

``funding.settle_funding`` reads who holds a position from the liquidation scan's columns when
they exist (else it walks every account), computes every payment as int64 columns and hands the
transfer to the ledger as columns (``Ledger.post_legs``), so 10^6 positions settle in under a
second (see bench/). The rule is unchanged: the same payments to the unit, the same postings in
the same order, the same events, the same ledger and the same state hash. ``reference_settle``
below is the settlement as it was first written, one account at a time; these tests hold the
fast one equal to it:

- over hypothesis command streams, from a restored state (no columns: the walk) and from the
  live state (the columns, with the accounts touched since the last scan read from the state);
- over a crowd of thousands of accounts opened in random id order, with isolated positions,
  USD-only, HKD-only and mixed cross wallets, payers who cannot pay (conversion, own gains,
  the cover layers) and accounts opened or traded since the last scan, at small and large rates;
- columns that missed accounts written outside ``apply`` are not used.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harbour.kernel.money import MICRO
from harbour.ledger.book import Ledger
from harbour.prices.funding import RATE_UNIT, SIGN_CONVENTION, funding_payment
from harbour.venue import VenueEngine, VenueState, check_all, default_genesis
from harbour.venue.accounts import Account
from harbour.venue.commands import (
    AccountKind,
    CancelAllOrders,
    Deposit,
    OpenAccount,
    PlaceOrder,
    SetMarginMode,
    SetReferencePrice,
    SettleFunding,
    TransferIsolatedMargin,
)
from harbour.venue.events import FundingSettled, GainRealisedAtMark, TradeExecuted, TransferPosted
from harbour.venue.funding import payments, settle_funding
from harbour.venue.mark import FundingTerms
from harbour.venue.risk_columns import columns_for
from harbour.venue.settlement import GainsApplied, Postings, cover_shortfall, pay, report_gains
from harbour.venue.state import FX_CONVERSION, INSURANCE_FUND, isolated_account

from properties.profile import examples
from properties.streams import Setup, commands_for, open_accounts, setups, streams
from venue.helpers import BTC_REF, BTCUSD, BUY, ETH_REF, ETHHKD, FAR_FUTURE, IOC, SELL, STEP_NS, T0, Venue


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


@examples(60)
@given(setup=setups(), stream=streams(max_size=60), sym=st.sampled_from([BTCUSD, ETHHKD]), rate_e8=rates, mark_bps=st.integers(-3_000, 3_000))
def test_funding_read_from_the_live_risk_columns_settles_as_the_account_by_account_settlement(
    setup: Setup, stream: list[tuple[Any, ...]], sym: str, rate_e8: int, mark_bps: int
) -> None:
    v = Venue(check_rejects=False)
    open_accounts(v, setup)
    for intent in stream:
        for command in commands_for(v, intent):
            v.do(command)
    assert v.state.risk_columns is not None  # the genesis reference prices built them; they followed every event since
    inst = v.state.instruments[sym]
    cmd = SettleFunding(
        instrument=sym, rate_e8=rate_e8, interval_ns=inst.funding_schedule.interval_ns, mark_price=max(inst.ref_price * (10_000 + mark_bps) // 10_000, 1)
    )
    by_account = VenueState.decode(v.state.encode())
    out_account: list[object] = []
    reference_settle(by_account, v.seq + 1, v.ts + 1, cmd, out_account)

    out_columns = v.do(cmd, ts=v.ts + 1)

    assert out_columns == out_account
    assert v.state.state_hash() == by_account.state_hash()


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


# --- a crowd: thousands of positions, settled the fast way and the reference way -------------

CROWD = 2_400  # accounts, opened in random id order


class _Driver:
    """The engine alone (no per-step invariant check: thousands of accounts), with seq and ts."""

    def __init__(self, engine: VenueEngine, seq: int = 0) -> None:
        self.engine = engine
        self.seq = seq

    def do(self, cmd: Any) -> list[object]:
        self.seq += 1
        return self.engine.apply(self.seq, T0 + self.seq * STEP_NS, cmd)

    def pair(self, seller: int, buyer: int, sym: str, qty: int, price: int) -> None:
        """``buyer`` lifts ``seller``'s resting sell; if the engine refuses either side, nothing rests."""
        self.do(PlaceOrder(account=seller, instrument=sym, side=SELL, qty=qty, price=price))
        out = self.do(PlaceOrder(account=buyer, instrument=sym, side=BUY, qty=qty, price=price, tif=IOC))
        if not any(isinstance(e, TradeExecuted) for e in out):
            self.do(CancelAllOrders(account=seller))

    def open(self, rng: random.Random, account: int) -> None:
        """An account with one of four wallet shapes; one in eight takes BTCUSD, one in eight ETHHKD, in isolated margin."""
        self.do(OpenAccount(account=account, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE))
        shape = rng.choice(("usd", "hkd-only", "mixed", "thin"))
        usd_units = {"usd": rng.randint(2_000, 20_000), "hkd-only": 0, "mixed": rng.randint(0, 40), "thin": rng.randint(60, 400)}[shape]
        if usd_units:
            self.do(Deposit(account=account, asset="USD", amount=usd_units * MICRO))
        if shape in ("hkd-only", "mixed"):
            self.do(Deposit(account=account, asset="HKD", amount=rng.randint(0, 60_000) * MICRO))
            self.do(Deposit(account=account, asset="HKDX", amount=rng.randint(1, 30_000) * MICRO))
            self.do(Deposit(account=account, asset="TDHKD", amount=rng.randint(1, 30_000) * MICRO))
            hkd_units = 0
        else:
            hkd_units = rng.randint(500, 20_000)
            self.do(Deposit(account=account, asset="HKD", amount=hkd_units * MICRO))
        if usd_units and rng.random() < 0.125:
            self.do(SetMarginMode(account=account, instrument=BTCUSD, isolated=True))
            self.do(TransferIsolatedMargin(account=account, instrument=BTCUSD, amount=usd_units * MICRO * rng.randint(20, 90) // 100))
        if hkd_units and rng.random() < 0.125:
            self.do(SetMarginMode(account=account, instrument=ETHHKD, isolated=True))
            self.do(TransferIsolatedMargin(account=account, instrument=ETHHKD, amount=hkd_units * MICRO * rng.randint(20, 90) // 100))

    def trade_pairs(self, rng: random.Random, accounts: list[int]) -> None:
        order = accounts[:]
        rng.shuffle(order)
        for a, b in zip(order[::2], order[1::2], strict=False):
            self.pair(a, b, BTCUSD, rng.randint(1, 60), BTC_REF + rng.randint(-20, 20) * 10)
            self.pair(b, a, ETHHKD, rng.randint(1, 400), ETH_REF + rng.randint(-20, 20) * 10)


@cache
def crowd_snapshot() -> tuple[bytes, int]:
    """(snapshot, last seq) of a venue whose risk columns exist and are clean (as right after a
    scan): ``CROWD`` accounts opened in random id order with USD-only, HKD-only (HKD, HKDX,
    TDHKD), mixed and thin wallets, some BTCUSD in isolated margin, trading BTCUSD and ETHHKD;
    then ETH moves up 4% (cross longs hold gains their other debts can draw on)."""
    rng = random.Random(20_261_123)
    driver = _Driver(VenueEngine())
    for cmd in default_genesis():
        driver.do(cmd)
    accounts = rng.sample(range(100, 1_000_000), CROWD)
    for account in accounts:
        driver.open(rng, account)
    driver.trade_pairs(rng, accounts)
    driver.do(SetReferencePrice(instrument=ETHHKD, price=ETH_REF * 104 // 100))
    return driver.engine.state.encode(), driver.seq


def crowd_after_the_scan() -> _Driver:
    """The crowd, restored, its columns built, then moved on by commands the columns have only
    noted (positions of accounts traded since, and accounts opened since, are read from the state)."""
    snapshot, seq = crowd_snapshot()
    driver = _Driver(VenueEngine(VenueState.decode(snapshot)), seq)
    columns_for(driver.engine.state, [])
    rng = random.Random(7)
    late = [2_000_000 + k for k in range(40)]
    for account in late:
        driver.open(rng, account)
    driver.trade_pairs(rng, late + rng.sample(sorted(driver.engine.state.accounts), 60))
    return driver


@pytest.mark.parametrize("rate_e8", [10_000, -10_000, 3_000_000, -3_000_000, 40_000_000, -40_000_000])
@pytest.mark.parametrize("sym", [BTCUSD, ETHHKD])
def test_a_crowd_settles_to_the_same_events_ledger_and_hash_as_the_account_by_account_settlement(sym: str, rate_e8: int) -> None:
    driver = crowd_after_the_scan()
    live = driver.engine.state
    cols = live.risk_columns
    assert cols is not None and cols.dirty, "the columns path with touched accounts is what this test is about"
    assert cols.holders(live, sym, []) is not None
    inst = live.instruments[sym]
    cmd = SettleFunding(instrument=sym, rate_e8=rate_e8, interval_ns=inst.funding_schedule.interval_ns, mark_price=inst.ref_price)
    by_scan, by_account = VenueState.decode(live.encode()), VenueState.decode(live.encode())
    out_scan: list[object] = []
    out_account: list[object] = []

    out_columns = driver.do(cmd)
    settle_funding(by_scan, driver.seq, T0 + driver.seq * STEP_NS, cmd, out_scan)
    reference_settle(by_account, driver.seq, T0 + driver.seq * STEP_NS, cmd, out_account)

    assert out_columns == out_scan == out_account
    assert live.ledger.to_state() == by_scan.ledger.to_state() == by_account.ledger.to_state()
    assert live.state_hash() == by_scan.state_hash() == by_account.state_hash()
    assert check_all(live) == []
    record, transfer = out_account[0], out_account[1]
    assert isinstance(record, FundingSettled) and isinstance(transfer, TransferPosted)
    assert len(record.accounts) > 2_000
    moved = {(account, amount > 0) for account, _, amount in transfer.postings if isinstance(account, str) and account.startswith("ISO:")}
    assert {paid for _, paid in moved} == {True, False}, "isolated payers and receivers"
    if abs(rate_e8) >= 3_000_000:  # payers short of the settlement asset convert their other margin assets
        assert any(account == FX_CONVERSION for account, _, _ in transfer.postings)
    if abs(rate_e8) >= 40_000_000:  # ... then give up their own gains, then the cover layers pay
        assert record.shortfall_covered > 0
        assert any(isinstance(e, GainRealisedAtMark) for e in out_account)


def test_the_columns_name_every_holder_the_walk_over_accounts_names() -> None:
    driver = crowd_after_the_scan()
    live = driver.engine.state
    cols = live.risk_columns
    assert cols is not None
    for sym in (BTCUSD, ETHHKD):
        found = cols.holders(live, sym, [])
        assert found is not None
        accounts, qtys, isolated = found
        walk = [
            (a, p.qty, p.isolated) for a in sorted(live.accounts) if (p := live.accounts[a].positions.get(sym)) is not None and p.qty
        ]
        assert list(zip(accounts.tolist(), qtys.tolist(), isolated.tolist(), strict=True)) == walk


def test_columns_that_missed_accounts_written_outside_apply_are_not_used() -> None:
    driver = crowd_after_the_scan()
    live = driver.engine.state
    cols = live.risk_columns
    assert cols is not None
    live.accounts[9_999_999] = Account(9_999_999, AccountKind.CLIENT, FAR_FUTURE, "")  # not through apply

    assert cols.holders(live, BTCUSD, []) is None
