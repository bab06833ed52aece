"""The stress rules of ``stress`` written plainly: one client, one scenario, Python ints.

Owns ``reference_cell`` (every figure of one grid cell), ``reference_grid`` (the whole grid,
cell by cell) and ``reference_figures`` (the broker's own scalar valuation at a
scenario's shocked prices). The numpy kernel of ``stress`` must give the same integers;
tests compare the two on random books, and the kernel hands clients outside its int64
envelope to ``reference_cell``. No size limit applies here. The rules are stated once,
in the ``stress`` module docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from harbour.broker.events import MarginFigures
from harbour.broker.sellout import required_sale_value
from harbour.broker.state import BrokerState, VaMark
from harbour.broker.stress import GRID_FIELDS, NO_MARGIN_VALUE, RATIO_CAP_BPS, BookColumns, StressGrid, StressInputs
from harbour.broker.stress_scenarios import Scenario
from harbour.broker.valuation import client_figures, margin_term, ratio_bps, va_value
from harbour.kernel.money import BPS, div_round_up


class ClientRow(NamedTuple):
    client: int
    loan: int
    cash: int
    credit_limit: int
    btc_units: int
    eth_units: int
    btc_mr: int
    eth_mr: int
    positions: tuple[tuple[int, int, int], ...]  # (shares, price, margin ratio bps)


class Cell(NamedTuple):
    market_value: int
    margin_value: int
    ratio_bps: int
    in_call: bool
    forced: bool
    sale_value: int
    deficit_allowed: int
    deficit_blocked: int
    sale_by_class: tuple[int, int, int] = (0, 0, 0)  # the sale value in BTC, ETH and securities (sums to sale_value)


def rows_of(cols: BookColumns, rows: Sequence[int]) -> list[ClientRow]:
    """The given rows of ``cols`` as Python ints."""
    pos: dict[int, list[tuple[int, int, int]]] = {}
    for r, qty, price, mr in zip(cols.pos_client.tolist(), cols.pos_qty.tolist(), cols.pos_price.tolist(), cols.pos_mr.tolist(), strict=True):
        pos.setdefault(r, []).append((qty, price, mr))
    return [
        ClientRow(
            client=int(cols.client_ids[r]), loan=int(cols.loan[r]), cash=int(cols.cash[r]), credit_limit=int(cols.credit_limit[r]),
            btc_units=int(cols.btc_units[r]), eth_units=int(cols.eth_units[r]), btc_mr=int(cols.btc_mr[r]), eth_mr=int(cols.eth_mr[r]),
            positions=tuple(pos.get(r, ())),
        )
        for r in rows
    ]  # fmt: skip


def basket_margin_ratio(row: ClientRow) -> int:
    """The securities basket's margin ratio at the marks: margin value x 1e4 // value (0 if none)."""
    value = sum(q * p for q, p, _ in row.positions)
    margin = sum(margin_term(q * p, mr) for q, p, mr in row.positions)
    return margin * BPS // value if value > 0 else 0


def class_sale(loan: int, cash: int, mv: int, vals: list[int], margins: list[int], mrs: list[int], inp: StressInputs) -> tuple[int, int, list[int]]:
    """M6/M7 by class: lowest margin ratio first; each class sells min(closed form, all of it); stop at the first not sold out."""
    sold = [0] * len(vals)
    keep = BPS - inp.cost_bps
    for k in sorted(range(len(vals)), key=lambda k: (mrs[k], k)):
        x = required_sale_value(loan, mv, inp.target_ratio_bps, mrs[k], inp.cost_bps)
        if x == 0:
            break  # at or below the target already
        if x is None or vals[k] == 0:
            continue  # selling this class would not lower R, or there is none
        x = min(x, vals[k])
        proceeds = x * keep // BPS
        repaid = min(proceeds, loan)
        loan -= repaid
        cash += proceeds - repaid
        sold[k] = x
        if x < vals[k]:
            break
        mv -= margins[k]
    return loan, cash, sold


def _past_m5_line(loan: int, cash: int, mv: int, mval: int, inp: StressInputs) -> bool:
    equity = mval + cash - loan
    return loan > 0 and (loan * BPS >= inp.forced_sale_ratio_bps * mv or equity * BPS <= inp.equity_floor_bps * mval)


def reference_cell(row: ClientRow, btc_price: int, eth_price: int, scenario: Scenario, inp: StressInputs) -> Cell:
    """Every stress figure of one client under one scenario."""
    final = scenario.final
    keep = BPS - inp.cost_bps
    vb = va_value(row.btc_units, btc_price * (BPS + final.btc_bps) // BPS)
    ve = va_value(row.eth_units, eth_price * (BPS + final.eth_bps) // BPS)
    shocked = [(q, p * (BPS + final.equity_bps) // BPS, mr) for q, p, mr in row.positions]
    vs = sum(q * p for q, p, _ in shocked)
    ms = sum(margin_term(q * p, mr) for q, p, mr in shocked)
    vals = [vb, ve, vs]
    margins = [margin_term(vb, row.btc_mr), margin_term(ve, row.eth_mr), ms]
    mv = sum(margins)
    mval = sum(vals)
    loan, cash = row.loan, row.cash
    r = ratio_bps(loan, mv)
    mrs = [row.btc_mr, row.eth_mr, basket_margin_ratio(row)]
    forced = _past_m5_line(loan, cash, mv, mval, inp)
    by_class = class_sale(loan, cash, mv, vals, margins, mrs, inp)[2] if forced else [0, 0, 0]
    sale = sum(by_class)
    blocked = max(0, loan - cash - mval * keep // BPS)

    bases = [va_value(row.btc_units, btc_price), va_value(row.eth_units, eth_price), sum(q * p for q, p, _ in row.positions)]
    sold_any = False
    for step in scenario.steps[:-1]:
        factors = [BPS + step.btc_bps, BPS + step.eth_bps, BPS + step.equity_bps]
        step_vals = [b * f // BPS for b, f in zip(bases, factors, strict=True)]
        step_margins = [margin_term(v, mr) for v, mr in zip(step_vals, mrs, strict=True)]
        if not _past_m5_line(loan, cash, sum(step_margins), sum(step_vals), inp):
            continue
        loan, cash, sold = class_sale(loan, cash, sum(step_margins), step_vals, step_margins, mrs, inp)
        for k, x in enumerate(sold):
            if x > 0:
                sold_any = True
                bases[k] -= bases[k] if x == step_vals[k] else min(bases[k], div_round_up(x * BPS, factors[k]))
    factors = [BPS + final.btc_bps, BPS + final.eth_bps, BPS + final.equity_bps]
    closeout = sum(b * f // BPS for b, f in zip(bases, factors, strict=True)) * keep // BPS
    allowed = min(max(0, loan - cash - closeout), blocked) if sold_any else blocked
    return Cell(
        market_value=mval, margin_value=mv, ratio_bps=NO_MARGIN_VALUE if r is None else min(r, RATIO_CAP_BPS),
        in_call=row.loan * BPS > inp.call_ratio_bps * mv or row.loan > row.credit_limit, forced=forced,
        sale_value=sale, deficit_allowed=allowed, deficit_blocked=blocked, sale_by_class=(by_class[0], by_class[1], by_class[2]),
    )  # fmt: skip


def reference_grid(cols: BookColumns, scenarios: Sequence[Scenario], inputs: StressInputs) -> StressGrid:
    """The whole grid, one cell at a time (slow: for tests and small books)."""
    n, k = cols.n, len(scenarios)
    out: dict[str, npt.NDArray[Any]] = {
        name: np.zeros((n, k), dtype=np.bool_ if name in ("in_call", "forced") else np.int64) for name in GRID_FIELDS
    }
    by_class = np.zeros((k, 3), dtype=np.int64)
    for i, row in enumerate(rows_of(cols, range(n))):
        for j, s in enumerate(scenarios):
            cell = reference_cell(row, cols.btc_price, cols.eth_price, s, inputs)
            for name in GRID_FIELDS:
                out[name][i, j] = getattr(cell, name)
            by_class[j] += np.array(cell.sale_by_class, dtype=np.int64)
    return StressGrid(loan=cols.loan, sale_by_class=by_class, **out)


# --- the broker's own valuation at shocked prices ---------------------------------------------------------


def shocked_state(st: BrokerState, scenario: Scenario) -> BrokerState:
    """A copy of ``st`` marked at the scenario's final prices (read-only use: no command, no event)."""
    copy = BrokerState.decode(st.encode())
    s = scenario.final
    for asset, shock in (("BTC", s.btc_bps), ("ETH", s.eth_bps)):
        mark = copy.va_marks.get(asset)
        if mark is not None:
            copy.va_marks[asset] = VaMark(price=mark.price * (BPS + shock) // BPS, marked_ts_ns=mark.marked_ts_ns)
    for record in copy.securities.values():
        record.price = record.price * (BPS + s.equity_bps) // BPS
    return copy


def reference_figures(st: BrokerState, client: int, scenario: Scenario) -> MarginFigures:
    """The broker's own scalar valuation of ``client`` at the scenario's shocked prices."""
    return client_figures(shocked_state(st, scenario), client)
