"""A seeded book of margin clients driven through the real broker engine and a VA crash.

Owns ``BrokerSimConfig`` and ``run_broker_simulation``: record the broker's book figures
(capital, shareholders' funds, the securities margin loan book and its SMF extract: the
clients' securities margin loans and the SMF book's collateral per stock, for C2/C5) and each instrument's
average daily volume (BTC/ETH on the execution venues, HKEX stocks) so the C1-C5 limits,
the C3/C5 size multiplier and the C4 liquidation capacity are in force, onboard a seeded mix of clients (VA-only collateral, securities-only collateral,
mixed), let each finance a BTC/ETH purchase within M1 and the limits (a VA-only client
breaches C1 by construction: the credit committee's pilot waiver goes in the exceptions
register), reconcile custody at go-live and every day at 09:00 HKT (the simulated
custodian's statement agrees with the books), re-record the SMF extract at 08:00 HKT on
every HK business day (the overnight batch; the simulated SMF book does not move, and
without it C2/C5 would refuse new financing on a stale extract), then mark a seeded crash path every 15
simulated minutes (BTC with a gap, ETH at 1.3x BTC's log move; each VA mark is the VATP bid cross-checked
against three reference venues, V2, HSI-type stocks drifting
down in HKEX sessions; stocks are marked only in sessions, V1), with ``ReviewMargins`` on
every tick so call deadlines fall due and a day's interest charged at each HKEX close. Every input is a broker command applied by
``BrokerEngine.apply``; the engine decides every warning, call, sale and bad debt. The
full stress run (S2-S4) is taken on the book just before the crash; S1 reruns it at each
HKEX close (16:00 HKT, end of day) and whenever BTC or ETH has moved 5% or more within
the last hour (event-driven), each run logged with its time, trigger, prices and
headline figures (``StressRun``).

Floats are used only to draw the next price; what enters a command is an integer.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from harbour.broker import VA_UNITS_PER_COIN, BrokerConfig, BrokerEngine, check_all, validate_config
from harbour.broker import commands as c
from harbour.broker.deadlines import HKT_OFFSET_NS, is_hk_business_day
from harbour.broker.events import (
    BadDebtBooked,
    CollateralSold,
    ForcedSaleStarted,
    MarginCallIssued,
    MarginCallMet,
    MarginWarningIssued,
    Rejected,
)
from harbour.broker.rejects import render
from harbour.broker.state import BrokerState
from harbour.broker.stress import ReverseStressResult, StressReport
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MICRO
from harbour.sim.broker_stress import slippage_ladder, stress_book

T0: Final = 1_770_768_000_000_000_000  # 2026-02-11T00:00:00Z, a Wednesday (08:00 HKT)
TICK_NS: Final = 15 * 60 * 10**9
HOUR_NS: Final = 3_600 * 10**9
DAY_NS: Final = 24 * HOUR_NS
VA_ONLY: Final = "VA_ONLY"
SECURITIES_ONLY: Final = "SECURITIES_ONLY"
MIXED: Final = "MIXED"

# (code, margin ratio bps, start price HKD): HSI constituents 70%, large caps 50-60%, a 0% small cap.
SECURITIES: Final = (("0005", 7_000, 60), ("0700", 7_000, 400), ("9988", 6_000, 80), ("1810", 5_000, 20), ("8001", 0, 1))
BTC_START: Final = 600_000 * MICRO
ETH_START: Final = 20_000 * MICRO
# 30-day average daily volume (C3/C4/C5): shares per day on HKEX; the tech names form one correlated group (C5).
SECURITY_ADV: Final = {"0005": 20_000_000, "0700": 15_000_000, "9988": 40_000_000, "1810": 80_000_000, "8001": 500_000}
CORRELATION_GROUPS: Final = {"0700": "HK-TECH", "9988": "HK-TECH", "1810": "HK-TECH"}
# The SMF book outside this engine (C5): margin value per security of the broker's other margin clients, whole HKD.
SMF_SECURITY_MARGIN_VALUE: Final = {"0005": 30_000_000, "0700": 40_000_000, "9988": 25_000_000, "1810": 15_000_000}
SMF_CLIENT_LOAN_MAX: Final = 3_000_000  # whole HKD: a client's securities margin loans in the SMF books (C2)
REFERENCE_VENUES: Final = ("REF-A", "REF-B", "REF-C")  # V2: reference venues cross-checking the VATP bid
S1_MOVE_BPS: Final = 500  # S1: rerun the stress test when BTC or ETH moves 5% or more within an hour
EOD_MINUTE_HKT: Final = 16 * 60  # S1: the daily end-of-day run at the HKEX close


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerSimConfig:
    seed: int = 7
    clients: int = 40
    hours: int = 72
    crash_start_hour: int = 6
    crash_depth_bps: int = 5_500  # BTC trough vs start
    gap_bps: int = 2_000  # one-tick gap inside the crash
    excess_liquid_capital: int = 3_000_000 * MICRO
    slippage_bps: int = 200
    # The broker's book (RecordBookFigures, C2/C4): a mid-size HK SMF broker with a securities margin book
    # about ten times the simulated VA book, so VA financing stays near 9% of all margin loans (C4 <= 15%).
    shareholders_funds: int = 400_000_000 * MICRO
    capital: int = 250_000_000 * MICRO
    securities_margin_loans: int = 800_000_000 * MICRO
    # BTC/ETH average daily volume on the execution venues, whole coins per day (C3, C4)
    btc_adv_coins: int = 3_000
    eth_adv_coins: int = 40_000
    # The risk configuration (ConfigureBroker, journaled first); None = the house defaults pending risk-committee sign-off
    broker_config: BrokerConfig | None = None


@dataclass(frozen=True, slots=True)
class StressRun:
    """One S1 rerun of the stress test: when, why, at which marks, and its headline figures."""

    ts_ns: int
    trigger: str  # PRE_CRASH, END_OF_DAY or VA_MOVE_1H
    btc_price: int
    eth_price: int
    clients: int  # clients with a loan
    worst_scenario: str  # largest blocked deficit
    worst_deficit_blocked: int
    scenarios_exceeding_capital: int  # liquidation blocked
    reverse_shock_bps: int | None  # S4


@dataclass(slots=True)
class BrokerSimResult:
    seed: int
    kinds: dict[str, int]
    commands: int
    rejects: int
    warnings: list[MarginWarningIssued] = field(default_factory=list)
    calls: list[MarginCallIssued] = field(default_factory=list)
    calls_met: list[MarginCallMet] = field(default_factory=list)
    forced_sales: list[ForcedSaleStarted] = field(default_factory=list)
    sales: list[CollateralSold] = field(default_factory=list)
    bad_debts: list[BadDebtBooked] = field(default_factory=list)
    btc_path: list[int] = field(default_factory=list)
    total_loans_before: int = 0
    final_state_hash: str = ""
    findings: list[str] = field(default_factory=list)
    stress: StressReport | None = None
    reverse: ReverseStressResult | None = None
    book_before_crash: BrokerState | None = None  # a copy of the stressed book (read-only)
    final_state: BrokerState | None = None  # the engine's state at the end of the run (read-only)
    events: list[Any] = field(default_factory=list)  # every event of the run, in order
    as_of_ns: int = 0  # the timestamp of the run's last command
    stress_runs: list[StressRun] = field(default_factory=list)  # S1: the pre-crash run, every end of day and every 1 h VA move
    slippage_ladder: dict[int, StressReport] = field(default_factory=dict)  # S2: the pre-crash library at 2/5/10% slippage


class _Driver:
    def __init__(self) -> None:
        self.engine = BrokerEngine()
        self.seq = 0
        self.ts = T0
        self.rejects = 0
        self.events: list[Any] = []

    def do(self, cmd: c.BrokerCommand, ts: int | None = None) -> list[Any]:
        self.seq += 1
        self.ts = ts if ts is not None else self.ts + 1_000_000
        out = self.engine.apply(self.seq, self.ts, cmd)
        self.rejects += sum(isinstance(e, Rejected) for e in out)
        self.events.extend(out)
        return out


def _hkex_open(ts: int) -> bool:
    """09:30-16:00 HKT (01:30-08:00 UTC) on weekdays (no holiday calendar in the simulator)."""
    day = ts // DAY_NS
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    minute = (ts % DAY_NS) // (60 * 10**9)
    return weekday < 5 and 90 <= minute < 480


def _onboard(d: _Driver, rng: random.Random, cid: int) -> str:
    kind = rng.choice((VA_ONLY, SECURITIES_ONLY, MIXED, MIXED))
    limit = rng.randrange(2_000_000, 10_000_001, 500_000) * MICRO
    d.do(c.RegisterSecuritiesMarginAccount(client=cid, credit_limit=limit))
    d.do(c.RecordVaSuitability(client=cid, passed=True, reference=f"SUIT-{cid}"))
    d.do(c.OpenVaFacility(client=cid))
    margin_value = 0.0
    if kind in (VA_ONLY, MIXED):
        for asset, price in (("BTC", BTC_START), ("ETH", ETH_START)):
            if asset == "BTC" or rng.random() < 0.5:
                worth = rng.uniform(200_000, 2_000_000) * MICRO
                qty = int(worth / price * VA_UNITS_PER_COIN)
                d.do(c.DepositVirtualAsset(client=cid, asset=asset, qty=qty, cost_price=int(price * rng.uniform(0.6, 1.2))))
                margin_value += qty * price / VA_UNITS_PER_COIN * 0.4
    if kind in (SECURITIES_ONLY, MIXED):
        for code, mr, price in rng.sample(SECURITIES, 2):
            worth = rng.uniform(300_000, 3_000_000)
            qty = max(1, int(worth / price))
            d.do(c.DepositSecurities(client=cid, security=code, qty=qty))
            margin_value += qty * price * MICRO * mr / 10_000
    # Finance a purchase to a seeded target ratio: L = r (MV + 0.4 B) with B = L.
    r = rng.uniform(0.45, 0.97)
    asset, price = ("BTC", BTC_START) if rng.random() < 0.7 else ("ETH", ETH_START)
    budget = r * margin_value / (1.0 - 0.4 * r)
    for _ in range(4):
        qty = int(budget / price * VA_UNITS_PER_COIN)
        if qty <= 0:
            break
        out = d.do(c.BuyVirtualAsset(client=cid, asset=asset, qty=qty, price=price))
        if kind == VA_ONLY and any(isinstance(e, Rejected) and e.code == RejectCode.VA_SHARE_LIMIT_EXCEEDED for e in out):
            d.do(c.RecordLimitException(
                limit_id="C1", client=cid, justification="VA-only pilot client: BTC/ETH collateral at the 60% floor, credit limit unchanged",
                approver="credit-committee", expiry_ns=d.ts + 30 * DAY_NS,
            ))  # fmt: skip
            out = d.do(c.BuyVirtualAsset(client=cid, asset=asset, qty=qty, price=price))
        if not any(isinstance(e, Rejected) for e in out):
            break
        budget *= 0.8
    return kind


def _btc_level(hour: float, cfg: BrokerSimConfig, noise: float) -> float:
    """Fraction of the start price: flat, a slide to the trough with a gap half-way, a partial bounce."""
    start, slide = cfg.crash_start_hour, 30.0
    depth = cfg.crash_depth_bps / 10_000
    gap = cfg.gap_bps / 10_000
    if hour < start:
        base = 1.0
    elif hour < start + slide:
        t = (hour - start) / slide
        smooth = (depth - gap) * t + (gap if t >= 0.5 else 0.0)
        base = 1.0 - smooth
    else:
        base = 1.0 - depth + 0.1 * depth * min(1.0, (hour - start - slide) / 24.0)
    return max(0.01, base * math.exp(noise))


def _reconcile(d: _Driver, ts: int, *, days_back: int = 0) -> None:
    """N2: the simulated custodian's statement (it agrees with the books) for the HKT day ``days_back`` before ``ts``."""
    st = d.engine.state
    day = (ts + HKT_OFFSET_NS) // DAY_NS - days_back
    holdings = tuple(
        c.CustodyHolding(client=cid, asset=asset, qty=qty) for cid in sorted(st.custody) for asset in ("BTC", "ETH") if (qty := st.custody[cid].holding(asset))
    )
    statement_date = (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()
    d.do(c.ReconcileCustody(statement_date=statement_date, holdings=holdings), ts)


def _mark_feeds(d: _Driver, rng: random.Random, asset: str, price: int, ts: int) -> None:
    """V2: mark at the primary VATP bid cross-checked against three reference venues.

    References print within a few bps of the primary; now and then one is a minute old (stale) or the primary
    prints 4% above them (divergent): the engine then marks at the lower price and raises an alert.
    """
    refs = []
    for venue in REFERENCE_VENUES:
        stale = rng.random() < 0.01
        age = 60 if stale else rng.randrange(0, 5)
        refs.append(c.FeedPrice(source=venue, price=max(1, int(price * (1.0 + rng.gauss(0.0, 0.0008)))), ts_ns=ts - age * 10**9))
    primary = int(price * 1.04) if rng.random() < 0.01 else price
    d.do(c.MarkVirtualAssetFeeds(asset=asset, feeds=(c.FeedPrice(source="VATP", price=primary, ts_ns=ts, primary=True), *refs)), ts)


def _moved(marks: list[tuple[int, int, int]], btc: int, eth: int) -> bool:
    """S1: BTC or ETH is 5% or more away from any mark of the last hour."""
    return any(abs(now - then) * 10_000 >= S1_MOVE_BPS * then for _, b, e in marks for now, then in ((btc, b), (eth, e)))


def _stress_run(ts: int, trigger: str, st: BrokerState, report: StressReport, reverse: ReverseStressResult) -> StressRun:
    worst = max(report.results, key=lambda r: (r.deficit_blocked, r.scenario))
    btc = st.va_marks.get("BTC")
    eth = st.va_marks.get("ETH")
    return StressRun(
        ts_ns=ts, trigger=trigger, btc_price=btc.price if btc else 0, eth_price=eth.price if eth else 0, clients=report.clients,
        worst_scenario=worst.scenario, worst_deficit_blocked=worst.deficit_blocked,
        scenarios_exceeding_capital=sum(r.exceeds_capital_blocked for r in report.results), reverse_shock_bps=reverse.shock_bps,
    )


def load_broker_config(text: str) -> BrokerConfig:
    """A risk configuration from JSON: an object of ``BrokerConfig`` fields; the fields left out keep their house default.

    ValueError on malformed JSON, an unknown field, a wrong type or a configuration the engine would refuse
    (``validate_config``: for example a BTC/ETH haircut below the 60% floor).
    """
    try:
        overrides = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(f"broker config: not JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise ValueError("broker config: expected a JSON object of BrokerConfig fields")
    unknown = sorted(set(overrides) - set(BrokerConfig.__struct_fields__))
    if unknown:
        raise ValueError(f"broker config: unknown setting(s) {', '.join(unknown)}")
    try:
        config = msgspec.convert({**msgspec.to_builtins(BrokerConfig()), **overrides}, BrokerConfig)
    except msgspec.ValidationError as exc:
        raise ValueError(f"broker config: {exc}") from None
    problem = validate_config(config)
    if problem is not None:
        raise ValueError(f"broker config refused: {render(*problem)}")
    return config


def _smf_extract(cfg: BrokerSimConfig) -> tuple[tuple[c.SmfClientLoan, ...], tuple[c.SmfSecurityMarginValue, ...]]:
    """The SMF books' extract recorded with the book figures (C2, C5), from a seeded stream of its own.

    About two clients in three also have a securities margin loan in the SMF books (up to HKD 3m); the SMF book
    holds the listed stocks as collateral of the broker's other margin clients.
    """
    smf_rng = random.Random(cfg.seed * 7_919 + 2)
    loans = tuple(
        c.SmfClientLoan(client=cid, amount=smf_rng.randrange(100_000, SMF_CLIENT_LOAN_MAX + 1, 50_000) * MICRO)
        for cid in range(1, cfg.clients + 1)
        if smf_rng.random() < 2 / 3
    )
    values = tuple(c.SmfSecurityMarginValue(security=code, margin_value=value * MICRO) for code, value in sorted(SMF_SECURITY_MARGIN_VALUE.items()))
    return loans, values


def run_broker_simulation(cfg: BrokerSimConfig) -> BrokerSimResult:
    """Run the seeded book; ValueError if ``cfg.broker_config`` is refused by the engine (e.g. a haircut below 60%)."""
    rng = random.Random(cfg.seed)
    d = _Driver()
    if cfg.broker_config is not None:
        refused = [e for e in d.do(c.ConfigureBroker(config=cfg.broker_config)) if isinstance(e, Rejected)]
        if refused:
            raise ValueError(f"risk configuration refused: {refused[0].reason}: {refused[0].message}")
    d.do(c.MarkVirtualAsset(asset="BTC", price=BTC_START))
    d.do(c.MarkVirtualAsset(asset="ETH", price=ETH_START))
    sec_prices = {}
    for code, mr, price in SECURITIES:
        d.do(c.SetSecurityMarginRatio(security=code, margin_ratio_bps=mr, correlation_group=CORRELATION_GROUPS.get(code, "")))
        d.do(c.MarkSecurity(security=code, price=price * MICRO))
        sec_prices[code] = price * MICRO
    client_loans, security_values = _smf_extract(cfg)
    book_figures = c.RecordBookFigures(
        shareholders_funds=cfg.shareholders_funds, capital=cfg.capital, securities_margin_loans=cfg.securities_margin_loans,
        client_loans=client_loans, security_margin_values=security_values,
    )  # fmt: skip
    d.do(book_figures)
    for code, adv in SECURITY_ADV.items():
        d.do(c.RecordAverageDailyVolume(instrument=code, qty=adv, window_days=30, source="HKEX 30-day average"))
    for asset, coins in (("BTC", cfg.btc_adv_coins), ("ETH", cfg.eth_adv_coins)):
        d.do(c.RecordAverageDailyVolume(instrument=asset, qty=coins * VA_UNITS_PER_COIN, window_days=30, source="execution VATP and shared order book"))
    kinds: dict[str, int] = {VA_ONLY: 0, SECURITIES_ONLY: 0, MIXED: 0}
    for cid in range(1, cfg.clients + 1):
        kinds[_onboard(d, rng, cid)] += 1
    st = d.engine.state
    _reconcile(d, d.ts)  # go-live reconciliation: from here a missing daily statement blocks new financing
    result = BrokerSimResult(seed=cfg.seed, kinds=kinds, commands=0, rejects=0)
    result.total_loans_before = sum(st.loan(cid) for cid in st.clients)

    result.book_before_crash = BrokerState.decode(st.encode())
    result.stress, result.reverse = stress_book(st, cfg.excess_liquid_capital, slippage_bps=cfg.slippage_bps, seed=cfg.seed)
    result.stress_runs.append(_stress_run(d.ts, "PRE_CRASH", st, result.stress, result.reverse))
    result.slippage_ladder = slippage_ladder(st, cfg.excess_liquid_capital, seed=cfg.seed)
    marks: list[tuple[int, int, int]] = []  # (ts, BTC, ETH) of the last hour, for the S1 event-driven rerun
    feed_rng = random.Random(cfg.seed * 7_919 + 1)  # the reference venues' own stream: the price path does not depend on it
    last_event_run = -HOUR_NS

    setup_events = len(d.events)
    hkex = True
    noise = 0.0
    eth_noise = 0.0
    ticks = cfg.hours * HOUR_NS // TICK_NS
    for i in range(1, ticks + 1):
        ts = T0 + HOUR_NS + i * TICK_NS
        is_open = _hkex_open(ts)
        if is_open != hkex:
            hkex = is_open
            d.do(c.SetExchangeSession(is_open=is_open), ts)
        noise = 0.97 * noise + rng.gauss(0.0, 0.004)
        eth_noise = 0.97 * eth_noise + rng.gauss(0.0, 0.006)
        level = _btc_level(i * TICK_NS / HOUR_NS, cfg, noise)
        btc = max(MICRO, int(BTC_START * level))
        eth = max(MICRO, int(ETH_START * math.exp(1.3 * math.log(level) + eth_noise)))
        _mark_feeds(d, feed_rng, "BTC", btc, ts + 1)
        _mark_feeds(d, feed_rng, "ETH", eth, ts + 2)
        result.btc_path.append(btc)
        if is_open:
            for code, _, _ in SECURITIES:
                step = math.exp(rng.gauss(-0.0015 if level < 0.9 else 0.0, 0.003))
                sec_prices[code] = max(1_000, int(sec_prices[code] * step))
                d.do(c.MarkSecurity(security=code, price=sec_prices[code]), ts + 3)
        hkt_day, hkt_time = divmod(ts + HKT_OFFSET_NS, DAY_NS)
        if hkt_time == 8 * HOUR_NS and is_hk_business_day(hkt_day, st.config):  # 08:00 HKT: the SMF overnight extract (C2/C5)
            d.do(book_figures, ts + 3)  # the simulated SMF book does not move; the record keeps C2/C5 current
        if (ts + HKT_OFFSET_NS) % DAY_NS == 9 * HOUR_NS:  # 09:00 HKT: yesterday's custody statement
            _reconcile(d, ts + 3, days_back=1)
        if (ts + HKT_OFFSET_NS) % DAY_NS == EOD_MINUTE_HKT * 60 * 10**9:  # the day's interest on every loan, at the close
            d.do(c.AccrueInterest(days=1), ts + 3)
        d.do(c.ReviewMargins(), ts + 4)
        marks = [m for m in marks if m[0] >= ts - HOUR_NS] + [(ts, btc, eth)]
        trigger = ""
        if (ts + HKT_OFFSET_NS) % DAY_NS == EOD_MINUTE_HKT * 60 * 10**9:
            trigger = "END_OF_DAY"
        elif ts - last_event_run >= HOUR_NS and _moved(marks, btc, eth):
            trigger = "VA_MOVE_1H"
            last_event_run = ts
        if trigger:
            report, reverse = stress_book(st, cfg.excess_liquid_capital, slippage_bps=cfg.slippage_bps, seed=cfg.seed)
            result.stress_runs.append(_stress_run(ts + 4, trigger, st, report, reverse))
    for e in d.events[setup_events:]:
        if isinstance(e, MarginWarningIssued):
            result.warnings.append(e)
        elif isinstance(e, MarginCallIssued):
            result.calls.append(e)
        elif isinstance(e, MarginCallMet):
            result.calls_met.append(e)
        elif isinstance(e, ForcedSaleStarted):
            result.forced_sales.append(e)
        elif isinstance(e, CollateralSold):
            result.sales.append(e)
        elif isinstance(e, BadDebtBooked):
            result.bad_debts.append(e)
    result.commands = d.seq
    result.rejects = d.rejects
    result.final_state_hash = st.state_hash().hex()
    result.final_state = d.engine.state
    result.events = d.events
    result.as_of_ns = d.ts
    result.findings = [str(f) for f in check_all(st)]
    return result
