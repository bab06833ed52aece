"""Forced sale (M6-M8): what to sell, in which order, how much, and bad debt.

Owns the sale order, the closed-form sale size of margin-financing.md §2.1 and the
bad-debt booking.

* Size (M6): selling x HKD of an asset with margin ratio m at all-in cost c lowers L by
  x(1 - c) and MV by m x; reaching R* needs x >= (L - R* MV) / ((1 - c) - R* m), valid
  while (1 - c) > R* m. x rounds up (sell at least enough) and converts to a quantity
  rounding up, capped at what is held. An asset for which the closed form is not valid
  is skipped: selling it would raise R, not lower it.
* Order (M7): while HKEX is closed only VA can be sold; otherwise lowest margin ratio
  (the effective one, after the C3/C5 size multiplier) first (frees the most loan per dollar of MV lost), then the largest unrealised loser
  first, then by instrument and lot. The client has no open buy orders at the broker in
  this slice, so step 1 (cancel open buys) has nothing to do.
* Proceeds: gross rounds down (credited), cost rounds up (charged); net repays the loan
  first and any excess is the client's cash. VA lots are debited only on custody's
  FORCED_SALE path, for this client's own debt.
* Bad debt (M8): once the client holds no securities and no BTC/ETH lot and a loan
  remains, the residual moves to the client's own ``BAD_DEBT:<c>`` account; it is never
  netted against any other client.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS, VA_UNITS_PER_COIN
from harbour.broker.custody import FORCED_SALE, DebitAuthority
from harbour.broker.events import BadDebtBooked, CollateralSold
from harbour.broker.state import (
    EXTERNAL,
    HKD,
    BrokerState,
    bad_debt_account,
    cash_account,
    loan_account,
    securities_account,
    security_asset,
)
from harbour.broker.transfers import debit_lot, post_main
from harbour.broker.valuation import (
    SECURITY,
    VIRTUAL_ASSET,
    client_figures,
    price_snapshot,
    ratio_above,
    security_margin_ratio_bps,
    va_effective_margin_ratio_bps,
    va_value,
)
from harbour.kernel.money import BPS, div_round_up

_CORRECTIONS: Final = 3  # extra passes on one asset if rounding left R a hair above R*


class SaleCandidate(NamedTuple):
    margin_ratio_bps: int
    unrealised: int  # value - cost (most negative sold first)
    kind: str
    instrument: str
    lot: int  # 0 for securities
    price: int


def required_sale_value(loan: int, margin_value: int, target_bps: int, margin_ratio_bps: int, cost_bps: int) -> int | None:
    """HKD to sell to bring L / MV down to the target, rounded up; None if no sale of this asset can."""
    numerator = (loan * BPS - target_bps * margin_value) * BPS
    if numerator <= 0:
        return 0
    denominator = (BPS - cost_bps) * BPS - target_bps * margin_ratio_bps
    if denominator <= 0:
        return None
    return div_round_up(numerator, denominator)


def sale_order(st: BrokerState, client: int) -> list[SaleCandidate]:
    """Everything that can be sold now for this client, in M7 order."""
    candidates: list[SaleCandidate] = []
    custody = st.custody.get(client)
    if custody is not None:
        for lot in custody.lots():
            mark = st.va_marks.get(lot.asset)
            if lot.asset not in ELIGIBLE_VIRTUAL_ASSETS or mark is None:
                continue
            mr, _ = va_effective_margin_ratio_bps(st, lot.asset, custody.holding(lot.asset))
            unrealised = va_value(lot.qty, mark.price) - va_value(lot.qty, lot.cost_price)
            candidates.append(SaleCandidate(mr, unrealised, VIRTUAL_ASSET, lot.asset, lot.lot_id, mark.price))
    if st.hkex_open:
        for code, shares in st.securities_held(client):
            record = st.securities[code]
            if record.price > 0 and not record.suspended:
                mr, _ = security_margin_ratio_bps(st, code, shares)
                candidates.append(SaleCandidate(mr, 0, SECURITY, code, 0, record.price))
    candidates.sort()
    return candidates


def has_saleable_collateral_left(st: BrokerState, client: int) -> bool:
    """Whether anything that could ever be sold for the debt remains (securities or BTC/ETH)."""
    custody = st.custody.get(client)
    has_va = custody is not None and any(lot.asset in ELIGIBLE_VIRTUAL_ASSETS for lot in custody.lots())
    return has_va or bool(st.securities_held(client))


def sell_down_to_target(st: BrokerState, client: int, seq: int, ts: int, out: list[object]) -> None:
    """Sell in M7 order, each asset sized by the closed form, until R <= R* or nothing helps."""
    cfg = st.config
    for candidate in sale_order(st, client):
        for _ in range(_CORRECTIONS):
            fig = client_figures(st, client)
            if not ratio_above(fig.loan, fig.margin_value, cfg.target_ratio_bps):
                return
            x = required_sale_value(fig.loan, fig.margin_value, cfg.target_ratio_bps, candidate.margin_ratio_bps, cfg.sale_cost_bps)
            if x is None:
                break
            held = _held(st, client, candidate)
            if held <= 0:
                break
            if candidate.kind == VIRTUAL_ASSET:
                qty = div_round_up(x * VA_UNITS_PER_COIN, candidate.price)
            else:
                qty = div_round_up(x, candidate.price)
            _sell(st, client, candidate, min(max(qty, 1), held), seq, ts, out)


def book_bad_debt_if_nothing_left(st: BrokerState, client: int, seq: int, ts: int, out: list[object]) -> None:
    """M8: when nothing saleable is left, move the residual loan to the client's bad-debt account."""
    residual = st.loan(client)
    if residual <= 0 or has_saleable_collateral_left(st, client):
        return
    post_main(st, seq, ts, "BAD_DEBT", [(loan_account(client), HKD, residual), (bad_debt_account(client), HKD, -residual)], f"client {client}", out)
    out.append(BadDebtBooked(seq=seq, ts_ns=ts, client=client, amount=residual, figures=client_figures(st, client), prices=price_snapshot(st, client)))


def _held(st: BrokerState, client: int, candidate: SaleCandidate) -> int:
    if candidate.kind == VIRTUAL_ASSET:
        lot = st.custody[client].lot(candidate.lot)
        return lot.qty if lot is not None else 0
    return st.shares(client, candidate.instrument)


def _sell(st: BrokerState, client: int, candidate: SaleCandidate, qty: int, seq: int, ts: int, out: list[object]) -> None:
    if candidate.kind == VIRTUAL_ASSET:
        gross = va_value(qty, candidate.price)
        authority = DebitAuthority(path=FORCED_SALE, debtor=client, loan=st.loan(client))
        debit_lot(st, seq, ts, client, candidate.lot, qty, authority, out)
    else:
        gross = qty * candidate.price
        asset = security_asset(candidate.instrument)
        post_main(st, seq, ts, "FORCED_SALE", [(securities_account(client), asset, -qty), (EXTERNAL, asset, qty)], candidate.instrument, out)
    cost = div_round_up(gross * st.config.sale_cost_bps, BPS)
    net = gross - cost
    repaid = min(net, st.loan(client))
    excess = net - repaid
    post_main(
        st, seq, ts, "SALE_PROCEEDS",
        [(EXTERNAL, HKD, -net), (loan_account(client), HKD, repaid), (cash_account(client), HKD, excess)],
        f"forced sale {candidate.instrument}", out,
    )
    out.append(
        CollateralSold(
            seq=seq, ts_ns=ts, client=client, instrument=candidate.instrument, lot=candidate.lot, qty=qty, price=candidate.price,
            margin_ratio_bps=candidate.margin_ratio_bps, gross=gross, cost=cost, net=net, loan_repaid=repaid, cash_credited=excess,
        )
    )

