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

How, at 10^6 positions (bench/venue_risk_bench.py): the holders come from the liquidation
scan's qty columns when they exist (``RiskColumns.holders``: exact, the accounts touched since
the last scan read from the state), else from a walk over every account; the payments are int64
columns; the transfer goes to the ledger as two columns (``Ledger.post_legs``), which visits each
wallet once and leaves out the payers it does not cover for ``pay``. The events and the ledger
are those of the account-by-account settlement (tests/venue/test_funding_columns.py).
"""

from __future__ import annotations

import math
from itertools import compress, count, repeat
from operator import gt, lt, neg, or_
from typing import NamedTuple

import numpy as np

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_NET_HOLDINGS, MAX_PRICE
from harbour.ledger.book import LedgerAccount
from harbour.prices.funding import RATE_UNIT, SIGN_CONVENTION, FundingParameters, check_funding_parameters, funding_payment
from harbour.prices.problems import RATE_SCALE
from harbour.venue.commands import SettleFunding
from harbour.venue.events import FundingSettled, TransferPosted
from harbour.venue.limbs import I64, SAFE, fits, mul_div
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
    holders = _holders(st, sym, out)
    amounts, column = _payments(holders.qtys, holders.column, cmd.mark_price * inst.unit_value, cmd.rate_e8)
    pays, gets = _sides(amounts, column)
    total_paid = sum(compress(amounts, pays))
    total_received = -sum(compress(amounts, gets))
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
    ids, isolated = holders.ids, holders.isolated
    wallets: list[LedgerAccount] = list(ids)
    for i in compress(count(), isolated):
        wallets[i] = isolated_account(ids[i], sym)
    moves = list(map(neg, amounts))  # what each wallet gets: - payment
    residue_posting: Postings = [(INSURANCE_FUND, asset, residue)] if residue else []

    # one transfer. The ledger takes every payment as a leg of its wallet, in account order, and
    # visits each wallet once; a payer whose wallet does not hold its payment is left out of the
    # legs and pays through ``pay`` (conversion, its own gains), then the cover layers pay what
    # it could not (``cover_shortfall``)
    gains: GainsApplied = []
    paid_by: dict[int, Postings] = {}  # a payer left out (its row) -> the postings by which it paid
    shortfall: Postings = []
    missing = 0
    rows = list(compress(count(), map(or_, pays, gets))) if 0 in amounts else None  # legs -> rows when some pay nothing

    def cover(left_out: list[int]) -> Postings:
        nonlocal missing
        extra: Postings = []
        for leg in left_out:  # payers only: a receiver's leg is a credit
            i = rows[leg] if rows is not None else leg
            own: Postings = []
            paid_by[i] = own
            missing += pay(st, wallets[i], not isolated[i], asset, amounts[i], own, gains)
            extra += own
        if missing:
            cover_shortfall(st, asset, missing, shortfall)
            extra += shortfall
        return extra

    transfer_id = 0
    if total_paid or total_received:
        if rows is None:
            transfer_id = st.ledger.post_legs(asset, wallets, moves, residue_posting, cover)
        else:
            legs = [False] * len(amounts)
            for i in rows:
                legs[i] = True
            transfer_id = st.ledger.post_legs(asset, list(compress(wallets, legs)), list(compress(moves, legs)), residue_posting, cover)

    # the transfer's postings as it reads: the payers in account order (each as it paid), the
    # cover layers, the receivers, the residue
    postings: Postings = []
    done = 0
    for i in sorted(paid_by):
        postings += compress(zip(wallets[done:i], repeat(asset), moves[done:i]), pays[done:i])
        postings += paid_by[i]
        done = i + 1
    postings += compress(zip(wallets[done:], repeat(asset), moves[done:]), pays[done:])
    postings += shortfall
    postings += compress(zip(wallets, repeat(asset), moves), gets)
    postings += residue_posting
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
            accounts=tuple(zip(ids, holders.qtys, amounts, strict=True)),
            total_paid=total_paid,
            total_received=total_received,
            residue=residue,
            shortfall_covered=missing,
        )
    )
    if transfer_id:
        out.append(
            TransferPosted(
                seq=seq, ts_ns=ts, transfer_id=transfer_id, kind="FUNDING", postings=tuple(postings), reference=f"funding:{sym}:{seq}"
            )
        )
        report_gains(st, gains, transfer_id, seq, ts, out)


class _Holders(NamedTuple):
    """The non-zero positions in one instrument, in account-id order."""

    ids: list[int]
    qtys: list[int]
    isolated: list[bool]
    column: I64 | None  # ``qtys`` as int64, when every qty fits


def _holders(st: VenueState, sym: str, out: list[object]) -> _Holders:
    """The positions in ``sym``: from the liquidation scan's qty columns when they exist (exact,
    ``RiskColumns.holders``), else by walking every account."""
    cols = st.risk_columns
    found = cols.holders(st, sym, out) if cols is not None else None
    if found is None:
        return _scan(st, sym)
    accounts, q, isolated = found
    return _Holders(accounts.tolist(), q.tolist(), isolated.tolist(), q)


def _scan(st: VenueState, sym: str) -> _Holders:
    """``_Holders`` of ``sym`` by walking every account."""
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
    if not ordered:  # accounts are usually opened in id order
        order = sorted(range(len(ids)), key=ids.__getitem__)
        ids, qtys, isolated = [ids[i] for i in order], [qtys[i] for i in order], [isolated[i] for i in order]
    return _Holders(ids, qtys, isolated, _int64(qtys))


def _int64(values: list[int]) -> I64 | None:
    """``values`` as an int64 column, or None if one does not fit."""
    try:
        return np.fromiter(values, dtype=np.int64, count=len(values))
    except OverflowError:
        return None


def _sides(amounts: list[int], column: I64 | None) -> tuple[list[bool], list[bool]]:
    """(pays, receives) of each row: payment above zero, below zero."""
    if column is None:
        return list(map(gt, amounts, repeat(0))), list(map(lt, amounts, repeat(0)))
    return (column > 0).tolist(), (column < 0).tolist()


def payments(qtys: list[int], unit_notional: int, rate_e8: int) -> list[int]:
    """``funding_payment(qty, |qty| x unit_notional, rate_e8)`` for each qty: payers round up,
    receivers down."""
    return _payments(qtys, _int64(qtys), unit_notional, rate_e8)[0]


def _payments(qtys: list[int], q: I64 | None, unit_notional: int, rate_e8: int) -> tuple[list[int], I64 | None]:
    """``payments`` of ``qtys`` (``q``: the same as int64, if they fit), and the payments as an
    int64 column when they were computed as one."""
    column = _payment_column(q, unit_notional, rate_e8) if q is not None else None
    if column is None:
        return [funding_payment(qty, abs(qty) * unit_notional, rate_e8) for qty in qtys], None
    return column.tolist(), column


def _payment_column(q: I64, unit_notional: int, rate_e8: int) -> I64 | None:
    """The payments of positions ``q`` as int64 (limbs of 1e4, so |qty| x unit_notional x |rate|
    need not fit), or None when a notional |qty| x unit_notional is beyond what the limbs take."""
    if not rate_e8:
        return np.zeros(q.shape[0], dtype=np.int64)
    magnitude = abs(rate_e8)
    top = min(fits(magnitude, _RATE_LIMB), SAFE) // max(unit_notional, 1)
    if not top or (q.shape[0] and max(int(q.max()), -int(q.min())) > top):
        return None
    floor, remainder = mul_div(np.abs(q) * unit_notional, magnitude, _RATE_LIMB)
    pays = (q > 0) == (rate_e8 > 0)
    column: I64 = np.where(pays, floor + (remainder > 0), -floor)
    return column
