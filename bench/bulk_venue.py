"""A venue with many funded accounts holding positions, built fast for benchmarks.

Onboarding 10^6 accounts through the engine (open, deposit, margin mode, two maker and taker
orders per pair) is setup, not what a benchmark measures, and takes minutes. ``bulk_venue``
writes the state those commands produce directly; ``engine_venue`` applies the very same
commands through ``VenueEngine.apply``. ``check_bulk_equals_engine`` proves, at a small size,
that both end on the same state hash, so the bulk state is one the engine produces.

The plan (seeded): accounts ``FIRST_ACCOUNT`` + 2k and + 2k + 1 form pair k. Each deposits
USD and HKD; about one in ten takes its BTCUSD position in isolated margin (margin mode, then
an isolated transfer). Then the odd account rests a BTCUSD sell and the even one lifts it
(IOC), and the even account rests an ETHHKD sell that the odd one lifts. Sizes run up into
the second margin bracket; entry prices are within 0.5% of the reference; deposits cover
the initial margin, the entry premium and the fee by a factor from 1.02 to 4, so a mark move
of a few percent puts some accounts below maintenance.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from harbour.kernel.money import MICRO, PPM
from harbour.venue import VenueEngine, default_genesis
from harbour.venue.accounts import Account, Position
from harbour.venue.commands import (
    AccountKind,
    Deposit,
    OpenAccount,
    PlaceOrder,
    SetMarginMode,
    Side,
    TimeInForce,
    TransferIsolatedMargin,
    VenueCommand,
)
from harbour.venue.events import Rejected
from harbour.venue.state import EXTERNAL, FEE_INCOME, isolated_account

FIRST_ACCOUNT = 1_001
T0 = 1_770_768_000_000_000_000
FAR_FUTURE = T0 + 10 * 365 * 86_400 * 10**9
BTCUSD = "BTCUSD"
ETHHKD = "ETHHKD"
CENT = MICRO // 100
FX_USD_HKD_E8 = 780_000_000  # the genesis rate


class Leg:
    """One pair's trade in one instrument: ``buyer`` takes ``qty`` at ``price`` from ``seller``'s resting sell."""

    __slots__ = ("sym", "asset", "seller", "buyer", "qty", "price")

    def __init__(self, sym: str, asset: str, seller: int, buyer: int, qty: int, price: int) -> None:
        self.sym, self.asset, self.seller, self.buyer, self.qty, self.price = sym, asset, seller, buyer, qty, price


class AccountPlan:
    __slots__ = ("account", "usd", "hkd", "iso_usd")

    def __init__(self, account: int, usd: int, hkd: int, iso_usd: int) -> None:
        self.account, self.usd, self.hkd, self.iso_usd = account, usd, hkd, iso_usd


def _cents_up(amount: int) -> int:
    return -(-amount // CENT) * CENT


def _need(qty: int, price: int, ref: int, uv: int, first_cap: int, factor_pct: int) -> int:
    """Margin to post for a position of ``qty`` entered at ``price``: IM at the genesis bracket
    rate (5% up to the first cap, then 10%) of the notional at the reference, the entry
    premium, the taker fee, times ``factor_pct`` / 100, whole cents."""
    at_ref = qty * ref * uv
    im = -(-at_ref * (50_000 if at_ref <= first_cap else 100_000) // PPM)
    premium = abs(price - ref) * qty * uv
    fee = -(-qty * price * uv * 500 // PPM)
    return _cents_up((im + premium + fee) * factor_pct // 100 + MICRO)


def plan(pairs: int, seed: int, btc_ref: int = 9_500_000, eth_ref: int = 2_600_000) -> tuple[list[AccountPlan], list[Leg]]:
    """Deposits per account and the two legs per pair, seeded."""
    rng = random.Random(seed)
    accounts: list[AccountPlan] = []
    legs: list[Leg] = []
    for k in range(pairs):
        even = FIRST_ACCOUNT + 2 * k
        odd = even + 1
        btc_qty = rng.randint(1, 500) if rng.random() < 0.9 else rng.randint(500, 4_000)
        eth_qty = rng.randint(1, 8_000) if rng.random() < 0.9 else rng.randint(8_000, 90_000)
        btc_price = btc_ref + rng.randint(-475, 475) * 10
        eth_price = eth_ref + rng.randint(-130, 130) * 10
        legs.append(Leg(BTCUSD, "USD", odd, even, btc_qty, btc_price))
        legs.append(Leg(ETHHKD, "HKD", even, odd, eth_qty, eth_price))
        for account in (even, odd):
            factor = 102 + int(rng.expovariate(1 / 60)) if rng.random() < 0.7 else rng.randint(105, 400)
            usd = _need(btc_qty, btc_price, btc_ref, 10, 250_000 * MICRO, factor)
            hkd = _need(eth_qty, eth_price, eth_ref, 10, 2_000_000 * MICRO, factor)
            iso = usd if rng.random() < 0.1 else 0
            accounts.append(AccountPlan(account, usd + (MICRO if iso else 0), hkd, iso))
    return accounts, legs


def commands(accounts: list[AccountPlan], legs: list[Leg]) -> Iterator[VenueCommand]:
    """The commands whose state ``bulk_venue`` writes directly (after the default genesis)."""
    for a in accounts:
        yield OpenAccount(account=a.account, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE)
        yield Deposit(account=a.account, asset="USD", amount=a.usd)
        yield Deposit(account=a.account, asset="HKD", amount=a.hkd)
        if a.iso_usd:
            yield SetMarginMode(account=a.account, instrument=BTCUSD, isolated=True)
            yield TransferIsolatedMargin(account=a.account, instrument=BTCUSD, amount=a.iso_usd)
    for leg in legs:
        yield PlaceOrder(account=leg.seller, instrument=leg.sym, side=Side.SELL, qty=leg.qty, price=leg.price)
        yield PlaceOrder(account=leg.buyer, instrument=leg.sym, side=Side.BUY, qty=leg.qty, price=leg.price, tif=TimeInForce.IOC)


def _genesis_engine() -> tuple[VenueEngine, int]:
    engine = VenueEngine()
    seq = 0
    for cmd in default_genesis():
        seq += 1
        out = engine.apply(seq, T0 + seq, cmd)
        assert not any(isinstance(e, Rejected) for e in out), out
    return engine, seq


def engine_venue(accounts: list[AccountPlan], legs: list[Leg]) -> VenueEngine:
    """The plan applied command by command through the engine (slow; the reference)."""
    engine, seq = _genesis_engine()
    for cmd in commands(accounts, legs):
        seq += 1
        out = engine.apply(seq, T0 + seq, cmd)
        assert not any(isinstance(e, Rejected) for e in out), (cmd, out)
    return engine


def bulk_venue(accounts: list[AccountPlan], legs: list[Leg]) -> VenueEngine:
    """The state ``engine_venue`` reaches, written directly: accounts, wallets, positions,
    fees, the external counters and the transfer and trade counters."""
    engine, _ = _genesis_engine()
    st = engine.state
    ledger = st.ledger
    balances = ledger._balances  # noqa: SLF001 - bulk setup writes what the postings would
    transfers = 0
    ext = balances[EXTERNAL]
    kind = AccountKind.CLIENT
    for a in accounts:
        acct = Account(a.account, kind, FAR_FUTURE, "")
        st.accounts[a.account] = acct
        balances[a.account] = {"USD": a.usd - a.iso_usd, "HKD": a.hkd}
        ext["USD"] -= a.usd
        ext["HKD"] -= a.hkd
        st.external_in["USD"] += a.usd
        st.external_in["HKD"] += a.hkd
        transfers += 2
        if a.iso_usd:
            pos = acct.positions[BTCUSD] = Position()
            pos.isolated = True
            balances[isolated_account(a.account, BTCUSD)] = {"USD": a.iso_usd}
            transfers += 1
    fee_income = balances.setdefault(FEE_INCOME, {})
    accts = st.accounts
    for leg in legs:
        inst = st.instruments[leg.sym]
        notional = leg.price * leg.qty * inst.unit_value
        taker_fee = -(-notional * inst.taker_fee_ppm // PPM)
        maker_fee = -(-notional * inst.maker_fee_ppm // PPM)
        for account, qty, fee in ((leg.buyer, leg.qty, taker_fee), (leg.seller, -leg.qty, maker_fee)):
            acct = accts[account]
            pos = acct.positions.get(leg.sym)
            if pos is None:
                pos = acct.positions[leg.sym] = Position()
            pos.qty = qty
            pos.cost = qty * leg.price
            wallet = isolated_account(account, leg.sym) if pos.isolated else account
            balances[wallet][leg.asset] -= fee
        fee_income[leg.asset] = fee_income.get(leg.asset, 0) + taker_fee + maker_fee
        transfers += 1
        st.next_trade_id += 1
        st.last_trade_price[leg.sym] = leg.price
    ledger._next_transfer_id += transfers  # noqa: SLF001
    # the genesis reference prices built the risk columns of an empty venue; they do not follow
    # state written outside apply, so drop them (risk_columns: such code must)
    st.risk_columns = None
    return engine


def check_bulk_equals_engine(pairs: int = 300, seed: int = 11) -> bytes:
    """Build the same plan both ways; they must end on the same state hash (returned)."""
    accounts, legs = plan(pairs, seed)
    by_engine = engine_venue(accounts, legs).state_hash()
    by_bulk = bulk_venue(accounts, legs).state_hash()
    assert by_engine == by_bulk, "the bulk builder no longer writes the state the engine produces"
    return by_bulk
