"""Stress testing of the whole loan book (S1-S4), vectorised with numpy over clients x scenarios.

Lives in ``harbour.sim`` (not ``harbour.broker``) because its what-if liquidation path uses
float64, and the broker package is float-free by rule (tests/test_architecture.py (b)).
The binding figures below are exact integers all the same.

Owns ``BookColumns`` (an int64 column snapshot of a ``BrokerState``), ``run_stress`` (the
S2 library against the book in two liquidation modes), ``reverse_stress`` (S4) and the
scalar reference ``reference_figures`` used to check the fast path. Nothing here changes
broker state: the engine's commands, events and semantics are untouched.

What is computed, per client and scenario (S3):

* Post-shock figures at the scenario's final prices, exactly as the broker values them
  (valuation.py): shocked price = price x (10000 + shock) // 10000 (rounded down, like
  every collateral value), VA value = units x price // 1e8 per asset, securities value =
  shares x price, margin term = value x mr // 10000 per position. So the post-shock L, MV,
  MVal, R (bps, rounded up) equal ``client_figures`` on a state marked at the shocked
  prices; ``reference_figures`` is that scalar computation and the tests compare them.
* ``in_call`` (M3: L x 1e4 > call x MV, or L > credit limit) and ``forced`` (M5 immediate
  lines: R >= forced-sale ratio, or E <= equity floor x MVal), exact integers. A call past
  its deadline is not modelled (it depends on the window, not on the shock).
* ``sale_value``: the closed-form sell-out of §2.1 (M6) at the post-shock figures, selling
  in M7 order at class granularity (BTC, ETH, the securities basket at its value-weighted
  margin ratio; lowest margin ratio first) at all-in cost c = sale cost + slippage,
  capped at what the client holds.
* Residual deficit after simulated liquidation: the loan not covered by cash plus the
  proceeds of selling all remaining collateral at the final prices less c.
  - ``ALLOWED``: at every step of the path, clients past an M5 line are sold down to R*
    at that step's prices less c (the closed form); later falls hit only what is left.
  - ``BLOCKED`` (VATP outage, HKEX closed): nothing can be sold during the window; the
    whole position takes the full move, then is closed out at the final prices less c.
  Prices never rise along a path, so the blocked deficit is never below the allowed one.
  The sale path and deficits are what-if aggregates computed in float64 and rounded to
  HKD micro-units (margin-financing.md §6: float for aggregation, never for booking);
  the binding figures above are exact.
* Book: clients in call and in forced sale, total sale value, total deficit per mode,
  against the configured excess liquid capital; the top clients by deficit.

int64 safety (the proof behind ``BookColumns.from_state``'s checks). The broker's input
ceilings (config.py) give: shares <= 1e8, security price <= 1e10, VA units <= 1e13, VA
price <= 1e13, cash and credit limit <= 1e16, and a loan only grows by an advance within
the credit limit. Shocks are in [-10000, 0] bps, so shocked prices never exceed the marks.
Then every intermediate product stays below 2^63 ~ 9.22e18:

* shocked price: price x (10000 + shock) <= 1e13 x 1e4 = 1e17;
* VA value: units = u_hi x 1e8 + u_lo and price = p_hi x 1e8 + p_lo, and
  units x price // 1e8 = u_hi x price + u_lo x p_hi + (u_lo x p_lo) // 1e8, whose terms
  are <= 1e5 x 1e13 = 1e18, < 1e8 x 1e5 and < 1e16;
* securities value: shares x price <= 1e8 x 1e10 = 1e18;
* margin term: value = v_hi x 1e4 + v_lo, value x mr // 1e4 = v_hi x mr + (v_lo x mr) // 1e4,
  <= 1e14 x 1e4 = 1e18;
* per-client sums (market value, margin value, loan, cash) are checked at snapshot time
  to be below 2^62 (``MAX_CLIENT_TOTAL``), which the ceilings allow for any client with
  up to four maximal positions and which a snapshot refuses otherwise;
* comparisons such as L x 1e4 > limit x MV never form the product: ``_wide`` splits x into
  x_hi x 2^30 + x_lo and multiplies each limb by k <= 2^29, all below 2^62.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from harbour.broker.config import VA_UNITS_PER_COIN, BrokerConfig
from harbour.broker.events import MarginFigures
from harbour.broker.state import BrokerState, VaMark
from harbour.broker.stress_scenarios import LIBRARY, Scenario, uniform_va_shock, validate_scenario
from harbour.broker.valuation import client_figures, va_margin_ratio_bps
from harbour.kernel.money import BPS

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]

ALLOWED: Final = "ALLOWED"
BLOCKED: Final = "BLOCKED"

MAX_CLIENT_TOTAL: Final = 2**62
RATIO_CAP_BPS: Final = 10**8  # reported R is capped here (1,000,000%); -1 = a loan against no margin value
_LIMB: Final = 30
_LIMB_MASK: Final = (1 << _LIMB) - 1
_MAX_WIDE_FACTOR: Final = 1 << 29
_CHUNK: Final = 8  # scenarios per vectorised block (keeps the working set in cache)

assert 10**13 * BPS < 2**63 and 10**5 * 10**13 < 2**63 and 10**8 * 10**10 < 2**63 and (10**18 // BPS) * BPS < 2**63
assert RATIO_CAP_BPS <= _MAX_WIDE_FACTOR


# --- the column snapshot ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookColumns:
    """Every client with a loan, as int64 columns (one row per client, ascending client id).

    Securities are a flat position table sorted by client (``pos_client`` indexes rows);
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
                    pos.append((row, qty, record.price, record.margin_ratio_bps))
                    total += qty * record.price
            cash = st.cash(cid)
            limit = st.clients[cid].credit_limit
            for name, value in (("market value", total), ("loan", loan), ("cash", cash), ("credit limit", limit)):
                if not 0 <= value < MAX_CLIENT_TOTAL:
                    raise ValueError(f"client {cid}: {name} {value} is outside the int64 stress envelope")
            rows.append((
                cid, loan, cash, limit, units["BTC"], units["ETH"],
                va_margin_ratio_bps(cfg, "BTC", units["BTC"]), va_margin_ratio_bps(cfg, "ETH", units["ETH"]),
            ))
        cols = np.array(rows, dtype=np.int64).reshape(-1, 8)
        p = np.array(pos, dtype=np.int64).reshape(-1, 4)
        return cls(
            state_hash=st.state_hash().hex(), config=cfg,
            client_ids=cols[:, 0].copy(), loan=cols[:, 1].copy(), cash=cols[:, 2].copy(), credit_limit=cols[:, 3].copy(),
            btc_units=cols[:, 4].copy(), eth_units=cols[:, 5].copy(), btc_mr=cols[:, 6].copy(), eth_mr=cols[:, 7].copy(),
            btc_price=btc_price, eth_price=eth_price,
            pos_client=p[:, 0].copy(), pos_qty=p[:, 1].copy(), pos_price=p[:, 2].copy(), pos_mr=p[:, 3].copy(),
        )


# --- exact integer kernels ------------------------------------------------------------------


def shocked_price(price: int | I64, shock_bps: int | I64) -> I64:
    """price x (1 + shock), rounded down (collateral counted low)."""
    return np.asarray(price, dtype=np.int64) * (BPS + np.asarray(shock_bps, dtype=np.int64)) // BPS


def va_values(units: I64, price: I64) -> I64:
    """units x price // 1e8 without forming the product (see the module docstring)."""
    u_hi, u_lo = np.divmod(units, VA_UNITS_PER_COIN)
    p_hi, p_lo = np.divmod(price, VA_UNITS_PER_COIN)
    return u_hi * price + u_lo * p_hi + (u_lo * p_lo) // VA_UNITS_PER_COIN  # type: ignore[no-any-return]


def margin_terms(value: I64, mr: I64) -> I64:
    """value x mr // 1e4 without forming the product."""
    v_hi, v_lo = np.divmod(value, BPS)
    return v_hi * mr + (v_lo * mr) // BPS


def _wide(x: I64, k: int | I64) -> tuple[I64, I64]:
    """x * k as two base-2^30 limbs (x >= 0, 0 <= k <= 2^29)."""
    lo = (x & _LIMB_MASK) * k
    hi = (x >> _LIMB) * k + (lo >> _LIMB)
    return hi, lo & _LIMB_MASK


def _gt(a: tuple[I64, I64], b: tuple[I64, I64]) -> BOOL:
    return (a[0] > b[0]) | ((a[0] == b[0]) & (a[1] > b[1]))  # type: ignore[no-any-return]


def ratio_bps_exact(loan: I64, mv: I64) -> I64:
    """ceil(L x 1e4 / MV) exactly (capped at RATIO_CAP_BPS); 0 with no loan; -1 for a loan against MV = 0."""
    safe_mv = np.where(mv > 0, mv, 1)
    est = np.floor(loan.astype(np.float64) / safe_mv.astype(np.float64) * BPS)
    c = np.clip(est, 0, RATIO_CAP_BPS).astype(np.int64)
    target = _wide(loan, BPS)
    for _ in range(3):  # raise c while c x MV < L x 1e4
        c = np.where(_gt(target, _wide(safe_mv, c)) & (c < RATIO_CAP_BPS), c + 1, c)
    for _ in range(3):  # lower c while (c - 1) x MV >= L x 1e4
        prev = np.maximum(c - 1, 0)
        c = np.where((c > 0) & ~_gt(target, _wide(safe_mv, prev)), prev, c)
    c = np.where(loan == 0, 0, c)
    return np.where((loan > 0) & (mv == 0), -1, c)


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


# --- the vectorised run ------------------------------------------------------------------------


def inputs_for(config: BrokerConfig, excess_liquid_capital: int, *, slippage_bps: int = 200, seed: int | None = None) -> StressInputs:
    return StressInputs(
        excess_liquid_capital=excess_liquid_capital, slippage_bps=slippage_bps, sale_cost_bps=config.sale_cost_bps,
        target_ratio_bps=config.target_ratio_bps, call_ratio_bps=config.call_ratio_bps,
        forced_sale_ratio_bps=config.forced_sale_ratio_bps, equity_floor_bps=config.equity_floor_bps, seed=seed,
    )


def _segment_sum(values: I64, seg_client: I64, n: int) -> I64:
    """Per-client sums of a (positions, k) int64 array whose rows are sorted by client."""
    out = np.zeros((n,) + values.shape[1:], dtype=np.int64)
    if values.shape[0] == 0:
        return out
    starts = np.flatnonzero(np.r_[True, seg_client[1:] != seg_client[:-1]])
    out[seg_client[starts]] = np.add.reduceat(values, starts, axis=0)
    return out


def _shock_matrix(scenarios: Sequence[Scenario], step: int | None) -> tuple[I64, I64, I64]:
    def pick(s: Scenario) -> tuple[int, int, int]:
        st = s.steps[-1] if step is None else s.steps[min(step, len(s.steps) - 1)]
        return st.btc_bps, st.eth_bps, st.equity_bps

    m = np.array([pick(s) for s in scenarios], dtype=np.int64).reshape(-1, 3)
    return m[:, 0], m[:, 1], m[:, 2]


def _values_at(cols: BookColumns, btc_s: I64, eth_s: I64, eq_s: I64) -> tuple[I64, I64, I64, I64, I64, I64]:
    """Exact (n, k) values and margin values of BTC, ETH and securities at the shocks given."""
    bp = shocked_price(cols.btc_price, btc_s)[None, :]
    ep = shocked_price(cols.eth_price, eth_s)[None, :]
    vb = va_values(cols.btc_units[:, None], bp)
    ve = va_values(cols.eth_units[:, None], ep)
    mb = margin_terms(vb, cols.btc_mr[:, None])
    me = margin_terms(ve, cols.eth_mr[:, None])
    pp = shocked_price(cols.pos_price[:, None], eq_s[None, :])
    pv = cols.pos_qty[:, None] * pp
    pm = margin_terms(pv, cols.pos_mr[:, None])
    vs = _segment_sum(pv, cols.pos_client, cols.n)
    ms = _segment_sum(pm, cols.pos_client, cols.n)
    return vb, ve, vs, mb, me, ms


def _sell_down(loan: F64, mv: F64, vals: list[F64], mrs: list[F64], cost: float, target: float, go: BOOL) -> F64:
    """§2.1 closed form in M7 order (lowest margin ratio first) where ``go``; updates in place, returns sold."""
    order = np.argsort(np.stack(mrs), axis=0, kind="stable")
    sold = np.zeros_like(loan)
    stacked_v = np.stack(vals)
    stacked_m = np.stack(mrs)
    for k in range(len(vals)):
        idx = order[k][None]
        v = np.take_along_axis(stacked_v, idx, 0)[0]
        m = np.take_along_axis(stacked_m, idx, 0)[0]
        denom = (1.0 - cost) - target * m
        need = np.maximum(loan - target * mv, 0.0)
        x = np.where(go & (denom > 0), np.minimum(need / np.where(denom > 0, denom, 1.0), v), 0.0)
        loan -= x * (1.0 - cost)
        mv -= m * x
        np.put_along_axis(stacked_v, idx, (v - x)[None], 0)
        sold += x
    for k in range(len(vals)):
        vals[k][...] = stacked_v[k]
    return sold


def _run_chunk(cols: BookColumns, scenarios: Sequence[Scenario], inp: StressInputs) -> tuple[npt.NDArray[Any], ...]:
    n, k = cols.n, len(scenarios)
    loan_i = np.broadcast_to(cols.loan[:, None], (n, k))
    cash_i = cols.cash[:, None]
    vb, ve, vs, mb, me, ms = _values_at(cols, *_shock_matrix(scenarios, None))
    mv = mb + me + ms
    mval = vb + ve + vs
    ratio = ratio_bps_exact(np.ascontiguousarray(loan_i), mv)
    lw = _wide(np.ascontiguousarray(loan_i), BPS)
    in_call = _gt(lw, _wide(mv, inp.call_ratio_bps)) | (loan_i > cols.credit_limit[:, None])
    equity = mval + cash_i - loan_i
    eq_pos = np.maximum(equity, 0)
    forced = (loan_i > 0) & (~_gt(_wide(mv, inp.forced_sale_ratio_bps), lw) | (equity <= 0) | ~_gt(_wide(eq_pos, BPS), _wide(mval, inp.equity_floor_bps)))

    cost = (inp.sale_cost_bps + inp.slippage_bps) / BPS
    target = inp.target_ratio_bps / BPS
    forced_line = inp.forced_sale_ratio_bps / BPS
    floor = inp.equity_floor_bps / BPS
    f_end = [vb.astype(np.float64), ve.astype(np.float64), vs.astype(np.float64)]
    with np.errstate(divide="ignore", invalid="ignore"):
        mr_b = np.where(vb > 0, mb / np.where(vb > 0, vb, 1), 0.0)
        mr_e = np.where(ve > 0, me / np.where(ve > 0, ve, 1), 0.0)
        vs0 = _segment_sum(cols.pos_qty * cols.pos_price, cols.pos_client, n).astype(np.float64)
        ms0 = _segment_sum(margin_terms(cols.pos_qty * cols.pos_price, cols.pos_mr), cols.pos_client, n).astype(np.float64)
        mr_s = np.broadcast_to(np.where(vs0 > 0, ms0 / np.where(vs0 > 0, vs0, 1), 0.0)[:, None], (n, k)).copy()
    mrs = [mr_b, mr_e, mr_s]

    # M6 closed-form sale at the post-shock figures (what the engine would be asked to sell now).
    sale = _sell_down(loan_i.astype(np.float64), mv.astype(np.float64), [v.copy() for v in f_end], mrs, cost, target, forced)

    # Allowed: walk the path, selling at each step where an M5 line is crossed.
    cash_f = cash_i.astype(np.float64)
    loan_a = loan_i.astype(np.float64)
    frac = [np.ones((n, k)) for _ in range(3)]
    start = [float(cols.btc_price), float(cols.eth_price)]
    depth = max(len(s.steps) for s in scenarios)
    for step in range(depth - 1):
        b_s, e_s, q_s = _shock_matrix(scenarios, step)
        factors = [(BPS + b_s) / BPS, (BPS + e_s) / BPS, (BPS + q_s) / BPS]
        base = [cols.btc_units / VA_UNITS_PER_COIN * start[0], cols.eth_units / VA_UNITS_PER_COIN * start[1], vs0]
        vals = [frac[j] * base[j][:, None] * factors[j][None, :] for j in range(3)]
        _step_sale(loan_a, cash_f, vals, mrs, frac, cost, target, forced_line, floor)
    vals_end = [frac[j] * f_end[j] for j in range(3)]
    _step_sale(loan_a, cash_f, vals_end, mrs, cost=cost, target=target, forced_line=forced_line, floor=floor, frac=None)
    proceeds_a = (vals_end[0] + vals_end[1] + vals_end[2]) * (1.0 - cost)
    deficit_a = np.rint(np.maximum(loan_a - cash_f - proceeds_a, 0.0)).astype(np.int64)
    proceeds_b = (f_end[0] + f_end[1] + f_end[2]) * (1.0 - cost)
    deficit_b = np.rint(np.maximum(loan_i - cash_f - proceeds_b, 0.0)).astype(np.int64)
    return mval, mv, ratio, in_call, forced, np.rint(sale).astype(np.int64), deficit_a, deficit_b


def _step_sale(loan: F64, cash: F64, vals: list[F64], mrs: list[F64], frac: list[F64] | None, cost: float, target: float, forced_line: float, floor: float) -> None:
    """One step of the allowed path: clients past an M5 line sell down to R*; ``frac`` tracks what is left."""
    mval = vals[0] + vals[1] + vals[2]
    mv = mrs[0] * vals[0] + mrs[1] * vals[1] + mrs[2] * vals[2]
    equity = mval + cash - loan
    go = (loan > 0) & ((loan >= forced_line * mv) | (equity <= floor * mval))
    if not go.any():
        return
    before = [v.copy() for v in vals]
    _sell_down(loan, mv, vals, mrs, cost, target, go)
    if frac is not None:
        for j in range(3):
            with np.errstate(divide="ignore", invalid="ignore"):
                frac[j] *= np.where(before[j] > 0, vals[j] / np.where(before[j] > 0, before[j], 1.0), 1.0)


def stress_grid(cols: BookColumns, scenarios: Sequence[Scenario], inputs: StressInputs) -> StressGrid:
    """Per client x scenario figures for ``scenarios`` (validated first)."""
    for s in scenarios:
        problem = validate_scenario(s)
        if problem is not None:
            raise ValueError(problem)
    parts = [_run_chunk(cols, scenarios[i : i + _CHUNK], inputs) for i in range(0, len(scenarios), _CHUNK)]
    if not parts:
        parts = [tuple(np.zeros((cols.n, 0), dtype=np.int64) for _ in range(8))]
    cat = [np.concatenate([p[j] for p in parts], axis=1) for j in range(8)]
    return StressGrid(
        loan=cols.loan, market_value=cat[0], margin_value=cat[1], ratio_bps=cat[2], in_call=cat[3].astype(bool), forced=cat[4].astype(bool),
        sale_value=cat[5], deficit_allowed=cat[6], deficit_blocked=cat[7],
    )


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
        results.append(
            ScenarioResult(
                scenario=s.name, btc_shock_bps=s.btc_shock_bps, eth_shock_bps=s.eth_shock_bps, equity_shock_bps=s.equity_shock_bps,
                clients_in_call=int(grid.in_call[:, j].sum()), clients_forced=int(grid.forced[:, j].sum()),
                sale_value=int(grid.sale_value[:, j].sum()), deficit_allowed=da, deficit_blocked=db,
                clients_with_deficit=int((col > 0).sum()), exceeds_capital_allowed=da > capital, exceeds_capital_blocked=db > capital,
                top_deficit_clients=tuple((int(cols.client_ids[i]), int(col[i])) for i in worst if col[i] > 0),
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
        )
    lo, hi = 0, BPS  # invariant: deficit(hi) > capital; lo == 0 or deficit(lo) <= capital
    d0 = deficit(0)
    if d0 > capital:
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
    )


# --- scalar reference -----------------------------------------------------------------------------


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


def revalue(cols: BookColumns, btc_price: int, eth_price: int, call_ratio_bps: int) -> tuple[I64, I64, BOOL]:
    """One price tick for every client (securities at their marks): exact MV, R (bps) and the M3 ratio flag."""
    bp = np.asarray(btc_price, dtype=np.int64)
    ep = np.asarray(eth_price, dtype=np.int64)
    mv = margin_terms(va_values(cols.btc_units, bp), cols.btc_mr) + margin_terms(va_values(cols.eth_units, ep), cols.eth_mr)
    mv = mv + _segment_sum(margin_terms(cols.pos_qty * cols.pos_price, cols.pos_mr), cols.pos_client, cols.n)
    return mv, ratio_bps_exact(cols.loan, mv), _gt(_wide(cols.loan, BPS), _wide(mv, call_ratio_bps))
