"""``harbour broker report``: the compliance outputs of regulation.md part (c) items 1 to 7.

Owns ``run_for_report`` (the seeded broker simulation of ``broker_scenario``, keeping the
final state and every event it produced), ``build_reports`` (seven ``Report`` values, each
a Markdown document and one CSV table) and ``write_reports``. Nothing here changes broker
state: the reports read the final ``BrokerState``, the events and the stress run; the one
control test of report 6 runs on a decoded copy of the state.

Reports, in order (file stem in brackets):

1. Collateral and margin dashboard snapshot per client [1_dashboard].
2. Margin-call and forced-liquidation log [2_margin_call_log].
3. SMF benchmark monitor [3_smf_monitor].
4. Stress-test pack [4_stress_pack].
5. Capital (FRR) evidence [5_frr_evidence].
6. Credit-limit audit trail [6_credit_limit_audit].
7. Collateral encumbrance attestation [7_encumbrance_attestation].

Every amount is formatted from integers with ``format_units`` (HKD to 6 decimals, VA
quantities to 8, ratios in basis points as percentages to 2 decimals): no float touches an
amount. Each Markdown header states the seed, the as-of time and the final state hash.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec

from harbour.broker import VA_UNITS_PER_COIN, BrokerEngine, BrokerState, check_all
from harbour.broker import commands as c
from harbour.broker.clients import CALL
from harbour.broker.config import (
    BOOK_SETUP,
    COUNT,
    DAY_NS,
    DURATION,
    ELIGIBLE_VIRTUAL_ASSETS,
    HOUR_NS,
    HOUSE_DEFAULT,
    OPERATIONS_INPUT,
    PCT,
    PRODUCT_CHOICE,
    REGULATORY_FLOOR,
    SETTINGS,
    SMF_BENCHMARK,
    BrokerConfig,
    Setting,
)
from harbour.broker.credit import ALLOWED_REASONS, ONBOARDING, REFUSED_REASON, supported_limit
from harbour.broker.custody import CREDIT_KINDS, DEBIT_KINDS, lot_account
from harbour.broker.custody_statement import parse_custody_statement
from harbour.broker.deadlines import HKT_OFFSET_NS, hkt_text
from harbour.broker.events import (
    BadDebtBooked,
    CashDeposited,
    CollateralSold,
    CustodyReconciled,
    ForcedSaleCompleted,
    ForcedSaleStarted,
    InterestAccrued,
    LimitExceptionApplied,
    LotOpened,
    MarginCallIssued,
    MarginCallMet,
    MarginFigures,
    MarginWarningCleared,
    MarginWarningIssued,
    PriceAlertRaised,
    PriceMark,
    Rejected,
    TransferPosted,
)
from harbour.broker.limits import (
    C1,
    C2_CLIENT,
    C2_GROUP,
    C4_LIQUIDITY,
    C4_TOTAL_LOANS,
    C4_VA_SHARE,
    C5_GROUP,
    C5_STOCK,
    active_exception,
    book_va_units,
    client_all_loans,
    group_all_loans,
    group_margin_values,
    liquidation_capacity,
    security_margin_values,
    smf_extract_expiry_ns,
    smf_extract_in_force,
)
from harbour.broker.stress import BookColumns, run_stress
from harbour.broker.valuation import SECURITY, VIRTUAL_ASSET, client_figures, client_nav, margin_term, positions, va_margin_ratio_bps
from harbour.kernel.errors import PostingRefused, RejectCode
from harbour.kernel.money import BPS, MICRO, div_round_down, div_round_up, format_units
from harbour.sim.broker_scenario import BrokerSimConfig, BrokerSimResult, run_broker_simulation

HKD_DECIMALS: Final = 6
VA_DECIMALS: Final = 8  # VA_UNITS_PER_COIN = 1e8
NS_PER_MINUTE: Final = 60 * 10**9
TOP_CLIENTS: Final = 10

assert VA_UNITS_PER_COIN == 10**VA_DECIMALS


def default_report_dir(seed: int) -> Path:
    return Path("var") / f"broker-report-{seed}"


# --- the run ----------------------------------------------------------------------------------


@dataclass(slots=True)
class ReportRun:
    """A finished seeded simulation: its result, final state, every event and the as-of time."""

    config: BrokerSimConfig
    result: BrokerSimResult
    state: BrokerState
    events: list[Any]
    as_of_ns: int
    statement_file: str = ""  # the external custody statement reconciled at the end of the run, if any

    @property
    def state_hash(self) -> str:
        return self.result.final_state_hash


def run_for_report(config: BrokerSimConfig, *, statement: Path | None = None, statement_date: str = "") -> ReportRun:
    """Run the seeded broker simulation and keep what the reports need.

    With ``statement`` (an external custody statement file, ``broker.custody_statement`` format), the final book is
    reconciled against it as one more journaled command (``ReconcileCustody``, dated ``statement_date`` or the as-of HKT
    date): its breaks open in the register, block new financing and appear in report 7. ValueError on a malformed file.
    """
    result = run_broker_simulation(config)
    state = result.final_state
    if state is None or state.state_hash().hex() != result.final_state_hash:
        raise RuntimeError("the simulation's final state does not match its final state hash")
    run = ReportRun(config=config, result=result, state=state, events=list(result.events), as_of_ns=result.as_of_ns)
    if statement is not None:
        holdings = parse_custody_statement(statement.read_text(encoding="utf-8"))
        date = statement_date or (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=(run.as_of_ns + HKT_OFFSET_NS) // 1_000)).date().isoformat()
        engine = BrokerEngine(state)
        ts = run.as_of_ns + 1
        out = engine.apply(result.commands + 1, ts, c.ReconcileCustody(statement_date=date, holdings=holdings))
        rejected = [e for e in out if isinstance(e, Rejected)]
        if rejected:
            raise ValueError(f"custody statement {statement}: {rejected[0].message}")
        result.events.extend(out)
        result.commands += 1
        result.as_of_ns = ts
        result.final_state_hash = state.state_hash().hex()
        result.findings = [str(f) for f in check_all(state)]
        run = ReportRun(config=config, result=result, state=state, events=list(result.events), as_of_ns=ts, statement_file=statement.name)
    return run


# --- formatting ---------------------------------------------------------------------------------


def hkd(micro: int) -> str:
    return format_units(micro, HKD_DECIMALS)


def units(qty: int) -> str:
    return format_units(qty, VA_DECIMALS)


def pct(bps: int | None) -> str:
    """Basis points as a percentage with 2 decimals; None (a loan against nothing) is 'unbounded'."""
    return "unbounded" if bps is None else format_units(bps, 2)


def iso(ts_ns: int) -> str:
    """UTC ISO-8601 to the microsecond, from integer nanoseconds."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration(ns: int) -> str:
    minutes = ns // NS_PER_MINUTE
    return f"{minutes // 60}h{minutes % 60:02d}m"


def share_bps(part: int, whole: int) -> int:
    """part / whole in basis points, rounded up (a concentration is never understated)."""
    return 0 if whole <= 0 else div_round_up(part * BPS, whole)


def multiple(part: int, whole: int) -> str:
    """part / whole as a multiple to 2 decimals, rounded up."""
    return "n/a" if whole <= 0 else format_units(div_round_up(part * 100, whole), 2)


def prices_text(marks: Sequence[PriceMark]) -> str:
    parts = []
    for m in marks:
        suspended = " SUSPENDED" if m.suspended else ""
        parts.append(f"{m.instrument}={hkd(m.price)}@{iso(m.marked_ts_ns)}{suspended}")
    return "; ".join(parts)


def yes_no(flag: bool) -> str:
    return "YES" if flag else "NO"


# --- the risk configuration in force (house defaults) -------------------------------------------------


def _setting_text(cfg: BrokerConfig, setting: Setting) -> str:
    value = getattr(cfg, setting.field)
    if setting.unit == PCT:
        return f"{pct(value)}%"
    if setting.unit == DURATION:
        for size, name in ((DAY_NS, "days"), (HOUR_NS, "h"), (10**9, "s")):
            if value % size == 0:
                return f"{value // size} {name}"
        return f"{value} ns"
    if setting.unit == COUNT:
        return str(value)
    if setting.field == "va_haircuts":
        return "; ".join(
            f"{r.asset} volatility haircut {pct(r.volatility_haircut_bps)}%"
            + "".join(f", from {units(t.min_units)} {r.asset} at least {pct(t.haircut_bps)}%" for t in r.size_add_on)
            for r in value
        )
    if setting.field == "size_tiers":
        return "; ".join(f"above {pct(t.above_adv_bps)}% of ADV k = {pct(t.k_bps)}%" for t in value) or "none"
    if setting.field == "hk_holidays":
        return f"{len(value)} holiday(s) configured" if value else "none configured"
    if isinstance(value, bool):
        return yes_no(value)
    return str(value)


def configuration_rows(cfg: BrokerConfig) -> list[tuple[str, str, str, str, str]]:
    """Every risk setting in force: (rule, field, value, status, meaning and basis).

    Status HOUSE_DEFAULT (pending risk-committee sign-off), SMF_BENCHMARK, REGULATORY_FLOOR, OPERATIONS_INPUT,
    PRODUCT_CHOICE when the value is the shipped default; CONFIGURED when the operator changed it (the default follows).
    """
    default = BrokerConfig()
    status_of = {HOUSE_DEFAULT: "HOUSE_DEFAULT", SMF_BENCHMARK: "SMF_BENCHMARK", REGULATORY_FLOOR: "REGULATORY_FLOOR",
                 OPERATIONS_INPUT: "OPERATIONS_INPUT", PRODUCT_CHOICE: "PRODUCT_CHOICE", BOOK_SETUP: "OPERATIONS_INPUT"}
    rows = []
    for setting in SETTINGS:
        value = _setting_text(cfg, setting)
        if getattr(cfg, setting.field) == getattr(default, setting.field):
            rows.append((setting.rule, setting.field, value, status_of[setting.basis], f"{setting.meaning}; {setting.basis}"))
        else:
            rows.append((setting.rule, setting.field, value, "CONFIGURED",
                         f"{setting.meaning}; configured by the operator (shipped default {_setting_text(default, setting)}: {setting.basis})"))
    return rows


def configuration_summary(cfg: BrokerConfig) -> str:
    """One line for every report header and the simulate summary: whose figures the limits are."""
    rows = configuration_rows(cfg)
    house = sum(1 for r in rows if r[3] == "HOUSE_DEFAULT")
    changed = [r[1] for r in rows if r[3] == "CONFIGURED"]
    key = (f"C5 {pct(cfg.single_stock_max_bps)}%/{pct(cfg.correlated_group_max_bps)}% of shareholders' funds, stressed-NAV support "
           f"{pct(cfg.credit_limit_max_stressed_nav_bps)}%, interest {pct(cfg.interest_rate_bps)}% a year")
    line = f"{house} of {len(rows)} risk settings are house defaults pending risk-committee sign-off ({key})"
    return line + (f"; configured away from the house defaults: {', '.join(changed)}" if changed else "; none configured away from them")


# --- the report value -----------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    """One compliance output: a Markdown document and a CSV table."""

    stem: str
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    intro: list[str] = field(default_factory=list)  # Markdown lines before the main table
    outro: list[str] = field(default_factory=list)  # Markdown lines after it
    md_columns: tuple[str, ...] | None = None  # columns shown in Markdown (default: all)
    files: dict[str, bytes] = field(default_factory=dict)  # further files written beside the CSV (name -> bytes)

    def csv_text(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buf.getvalue()

    def markdown(self, run: ReportRun) -> str:
        lines = [f"# {self.title}", ""]
        lines += [
            f"- Seed: {run.config.seed}",
            f"- As of: {iso(run.as_of_ns)} (last command of the simulation)",
            f"- State hash (blake2b-256 of the final broker state): `{run.state_hash}`",
            f"- Simulation: {run.config.clients} clients, {run.config.hours} simulated hours, {run.result.commands} commands",
            f"- Risk configuration: {configuration_summary(run.state.config)} (every setting: report 3, section RISK_CONFIG)",
            "- Units: money in HKD to 6 decimals (exact micro-units); BTC/ETH quantities in coins to 8 decimals; securities in shares; "
            "ratios in % to 2 decimals; times in UTC (ISO 8601, Z; HKT = UTC+8)",
            f"- CSV: `{self.stem}.csv` ({len(self.rows)} rows)",
            "",
        ]
        lines += self.intro
        if self.intro:
            lines.append("")
        cols = self.md_columns or self.header
        index = [self.header.index(col) for col in cols]
        lines += md_table(cols, [tuple(row[i] for i in index) for row in self.rows])
        if self.outro:
            lines.append("")
            lines += self.outro
        return "\n".join(lines) + "\n"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return ["_(no rows)_"]

    def cell(text: str) -> str:
        return text.replace("|", "\\|") if text else " "

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


# --- 1. dashboard ------------------------------------------------------------------------------------


DASHBOARD_HEADER: Final = (
    "client", "status", "securities_value_hkd", "securities_margin_value_hkd",
    "btc_qty", "btc_value_hkd", "btc_haircut_pct", "btc_after_haircut_hkd",
    "eth_qty", "eth_value_hkd", "eth_haircut_pct", "eth_after_haircut_hkd",
    "cash_hkd", "loan_hkd", "margin_value_hkd", "margin_ratio_pct", "call_level_pct", "headroom_hkd",
    "call_status", "call_issued", "time_in_call", "call_deadline", "credit_limit_hkd", "utilisation_pct", "bad_debt_hkd",
    "btc_size_k_pct", "eth_size_k_pct", "nav_hkd", "va_stressed_value_hkd", "stressed_nav_hkd", "credit_review_due", "review_trigger",
    "interest_charged_hkd", "securities_margin_account", "va_suitability", "va_facility",
)  # fmt: skip


def dashboard(run: ReportRun) -> Report:
    st = run.state
    cfg = st.config
    rows: list[tuple[str, ...]] = []
    interest: dict[int, int] = {}
    for e in run.events:
        if isinstance(e, InterestAccrued):
            interest[e.client] = interest.get(e.client, 0) + e.amount
    totals = {"sec": 0, "sec_mv": 0, "btc": 0, "btc_mv": 0, "eth": 0, "eth_mv": 0, "cash": 0, "loan": 0, "mv": 0, "limit": 0, "bad": 0,
              "nav": 0, "va_stressed": 0, "stressed_nav": 0}
    for cid in sorted(st.clients):
        client = st.clients[cid]
        fig = client_figures(st, cid)
        held = positions(st, cid)
        sec_value = sum(p.value for p in held if p.kind == SECURITY)
        sec_mv = sum(margin_term(p.value, p.margin_ratio_bps) for p in held if p.kind == SECURITY)
        va: dict[str, tuple[int, int, int, int, int]] = {}  # asset -> qty, value, haircut bps, after haircut and k, k
        for p in held:
            if p.kind == VIRTUAL_ASSET and p.instrument in ELIGIBLE_VIRTUAL_ASSETS:
                haircut = BPS - va_margin_ratio_bps(cfg, p.instrument, p.qty)
                va[p.instrument] = (p.qty, p.value, haircut, margin_term(p.value, p.margin_ratio_bps), p.size_k_bps)
        btc = va.get("BTC", (0, 0, 0, 0, BPS))
        eth = va.get("ETH", (0, 0, 0, 0, BPS))
        nav = client_nav(st, cid)
        call_cap = div_round_down(fig.margin_value * cfg.call_ratio_bps, BPS)
        headroom = min(call_cap, fig.credit_limit) - fig.loan
        call = client.call
        in_call = client.status == CALL and call is not None
        rows.append((
            str(cid), client.status, hkd(sec_value), hkd(sec_mv),
            units(btc[0]), hkd(btc[1]), pct(btc[2]) if btc[0] else "", hkd(btc[3]),
            units(eth[0]), hkd(eth[1]), pct(eth[2]) if eth[0] else "", hkd(eth[3]),
            hkd(fig.cash), hkd(fig.loan), hkd(fig.margin_value), pct(fig.ratio_bps), pct(cfg.call_ratio_bps), hkd(headroom),
            "IN_CALL" if in_call else "NONE",
            iso(call.issued_ts_ns) if call is not None else "",
            duration(run.as_of_ns - call.issued_ts_ns) if call is not None else "",
            iso(call.deadline_ns) if call is not None else "",
            hkd(fig.credit_limit), pct(share_bps(fig.loan, fig.credit_limit)) if fig.credit_limit else "n/a", hkd(st.bad_debt(cid)),
            pct(btc[4]) if btc[0] else "", pct(eth[4]) if eth[0] else "", hkd(nav.nav), hkd(nav.stressed_va_value), hkd(nav.stressed_nav),
            iso(client.review_due_ns), client.review_trigger, hkd(interest.get(cid, 0)),
            "YES" if client.credit_limit > 0 else "NO_LIMIT", f"PASSED {client.suitability_reference}".strip() if client.va_suitable else "NOT_PASSED",
            "OPEN" if client.facility_open else "NONE",
        ))  # fmt: skip
        for key, value in (("sec", sec_value), ("sec_mv", sec_mv), ("btc", btc[1]), ("btc_mv", btc[3]), ("eth", eth[1]), ("eth_mv", eth[3]),
                           ("cash", fig.cash), ("loan", fig.loan), ("mv", fig.margin_value), ("limit", fig.credit_limit), ("bad", st.bad_debt(cid)),
                           ("nav", nav.nav), ("va_stressed", nav.stressed_va_value), ("stressed_nav", nav.stressed_nav)):
            totals[key] += value
    t = totals
    in_call_count = sum(1 for cl in st.clients.values() if cl.status == CALL)
    rows.append((
        "TOTAL", f"{in_call_count} in call", hkd(t["sec"]), hkd(t["sec_mv"]), "", hkd(t["btc"]), "", hkd(t["btc_mv"]),
        "", hkd(t["eth"]), "", hkd(t["eth_mv"]), hkd(t["cash"]), hkd(t["loan"]), hkd(t["mv"]),
        pct(div_round_up(t["loan"] * BPS, t["mv"])) if t["mv"] else "", pct(cfg.call_ratio_bps), "",
        "", "", "", "", hkd(t["limit"]), pct(share_bps(t["loan"], t["limit"])) if t["limit"] else "", hkd(t["bad"]),
        "", "", hkd(t["nav"]), hkd(t["va_stressed"]), hkd(t["stressed_nav"]), "", f"{sum(1 for cl in st.clients.values() if cl.review_trigger)} triggered",
        hkd(sum(interest.values())), "", "", "",
    ))  # fmt: skip
    intro = [
        "Per client, from the final broker state (house view; the engine's own valuation). Amounts in HKD; "
        "BTC/ETH quantities in coins. The haircut is the engine's max(60% floor, volatility haircut, size add-on); "
        "'after haircut' is the margin value counted for calls.",
        f"Margin ratio R = loan / margin value (rounded up). Headroom = min(margin value x call level {pct(cfg.call_ratio_bps)}%, "
        "credit limit) - loan: the loan the client could still carry before a call (negative = shortfall). "
        "Utilisation = loan / credit limit. Time in call is measured to the as-of time. Snapshot retained as these files.",
        f"Size multiplier k (C3 for BTC/ETH, C5 for stocks): a holding above 1/5/10% of the instrument's recorded average daily volume "
        f"counts at 90/75/50% of its margin value ('after haircut' includes k). NAV = market value + cash - loan - bad debt; the stressed "
        f"NAV used in credit assessment (K1, 26EC5) counts BTC at -{pct(cfg.nav_stress_btc_bps)}% and ETH at -{pct(cfg.nav_stress_eth_bps)}% "
        "(the severe 1-day tier of the stress library). credit_review_due is the next K1 review; review_trigger the trigger that brought it forward. "
        f"The loan includes interest at {pct(cfg.interest_rate_bps)}% a year (interest_charged: total in the run; none on written-off debt, M8).",
    ]
    md_cols = ("client", "status", "securities_value_hkd", "btc_value_hkd", "btc_after_haircut_hkd", "eth_value_hkd", "eth_after_haircut_hkd",
               "loan_hkd", "margin_ratio_pct", "headroom_hkd", "call_status", "time_in_call", "credit_limit_hkd", "utilisation_pct",
               "nav_hkd", "stressed_nav_hkd", "review_trigger")
    return Report("1_dashboard", "1. Collateral and margin dashboard snapshot", DASHBOARD_HEADER, rows, intro=intro,
                  outro=["Every column (haircut %, quantities, cash, call times, bad debt, and the E1 eligibility evidence: securities margin "
                         "account with a credit limit, VA-dealing suitability reference, facility) is in the CSV."], md_columns=md_cols)


# --- 2. margin-call and forced-liquidation log --------------------------------------------------------------------


LOG_HEADER: Final = (
    "seq", "time", "client", "event", "cause_or_trigger", "loan_hkd", "margin_value_hkd", "margin_ratio_pct", "shortfall_hkd",
    "deadline", "stop_advance", "instrument", "lot", "qty", "price_hkd", "gross_hkd", "cost_hkd", "net_hkd", "loan_repaid_hkd",
    "bad_debt_hkd", "price_inputs",
)  # fmt: skip

_MARGIN_EVENTS: Final = (MarginWarningIssued, MarginWarningCleared, MarginCallIssued, MarginCallMet, ForcedSaleStarted, CollateralSold,
                         ForcedSaleCompleted, BadDebtBooked)


MET_BY_FORCED_SALE: Final = "BY_FORCED_SALE"
MET_BY_CLIENT: Final = "BY_CLIENT_TOP_UP"
MET_BY_MARKET: Final = "BY_PRICE_OR_LIMIT_CHANGE"


def call_outcomes(events: Sequence[Any]) -> dict[tuple[int, int], str]:
    """How each met call was cured, by (seq, client) of its ``MarginCallMet``: a forced sale in the same step, the client's own
    cash or collateral deposit in that step, or otherwise a price recovery or limit change."""
    sold: set[tuple[int, int]] = set()
    topped: set[tuple[int, int]] = set()
    step_clients: dict[int, set[int]] = {}
    for e in events:
        if isinstance(e, ForcedSaleCompleted):
            sold.add((e.seq, e.client))
        elif isinstance(e, CashDeposited) or (isinstance(e, LotOpened) and e.source == "DEPOSIT"):
            topped.add((e.seq, e.client))
        elif isinstance(e, TransferPosted) and e.kind == "SECURITIES_DEPOSIT":
            step_clients.setdefault(e.seq, set()).update(int(a[4:]) for a, _, q in e.postings if a.startswith("SEC:") and q > 0)
    topped |= {(seq, cid) for seq, cids in step_clients.items() for cid in cids}
    out: dict[tuple[int, int], str] = {}
    for e in events:
        if isinstance(e, MarginCallMet):
            key = (e.seq, e.client)
            out[key] = MET_BY_FORCED_SALE if key in sold else MET_BY_CLIENT if key in topped else MET_BY_MARKET
    return out


def _fig_cells(fig: MarginFigures) -> tuple[str, str, str, str]:
    return hkd(fig.loan), hkd(fig.margin_value), pct(fig.ratio_bps), hkd(fig.shortfall)


def margin_call_log(run: ReportRun) -> Report:
    rows: list[tuple[str, ...]] = []
    in_call: dict[int, bool] = {}
    counts: dict[str, int] = {}
    shortfall_total = 0
    outcomes = call_outcomes(run.events)
    for e in run.events:
        if isinstance(e, PriceAlertRaised):
            kind = "PRICE_ALERT"
            feeds = "; ".join(f"{f.source}{' (primary)' if f.primary else ''}={hkd(f.price)}@{iso(f.ts_ns)}" for f in e.feeds)
            rows.append((str(e.seq), iso(e.ts_ns), "", kind, "+".join(e.reasons), "", "", "", "", "", "", e.asset, "", "", hkd(e.used_price),
                         "", "", "", "", "", f"primary {hkd(e.primary_price)}, reference median {hkd(e.reference_price)}, "
                         f"deviation {pct(e.deviation_bps)}%, used the lower {hkd(e.used_price)}; feeds: {feeds}"))
            counts[kind] = counts.get(kind, 0) + 1
            continue
        if not isinstance(e, _MARGIN_EVENTS):
            continue
        cid = e.client
        blank_sale = ("", "", "", "", "", "", "", "")
        if isinstance(e, MarginCallIssued):
            in_call[cid] = True
        elif isinstance(e, MarginCallMet):
            in_call[cid] = False
        stop = yes_no(in_call.get(cid, False))
        if isinstance(e, CollateralSold):
            qty = units(e.qty) if e.lot else str(e.qty)
            row = (str(e.seq), iso(e.ts_ns), str(cid), "SALE_FILL", "", "", "", "", "", "", stop, e.instrument, str(e.lot) if e.lot else "",
                   qty, hkd(e.price), hkd(e.gross), hkd(e.cost), hkd(e.net), hkd(e.loan_repaid), "", "price of the fill")
            kind = "SALE_FILL"
        else:
            kind, cause, deadline, bad = "", "", "", ""
            if isinstance(e, MarginWarningIssued):
                kind = "WARNING_ISSUED"
            elif isinstance(e, MarginWarningCleared):
                kind = "WARNING_CLEARED"
            elif isinstance(e, MarginCallIssued):
                kind, cause, deadline = "CALL_ISSUED", e.cause, iso(e.deadline_ns)
            elif isinstance(e, MarginCallMet):
                kind, cause = "CALL_MET", outcomes[(e.seq, cid)]
            elif isinstance(e, ForcedSaleStarted):
                kind, cause = "FORCED_SALE_STARTED", e.trigger
            elif isinstance(e, ForcedSaleCompleted):
                kind, cause = "FORCED_SALE_COMPLETED", "TARGET_REACHED" if e.target_reached else "TARGET_NOT_REACHED"
            else:
                kind, bad = "BAD_DEBT_BOOKED", hkd(e.amount)
                shortfall_total += e.amount
            row = (str(e.seq), iso(e.ts_ns), str(cid), kind, cause, *_fig_cells(e.figures), deadline, stop, *blank_sale, bad,
                   prices_text(e.prices))
        counts[kind] = counts.get(kind, 0) + 1
        rows.append(row)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no margin events"
    how = {k: sum(1 for v in outcomes.values() if v == k) for k in (MET_BY_CLIENT, MET_BY_FORCED_SALE, MET_BY_MARKET)}
    open_calls = sum(1 for cl in run.state.clients.values() if cl.status == CALL)
    intro = [
        f"Every margin step the engine emitted, in sequence order: {summary}.",
        f"Calls: {counts.get('CALL_ISSUED', 0)} issued; met {how[MET_BY_CLIENT]} by the client's own top-up, {how[MET_BY_FORCED_SALE]} "
        f"by a forced sale, {how[MET_BY_MARKET]} by a price recovery or limit change; {open_calls} open at the as-of time "
        "(CALL_MET rows say which in cause_or_trigger).",
        f"Residual shortfall booked as bad debt (M8, per client, never netted): HKD {hkd(shortfall_total)}.",
        "Each row carries the figures the engine decided on and the price snapshot it used (instrument=price@mark time), so any "
        "call or sale can be reproduced from the row alone; SALE_FILL rows carry the fill price. stop_advance = a call is outstanding "
        "after the event (M3: no new advance and no collateral withdrawal). PRICE_ALERT rows: the VATP bid and the reference venues "
        "did not confirm each other (V2: stale or divergent feeds), so BTC/ETH was marked at the lower price. SALE_FILL qty is in coins "
        "for BTC/ETH and in shares for a security; price_hkd is per coin or per share. Notices: the event time is when the notice is due; "
        "the delivery channel is not modelled by the engine.",
    ]
    md_cols = ("seq", "time", "client", "event", "cause_or_trigger", "loan_hkd", "margin_ratio_pct", "shortfall_hkd", "deadline",
               "stop_advance", "instrument", "qty", "price_hkd", "net_hkd", "bad_debt_hkd", "price_inputs")
    return Report("2_margin_call_log", "2. Margin-call and forced-liquidation log", LOG_HEADER, rows, intro=intro, md_columns=md_cols)


# --- 3. SMF benchmark monitor ------------------------------------------------------------------------------------


SMF_HEADER: Final = ("section", "item", "metric", "value", "limit", "status", "detail")


def _nth_business_day(n: int) -> str:
    return "next HK business day" if n == 1 else f"{n}th HK business day"


def _smf_extract_currency(st: BrokerState, as_of_ns: int) -> tuple[tuple[str, ...], str]:
    """The SMF extract's as-of time, age and validity at ``as_of_ns`` (C2/C5 data currency): the BOOK row and one sentence."""
    cfg = st.config
    rule = (f"an extract stays current until {cfg.smf_extract_cutoff_minutes_hkt // 60:02d}:{cfg.smf_extract_cutoff_minutes_hkt % 60:02d} HKT "
            f"on the {_nth_business_day(cfg.smf_extract_max_age_business_days)} after the day it is recorded; after that new financing is refused")
    expiry = smf_extract_expiry_ns(st)
    in_force = smf_extract_in_force(st)
    if st.book is None or expiry is None:
        status = "STALE" if in_force else "NOT_IN_FORCE"
        text = "no extract recorded" + ("; the configuration says an SMF book exists, so new financing is refused" if in_force else "")
        return ("BOOK", "smf_extract_as_of", "age", "", "", status, f"{text} ({rule})"), f"{text}."
    recorded = st.book.recorded_ts_ns
    age = duration(max(0, as_of_ns - recorded))
    if not in_force:
        status, verdict = "NOT_IN_FORCE", "the latest record carries no SMF extract, so there is nothing to age"
    elif as_of_ns <= expiry:
        status, verdict = "WITHIN", "within the limit"
    else:
        status, verdict = "STALE", "beyond the limit: new financing is refused until the next extract"
    text = f"recorded {hkt_text(recorded)} ({iso(recorded)}), age {age} at the report time, current until {hkt_text(expiry)}: {verdict}"
    return ("BOOK", "smf_extract_as_of", "age", age, f"until {hkt_text(expiry)}", status, f"{text} ({rule})"), f"{text}; {rule}."


def smf_monitor(run: ReportRun) -> Report:
    st = run.state
    cfg = st.config
    rows: list[tuple[str, ...]] = []
    book = st.book
    if book is not None:
        capital, funds, sec_loans = book.capital, book.shareholders_funds, book.securities_margin_loans
        source = f"book figures recorded in state at {iso(book.recorded_ts_ns)}"
    else:
        capital = funds = run.config.excess_liquid_capital
        sec_loans = 0
        source = "no RecordBookFigures in state: the simulation's excess liquid capital input is used as capital and shareholders' funds"
    loans = {cid: st.loan(cid) for cid in sorted(st.clients)}
    va_loans = sum(loans.values())
    total = va_loans + sec_loans
    cap_limit = div_round_down(capital * cfg.total_loans_max_capital_bps, BPS)
    breaches: list[str] = []

    def status(ok: bool, what: str) -> str:
        if not ok:
            breaches.append(what)
        return "WITHIN" if ok else "BREACH"

    covered: list[str] = []

    def limit_status(ok: bool, limit_id: str, client: int, instrument: str, what: str) -> str:
        """WITHIN, EXCEPTION_<id> (a deviation under an active register entry) or BREACH."""
        if ok:
            return "WITHIN"
        entry = active_exception(st, limit_id, client, run.as_of_ns, instrument)
        if entry is not None:
            covered.append(f"{what} (exception {entry.exception_id}, approver {entry.approver}, expires {iso(entry.expiry_ns)})")
            return f"EXCEPTION_{entry.exception_id}"
        breaches.append(what)
        return "BREACH"

    def group_status(ok: bool, group: str, what: str) -> str:
        """C2_GROUP: WITHIN, EXCEPTION_<id> if any member holds an active register entry, or BREACH."""
        members = [cid for cid in sorted(st.clients) if st.clients[cid].related_group == group]
        if ok or not members:
            return limit_status(ok, C2_GROUP, 0, "", what)
        for cid in members:
            if active_exception(st, C2_GROUP, cid, run.as_of_ns) is not None:
                return limit_status(False, C2_GROUP, cid, "", what)
        return limit_status(False, C2_GROUP, members[0], "", what)

    rows.append(("BOOK", "capital", "HKD", hkd(capital), "", "", source))
    rows.append(("BOOK", "shareholders_funds", "HKD", hkd(funds), "", "", source))
    rows.append(("BOOK", "va_margin_loans", "HKD", hkd(va_loans), "", "", "sum of client loans in the broker state"))
    rows.append(("BOOK", "securities_margin_loans", "HKD", hkd(sec_loans), "", "", "as recorded (0 if not recorded)"))
    extract_row, extract_text = _smf_extract_currency(st, run.as_of_ns)
    rows.append(extract_row)
    rows.append(("BOOK", "total_margin_loans_to_capital", "multiple", multiple(total, capital), format_units(cfg.total_loans_max_capital_bps // 100, 2),
                 limit_status(total <= cap_limit, C4_TOTAL_LOANS, 0, "", "total margin loans above 5x capital"), f"total HKD {hkd(total)} vs cap HKD {hkd(cap_limit)}"))
    if book is None:
        va_share_status, va_share_detail = "NOT_MEASURED", "C4: the securities margin book is not recorded, so the VA share is not measured"
    else:
        va_share_status = limit_status(va_loans * BPS <= cfg.va_book_share_max_bps * total, C4_VA_SHARE, 0, "", "VA financing share of the margin book above the limit")
        va_share_detail = "C4"
    rows.append(("BOOK", "va_financing_share_of_margin_loans", "pct", pct(share_bps(va_loans, total)), pct(cfg.va_book_share_max_bps),
                 va_share_status, va_share_detail))
    client_cap = div_round_down(funds * cfg.single_client_max_bps, BPS)
    smf = book is not None and book.has_smf_extract
    all_loans = {cid: client_all_loans(st, cid, loan) for cid, loan in loans.items()}
    top = sorted(((loan, cid) for cid, loan in all_loans.items() if loan > 0), key=lambda t: (-t[0], t[1]))[:TOP_CLIENTS]
    for loan, cid in top:
        detail = f"loans HKD {hkd(loan)} = VA loan here HKD {hkd(loans[cid])} + SMF books HKD {hkd(loan - loans[cid])}" if smf else f"loan HKD {hkd(loan)} (this engine only)"
        rows.append(("TOP_CLIENT", str(cid), "pct_of_shareholders_funds", pct(share_bps(loan, funds)), pct(cfg.single_client_max_bps),
                     limit_status(loan <= client_cap, C2_CLIENT, cid, "", f"client {cid} above the single-client limit"), detail))
    group_names = {client.related_group for client in st.clients.values() if client.related_group}
    group_names |= {row.related_group for row in book.group_loans} if book is not None else set()
    groups = {name: group_all_loans(st, name, loans) for name in group_names}
    group_cap = div_round_down(funds * cfg.related_group_max_bps, BPS)
    for name, loan in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
        members = ", ".join(str(cid) for cid in sorted(st.clients) if st.clients[cid].related_group == name) or "none here"
        outside = book.smf_group_loan(name) if book is not None else 0
        rows.append(("RELATED_GROUP", name, "pct_of_shareholders_funds", pct(share_bps(loan, funds)), pct(cfg.related_group_max_bps),
                     group_status(loan <= group_cap, name, f"group {name} above the related-group limit"),
                     f"loans HKD {hkd(loan)}: members here {members} (with their SMF loans), members without an account here HKD {hkd(outside)}"))
    if not groups:
        rows.append(("RELATED_GROUP", "(none)", "", "", pct(cfg.related_group_max_bps), "", "no related-client group registered"))
    collateral_value: dict[str, int] = {}
    collateral_margin: dict[str, int] = {}
    for cid in st.clients:
        for p in positions(st, cid):
            collateral_value[p.instrument] = collateral_value.get(p.instrument, 0) + p.value
            collateral_margin[p.instrument] = collateral_margin.get(p.instrument, 0) + margin_term(p.value, p.margin_ratio_bps)
    all_value = sum(collateral_value.values())
    all_margin = sum(collateral_margin.values())
    va_value = sum(v for k, v in collateral_value.items() if k in ELIGIBLE_VIRTUAL_ASSETS)
    va_margin = sum(v for k, v in collateral_margin.items() if k in ELIGIBLE_VIRTUAL_ASSETS)
    rows.append(("COLLATERAL", "BTC+ETH", "share_of_market_value_pct", pct(share_bps(va_value, all_value)), "", "",
                 f"market value HKD {hkd(va_value)} of HKD {hkd(all_value)}"))
    rows.append(("COLLATERAL", "BTC+ETH", "share_of_margin_value_pct", pct(share_bps(va_margin, all_margin)), pct(cfg.va_share_max_bps), "",
                 f"margin value HKD {hkd(va_margin)} of HKD {hkd(all_margin)}; C1 is enforced per client on new advances"))
    for name in sorted(collateral_value, key=lambda k: (-collateral_value[k], k)):
        rows.append(("COLLATERAL", name, "share_of_market_value_pct", pct(share_bps(collateral_value[name], all_value)), "", "",
                     f"market value HKD {hkd(collateral_value[name])}, margin value HKD {hkd(collateral_margin[name])}"))
    within_c1 = 0
    for cid in sorted(st.clients):
        held = positions(st, cid)
        mv = sum(margin_term(p.value, p.margin_ratio_bps) for p in held)
        va_term = sum(margin_term(p.value, p.margin_ratio_bps) for p in held if p.kind == VIRTUAL_ASSET)
        if va_term * BPS <= cfg.va_share_max_bps * mv:
            within_c1 += 1
            continue
        rows.append(("VA_SHARE", str(cid), "va_share_of_client_margin_value_pct", pct(share_bps(va_term, mv)), pct(cfg.va_share_max_bps),
                     limit_status(False, C1, cid, "", f"client {cid} VA share of margin value above C1"),
                     f"C1: VA margin value HKD {hkd(va_term)} of HKD {hkd(mv)}; a deviation blocks new financing without a register entry"))
    rows.append(("VA_SHARE", f"{within_c1} clients", "within_c1", "", pct(cfg.va_share_max_bps), "WITHIN", "C1: VA share of each other client's margin value"))
    for asset in sorted(ELIGIBLE_VIRTUAL_ASSETS):
        in_book = book_va_units(st, asset)
        capacity = liquidation_capacity(st, asset)
        adv = st.average_daily_volumes.get(asset)
        if capacity is None or adv is None:
            rows.append(("LIQUIDITY", asset, "collateral_vs_one_day_capacity_pct", "", pct(BPS), "NOT_MEASURED",
                         f"C4: no average daily volume recorded for {asset}; book collateral {units(in_book)} {asset}"))
            continue
        rows.append(("LIQUIDITY", asset, "collateral_vs_one_day_capacity_pct", pct(share_bps(in_book, capacity)), pct(BPS),
                     limit_status(in_book <= capacity, C4_LIQUIDITY, 0, asset, f"book {asset} collateral above one day of liquidation capacity"),
                     f"C4: book {units(in_book)} {asset} vs capacity {units(capacity)} {asset} = ADV {units(adv.qty)} x "
                     f"{pct(cfg.liquidation_participation_bps)}% participation x {cfg.liquidation_days} day(s); ADV over {adv.window_days} days, "
                     f"source {adv.source or 'n/a'}, recorded {iso(adv.recorded_ts_ns)}"))
    by_security = security_margin_values(st)
    here_by_security = security_margin_values(st, with_smf=False)
    stock_cap = div_round_down(funds * cfg.single_stock_max_bps, BPS)
    for code in sorted(st.securities):
        value = by_security.get(code, 0)
        record = st.securities[code]
        adv = st.average_daily_volumes.get(code)
        split = f" = here HKD {hkd(here_by_security.get(code, 0))} + SMF book HKD {hkd(value - here_by_security.get(code, 0))}" if smf else " (this engine only)"
        rows.append(("SINGLE_STOCK", code, "margin_value_pct_of_shareholders_funds", pct(share_bps(value, funds)), pct(cfg.single_stock_max_bps),
                     limit_status(value <= stock_cap, C5_STOCK, 0, code, f"security {code} margin value above the C5 single-stock limit"),
                     f"C5: book margin value HKD {hkd(value)}{split} (ratio {pct(record.margin_ratio_bps)}%, group {record.correlation_group or '-'}, "
                     f"ADV {f'{adv.qty:,} shares' if adv else 'not recorded'}{', SUSPENDED' if record.suspended else ''})"))
    corr_cap = div_round_down(funds * cfg.correlated_group_max_bps, BPS)
    groups_mv = group_margin_values(st, by_security)
    for group in sorted({r.correlation_group for r in st.securities.values()} - {""}):
        value = groups_mv.get(group, 0)
        members = ", ".join(sorted(code for code, r in st.securities.items() if r.correlation_group == group))
        rows.append(("CORRELATED_GROUP", group, "margin_value_pct_of_shareholders_funds", pct(share_bps(value, funds)), pct(cfg.correlated_group_max_bps),
                     limit_status(value <= corr_cap, C5_GROUP, 0, group, f"correlated group {group} margin value above the C5 group limit"),
                     f"C5: book margin value HKD {hkd(value)} in {members}"))
    reduced = 0
    for cid in sorted(st.clients):
        for p in positions(st, cid):
            adv = st.average_daily_volumes.get(p.instrument)
            if p.size_k_bps < BPS and adv is not None and p.margin_ratio_bps > 0:
                reduced += 1
                rows.append(("SIZE_MULTIPLIER", f"client {cid} {p.instrument}", "k_pct", pct(p.size_k_bps), "", "",
                             f"C3/C5: holding {units(p.qty) if p.kind == VIRTUAL_ASSET else f'{p.qty:,} shares'} = "
                             f"{pct(share_bps(p.qty, adv.qty))}% of ADV"))
    if not reduced:
        rows.append(("SIZE_MULTIPLIER", "(none)", "k_pct", pct(BPS), "", "", "C3/C5: no holding above 1% of its instrument's average daily volume"))
    for entry in st.limit_exceptions:
        active = "ACTIVE" if entry.expiry_ns > run.as_of_ns else "EXPIRED"
        scope = f"client {entry.client}" if entry.client else "book"
        rows.append(("EXCEPTION", str(entry.exception_id), entry.limit_id, scope + (f" {entry.instrument}" if entry.instrument else ""), "", active,
                     f"justification: {entry.justification}; approver: {entry.approver}; recorded {iso(entry.recorded_ts_ns)}; "
                     f"expires {iso(entry.expiry_ns)}"))
    applied = [e for e in run.events if isinstance(e, LimitExceptionApplied)]
    if not st.limit_exceptions:
        rows.append(("EXCEPTION", "(none)", "", "", "", "", "the exceptions register is empty"))
    for rule, field_name, setting, status_text, meaning in configuration_rows(cfg):
        rows.append(("RISK_CONFIG", field_name, rule, setting, "", status_text, meaning))
    outro = ["## Breach notice", ""]
    if breaches:
        outro += [f"Benchmark breach at {iso(run.as_of_ns)} (seed {run.config.seed}, state `{run.state_hash}`), for filing with the SFC. "
                  f"Capital basis: {source}.", ""]
        outro += [f"- {b}" for b in breaches]
    else:
        outro.append(f"No benchmark breach at {iso(run.as_of_ns)}: no notice to file.")
    if covered:
        outro += ["", "Deviations under an approved exceptions-register entry (justified, not breaches):", ""]
        outro += [f"- {d}" for d in covered]
    if smf:
        assert book is not None
        basis = (f"C2 and C5 count the whole margin book: this engine (the VA loans and the collateral pledged to them) plus the SMF extract "
                 f"recorded with the book figures at {iso(book.recorded_ts_ns)}: loans of {len(book.client_loans)} client(s) and "
                 f"{len(book.group_loans)} related group(s) outside this engine, margin value of {len(book.security_margin_values)} "
                 "security(ies) in the SMF book. The extract is part of the securities margin loan book above.")
    else:
        basis = ("C2 and C5 count this engine's book only: no SMF extract is recorded, so a client's securities margin loans and the "
                 "SMF book's collateral outside this engine are not in these figures (complete only if the whole margin book lives here).")
    intro = [
        f"Capital basis: {source}.",
        f"Concentration basis: {basis}",
        f"SMF extract currency: {extract_text}",
        "Limits: C1 VA share of each client's margin value; C2 single client and related group; C4 VA share of the margin book, "
        "total loans to capital and BTC/ETH collateral against one day of liquidation capacity; C5 the book's margin value in one "
        "security and one correlated group (house defaults, % of shareholders' funds); C3/C5 size multipliers. "
        "Status WITHIN, BREACH, NOT_MEASURED (no data recorded) or EXCEPTION_<id> (a deviation under an active register entry); "
        "the SMF extract row: WITHIN (current), STALE (new financing refused) or NOT_IN_FORCE (no SMF book to age).",
        f"Risk configuration (section RISK_CONFIG, every setting in force): {configuration_summary(cfg)}. HOUSE_DEFAULT = house "
        "default pending risk-committee sign-off; CONFIGURED = changed by the operator (`harbour broker simulate/report --config FILE`).",
        f"Exceptions register: {len(st.limit_exceptions)} entr{'y' if len(st.limit_exceptions) == 1 else 'ies'}; "
        f"advances made under an exception: {len(applied)}.",
    ]
    return Report("3_smf_monitor", "3. SMF benchmark monitor", SMF_HEADER, rows, intro=intro, outro=outro)


# --- 4. stress pack ---------------------------------------------------------------------------------------------


STRESS_HEADER: Final = (
    "scenario", "kind", "date", "btc_shock_pct", "eth_shock_pct", "equity_shock_pct", "clients_in_call", "clients_forced",
    "sale_value_hkd", "deficit_allowed_hkd", "deficit_blocked_hkd", "clients_with_deficit", "excess_liquid_capital_hkd",
    "exceeds_capital_allowed", "exceeds_capital_blocked", "deficit_allowed_at_5pct_slippage_hkd", "deficit_blocked_at_5pct_slippage_hkd",
    "deficit_allowed_at_10pct_slippage_hkd", "deficit_blocked_at_10pct_slippage_hkd", "path_steps",
    "sale_btc_hkd", "sale_btc_coins", "sale_btc_pct_of_adv", "sale_eth_hkd", "sale_eth_coins", "sale_eth_pct_of_adv", "sale_securities_hkd",
)  # fmt: skip

STRESS_CLIENT_HEADER: Final = (
    "scenario", "client", "loan_hkd", "market_value_hkd", "margin_value_hkd", "ratio_pct", "in_call", "forced_sale",
    "sale_value_hkd", "deficit_allowed_hkd", "deficit_blocked_hkd",
)  # fmt: skip


def _pct_of_adv(units_sold: int, adv: int | None) -> str:
    """A sale in VA units as % of one day's average daily volume (rounded up), or 'no ADV'."""
    return "no ADV" if adv is None or adv <= 0 else pct(share_bps(units_sold, adv))


def stress_pack(run: ReportRun) -> Report:
    rep = run.result.stress
    rv = run.result.reverse
    if rep is None or rv is None:
        raise RuntimeError("the simulation ran no stress test")
    inp = rep.inputs
    kinds = {s.name: (s.kind, s.date, len(s.steps)) for s in rep.scenarios}
    ladder = {bps: {r.scenario: r for r in report.results} for bps, report in run.result.slippage_ladder.items()}
    book = run.result.book_before_crash
    advs = {a: (book.average_daily_volumes[a].qty if book is not None and a in book.average_daily_volumes else None) for a in ("BTC", "ETH")}
    rows: list[tuple[str, ...]] = []
    for res in rep.results:
        kind, date, steps = kinds.get(res.scenario, ("", "", 0))
        at = [ladder[bps][res.scenario] if bps in ladder else None for bps in (500, 1_000)]
        ladder_cells = tuple(hkd(getattr(r, f)) if r is not None else "" for r in at for f in ("deficit_allowed", "deficit_blocked"))
        rows.append((
            res.scenario, kind, date, pct(res.btc_shock_bps), pct(res.eth_shock_bps), pct(res.equity_shock_bps),
            str(res.clients_in_call), str(res.clients_forced), hkd(res.sale_value), hkd(res.deficit_allowed), hkd(res.deficit_blocked),
            str(res.clients_with_deficit), hkd(inp.excess_liquid_capital), yes_no(res.exceeds_capital_allowed), yes_no(res.exceeds_capital_blocked),
            *ladder_cells, str(steps),
            hkd(res.sale_btc), units(res.sale_btc_units), _pct_of_adv(res.sale_btc_units, advs["BTC"]),
            hkd(res.sale_eth), units(res.sale_eth_units), _pct_of_adv(res.sale_eth_units, advs["ETH"]), hkd(res.sale_securities),
        ))  # fmt: skip
    no_sale = ("",) * 8
    if rv.shock_bps is None:
        rows.append(("REVERSE_STRESS_THRESHOLD", "REVERSE", "", "not reached at -100.00", "", pct(rv.equity_shock_bps), "", "", "", "",
                     hkd(rv.deficit_at_shock), "", hkd(rv.excess_liquid_capital), "", "NO", "", "", "", "", *no_sale))
        reverse_line = "Reverse stress (S4): the book deficit stays within excess liquid capital even at BTC/ETH -100%."
    else:
        eth = div_round_up(rv.shock_bps * rv.eth_multiplier_bps, BPS)
        rows.append(("REVERSE_STRESS_THRESHOLD", "REVERSE", "", pct(-rv.shock_bps), pct(-eth), pct(rv.equity_shock_bps), "", "", "", "",
                     hkd(rv.deficit_at_shock), "", hkd(rv.excess_liquid_capital), "", "YES", "", "", "", "", *no_sale))
        reverse_line = (f"Reverse stress (S4): the book deficit (liquidation blocked) first exceeds excess liquid capital at a BTC shock of "
                        f"-{pct(rv.shock_bps)}% (deficit HKD {hkd(rv.deficit_at_shock)}; at -{pct(rv.shock_bps - 1)}%: HKD {hkd(rv.deficit_below)}); "
                        f"{rv.evaluations} evaluations.")
    intro = [
        "Scenario library and shock tiers run against the whole loan book (S2/S3), with liquidation allowed at stressed prices less "
        "slippage and with liquidation blocked (venue outage, HKEX closed). Includes VA gap moves and combined equity+VA shocks. "
        "S2's slippage ladder: the *_at_5pct/10pct_slippage columns rerun the same book at 5% and 10% liquidation slippage.",
        f"Book stressed: the simulated book just before the crash, {rep.clients} clients with loans, state hash `{rep.state_hash}`.",
        f"Inputs: seed {inp.seed}, excess liquid capital HKD {hkd(inp.excess_liquid_capital)}, slippage {pct(inp.slippage_bps)}%, "
        f"sale cost {pct(inp.sale_cost_bps)}%, target ratio {pct(inp.target_ratio_bps)}%, call ratio {pct(inp.call_ratio_bps)}%, "
        f"forced-sale ratio {pct(inp.forced_sale_ratio_bps)}%, equity floor {pct(inp.equity_floor_bps)}%.",
        "Excess liquid capital is the S3/S4 comparison line (the `--capital` input: liquid capital above the FRR requirement); "
        + (f"the 5x total-loans benchmark of report 3 uses the recorded capital, HKD {hkd(book.book.capital)}."
           if book is not None and book.book is not None else "no capital figure is recorded in the book."),
        "Every figure is an exact integer (HKD micro-units) computed by the broker's own stress rules (harbour.broker.stress); "
        "the securities basket and BTC/ETH are sold by class at their margin ratio, lowest first.",
        "path_steps: liquidation allowed sells at every step of a scenario's path but the last. A one-step scenario (instantaneous, or "
        "reported only as a total drawdown, like the 12-month cycle bears) has no earlier price to sell at, so its allowed deficit "
        "equals its blocked deficit: both close the book out at the final prices less slippage and sale cost.",
    ]
    outro = [reverse_line, ""]
    outro += ["## S2 slippage ladder", "", "Book deficit (HKD) at 2%, 5% and 10% liquidation slippage, scenarios with a deficit at any of them "
              "(liquidation allowed / blocked):", ""]
    ladder_rows = []
    for res in rep.results:
        at = [ladder.get(bps, {}).get(res.scenario) for bps in sorted(ladder)]
        if any(r is not None and (r.deficit_allowed or r.deficit_blocked) for r in at):
            ladder_rows.append((res.scenario, *(f"{hkd(r.deficit_allowed)} / {hkd(r.deficit_blocked)}" if r is not None else "" for r in at)))
    outro += md_table(("scenario", *(f"{pct(bps)}% slippage" for bps in sorted(ladder))), ladder_rows) if ladder_rows else [
        "- no deficit at any slippage of the ladder"]
    outro += ["", "## S3 liquidation volume against average daily volume", "",
              "The M6 sell-out each scenario triggers at its final prices (sale_value), split by asset; BTC/ETH in coins and as % of one "
              "day's average daily volume on the execution venues (the C4 capacity is "
              + (f"{pct(book.config.liquidation_participation_bps)}% of ADV a day" if book is not None else "a share of ADV")
              + f"; ADV BTC {units(advs['BTC']) if advs['BTC'] else 'not recorded'}, ETH {units(advs['ETH']) if advs['ETH'] else 'not recorded'} "
              "coins a day). Securities are sold as one basket per client, so their volume is in HKD only.", ""]
    outro += md_table(
        ("scenario", "sale (HKD)", "BTC sold (coins)", "BTC % of ADV", "ETH sold (coins)", "ETH % of ADV", "securities sold (HKD)"),
        [(r.scenario, hkd(r.sale_value), units(r.sale_btc_units), _pct_of_adv(r.sale_btc_units, advs["BTC"]), units(r.sale_eth_units),
          _pct_of_adv(r.sale_eth_units, advs["ETH"]), hkd(r.sale_securities)) for r in rep.results if r.sale_value],
    )
    client_rows, same = _stress_client_rows(run)
    outro += ["", "## S3 per client", "",
              f"Every client with a loan under every scenario (post-shock R, call and forced-sale flags, sale, residual deficit in both modes): "
              f"`4_stress_clients.csv` ({len(client_rows)} rows), recomputed from the stored pre-crash book and inputs; identical to the "
              f"stored book totals: **{yes_no(same)}**. Top {TOP_CLIENTS} clients by blocked deficit per scenario (client: HKD):", ""]
    for res in rep.results:
        if res.top_deficit_clients:
            listed = ", ".join(f"{cid}: {hkd(amount)}" for cid, amount in res.top_deficit_clients[:TOP_CLIENTS])
            outro.append(f"- {res.scenario}: {listed}")
    if not any(res.top_deficit_clients for res in rep.results):
        outro.append("- no client has a residual deficit under any scenario")
    runs = run.result.stress_runs
    outro += [
        "", "## S1 run log", "",
        f"The full library and the reverse stress were rerun {len(runs)} time(s) in the simulation: before the crash, at every HKEX close "
        "(end of day) and whenever BTC or ETH moved 5% or more within an hour (event-driven, at most one per hour).", "",
    ]
    outro += md_table(
        ("time", "trigger", "BTC (HKD)", "ETH (HKD)", "clients", "worst scenario", "worst deficit blocked (HKD)", "scenarios above capital", "reverse stress"),
        [(iso(r.ts_ns), r.trigger, hkd(r.btc_price), hkd(r.eth_price), str(r.clients), r.worst_scenario, hkd(r.worst_deficit_blocked),
          str(r.scenarios_exceeding_capital), "not reached at -100%" if r.reverse_shock_bps is None else f"-{pct(r.reverse_shock_bps)}%") for r in runs],
    )
    stored = {"seed": run.config.seed, "stress_report": rep, "reverse_stress": rv, "s1_runs": runs,
              "s2_slippage_ladder": {str(bps): report for bps, report in sorted(run.result.slippage_ladder.items())}}
    outro += ["", "Stored with its inputs, seed, scenario vectors and every result: `4_stress_pack.json`."]
    clients_csv = io.StringIO()
    csv.writer(clients_csv, lineterminator="\n").writerows([STRESS_CLIENT_HEADER, *client_rows])
    md_cols = ("scenario", "kind", "date", "path_steps", "btc_shock_pct", "eth_shock_pct", "equity_shock_pct", "clients_in_call", "clients_forced",
               "sale_value_hkd", "deficit_allowed_hkd", "deficit_blocked_hkd", "clients_with_deficit", "exceeds_capital_allowed",
               "exceeds_capital_blocked")
    return Report("4_stress_pack", "4. Stress-test pack", STRESS_HEADER, rows, intro=intro, outro=outro, md_columns=md_cols,
                  files={"4_stress_pack.json": msgspec.json.format(msgspec.json.encode(stored), indent=1) + b"\n",
                         "4_stress_clients.csv": clients_csv.getvalue().encode()})


def _stress_client_rows(run: ReportRun) -> tuple[list[tuple[str, ...]], bool]:
    """S3 per client: the stored run's grid, recomputed from the pre-crash book and the stored inputs and scenarios.

    Also says whether the recomputation reproduces the stored per-scenario totals exactly.
    """
    rep = run.result.stress
    book = run.result.book_before_crash
    if rep is None or book is None:
        return [], False
    cols = BookColumns.from_state(book)
    again, grid = run_stress(cols, rep.inputs, rep.scenarios)
    rows: list[tuple[str, ...]] = []
    for j, s in enumerate(rep.scenarios):
        for i, cid in enumerate(cols.client_ids.tolist()):
            ratio = int(grid.ratio_bps[i, j])
            rows.append((
                s.name, str(cid), hkd(int(grid.loan[i])), hkd(int(grid.market_value[i, j])), hkd(int(grid.margin_value[i, j])),
                "unbounded" if ratio < 0 else pct(ratio), yes_no(bool(grid.in_call[i, j])), yes_no(bool(grid.forced[i, j])),
                hkd(int(grid.sale_value[i, j])), hkd(int(grid.deficit_allowed[i, j])), hkd(int(grid.deficit_blocked[i, j])),
            ))  # fmt: skip
    return rows, again == rep


# --- 5. FRR evidence -----------------------------------------------------------------------------------------------


FRR_HEADER: Final = (
    "client", "loan_hkd", "securities_margin_value_hkd", "va_market_value_hkd", "va_margin_value_house_hkd", "va_margin_value_frr_hkd",
    "va_haircut_frr_pct", "margin_value_house_hkd", "margin_value_frr_hkd", "ratio_house_pct", "ratio_frr_pct", "uncovered_loan_frr_hkd",
)  # fmt: skip


def frr_evidence(run: ReportRun) -> Report:
    st = run.state
    rows: list[tuple[str, ...]] = []
    tot = [0] * 7
    all_zero = True
    for cid in sorted(st.clients):
        fig = client_figures(st, cid)
        held = positions(st, cid)
        sec_mv = sum(margin_term(p.value, p.margin_ratio_frr_bps) for p in held if p.kind == SECURITY)
        va_value = sum(p.value for p in held if p.kind == VIRTUAL_ASSET)
        va_house = sum(margin_term(p.value, p.margin_ratio_bps) for p in held if p.kind == VIRTUAL_ASSET)
        va_frr = fig.margin_value_frr - sec_mv  # what the engine's FRR view counts for VA
        all_zero = all_zero and va_frr == 0 and all(p.margin_ratio_frr_bps == 0 for p in held if p.kind == VIRTUAL_ASSET)
        uncovered = max(0, fig.loan - fig.margin_value_frr)
        rows.append((str(cid), hkd(fig.loan), hkd(sec_mv), hkd(va_value), hkd(va_house), hkd(va_frr), pct(BPS) if va_value or va_house else "",
                     hkd(fig.margin_value), hkd(fig.margin_value_frr), pct(fig.ratio_bps), pct(fig.ratio_frr_bps), hkd(uncovered)))
        for i, v in enumerate((fig.loan, sec_mv, va_value, va_house, va_frr, fig.margin_value, fig.margin_value_frr)):
            tot[i] += v
    uncovered_total = sum(max(0, st.loan(cid) - client_figures(st, cid).margin_value_frr) for cid in st.clients)
    rows.append(("TOTAL", hkd(tot[0]), hkd(tot[1]), hkd(tot[2]), hkd(tot[3]), hkd(tot[4]), pct(BPS), hkd(tot[5]), hkd(tot[6]),
                 pct(div_round_up(tot[0] * BPS, tot[5])) if tot[5] else "", pct(div_round_up(tot[0] * BPS, tot[6])) if tot[6] else "",
                 hkd(uncovered_total)))
    intro = [
        "House view (drives calls) beside the capital (FRR) view, both from the engine's own valuation (V4). In the FRR view "
        "every BTC/ETH collateral value counts zero: a 100% haircut in the liquid-capital computation (regulation.md A1 item 11).",
        f"Check: VA collateral counted in the FRR view is zero for every client: **{yes_no(all_zero)}**. "
        f"VA margin value recognised in the house view but not for capital: HKD {hkd(tot[3])}.",
        "uncovered_loan_frr = loan not covered by FRR margin value (securities only).",
    ]
    return Report("5_frr_evidence", "5. Capital (FRR) evidence", FRR_HEADER, rows, intro=intro)


# --- 6. credit-limit audit trail ------------------------------------------------------------------------------------


CREDIT_HEADER: Final = (
    "client", "seq", "time", "old_limit_hkd", "new_limit_hkd", "reason_code", "approver", "nav_hkd", "stressed_nav_hkd",
    "supported_limit_hkd", "outcome",
)  # fmt: skip


def _refused_reason_control(run: ReportRun) -> tuple[bool, str]:
    """Apply ``ChangeCreditLimit`` with the refused reason to a copy of the final state; it must be rejected and change nothing."""
    if not run.state.clients:
        return REFUSED_REASON not in ALLOWED_REASONS, "no client to test against"
    copy = BrokerEngine(BrokerState.decode(run.state.encode()))
    before = copy.state_hash()
    cid = min(copy.state.clients)
    limit = copy.state.clients[cid].credit_limit
    out = copy.apply(1, run.as_of_ns + 1, c.ChangeCreditLimit(client=cid, new_limit=limit + MICRO, reason_code=REFUSED_REASON, approver="CONTROL_TEST"))
    refused = (len(out) == 1 and isinstance(out[0], Rejected) and out[0].code == RejectCode.CREDIT_LIMIT_REASON_REFUSED
               and copy.state_hash() == before and REFUSED_REASON not in ALLOWED_REASONS)
    reason = out[0].reason if out and isinstance(out[0], Rejected) else "accepted"
    return refused, f"client {cid}, new limit HKD {hkd(limit + MICRO)}: {reason}; state unchanged: {yes_no(copy.state_hash() == before)}"


def _stressed_nav_control(run: ReportRun) -> tuple[bool, str]:
    """On a copy of the final state, raise the limit of the client with the most VA just above what its stressed NAV supports.

    The increase must be refused (CREDIT_LIMIT_ABOVE_STRESSED_NAV) and change nothing.
    """
    st = run.state
    if not st.clients:
        return False, "no client to test against"
    cid = max(sorted(st.clients), key=lambda k: client_nav(st, k).va_value)
    nav = client_nav(st, cid)
    copy = BrokerEngine(BrokerState.decode(st.encode()))
    before = copy.state_hash()
    new_limit = max(copy.state.clients[cid].credit_limit, supported_limit(st, nav.stressed_nav)) + MICRO
    out = copy.apply(1, run.as_of_ns + 1, c.ChangeCreditLimit(client=cid, new_limit=new_limit, reason_code="CLIENT_REQUEST", approver="CONTROL_TEST"))
    refused = len(out) == 1 and isinstance(out[0], Rejected) and out[0].code == RejectCode.CREDIT_LIMIT_ABOVE_STRESSED_NAV and copy.state_hash() == before
    reason = out[0].reason if out and isinstance(out[0], Rejected) else "accepted"
    return refused, (f"client {cid} (NAV HKD {hkd(nav.nav)}, BTC/ETH HKD {hkd(nav.va_value)} -> stressed HKD {hkd(nav.stressed_va_value)}, "
                     f"stressed NAV HKD {hkd(nav.stressed_nav)}), new limit HKD {hkd(new_limit)}: {reason}; "
                     f"state unchanged: {yes_no(copy.state_hash() == before)}")


def credit_limit_audit(run: ReportRun) -> Report:
    st = run.state
    cfg = st.config
    rows: list[tuple[str, ...]] = []
    for cid in sorted(st.credit_limit_history):
        for ch in st.credit_limit_history[cid]:
            supported = hkd(supported_limit(st, ch.stressed_nav)) if ch.reason_code != ONBOARDING else ""
            rows.append((str(cid), str(ch.seq), iso(ch.ts_ns), hkd(ch.old_limit), hkd(ch.new_limit), ch.reason_code, ch.approver,
                         hkd(ch.nav), hkd(ch.stressed_nav), supported, "APPLIED"))
    refused_attempts = [e for e in run.events if isinstance(e, Rejected) and e.command == "change_credit_limit"]
    for e in refused_attempts:
        rows.append(("", str(e.seq), iso(e.ts_ns), "", "", str(e.detail.get("reason_code", "")), "", "", "", "", f"REFUSED {e.reason}: {e.message}"))
    ok, detail = _refused_reason_control(run)
    nav_ok, nav_detail = _stressed_nav_control(run)
    intro = [
        f'"{REFUSED_REASON}" is refused as a reason for a credit-limit change (CREDIT_LIMIT_REASON_REFUSED): a limit never rises '
        "because VA financing exists (26EC5). Accepted reasons: " + ", ".join(sorted(ALLOWED_REASONS)) + ".",
        f"Control test on a copy of the final state: ChangeCreditLimit with reason {REFUSED_REASON} -> {detail}. "
        f"Control effective: **{yes_no(ok)}**.",
        f"Client NAV in credit assessment (26EC5): every change records the client's NAV at the broker and its stressed NAV, with BTC at "
        f"-{pct(cfg.nav_stress_btc_bps)}% and ETH at -{pct(cfg.nav_stress_eth_bps)}% (the severe 1-day tier). An increase above "
        f"{pct(cfg.credit_limit_max_stressed_nav_bps)}% of the stressed NAV (supported_limit) is refused (CREDIT_LIMIT_ABOVE_STRESSED_NAV) "
        "unless it is a WAIVER, the documented and approved risk assessment. The onboarding limit comes from the existing SMF process.",
        f"Control test on a copy of the final state: an increase just above the stressed-NAV support -> {nav_detail}. "
        f"Control effective: **{yes_no(nav_ok)}**.",
        f"Every change in the audit trail ({len(rows) - len(refused_attempts)} applied, {len(refused_attempts)} refused in the run), "
        "with old and new limit, reason code, approver and time. The onboarding limit is each client's first entry.",
    ]
    return Report("6_credit_limit_audit", "6. Credit-limit change audit trail", CREDIT_HEADER, rows, intro=intro)


# --- 7. encumbrance attestation ------------------------------------------------------------------------------------------


ATTEST_HEADER: Final = (
    "owner", "lot", "asset", "cost_price_hkd", "lot_qty_now", "ledger_balance", "rehypothecable", "movement_no", "movement_seq",
    "movement_time", "movement_kind", "movement_qty", "beneficiary", "movement_allowed", "lot_re_pledged", "ledger_debit_guard",
)  # fmt: skip


def _ledger_guard_control(run: ReportRun) -> tuple[bool, str]:
    """On a copy of the final state, post one unit of the first open lot to a house account straight into the custody ledger.

    The ledger itself must refuse it (PostingRefused, REHYPOTHECATION_REFUSED) and the state must not change.
    """
    copy = BrokerState.decode(run.state.encode())
    open_lots = [(owner, lot) for owner in sorted(copy.custody) for lot in copy.custody[owner].lots()]
    if not open_lots:
        return False, "no open lot to test against"
    owner, lot = open_lots[0]
    before = copy.state_hash()
    try:
        copy.custody[owner].ledger.post([(lot_account(lot.lot_id), lot.asset, -1), ("HOUSE", lot.asset, 1)])
    except PostingRefused as exc:
        same = copy.state_hash() == before
        return exc.code is RejectCode.REHYPOTHECATION_REFUSED and same, (
            f"client {owner} lot {lot.lot_id} ({lot.asset}) -> HOUSE: refused by the ledger with {exc.code.name} ({int(exc.code)}); "
            f"state unchanged: {yes_no(same)}")
    return False, f"client {owner} lot {lot.lot_id} -> HOUSE: ACCEPTED by the ledger"


def encumbrance_attestation(run: ReportRun) -> Report:
    st = run.state
    guard_ok, guard_detail = _ledger_guard_control(run)
    seq_ts = {e.seq: e.ts_ns for e in run.events}
    rows: list[tuple[str, ...]] = []
    lots = 0
    clean_lots = 0
    for owner in sorted(st.custody):
        custody = st.custody[owner]
        for lot in custody.all_lots():
            lots += 1
            balance = custody.ledger_balance(lot.lot_id, lot.asset)
            allowed = [
                m.beneficiary == owner and ((m.kind in CREDIT_KINDS and m.qty > 0) or (m.kind in DEBIT_KINDS and m.qty < 0))
                for m in lot.movements
            ]
            guarded = custody.ledger_guarded(lot.lot_id)
            clean = all(allowed) and not lot.rehypothecable and guarded and sum(m.qty for m in lot.movements) == lot.qty == balance
            clean_lots += clean
            for i, (m, ok) in enumerate(zip(lot.movements, allowed, strict=True), start=1):
                rows.append((
                    str(owner), str(lot.lot_id), lot.asset, hkd(lot.cost_price), units(lot.qty), units(balance), yes_no(lot.rehypothecable),
                    str(i), str(m.seq), iso(seq_ts[m.seq]) if m.seq in seq_ts else "", m.kind, units(m.qty), str(m.beneficiary),
                    yes_no(ok), yes_no(not clean), "EXTERNAL only" if guarded else "NONE",
                ))  # fmt: skip
    statement = (f"None of the {lots} VA collateral lots was re-pledged, lent or moved to anyone but its owner."
                 if clean_lots == lots else f"ATTENTION: {lots - clean_lots} of {lots} lots have a movement outside the allowed paths.")
    intro = [
        f"**Attestation: {statement}**",
        "Derived from the lot records in each client's own custody sub-ledger: a lot is clean when every movement is a DEPOSIT or "
        "PURCHASE credit or a WITHDRAWAL or FORCED_SALE debit for the owner itself, it is not rehypothecable, its ledger account is "
        "debit-guarded (below), and its movements sum to "
        "its quantity and to its sub-ledger balance. Every lot is listed, open or closed, with its full movement history.",
        "No re-pledging is enforced by the ledger itself, not only by policy (N1): every lot's account in the client's custody "
        "sub-ledger is debit-restricted to EXTERNAL (the VATP omnibus account, through which withdrawals and forced sales leave), so "
        "`Ledger.post` refuses any posting that moves a lot's BTC/ETH to another account (a house, pledge, funding or other client's "
        "account) with REHYPOTHECATION_REFUSED and changes nothing (ledger_debit_guard). The custody layer also checks the path: only "
        "a withdrawal within limits or a forced sale for the owner's own debt.",
        f"Control test on a copy of the final state: {guard_detail}. Control effective: **{yes_no(guard_ok)}**.",
        f"Lots: {lots}; clean: {clean_lots}. Custody reconciliation (N2): last statement {run.state.last_reconciled_date or 'none'}, "
        f"{len(run.state.custody_breaks)} break(s) found, {len(run.state.open_custody_breaks())} open"
        + ("; new financing is BLOCKED while a break is open (N2)." if run.state.open_custody_breaks() else ".")
        + (f" The last statement is the external file `{run.statement_file}`; before it, the simulated custodian's statements "
           "(generated from the books) were reconciled at go-live and every day at 09:00 HKT."
           if run.statement_file else " In this simulation the custodian's statement is generated from the books at go-live and every day at "
           "09:00 HKT; `harbour broker report --custody-statement FILE` reconciles the final book against an external statement file."),
    ]
    debit = sum(client_all_loans(st, cid, st.loan(cid)) + st.bad_debt(cid) for cid in st.clients)
    intro.append(
        f"Securities repledge (N4, s.8A 140% limit): the engine has no path that repledges client securities (securities repledged: "
        f"HKD {hkd(0)}); the limit for these clients is 140% of their debit balances, VA loans included (with their SMF loans as "
        f"recorded): HKD {hkd(div_round_down(debit * 14, 10))}."
    )
    reconciliations = [e for e in run.events if isinstance(e, CustodyReconciled)]
    outro = ["## Daily custody reconciliations (N2)", ""]
    outro += md_table(("seq", "time", "statement date", "rows", "breaks found", "breaks resolved", "open after"),
                      [(str(e.seq), iso(e.ts_ns), e.statement_date, str(e.rows), str(e.breaks_found), str(e.breaks_resolved), str(e.open_breaks))
                       for e in reconciliations])
    outro += ["", "## Custody break register", ""]
    outro += md_table(("break", "statement date", "client", "asset", "statement qty", "book qty", "found", "status", "resolution", "approver"),
                      [(str(b.break_id), b.statement_date, str(b.client), b.asset, units(b.statement_qty), units(b.book_qty), iso(b.found_ts_ns),
                        "RESOLVED" if b.resolved else "OPEN", b.resolution, b.approver) for b in run.state.custody_breaks])
    return Report("7_encumbrance_attestation", "7. Collateral encumbrance attestation", ATTEST_HEADER, rows, intro=intro, outro=outro)


# --- all of them --------------------------------------------------------------------------------------------------------


def build_reports(run: ReportRun) -> list[Report]:
    return [
        dashboard(run),
        margin_call_log(run),
        smf_monitor(run),
        stress_pack(run),
        frr_evidence(run),
        credit_limit_audit(run),
        encumbrance_attestation(run),
    ]


def write_reports(run: ReportRun, reports: Sequence[Report], out_dir: Path, *, markdown_files: bool) -> list[Path]:
    """Write each report's CSV (and its Markdown when ``markdown_files``) into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for rep in reports:
        path = out_dir / f"{rep.stem}.csv"
        path.write_text(rep.csv_text(), encoding="utf-8", newline="")
        written.append(path)
        if markdown_files:
            md = out_dir / f"{rep.stem}.md"
            md.write_text(rep.markdown(run), encoding="utf-8", newline="")
            written.append(md)
        for name, data in sorted(rep.files.items()):
            extra = out_dir / name
            extra.write_bytes(data)
            written.append(extra)
    return written
