"""Collateral valuation: market value, margin value, the margin ratio and NAV (V1-V4, E2-E3, C3/C5).

Owns the pure functions that turn a client's holdings and the marks in state into
``MarginFigures``. Nothing here changes state.

Rules:

* Securities (E3, V1): value = shares x mark; margin value = value x the broker's
  margin ratio ``mr_s`` (0% = not collateral). A suspended or never-marked security
  counts zero (house default: immediately on suspension).
* VA (E2, V3): only BTC and ETH count. Margin ratio = 100% - h, where h = max(60%
  floor, the configured volatility haircut, the size add-on tier reached by the
  client's holding of that asset). Any other VA counts zero, also in market value (it
  has no trusted price). In "securities only" mode BTC/ETH keep their market value but
  get margin ratio 0.
* C3/C5 size multiplier k: once an instrument's average daily volume (ADV) is recorded, a
  client holding more of it than a size tier's share of that ADV has its house margin
  ratio multiplied by the tier's k (house tiers 0.9 / 0.75 / 0.5 above 1 / 5 / 10% of
  ADV): effective ratio = ratio x k // 10000, rounded down, used everywhere the ratio is
  (calls, sale order, limits, stress). No ADV recorded: k = 1.
* V4: the capital (FRR) view computes the same figures with every VA margin ratio at 0
  (a 100% haircut) and securities at their listed ratio: it is reported beside the house
  view, which alone drives calls.
* NAV (26EC5, regulation.md A1 item 10): market value + cash - loan - bad debt; the
  stressed NAV used in credit assessment (K1) counts BTC/ETH at the configured stress
  shock (house default the severe 1-day tier: BTC -30%, ETH -45%): stressed price =
  price x (10000 - shock) // 10000, value rounded down as any VA value.

Rounding: values and margin values credited to the client round down (collateral is
counted low); the ratio L / MV reported in basis points rounds up. Decisions never use
the rounded ratio: they compare L x 10000 with limit x MV exactly.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS, VA_HAIRCUT_FLOOR_BPS, VA_UNITS_PER_COIN, BrokerConfig
from harbour.broker.events import MarginFigures, NavFigures, PriceMark
from harbour.broker.state import AverageDailyVolume, BrokerState
from harbour.kernel.money import BPS, div_round_down, div_round_up

SECURITY: Final = "SECURITY"
VIRTUAL_ASSET: Final = "VIRTUAL_ASSET"


class Position(NamedTuple):
    """One instrument a client holds, valued (VA aggregated over its lots)."""

    kind: str
    instrument: str
    qty: int
    price: int  # 0 = never marked
    value: int  # market value counted (0 if suspended, unmarked or ineligible VA)
    margin_ratio_bps: int  # house view, after the size multiplier k
    margin_ratio_frr_bps: int  # capital view
    size_k_bps: int = BPS  # C3/C5 size multiplier applied to the house ratio


def va_value(qty_units: int, price: int) -> int:
    """HKD micro-units of ``qty_units`` (1e-8 coin) at ``price`` per coin, rounded down."""
    return div_round_down(qty_units * price, VA_UNITS_PER_COIN)


def va_haircut_bps(config: BrokerConfig, asset: str, client_units: int) -> int:
    """h = max(60% floor, volatility haircut, size add-on reached by ``client_units``) (V3)."""
    haircut = VA_HAIRCUT_FLOOR_BPS
    rule = config.haircut_rule(asset)
    if rule is not None:
        haircut = max(haircut, rule.volatility_haircut_bps)
        for tier in rule.size_add_on:
            if client_units >= tier.min_units:
                haircut = max(haircut, tier.haircut_bps)
    return haircut


def va_margin_ratio_bps(config: BrokerConfig, asset: str, client_units: int) -> int:
    """The house margin ratio of a VA: 100% - h for BTC/ETH accepted as collateral, else 0."""
    if asset not in ELIGIBLE_VIRTUAL_ASSETS or not config.accept_va_collateral:
        return 0
    return BPS - va_haircut_bps(config, asset, client_units)


def size_k_bps(config: BrokerConfig, held: int, adv: AverageDailyVolume | None) -> int:
    """C3/C5: the size multiplier k of a holding of ``held`` against the instrument's ADV (10000 without ADV)."""
    k = BPS
    if adv is None or adv.qty <= 0:
        return k
    for tier in config.size_tiers:
        if held * BPS > tier.above_adv_bps * adv.qty:
            k = tier.k_bps
    return k


def security_margin_ratio_bps(st: BrokerState, security: str, shares: int) -> tuple[int, int]:
    """(effective house margin ratio, k) of ``shares`` of a listed security: its ratio x k (C5)."""
    k = size_k_bps(st.config, shares, st.average_daily_volumes.get(security))
    return div_round_down(st.securities[security].margin_ratio_bps * k, BPS), k


def va_effective_margin_ratio_bps(st: BrokerState, asset: str, units: int) -> tuple[int, int]:
    """(effective house margin ratio, k) of a client's holding of ``units`` of a VA: (100% - h) x k (V3, C3)."""
    k = size_k_bps(st.config, units, st.average_daily_volumes.get(asset))
    return div_round_down(va_margin_ratio_bps(st.config, asset, units) * k, BPS), k


def margin_term(value: int, margin_ratio_bps: int) -> int:
    """Margin value of ``value`` at ``margin_ratio_bps``, rounded down (collateral counted low)."""
    return div_round_down(value * margin_ratio_bps, BPS)


def positions(st: BrokerState, client: int, adjust: dict[str, int] | None = None) -> list[Position]:
    """The client's valued positions; ``adjust`` adds signed quantities per instrument (what-if)."""
    out: list[Position] = []
    held: dict[str, int] = dict(st.securities_held(client))
    va: dict[str, int] = {}
    custody = st.custody.get(client)
    if custody is not None:
        for lot in custody.lots():
            va[lot.asset] = va.get(lot.asset, 0) + lot.qty
    for instrument, delta in (adjust or {}).items():
        book = held if instrument in st.securities else va
        book[instrument] = book.get(instrument, 0) + delta
    for code in sorted(held):
        qty = held[code]
        record = st.securities[code]
        counted = record.price > 0 and not record.suspended
        value = qty * record.price if counted else 0
        ratio, k = security_margin_ratio_bps(st, code, qty)
        out.append(Position(SECURITY, code, qty, record.price, value, ratio, record.margin_ratio_bps, k))
    for asset in sorted(va):
        qty = va[asset]
        mark = st.va_marks.get(asset)
        price = mark.price if mark is not None else 0
        value = va_value(qty, price) if asset in ELIGIBLE_VIRTUAL_ASSETS else 0
        ratio, k = va_effective_margin_ratio_bps(st, asset, qty)
        out.append(Position(VIRTUAL_ASSET, asset, qty, price, value, ratio, 0, k))
    return out


def ratio_bps(loan: int, margin_value: int) -> int | None:
    """R = L / MV in basis points, rounded up; None when there is a loan and no margin value."""
    if loan == 0:
        return 0
    if margin_value == 0:
        return None
    return div_round_up(loan * BPS, margin_value)


def ratio_above(loan: int, margin_value: int, limit_bps: int) -> bool:
    """True when L / MV > limit (exact): a loan against no margin value is above any limit."""
    return loan > 0 and loan * BPS > limit_bps * margin_value


def ratio_at_or_above(loan: int, margin_value: int, limit_bps: int) -> bool:
    """True when there is a loan and L / MV >= limit (exact)."""
    return loan > 0 and loan * BPS >= limit_bps * margin_value


def figures_of(held: list[Position], loan: int, cash: int, credit_limit: int) -> MarginFigures:
    """The margin figures of valued positions with this loan, cash and credit limit."""
    market_value = sum(p.value for p in held)
    margin_value = sum(margin_term(p.value, p.margin_ratio_bps) for p in held)
    margin_value_frr = sum(margin_term(p.value, p.margin_ratio_frr_bps) for p in held)
    return MarginFigures(
        loan=loan,
        cash=cash,
        market_value=market_value,
        margin_value=margin_value,
        margin_value_frr=margin_value_frr,
        equity=market_value + cash - loan,
        ratio_bps=ratio_bps(loan, margin_value),
        ratio_frr_bps=ratio_bps(loan, margin_value_frr),
        shortfall=max(0, loan - min(margin_value, credit_limit)),
        credit_limit=credit_limit,
    )


def client_figures(st: BrokerState, client: int, adjust: dict[str, int] | None = None, loan_delta: int = 0, cash_delta: int = 0) -> MarginFigures:
    """The client's figures now, or after a what-if change of holdings, loan and cash."""
    return figures_of(
        positions(st, client, adjust),
        st.loan(client) + loan_delta,
        st.cash(client) + cash_delta,
        st.clients[client].credit_limit,
    )


def stressed_va_price(config: BrokerConfig, asset: str, price: int) -> int:
    """The stressed-NAV price of ``asset``: price x (10000 - shock) // 10000 (BTC/ETH; others unchanged)."""
    return div_round_down(price * (BPS - config.nav_stress_bps(asset)), BPS)


def nav_of(st: BrokerState, held: list[Position], loan: int, cash: int, bad_debt: int) -> NavFigures:
    """NAV and stressed NAV of valued positions with this loan, cash and bad debt."""
    cfg = st.config
    nav = sum(p.value for p in held) + cash - loan - bad_debt
    va = [p for p in held if p.kind == VIRTUAL_ASSET]
    va_now = sum(p.value for p in va)
    stressed = sum(va_value(p.qty, stressed_va_price(cfg, p.instrument, p.price)) if p.value else 0 for p in va)
    return NavFigures(
        nav=nav, va_value=va_now, stressed_va_value=stressed, stressed_nav=nav - va_now + stressed,
        btc_stress_bps=cfg.nav_stress_btc_bps, eth_stress_bps=cfg.nav_stress_eth_bps,
    )


def client_nav(st: BrokerState, client: int) -> NavFigures:
    """The client's NAV at the broker now, with BTC/ETH at the mark and at the stressed value (credit assessment)."""
    return nav_of(st, positions(st, client), st.loan(client), st.cash(client), st.bad_debt(client))


def price_snapshot(st: BrokerState, client: int) -> tuple[PriceMark, ...]:
    """Every mark the client's figures depend on (A1: the price snapshot used)."""
    marks: list[PriceMark] = []
    for code, _ in st.securities_held(client):
        record = st.securities[code]
        marks.append(PriceMark(instrument=code, price=record.price, marked_ts_ns=record.marked_ts_ns, suspended=record.suspended))
    custody = st.custody.get(client)
    assets = sorted({lot.asset for lot in custody.lots()}) if custody is not None else []
    for asset in assets:
        mark = st.va_marks.get(asset)
        marks.append(PriceMark(instrument=asset, price=mark.price if mark else 0, marked_ts_ns=mark.marked_ts_ns if mark else 0))
    return tuple(marks)
