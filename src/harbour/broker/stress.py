"""Stress testing of the whole loan book (S2-S4) in exact integers, vectorised over clients x scenarios.

Owns ``BookColumns`` (an int64 column snapshot of a ``BrokerState``), ``run_stress`` (the
S2 library against the book with liquidation allowed and blocked), ``reverse_stress``
(S4) and ``revalue`` (one price tick for the whole book). Nothing here changes broker
state. ``stress_reference`` holds the plain-Python implementation of the same rules;
tests check that both give identical integers on random books, and clients outside the
int64 envelope below are computed by it.

Per client and scenario (S3), every figure an integer in HKD micro-units or bps:

* Post-shock figures at the scenario's final prices, exactly as the broker values them
  (``valuation``): shocked price = price x (10000 + shock) // 10000, VA value =
  units x price // 1e8, securities value = shares x price, margin term =
  value x mr // 10000 per position. So L, MV, MVal and R (bps, rounded up, capped at
  ``RATIO_CAP_BPS``; -1 for a loan against no margin value) equal ``client_figures`` on
  a state marked at the shocked prices.
* ``in_call`` (M3: L x 1e4 > call x MV, or L > credit limit) and ``forced`` (M5 immediate
  lines: R >= forced-sale ratio, or E x 1e4 <= equity floor x MVal). A call past its
  deadline is not modelled (it depends on the window, not on the shock).
* ``sale_value``: the §2.1 closed form (M6, ``sellout.required_sale_value``) where forced,
  selling by class in M7 order: BTC, ETH and the securities basket, lowest margin ratio
  first (ties in that order). A class sells min(closed form, all of it); the first class
  not sold out ends the sale, and a class the closed form cannot use (selling it would
  raise R) is skipped. All-in cost c = sale cost + slippage; proceeds = x (1 - c)
  rounded down, repaying the loan first (any excess is cash). The basket's margin ratio
  is its margin value / value at the marks in whole bps, rounded down; BTC and ETH keep
  the size add-on and C3 multiplier reached at the snapshot (a partial sale does not
  lower the haircut), and each security position carries its effective (C5) ratio.
* Deficits: the loan not covered by cash plus the close-out of everything left at the
  final prices less c (value x (1 - c), rounded down), never below zero.
  - ``BLOCKED`` (VATP outage, HKEX closed): nothing is sold during the window; the whole
    book is closed out at the final prices.
  - ``ALLOWED``: at every step of the path but the last, clients past an M5 line sell
    as above at that step's prices (a sale at the final prices would not change the
    deficit: it sells at the close-out price). Along the path each class is carried by
    its value at the marks ("base"): worth base x (10000 + shock) // 10000 at a step; a
    sale of x removes ceil(x x 1e4 / (10000 + shock)) of base (all of it when sold out).
    A client that sold nothing on the path has its blocked deficit. Prices never rise
    along a path, so selling earlier never loses against the close-out; the class
    rounding can, by a few micro-units, so the allowed deficit is capped at the blocked.
* Book: clients in call and in forced sale, total sale value and its split by class
  (BTC, ETH, securities: the S3 liquidation volume, compared with ADV in the report),
  total deficit per mode against the excess liquid capital; the top clients by blocked
  deficit.

int64 safety. The snapshot refuses any client whose market value, loan, cash or credit
limit is not below 2^62 (``MAX_CLIENT_TOTAL``), and any column outside the broker's
input ceilings (config.py): VA units <= 1e13, VA price <= 1e13, shares <= 1e8, share
price <= 1e10, margin ratios in [0, 1e4]. Clients whose market value at the marks,
loan and cash are each at most ``FAST_MAX`` = 2^61 // 1e4 (about HKD 230 million) go
through the numpy kernel; the others (if any) through the plain-Python reference, which
has no size limit. Shocks are in [-10000, 0] bps, so no value ever rises above its mark
and, for a kernel client, every intermediate stays below 2^63 ~ 9.22e18:

* shocked prices: price x (10000 + shock) <= 1e13 x 1e4 = 1e17;
* VA value: with units = u_hi x 1e8 + u_lo and price = p_hi x 1e8 + p_lo,
  units x price // 1e8 = units x p_hi + u_hi x p_lo + (u_lo x p_lo) // 1e8, whose terms are
  <= 1e13 x 1e5, <= 1e5 x 1e8 and < 1e16 (any client);
* anything x 1e4 where anything is a value, margin value, loan, cash, sale or proceeds:
  <= 2^61; equity E = MVal + cash - L with cash growing by sale proceeds: |E| x 1e4 <=
  3 x 2^61 < 2^63; the closed form's numerator L x 1e4 - R* x MV <= 2^61 is split by
  divmod against its denominator (< 1e8) before the x 1e4, and the quotient is capped
  at the class value first;
* securities at marks (snapshot): shares x price <= 1e18, margin term by limbs of 1e4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from harbour.broker.config import (
    MAX_SECURITY_PRICE,
    MAX_SHARES_HELD,
    MAX_VA_PRICE,
    MAX_VA_UNITS_HELD,
    VA_UNITS_PER_COIN,
    BrokerConfig,
)
from harbour.broker.state import BrokerState
from harbour.broker.stress_scenarios import LIBRARY, Scenario, uniform_va_shock, validate_scenario
from harbour.broker.valuation import security_margin_ratio_bps, va_effective_margin_ratio_bps
from harbour.kernel.money import BPS

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

ALLOWED: Final = "ALLOWED"
BLOCKED: Final = "BLOCKED"

MAX_CLIENT_TOTAL: Final = 2**62
FAST_MAX: Final = 2**61 // BPS  # per-client ceiling (HKD micro) of the numpy kernel
MAX_RATIO_INPUT_BPS: Final = 3 * BPS  # target, call and forced-sale ratios the kernel accepts (300%)
RATIO_CAP_BPS: Final = 10**8  # reported R is capped here (1,000,000%)
NO_MARGIN_VALUE: Final = -1  # R of a loan against no margin value
CLASSES: Final = ("BTC", "ETH", "SECURITIES")  # sale classes; index = tie order
_CHUNK: Final = 50  # scenarios per vectorised block (with _BLOCK_ROWS: about 50,000 cells, measured best)
_BLOCK_ROWS: Final = 1_024  # clients per vectorised block: temporaries stay small (cache, no page faults)
_PATH_BLOCK_ROWS: Final = 8_192  # clients per block of the allowed-liquidation path (one scenario at a time)

assert MAX_VA_UNITS_HELD * (MAX_VA_PRICE // VA_UNITS_PER_COIN) < 2**63 and MAX_VA_PRICE * BPS < 2**63
assert MAX_SHARES_HELD * MAX_SECURITY_PRICE < 2**63 and 3 * FAST_MAX * BPS < 2**63 and MAX_RATIO_INPUT_BPS * FAST_MAX < 2**63


# --- the column snapshot ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookColumns:
    """Clients as int64 columns (one row per client, ascending client id) and a position table.

    Securities are a flat position table sorted by client row (``pos_client`` indexes rows);
    suspended or unmarked securities and non-BTC/ETH VA are left out (they count zero).
    """

    state_hash: str
    config: BrokerConfig
    client_ids: I64
    loan: I64
    cash: I64
    credit_limit: I64
    btc_units: I64
    eth_units: I64
    btc_mr: I64
    eth_mr: I64
    btc_price: int
    eth_price: int
    pos_client: I64
    pos_qty: I64
    pos_price: I64
    pos_mr: I64

    @property
    def n(self) -> int:
        return int(self.client_ids.shape[0])

    @classmethod
    def from_state(cls, st: BrokerState, *, all_clients: bool = False) -> BookColumns:
        """Snapshot ``st``: clients with a loan (or every client). Raises ValueError past the int64 envelope."""
        cfg = st.config
        btc = st.va_marks.get("BTC")
        eth = st.va_marks.get("ETH")
        btc_price = btc.price if btc is not None else 0
        eth_price = eth.price if eth is not None else 0
        rows: list[tuple[int, int, int, int, int, int, int, int]] = []
        pos: list[tuple[int, int, int, int]] = []
        for cid in sorted(st.clients):
            loan = st.loan(cid)
            if loan <= 0 and not all_clients:
                continue
            custody = st.custody.get(cid)
            units = {"BTC": 0, "ETH": 0}
            if custody is not None:
                for asset in units:
                    units[asset] = custody.holding(asset)
            total = units["BTC"] * btc_price // VA_UNITS_PER_COIN + units["ETH"] * eth_price // VA_UNITS_PER_COIN
            row = len(rows)
            for code, qty in st.securities_held(cid):
                record = st.securities[code]
                if record.price > 0 and not record.suspended and qty > 0:
                    pos.append((row, qty, record.price, security_margin_ratio_bps(st, code, qty)[0]))
                    total += qty * record.price
            cash = st.cash(cid)
            limit = st.clients[cid].credit_limit
            for name, value in (("market value", total), ("loan", loan), ("cash", cash), ("credit limit", limit)):
                if not 0 <= value < MAX_CLIENT_TOTAL:
                    raise ValueError(f"client {cid}: {name} {value} is outside the int64 stress envelope")
            rows.append((
                cid, loan, cash, limit, units["BTC"], units["ETH"],
                va_effective_margin_ratio_bps(st, "BTC", units["BTC"])[0], va_effective_margin_ratio_bps(st, "ETH", units["ETH"])[0],
            ))  # fmt: skip
        cols = np.array(rows, dtype=np.int64).reshape(-1, 8)
        p = np.array(pos, dtype=np.int64).reshape(-1, 4)
        return cls(
            state_hash=st.state_hash().hex(), config=cfg,
            client_ids=cols[:, 0].copy(), loan=cols[:, 1].copy(), cash=cols[:, 2].copy(), credit_limit=cols[:, 3].copy(),
            btc_units=cols[:, 4].copy(), eth_units=cols[:, 5].copy(), btc_mr=cols[:, 6].copy(), eth_mr=cols[:, 7].copy(),
            btc_price=btc_price, eth_price=eth_price,
            pos_client=p[:, 0].copy(), pos_qty=p[:, 1].copy(), pos_price=p[:, 2].copy(), pos_mr=p[:, 3].copy(),
        )  # fmt: skip


def column_problem(cols: BookColumns) -> str | None:
    """Why ``cols`` is outside the envelope the kernels are proven for, or None."""
    n = cols.n
    m = int(cols.pos_client.shape[0])
    per_client = (cols.loan, cols.cash, cols.credit_limit, cols.btc_units, cols.eth_units, cols.btc_mr, cols.eth_mr, cols.client_ids)
    per_pos = (cols.pos_client, cols.pos_qty, cols.pos_price, cols.pos_mr)
    if any(a.dtype != np.int64 or a.shape != (n,) for a in per_client) or any(a.dtype != np.int64 or a.shape != (m,) for a in per_pos):
        return "every column must be int64, one entry per client (or per position)"
    bounds = (
        ("loan", cols.loan, MAX_CLIENT_TOTAL - 1), ("cash", cols.cash, MAX_CLIENT_TOTAL - 1),
        ("credit limit", cols.credit_limit, MAX_CLIENT_TOTAL - 1),
        ("BTC units", cols.btc_units, MAX_VA_UNITS_HELD), ("ETH units", cols.eth_units, MAX_VA_UNITS_HELD),
        ("BTC margin ratio", cols.btc_mr, BPS), ("ETH margin ratio", cols.eth_mr, BPS),
        ("shares", cols.pos_qty, MAX_SHARES_HELD), ("share price", cols.pos_price, MAX_SECURITY_PRICE), ("security margin ratio", cols.pos_mr, BPS),
    )  # fmt: skip
    for name, values, ceiling in bounds:
        if values.size and (int(values.min()) < 0 or int(values.max()) > ceiling):
            return f"{name} outside [0, {ceiling}]"
    for name, price in (("BTC price", cols.btc_price), ("ETH price", cols.eth_price)):
        if not 0 <= price <= MAX_VA_PRICE:
            return f"{name} outside [0, {MAX_VA_PRICE}]"
    if m and (int(cols.pos_client.min()) < 0 or int(cols.pos_client.max()) >= n or bool((np.diff(cols.pos_client) < 0).any())):
        return "positions must be sorted by client row and name existing rows"
    # a client's securities value below 2^62: the sum of the values' high parts (each < 2^30) cannot overflow
    if m and int(_segment_sum((cols.pos_qty * cols.pos_price) >> 32, cols.pos_client, n).max()) >= 2**29:
        return "a client's securities value is not below 2^61"
    return None


# --- exact integer kernels ------------------------------------------------------------------


def va_values(units: I64, price: I64 | np.int64) -> I64:
    """units x price // 1e8 without forming the product (see the module docstring)."""
    u_hi, u_lo = np.divmod(units, VA_UNITS_PER_COIN)
    p_hi, p_lo = np.divmod(price, VA_UNITS_PER_COIN)
    out: I64 = units * p_hi + u_hi * p_lo + (u_lo * p_lo) // VA_UNITS_PER_COIN
    return out


def margin_terms_wide(value: I64, mr: I64) -> I64:
    """value x mr // 1e4 for any value below 2^63 / 1e4 x 1e4 (limbs of 1e4)."""
    v_hi, v_lo = np.divmod(value, BPS)
    out: I64 = v_hi * mr + (v_lo * mr) // BPS
    return out


def _segment_sum(values: I64, seg_client: I64, n: int) -> I64:
    """Per-client sums of a (positions, ...) int64 array whose rows are sorted by client."""
    out = np.zeros((n,) + values.shape[1:], dtype=np.int64)
    if values.shape[0] == 0:
        return out
    starts = np.flatnonzero(np.r_[True, seg_client[1:] != seg_client[:-1]])
    out[seg_client[starts]] = np.add.reduceat(values, starts, axis=0)
    return out


def class_order(mrs: I64) -> I64:
    """(n, 3) class indices per client in M7 order: lowest margin ratio first, ties BTC, ETH, basket."""
    key = mrs * len(CLASSES) + np.arange(len(CLASSES), dtype=np.int64)[None, :]
    out: I64 = np.argsort(key, axis=1, kind="stable").astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class _Book:
    """The kernel's view of the clients inside the fast envelope (rows of ``BookColumns``)."""

    rows: I64  # row numbers in the BookColumns
    loan: I64
    cash: I64
    credit_limit: I64
    btc_units: I64
    eth_units: I64
    btc_hi: I64  # units // 1e8 and units % 1e8 (the VA value limbs)
    btc_lo: I64
    eth_hi: I64
    eth_lo: I64
    mrs: I64  # (n, 3): BTC, ETH, basket margin ratio (bps)
    order: I64  # (n, 3): M7 class order
    mrs_ordered: I64  # (n, 3): the margin ratios in that order
    bases: I64  # (n, 3): class values at the marks
    basket_margin: I64  # (n,): securities margin value at the marks (exact)
    pos_client: I64
    pos_qty: I64
    pos_price_of: I64  # index into ``prices``
    pos_mr: I64
    prices: I64  # the distinct share prices

    @property
    def n(self) -> int:
        return int(self.rows.shape[0])

    def block(self, lo: int, hi: int) -> _Book:
        """Rows [lo, hi) with their positions (positions are sorted by row)."""
        a, b = np.searchsorted(self.pos_client, [lo, hi]).tolist()
        return _Book(
            rows=self.rows[lo:hi], loan=self.loan[lo:hi], cash=self.cash[lo:hi], credit_limit=self.credit_limit[lo:hi],
            btc_units=self.btc_units[lo:hi], eth_units=self.eth_units[lo:hi], btc_hi=self.btc_hi[lo:hi], btc_lo=self.btc_lo[lo:hi],
            eth_hi=self.eth_hi[lo:hi], eth_lo=self.eth_lo[lo:hi], mrs=self.mrs[lo:hi], order=self.order[lo:hi],
            mrs_ordered=self.mrs_ordered[lo:hi], bases=self.bases[lo:hi], basket_margin=self.basket_margin[lo:hi],
            pos_client=self.pos_client[a:b] - lo, pos_qty=self.pos_qty[a:b], pos_price_of=self.pos_price_of[a:b], pos_mr=self.pos_mr[a:b],
            prices=self.prices,
        )  # fmt: skip


def _prepare(cols: BookColumns) -> tuple[_Book, I64]:
    """Split ``cols`` into the kernel's book and the rows left to the reference (ValueError if invalid)."""
    problem = column_problem(cols)
    if problem is not None:
        raise ValueError(f"stress columns: {problem}")
    n = cols.n
    w_b = va_values(cols.btc_units, np.int64(cols.btc_price))
    w_e = va_values(cols.eth_units, np.int64(cols.eth_price))
    pv = cols.pos_qty * cols.pos_price
    w_s = _segment_sum(pv, cols.pos_client, n)
    m_s = _segment_sum(margin_terms_wide(pv, cols.pos_mr), cols.pos_client, n)
    capped = [np.minimum(w, FAST_MAX + 1) for w in (w_b, w_e, w_s)]
    fast = (capped[0] + capped[1] + capped[2] <= FAST_MAX) & (cols.loan <= FAST_MAX) & (cols.cash <= FAST_MAX)
    rows = np.flatnonzero(fast).astype(np.int64)
    slow = np.flatnonzero(~fast).astype(np.int64)
    keep_pos = fast[cols.pos_client]
    new_row = np.cumsum(fast) - 1
    w_s_f = w_s[rows]
    m_s_f = m_s[rows]
    mr_s = np.where(w_s_f > 0, m_s_f * BPS // np.where(w_s_f > 0, w_s_f, 1), 0)
    mrs = np.stack([cols.btc_mr[rows], cols.eth_mr[rows], mr_s], axis=1)
    order = class_order(mrs)
    prices, price_of = np.unique(cols.pos_price[keep_pos], return_inverse=True)
    book = _Book(
        rows=rows, loan=cols.loan[rows], cash=cols.cash[rows], credit_limit=cols.credit_limit[rows],
        btc_units=cols.btc_units[rows], eth_units=cols.eth_units[rows],
        btc_hi=cols.btc_units[rows] // VA_UNITS_PER_COIN, btc_lo=cols.btc_units[rows] % VA_UNITS_PER_COIN,
        eth_hi=cols.eth_units[rows] // VA_UNITS_PER_COIN, eth_lo=cols.eth_units[rows] % VA_UNITS_PER_COIN, mrs=mrs, order=order, mrs_ordered=np.take_along_axis(mrs, order, axis=1),
        bases=np.stack([w_b[rows], w_e[rows], w_s_f], axis=1), basket_margin=m_s_f,
        pos_client=new_row[cols.pos_client[keep_pos]].astype(np.int64), pos_qty=cols.pos_qty[keep_pos],
        pos_price_of=price_of.astype(np.int64).reshape(-1), pos_mr=cols.pos_mr[keep_pos], prices=prices.astype(np.int64),
    )  # fmt: skip
    return book, slow


# --- records ----------------------------------------------------------------------------------


class StressInputs(msgspec.Struct, frozen=True, kw_only=True):
    """Everything besides the book and the scenarios that a stress result depends on."""

    excess_liquid_capital: int  # HKD micro, the S3/S4 comparison line
    slippage_bps: int = 200  # S2: 2/5/10% liquidation slippage
    sale_cost_bps: int = 50  # §2.1 c (from the broker config)
    target_ratio_bps: int = 9_000
    call_ratio_bps: int = 10_000
    forced_sale_ratio_bps: int = 13_000
    equity_floor_bps: int = 1_000
    seed: int | None = None  # of the book, when it was generated

    @property
    def cost_bps(self) -> int:
        """All-in liquidation cost c: sale cost plus slippage."""
        return self.sale_cost_bps + self.slippage_bps


def inputs_problem(inputs: StressInputs) -> str | None:
    """Why ``inputs`` cannot be run, or None."""
    if inputs.excess_liquid_capital < 0:
        return "excess liquid capital must not be negative"
    if not 0 <= inputs.cost_bps < BPS or inputs.sale_cost_bps < 0 or inputs.slippage_bps < 0:
        return "sale cost and slippage must be non-negative and together below 100%"
    for name, value in (("target", inputs.target_ratio_bps), ("call", inputs.call_ratio_bps), ("forced-sale", inputs.forced_sale_ratio_bps)):
        if not 0 < value <= MAX_RATIO_INPUT_BPS:
            return f"the {name} ratio must be in (0, {MAX_RATIO_INPUT_BPS}] bps (the stress envelope)"
    if not 0 <= inputs.equity_floor_bps < BPS:
        return "the equity floor must be in [0, 10000) bps"
    return None


class ScenarioResult(msgspec.Struct, frozen=True, kw_only=True):
    scenario: str
    btc_shock_bps: int
    eth_shock_bps: int
    equity_shock_bps: int
    clients_in_call: int
    clients_forced: int
    sale_value: int  # HKD micro, closed-form sell-out at the post-shock figures
    deficit_allowed: int  # HKD micro, book residual deficit, liquidation allowed
    deficit_blocked: int  # HKD micro, liquidation blocked for the window
    clients_with_deficit: int
    exceeds_capital_allowed: bool
    exceeds_capital_blocked: bool
    top_deficit_clients: tuple[tuple[int, int], ...]  # (client, blocked deficit), largest first, at most 10
    # S3 liquidation volume: the sale value split by class (HKD micro, sums to sale_value) and the BTC/ETH
    # quantities it sells at the scenario's final prices (VA units, 1e-8 coin, rounded up)
    sale_btc: int = 0
    sale_eth: int = 0
    sale_securities: int = 0
    sale_btc_units: int = 0
    sale_eth_units: int = 0


class StressReport(msgspec.Struct, frozen=True, kw_only=True):
    """A reproducible stress run: the book's state hash, inputs, scenario set and results."""

    state_hash: str
    clients: int
    inputs: StressInputs
    scenarios: tuple[Scenario, ...]
    results: tuple[ScenarioResult, ...]

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)


@dataclass(frozen=True, slots=True)
class StressGrid:
    """Per client x scenario outputs (rows = ``BookColumns`` rows, columns = scenarios)."""

    loan: I64  # (n,)
    market_value: I64
    margin_value: I64
    ratio_bps: I64
    in_call: BOOL
    forced: BOOL
    sale_value: I64
    deficit_allowed: I64
    deficit_blocked: I64
    sale_by_class: I64  # (k, 3): the book's sale value per scenario in BTC, ETH and securities (HKD micro)


GRID_FIELDS: Final = ("market_value", "margin_value", "ratio_bps", "in_call", "forced", "sale_value", "deficit_allowed", "deficit_blocked")


def inputs_for(config: BrokerConfig, excess_liquid_capital: int, *, slippage_bps: int = 200, seed: int | None = None) -> StressInputs:
    return StressInputs(
        excess_liquid_capital=excess_liquid_capital, slippage_bps=slippage_bps, sale_cost_bps=config.sale_cost_bps,
        target_ratio_bps=config.target_ratio_bps, call_ratio_bps=config.call_ratio_bps,
        forced_sale_ratio_bps=config.forced_sale_ratio_bps, equity_floor_bps=config.equity_floor_bps, seed=seed,
    )


# --- the vectorised sale ---------------------------------------------------------------------


def _sell_classes(loan: I64, cash: I64, mv: I64, vals: list[I64], margins: list[I64], mrs: list[I64], inp: StressInputs) -> tuple[I64, I64, list[I64]]:
    """The M6/M7 class sale for cells past an M5 line (1-D over cells; ``vals``, ``margins``, ``mrs``: one array per slot, M7 order).

    Returns (loan after, cash after, sold per slot). Each slot works on the cells still selling.
    """
    keep = BPS - inp.cost_bps
    den0 = keep * BPS
    target = inp.target_ratio_bps
    loan = loan.copy()
    cash = cash.copy()
    sold = [np.zeros_like(loan) for _ in vals]
    live = np.arange(loan.shape[0])  # cells still selling
    mv_live = mv
    for slot in range(len(vals)):
        if live.size == 0:
            break
        first = slot == 0  # every cell is live: no gather needed
        lo = loan if first else loan[live]
        need = lo * BPS - target * mv_live
        v = vals[slot] if first else vals[slot][live]
        den = den0 - target * (mrs[slot] if first else mrs[slot][live])
        stop = need <= 0
        can = ~stop & (den > 0) & (v > 0)
        sel = np.flatnonzero(can)
        if sel.size:
            cells = live[sel]
            d = den[sel]
            n_ = need[sel]
            a = n_ // d
            rem = n_ - a * d
            vs = v[sel]
            a = np.minimum(a, vs // BPS + 1)  # past this, the sale is capped at v anyway
            x = np.minimum(a * BPS + (rem * BPS + d - 1) // d, vs)
            proceeds = x * keep // BPS
            ls = lo[sel]
            repaid = np.minimum(proceeds, ls)
            loan[cells] = ls - repaid
            cash[cells] += proceeds - repaid
            sold[slot][cells] = x
            sold_out = x == vs
            mv_live = mv_live.copy() if first else mv_live
            mv_live[sel] -= np.where(sold_out, margins[slot][cells], 0)
            stop[sel] = ~sold_out  # a class not sold out ends the sale
        go_on = np.flatnonzero(~stop)
        live = live[go_on]
        mv_live = mv_live[go_on]
    return loan, cash, sold


def _in_order(order: I64, per_class: tuple[I64, I64, I64]) -> list[I64]:
    """Per slot, the value of the class each cell sells in that slot (``order`` is (q, 3))."""
    return [np.where(order[:, slot] == 0, per_class[0], np.where(order[:, slot] == 1, per_class[1], per_class[2])) for slot in range(len(CLASSES))]


# --- the vectorised run ------------------------------------------------------------------------


def _shocks(scenarios: Sequence[Scenario]) -> I64:
    """(k, 3) final shocks: BTC, ETH, equity."""
    return np.array([(s.final.btc_bps, s.final.eth_bps, s.final.equity_bps) for s in scenarios], dtype=np.int64).reshape(-1, 3)


def _securities_at(book: _Book, equity_shocks: I64, vs: I64, ms: I64) -> None:
    """Exact securities value and margin value at each equity shock into ``vs``, ``ms`` (n, k), per position as the broker values them."""
    distinct, which = np.unique(equity_shocks, return_inverse=True)
    if distinct.size == 1 and int(distinct[0]) == 0:
        vs[...] = book.bases[:, 2:3]
        ms[...] = book.basket_margin[:, None]
        return
    shocked = book.prices[:, None] * (BPS + distinct[None, :]) // BPS  # (distinct prices, distinct shocks)
    pv = book.pos_qty[:, None] * shocked[book.pos_price_of]
    pm = pv * book.pos_mr[:, None] // BPS
    vs[...] = _segment_sum(pv, book.pos_client, book.n)[:, which]
    ms[...] = _segment_sum(pm, book.pos_client, book.n)[:, which]


def _va_at(units: I64, u_hi: I64, u_lo: I64, prices: I64, out: I64) -> None:
    """(n, k) exact VA values into ``out``: units x price // 1e8 by limbs (module docstring); ``prices`` is (k,)."""
    p_hi, p_lo = np.divmod(prices, VA_UNITS_PER_COIN)
    np.multiply(units[:, None], p_hi[None, :], out=out)
    out += u_hi[:, None] * p_lo[None, :]
    out += (u_lo[:, None] * p_lo[None, :]) // VA_UNITS_PER_COIN


def _final_figures(book: _Book, cols: BookColumns, shocks: I64, inp: StressInputs, by_class: I64) -> dict[str, npt.NDArray[np.int64] | BOOL]:
    """Post-shock figures, calls, forced sales, the closed-form sale and the blocked deficit, (n, k) each.

    The sale value of each class is added to ``by_class`` ((k, 3): BTC, ETH, securities per scenario).
    """
    n, k = book.n, int(shocks.shape[0])
    values = np.empty((len(CLASSES), n, k), dtype=np.int64)  # BTC, ETH, securities: one flat gather picks a cell's class
    margins = np.empty_like(values)
    vb, ve, vs = values
    mb, me, ms = margins
    _va_at(book.btc_units, book.btc_hi, book.btc_lo, np.int64(cols.btc_price) * (BPS + shocks[:, 0]) // BPS, vb)
    _va_at(book.eth_units, book.eth_hi, book.eth_lo, np.int64(cols.eth_price) * (BPS + shocks[:, 1]) // BPS, ve)
    np.floor_divide(vb * book.mrs[:, 0:1], BPS, out=mb)
    np.floor_divide(ve * book.mrs[:, 1:2], BPS, out=me)
    _securities_at(book, shocks[:, 2], vs, ms)
    mv = mb + me
    mv += ms
    mval = vb + ve
    mval += vs
    loan = book.loan[:, None]
    cash = book.cash[:, None]
    lb = loan * BPS
    safe_mv = np.where(mv > 0, mv, 1)
    ratio = np.minimum((lb + safe_mv - 1) // safe_mv, RATIO_CAP_BPS)
    ratio[np.broadcast_to(loan == 0, ratio.shape)] = 0
    ratio[(mv == 0) & (loan > 0)] = NO_MARGIN_VALUE
    in_call = (lb > inp.call_ratio_bps * mv) | (loan > book.credit_limit[:, None])
    equity = mval + (cash - loan)
    forced = (lb >= inp.forced_sale_ratio_bps * mv) | (equity * BPS <= inp.equity_floor_bps * mval)
    forced &= loan > 0
    blocked = np.maximum((loan - cash) - mval * (BPS - inp.cost_bps) // BPS, 0)
    sale = np.zeros((n, k), dtype=np.int64)
    idx = np.flatnonzero(forced)
    if idx.size:
        rows = idx // k
        flat_v = values.reshape(-1)
        flat_m = margins.reshape(-1)
        offsets = [book.order[:, slot][rows] * (n * k) + idx for slot in range(len(CLASSES))]
        _, _, sold = _sell_classes(
            book.loan[rows], book.cash[rows], mv.reshape(-1)[idx], [flat_v[o] for o in offsets], [flat_m[o] for o in offsets],
            [book.mrs_ordered[:, slot][rows] for slot in range(len(CLASSES))], inp,
        )
        sale.reshape(-1)[idx] = sold[0] + sold[1] + sold[2]
        scenario_of = idx % k
        for slot in range(len(CLASSES)):
            np.add.at(by_class, (scenario_of, book.order[:, slot][rows]), sold[slot])
    return {
        "market_value": mval, "margin_value": mv, "ratio_bps": ratio, "in_call": in_call, "forced": forced,
        "sale_value": sale, "deficit_blocked": blocked,
    }  # fmt: skip


def _allowed_path(book: _Book, scenario: Scenario, blocked: I64, inp: StressInputs) -> I64:
    """The allowed-liquidation deficit of one scenario: sell at every step but the last, then close out."""
    if len(scenario.steps) == 1:
        return blocked
    keep = BPS - inp.cost_bps
    bases = [book.bases[:, c].copy() for c in range(len(CLASSES))]
    mrs = [book.mrs[:, c] for c in range(len(CLASSES))]
    loan = book.loan.copy()
    cash = book.cash.copy()
    sold_any = np.zeros(book.n, dtype=np.bool_)
    for step in scenario.steps[:-1]:
        factors = (BPS + step.btc_bps, BPS + step.eth_bps, BPS + step.equity_bps)
        vals = [b * f // BPS for b, f in zip(bases, factors, strict=True)]
        margins = [v * mr // BPS for v, mr in zip(vals, mrs, strict=True)]
        mv = margins[0] + margins[1] + margins[2]
        mval = vals[0] + vals[1] + vals[2]
        equity = mval + cash - loan
        go = (loan > 0) & ((loan * BPS >= inp.forced_sale_ratio_bps * mv) | (equity * BPS <= inp.equity_floor_bps * mval))
        idx = np.flatnonzero(go)
        if idx.size == 0:
            continue
        order = book.order[idx]
        at = [(v[idx], m[idx]) for v, m in zip(vals, margins, strict=True)]
        new_loan, new_cash, sold_o = _sell_classes(
            loan[idx], cash[idx], mv[idx], _in_order(order, (at[0][0], at[1][0], at[2][0])), _in_order(order, (at[0][1], at[1][1], at[2][1])),
            [book.mrs_ordered[idx, slot] for slot in range(len(CLASSES))], inp,
        )
        loan[idx] = new_loan
        cash[idx] = new_cash
        for c, f in enumerate(factors):
            sold = np.zeros_like(new_loan)
            for slot in range(len(CLASSES)):
                sold += np.where(order[:, slot] == c, sold_o[slot], 0)
            base = bases[c][idx]
            removed = np.where(sold == at[c][0], base, np.minimum(base, (sold * BPS + f - 1) // max(f, 1)))
            bases[c][idx] = base - np.where(sold > 0, removed, 0)
            sold_any[idx] |= sold > 0
    final = scenario.final
    factors = (BPS + final.btc_bps, BPS + final.eth_bps, BPS + final.equity_bps)
    closeout = (bases[0] * factors[0] // BPS + bases[1] * factors[1] // BPS + bases[2] * factors[2] // BPS) * keep // BPS
    path = np.maximum(loan - cash - closeout, 0)
    out: I64 = np.where(sold_any, np.minimum(path, blocked), blocked)
    return out


def stress_grid(cols: BookColumns, scenarios: Sequence[Scenario], inputs: StressInputs) -> StressGrid:
    """Per client x scenario figures for ``scenarios`` (validated first; ValueError on bad input)."""
    for s in scenarios:
        problem = validate_scenario(s)
        if problem is not None:
            raise ValueError(problem)
    problem = inputs_problem(inputs)
    if problem is not None:
        raise ValueError(f"stress inputs: {problem}")
    book, slow = _prepare(cols)
    n, k = cols.n, len(scenarios)
    every_row = slow.size == 0
    make = np.empty if every_row else np.zeros  # every cell is written below when every row is in the kernel
    out: dict[str, npt.NDArray[Any]] = {name: make((n, k), dtype=np.bool_ if name in ("in_call", "forced") else np.int64) for name in GRID_FIELDS}
    by_class = np.zeros((k, len(CLASSES)), dtype=np.int64)
    for lo in range(0, book.n, _BLOCK_ROWS):
        block = book.block(lo, lo + _BLOCK_ROWS)
        rows = slice(lo, lo + block.n) if every_row else block.rows
        for start in range(0, k, _CHUNK):
            part = scenarios[start : start + _CHUNK]
            figs = _final_figures(block, cols, _shocks(part), inputs, by_class[start : start + len(part)])
            for name, values in figs.items():
                out[name][rows, start : start + len(part)] = values
    out["deficit_allowed"][...] = out["deficit_blocked"]
    paths = [(j, s) for j, s in enumerate(scenarios) if len(s.steps) > 1]
    for lo in range(0, book.n, _PATH_BLOCK_ROWS) if paths else ():
        block = book.block(lo, lo + _PATH_BLOCK_ROWS)
        rows = slice(lo, lo + block.n) if every_row else block.rows
        for j, s in paths:
            out["deficit_allowed"][rows, j] = _allowed_path(block, s, out["deficit_blocked"][rows, j], inputs)
    if slow.size:
        from harbour.broker.stress_reference import reference_cell, rows_of  # the slow path: plain Python ints

        clients = rows_of(cols, slow.tolist())
        for i, row in zip(slow.tolist(), clients, strict=True):
            for j, s in enumerate(scenarios):
                cell = reference_cell(row, cols.btc_price, cols.eth_price, s, inputs)
                for name in GRID_FIELDS:
                    out[name][i, j] = getattr(cell, name)
                by_class[j] += np.array(cell.sale_by_class, dtype=np.int64)
    return StressGrid(loan=cols.loan, sale_by_class=by_class, **out)


def run_stress(cols: BookColumns, inputs: StressInputs, scenarios: Sequence[Scenario] = LIBRARY, *, top: int = 10) -> tuple[StressReport, StressGrid]:
    """Run ``scenarios`` against the book in both modes; the report is the stored, reproducible record."""
    grid = stress_grid(cols, scenarios, inputs)
    capital = inputs.excess_liquid_capital
    results: list[ScenarioResult] = []
    for j, s in enumerate(scenarios):
        da = int(grid.deficit_allowed[:, j].sum())
        db = int(grid.deficit_blocked[:, j].sum())
        col = grid.deficit_blocked[:, j]
        worst = np.argsort(-col, kind="stable")[:top]
        sale_btc, sale_eth, sale_sec = (int(v) for v in grid.sale_by_class[j])
        btc_at = cols.btc_price * (BPS + s.final.btc_bps) // BPS
        eth_at = cols.eth_price * (BPS + s.final.eth_bps) // BPS
        results.append(
            ScenarioResult(
                scenario=s.name, btc_shock_bps=s.btc_shock_bps, eth_shock_bps=s.eth_shock_bps, equity_shock_bps=s.equity_shock_bps,
                clients_in_call=int(grid.in_call[:, j].sum()), clients_forced=int(grid.forced[:, j].sum()),
                sale_value=int(grid.sale_value[:, j].sum()), deficit_allowed=da, deficit_blocked=db,
                clients_with_deficit=int((col > 0).sum()), exceeds_capital_allowed=da > capital, exceeds_capital_blocked=db > capital,
                top_deficit_clients=tuple((int(cols.client_ids[i]), int(col[i])) for i in worst if col[i] > 0),
                sale_btc=sale_btc, sale_eth=sale_eth, sale_securities=sale_sec,
                sale_btc_units=-(-sale_btc * VA_UNITS_PER_COIN // btc_at) if btc_at > 0 else 0,
                sale_eth_units=-(-sale_eth * VA_UNITS_PER_COIN // eth_at) if eth_at > 0 else 0,
            )
        )
    report = StressReport(state_hash=cols.state_hash, clients=cols.n, inputs=inputs, scenarios=tuple(scenarios), results=tuple(results))
    return report, grid


# --- S4 reverse stress ---------------------------------------------------------------------------


class ReverseStressResult(msgspec.Struct, frozen=True, kw_only=True):
    """The smallest BTC shock (bps) at which the book deficit exceeds excess liquid capital, or None."""

    shock_bps: int | None
    deficit_at_shock: int
    deficit_below: int  # at shock - 1 (<= capital)
    excess_liquid_capital: int
    eth_multiplier_bps: int
    equity_shock_bps: int
    evaluations: int


def book_deficit(cols: BookColumns, inputs: StressInputs, shock_bps: int, *, eth_multiplier_bps: int = BPS, equity_shock_bps: int = 0) -> int:
    """Book deficit for an instantaneous fall of ``shock_bps`` (both modes agree when nothing happens in between)."""
    grid = stress_grid(cols, [uniform_va_shock(shock_bps, eth_multiplier_bps=eth_multiplier_bps, equity_bps=equity_shock_bps)], inputs)
    return int(grid.deficit_blocked.sum())


def reverse_stress(cols: BookColumns, inputs: StressInputs, *, eth_multiplier_bps: int = BPS, equity_shock_bps: int = 0) -> ReverseStressResult:
    """S4: bisection over integer shock bps in [0, 10000]; the deficit is monotone in the shock."""
    capital = inputs.excess_liquid_capital
    evals = 0

    def deficit(s: int) -> int:
        nonlocal evals
        evals += 1
        return book_deficit(cols, inputs, s, eth_multiplier_bps=eth_multiplier_bps, equity_shock_bps=equity_shock_bps)

    top = deficit(BPS)
    if top <= capital:
        return ReverseStressResult(
            shock_bps=None, deficit_at_shock=top, deficit_below=top, excess_liquid_capital=capital,
            eth_multiplier_bps=eth_multiplier_bps, equity_shock_bps=equity_shock_bps, evaluations=evals,
        )  # fmt: skip
    lo, hi = 0, BPS  # invariant: deficit(hi) > capital; lo == 0 or deficit(lo) <= capital
    if deficit(0) > capital:
        hi = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if deficit(mid) > capital:
            hi = mid
        else:
            lo = mid
    return ReverseStressResult(
        shock_bps=hi, deficit_at_shock=deficit(hi), deficit_below=deficit(hi - 1) if hi > 0 else 0, excess_liquid_capital=capital,
        eth_multiplier_bps=eth_multiplier_bps, equity_shock_bps=equity_shock_bps, evaluations=evals,
    )  # fmt: skip


# --- one price tick ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevaluePlan:
    """What a VA price tick does not change, prepared once: the securities margin value at the marks."""

    cols: BookColumns
    securities_margin: I64  # (n,)
    loan_bps: I64  # L x 1e4 where it fits (fast rows), else 0
    fast: BOOL


def revalue_plan(cols: BookColumns) -> RevaluePlan:
    problem = column_problem(cols)
    if problem is not None:
        raise ValueError(f"stress columns: {problem}")
    pv = cols.pos_qty * cols.pos_price
    fast = cols.loan <= FAST_MAX
    return RevaluePlan(
        cols=cols, securities_margin=_segment_sum(margin_terms_wide(pv, cols.pos_mr), cols.pos_client, cols.n),
        loan_bps=np.where(fast, cols.loan, 0) * BPS, fast=fast,
    )  # fmt: skip


def revalue(plan: RevaluePlan, btc_price: int, eth_price: int, call_ratio_bps: int) -> tuple[I64, I64, BOOL]:
    """One VA price tick for every client (securities at their marks): exact MV, R (bps) and the M3 ratio flag."""
    cols = plan.cols
    mv = margin_terms_wide(va_values(cols.btc_units, np.int64(btc_price)), cols.btc_mr)
    mv += margin_terms_wide(va_values(cols.eth_units, np.int64(eth_price)), cols.eth_mr)
    mv += plan.securities_margin
    safe = np.where(mv > 0, mv, 1)
    ratio = np.where(cols.loan == 0, 0, np.where(mv == 0, NO_MARGIN_VALUE, np.minimum(-((-plan.loan_bps) // safe), RATIO_CAP_BPS)))
    # L x 1e4 <= 2^61 on fast rows, so an MV above 2^61 // call can never be below the line: clip it there
    call = np.where(plan.fast, plan.loan_bps > call_ratio_bps * np.minimum(mv, 2**61 // call_ratio_bps + 1), False)
    for i in np.flatnonzero(~plan.fast).tolist():  # loans above FAST_MAX: exact in Python ints
        loan, value = int(cols.loan[i]), int(mv[i])
        ratio[i] = NO_MARGIN_VALUE if value == 0 else min(-(-loan * BPS // value), RATIO_CAP_BPS)
        call[i] = loan * BPS > call_ratio_bps * value
    return mv, ratio, call
