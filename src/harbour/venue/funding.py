"""Funding settlement: one interval's funding as one balanced ledger transfer.

The rate is computed outside the engine by the price service (``harbour.prices.funding``)
and journaled in ``SettleFunding``, so replay reproduces it. At the interval end every
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

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_NET_HOLDINGS, MAX_PRICE
from harbour.prices.funding import RATE_UNIT, SIGN_CONVENTION, FundingParameters, check_funding_parameters, funding_payment
from harbour.prices.problems import RATE_SCALE
from harbour.venue.commands import SettleFunding
from harbour.venue.events import FundingSettled, TransferPosted
from harbour.venue.mark import FundingTerms
from harbour.venue.rejects import rejected
from harbour.venue.settlement import Postings, cover_shortfall, pay
from harbour.venue.state import INSURANCE_FUND, VenueState, isolated_account

C = RejectCode

# |rate| above 100% per interval is no rate the price service can produce from accepted
# parameters (cap = cap_fraction x (IMR - MMR) <= 1 x 100%), so it is refused as garbage.
MAX_FUNDING_RATE_E8 = RATE_SCALE


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
    uv = inst.unit_value
    # (account id, wallet, position qty, payment: + pays, - receives), sorted by account id
    rows: list[tuple[int, int | str, int, int, bool]] = []
    for account_id in sorted(st.accounts):
        pos = st.accounts[account_id].positions.get(sym)
        if pos is None or not pos.qty:
            continue
        notional = abs(pos.qty) * cmd.mark_price * uv
        payment = funding_payment(pos.qty, notional, cmd.rate_e8)
        wallet: int | str = isolated_account(account_id, sym) if pos.isolated else account_id
        rows.append((account_id, wallet, pos.qty, payment, pos.isolated))
    total_paid = sum(r[3] for r in rows if r[3] > 0)
    total_received = -sum(r[3] for r in rows if r[3] < 0)
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
    postings: Postings = []
    missing = 0
    for _, wallet, _, payment, isolated in rows:
        if payment > 0:
            missing += pay(st, wallet, not isolated, asset, payment, postings)
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
            TransferPosted(
                seq=seq, ts_ns=ts, transfer_id=transfer_id, kind="FUNDING", postings=tuple(postings), reference=f"funding:{sym}:{seq}"
            )
        )
