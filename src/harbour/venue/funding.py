"""Funding settlement: one interval's funding as one balanced ledger transfer.

The rate is computed outside the engine by the price service (``harbour.prices.funding``)
and journaled in ``SettleFunding``, so replay reproduces it. The command's interval must
be the instrument's configured funding interval (``SetFundingParameters``), else
FUNDING_INTERVAL_MISMATCH: the venue settles on the clock it publishes. At the interval end every
account with a non-zero position in the instrument pays or receives, in sorted account
order, ``funding_payment(qty, |qty| x mark x unit_value, rate)``: sign convention
"positive rate: longs pay shorts"; a payer's amount rounds up, a receiver's down.

Money moves directly from payers to receivers in one transfer (no pool account):

- a payer pays from its wallet in the settlement asset (cross: the account id, which may
  convert its other margin assets; isolated: its ISO wallet, which may not). What it
  cannot pay is covered by the insurance fund, then operator capital, then DEFICIT
  (``settlement.cover_shortfall``), so no participant balance is ever negative;
- each receiver is credited to its wallet (cross or isolated);
- the residue, total paid minus total received (the payers' rounding surplus, never
  negative since long and short quantities are equal), goes to INSURANCE_FUND.

So the transfer is zero-sum to the unit: sum(paid) == sum(received) + residue.
"""

from __future__ import annotations

import math

import numpy as np

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_NET_HOLDINGS, MAX_PRICE
from harbour.ledger.book import LedgerAccount
from harbour.prices.funding import RATE_UNIT, SIGN_CONVENTION, FundingParameters, check_funding_parameters, funding_payment
from harbour.prices.problems import RATE_SCALE
from harbour.venue.commands import SettleFunding
from harbour.venue.events import FundingSettled, TransferPosted
from harbour.venue.limbs import SAFE, fits, mul_div
from harbour.venue.mark import FundingTerms
from harbour.venue.price_parameters import MAX_FUNDING_RATE_E8
from harbour.venue.rejects import rejected
from harbour.venue.settlement import GainsApplied, Postings, cover_shortfall, pay, report_gains
from harbour.venue.state import INSURANCE_FUND, VenueState, isolated_account

C = RejectCode
_RATE_LIMB = math.isqrt(RATE_SCALE)  # rates are split into limbs of 1e4 (RATE_SCALE = 1e4 ** 2)

# MAX_FUNDING_RATE_E8: |rate| above 100% per interval is no rate the price service can
# produce from accepted parameters (cap = cap_fraction x (IMR - MMR) <= 1 x 100%), so it
# is refused as garbage.


def settle_funding(st: VenueState, seq: int, ts: int, cmd: SettleFunding, out: list[object]) -> None:
    name = "settle_funding"
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, name, C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    # the interval rule (0, 24 h] is the price module's; the command carries only the interval
    problems = [p for p in check_funding_parameters(FundingParameters(interval_ns=cmd.interval_ns)) if p.field == "interval_ns"]
    if problems:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem=problems[0].problem))
        return
    configured = inst.funding_schedule.interval_ns
    if cmd.interval_ns != configured:
        out.append(rejected(seq, ts, name, C.FUNDING_INTERVAL_MISMATCH, interval_ns=cmd.interval_ns, configured_ns=configured, instrument=cmd.instrument))
        return
    if not -MAX_FUNDING_RATE_E8 <= cmd.rate_e8 <= MAX_FUNDING_RATE_E8:
        out.append(
            rejected(seq, ts, name, C.INVALID_PARAMETER, problem=f"funding rate {cmd.rate_e8} is beyond +-{MAX_FUNDING_RATE_E8} per 1e8")
        )
        return
    if cmd.mark_price <= 0:
        out.append(rejected(seq, ts, name, C.PRICE_NOT_POSITIVE, price=cmd.mark_price))
        return
    if cmd.mark_price > MAX_PRICE:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem=f"mark price above the ceiling {MAX_PRICE}"))
        return

    sym = inst.symbol
    # the accounts with a non-zero position, in account-id order, and what each pays (+) or receives (-)
    ids, qtys, isolated = _positions(st, sym)
    amounts = payments(qtys, cmd.mark_price * inst.unit_value, cmd.rate_e8)
    total_paid = sum(a for a in amounts if a > 0)
    total_received = -sum(a for a in amounts if a < 0)
    if total_paid > MAX_NET_HOLDINGS:
        out.append(
            rejected(seq, ts, name, C.INVALID_PARAMETER, problem=f"funding of {total_paid} is above the holdings ceiling {MAX_NET_HOLDINGS}")
        )
        return

    # --- settle: nothing above changed state ---------------------------------------------
    # the mark's P1 uses this rate until the next settlement, due one interval from now
    st.funding_terms[sym] = FundingTerms(rate_e8=cmd.rate_e8, interval_ns=cmd.interval_ns, next_funding_ns=ts + cmd.interval_ns)
    asset = inst.settlement_asset
    residue = total_paid - total_received
    wallets: list[LedgerAccount] = list(ids)
    if any(isolated):
        wallets = [isolated_account(a, sym) if iso else a for a, iso in zip(ids, isolated, strict=True)]
    postings: Postings = []
    missing = 0
    gains: GainsApplied = []
    payers = [i for i, a in enumerate(amounts) if a > 0]
    held = st.ledger.balances_of([wallets[i] for i in payers], asset)
    for i, balance in zip(payers, held, strict=True):
        amount = amounts[i]
        if balance >= amount:  # ``pay``'s first case, without the call
            postings.append((wallets[i], asset, -amount))
        else:
            missing += pay(st, wallets[i], not isolated[i], asset, amount, postings, gains)
    if missing:
        cover_shortfall(st, asset, missing, postings)
    postings += [(wallet, asset, -amount) for wallet, amount in zip(wallets, amounts, strict=True) if amount < 0]
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
            accounts=tuple(zip(ids, qtys, amounts, strict=True)),
            total_paid=total_paid,
            total_received=total_received,
            residue=residue,
            shortfall_covered=missing,
        )
    )
    if postings:
        transfer_id = st.ledger.post(postings)
        out.append(
            TransferPosted(
                seq=seq, ts_ns=ts, transfer_id=transfer_id, kind="FUNDING", postings=tuple(postings), reference=f"funding:{sym}:{seq}"
            )
        )
        report_gains(st, gains, transfer_id, seq, ts, out)


def _positions(st: VenueState, sym: str) -> tuple[list[int], list[int], list[bool]]:
    """(account ids, position qtys, isolated flags) of the non-zero positions in ``sym``, by account id."""
    ids: list[int] = []
    qtys: list[int] = []
    isolated: list[bool] = []
    last = 0
    ordered = True
    for account_id, acct in st.accounts.items():
        pos = acct.positions.get(sym)
        if pos is not None and pos.qty:
            ids.append(account_id)
            qtys.append(pos.qty)
            isolated.append(pos.isolated)
            if account_id < last:
                ordered = False
            last = account_id
    if ordered:  # accounts are usually opened in id order
        return ids, qtys, isolated
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return [ids[i] for i in order], [qtys[i] for i in order], [isolated[i] for i in order]


def payments(qtys: list[int], unit_notional: int, rate_e8: int) -> list[int]:
    """``funding_payment(qty, |qty| x unit_notional, rate_e8)`` for each qty, computed as int64
    columns (limbs of 1e4, so |qty| x unit_notional x |rate| need not fit) whenever every
    notional fits in 2^62, else one by one. Payers round up, receivers down."""
    if not qtys or not rate_e8:
        return [0] * len(qtys)
    magnitude = abs(rate_e8)
    top = min(fits(magnitude, _RATE_LIMB), SAFE) // max(unit_notional, 1)
    try:
        q = np.array(qtys, dtype=np.int64)
    except OverflowError:
        q = None
    if q is None or int(np.abs(q).max()) > top:
        return [funding_payment(qty, abs(qty) * unit_notional, rate_e8) for qty in qtys]
    floor, remainder = mul_div(np.abs(q) * unit_notional, magnitude, _RATE_LIMB)
    pays = (q > 0) == (rate_e8 > 0)
    result: list[int] = np.where(pays, floor + (remainder > 0), -floor).tolist()
    return result
