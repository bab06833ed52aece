"""``harbour broker report``: the seven compliance reports of regulation.md (c) items 1-7, as Markdown and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harbour.broker.reconciliation import book_holdings
from harbour.broker.valuation import client_nav
from harbour.cli.main import EXIT_ERROR, EXIT_OK, app
from harbour.kernel.money import format_units, parse_units
from harbour.sim.broker_report import (
    ATTEST_HEADER,
    CREDIT_HEADER,
    DASHBOARD_HEADER,
    FRR_HEADER,
    LOG_HEADER,
    SMF_HEADER,
    STRESS_CLIENT_HEADER,
    STRESS_HEADER,
    run_for_report,
)
from harbour.sim.broker_scenario import BrokerSimConfig

runner = CliRunner()
SEED = 11
ARGS = ["--clients", "12", "--hours", "48"]
EXPECTED = {
    "1_dashboard": DASHBOARD_HEADER,
    "2_margin_call_log": LOG_HEADER,
    "3_smf_monitor": SMF_HEADER,
    "4_stress_pack": STRESS_HEADER,
    "5_frr_evidence": FRR_HEADER,
    "6_credit_limit_audit": CREDIT_HEADER,
    "7_encumbrance_attestation": ATTEST_HEADER,
}
EXTRA_CSV = {"4_stress_clients": STRESS_CLIENT_HEADER}  # S3 per client, beside the stress pack


def _report(out: Path, seed: int = SEED) -> None:
    result = runner.invoke(app, ["broker", "report", "--seed", str(seed), "--out", str(out), *ARGS])
    assert result.exit_code == EXIT_OK, result.output


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    _report(out)
    return out


def test_writes_seven_csvs_with_expected_headers_and_markdown(report_dir: Path) -> None:
    assert sorted(p.stem for p in report_dir.glob("*.csv")) == sorted(EXPECTED | EXTRA_CSV)
    for stem, header in (EXPECTED | EXTRA_CSV).items():
        with (report_dir / f"{stem}.csv").open(newline="", encoding="utf-8") as f:
            assert tuple(next(csv.reader(f))) == header, stem
        if stem in EXTRA_CSV:
            continue
        md = (report_dir / f"{stem}.md").read_text(encoding="utf-8")
        assert f"Seed: {SEED}" in md and "As of: " in md and "State hash" in md, stem


def test_same_seed_gives_identical_files(report_dir: Path, tmp_path: Path) -> None:
    _report(tmp_path)
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (report_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_stdout_markdown_when_no_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["broker", "report", "--seed", "3", *ARGS])
    assert result.exit_code == EXIT_OK, result.output
    for title in ("# 1. Collateral", "# 2. Margin-call", "# 3. SMF", "# 4. Stress", "# 5. Capital (FRR)", "# 6. Credit-limit", "# 7. Collateral encumbrance"):
        assert title in result.output, title
    assert "VA_FINANCING_ENABLED" in result.output
    assert sorted(p.stem for p in (tmp_path / "var" / "broker-report-3").glob("*.csv")) == sorted(EXPECTED | EXTRA_CSV)


def test_attestation_lists_every_lot_and_dashboard_loans_match_state(report_dir: Path) -> None:
    run = run_for_report(BrokerSimConfig(seed=SEED, clients=12, hours=48))
    st = run.state
    attest = _rows(report_dir / "7_encumbrance_attestation.csv")
    listed = {(int(r["owner"]), int(r["lot"])) for r in attest}
    in_state = {(owner, lot.lot_id) for owner, custody in st.custody.items() for lot in custody.all_lots()}
    assert in_state and listed == in_state
    movements = sum(len(lot.movements) for custody in st.custody.values() for lot in custody.all_lots())
    assert len(attest) == movements
    assert {r["lot_re_pledged"] for r in attest} == {"NO"}

    dash = _rows(report_dir / "1_dashboard.csv")
    clients = [r for r in dash if r["client"] != "TOTAL"]
    total = [r for r in dash if r["client"] == "TOTAL"]
    state_loans = sum(st.loan(cid) for cid in st.clients)
    assert sorted(int(r["client"]) for r in clients) == sorted(st.clients)
    assert sum(parse_units(r["loan_hkd"], 6) for r in clients) == state_loans
    assert len(total) == 1 and parse_units(total[0]["loan_hkd"], 6) == state_loans
    assert all(r["btc_haircut_pct"] in ("", *(f"{h}.00" for h in range(60, 101))) for r in clients)

    md = (report_dir / "1_dashboard.md").read_text(encoding="utf-8")
    assert run.state_hash in md


def test_credit_audit_states_refused_reason_and_frr_counts_va_at_zero(report_dir: Path) -> None:
    md = (report_dir / "6_credit_limit_audit.md").read_text(encoding="utf-8")
    assert '"VA_FINANCING_ENABLED" is refused as a reason' in md and "Control effective: **YES**" in md
    frr = _rows(report_dir / "5_frr_evidence.csv")
    assert frr and all(parse_units(r["va_margin_value_frr_hkd"], 6) == 0 for r in frr)
    stress = _rows(report_dir / "4_stress_pack.csv")
    assert stress[-1]["scenario"] == "REVERSE_STRESS_THRESHOLD" and len(stress) > 1


def test_dashboard_and_credit_audit_show_the_stressed_nav_used_in_credit_assessment(report_dir: Path) -> None:
    run = run_for_report(BrokerSimConfig(seed=SEED, clients=12, hours=48))
    dash = [r for r in _rows(report_dir / "1_dashboard.csv") if r["client"] != "TOTAL"]
    for r in dash:
        nav = client_nav(run.state, int(r["client"]))
        assert (parse_units(r["nav_hkd"], 6), parse_units(r["stressed_nav_hkd"], 6)) == (nav.nav, nav.stressed_nav)
        assert nav.stressed_nav <= nav.nav
    assert any(parse_units(r["stressed_nav_hkd"], 6) < parse_units(r["nav_hkd"], 6) for r in dash)
    md = (report_dir / "6_credit_limit_audit.md").read_text(encoding="utf-8")
    assert "CREDIT_LIMIT_ABOVE_STRESSED_NAV; state unchanged: YES. Control effective: **YES**" in md
    assert {"nav_hkd", "stressed_nav_hkd", "supported_limit_hkd"} <= set(_rows(report_dir / "6_credit_limit_audit.csv")[0])


def test_smf_monitor_measures_liquidation_capacity_single_stocks_and_correlated_groups(report_dir: Path) -> None:
    rows = _rows(report_dir / "3_smf_monitor.csv")
    sections = {(r["section"], r["item"]): r for r in rows}
    assert sections[("LIQUIDITY", "BTC")]["status"] == "WITHIN" and "capacity" in sections[("LIQUIDITY", "BTC")]["detail"]
    assert {code for section, code in sections if section == "SINGLE_STOCK"} == {"0005", "0700", "9988", "1810", "8001"}
    assert sections[("CORRELATED_GROUP", "HK-TECH")]["limit"] == "40.00"
    limit_rows = [r for r in rows if r["section"] not in ("EXCEPTION", "RISK_CONFIG")]  # register entries are ACTIVE or EXPIRED
    assert all(r["status"] in ("", "WITHIN", "BREACH", "NOT_MEASURED") or r["status"].startswith("EXCEPTION_") for r in limit_rows)


def test_stress_pack_is_stored_with_inputs_seed_and_the_s1_reruns(report_dir: Path) -> None:
    stored = json.loads((report_dir / "4_stress_pack.json").read_text(encoding="utf-8"))
    assert stored["seed"] == SEED and stored["stress_report"]["inputs"]["seed"] == SEED
    assert len(stored["stress_report"]["scenarios"]) == len(stored["stress_report"]["results"])
    triggers = [r["trigger"] for r in stored["s1_runs"]]
    assert triggers[0] == "PRE_CRASH" and "END_OF_DAY" in triggers
    assert "## S1 run log" in (report_dir / "4_stress_pack.md").read_text(encoding="utf-8")


def test_an_external_custody_statement_file_with_a_difference_opens_a_break_shown_in_the_attestation(tmp_path: Path) -> None:
    run = run_for_report(BrokerSimConfig(seed=SEED, clients=12, hours=48))
    holdings = sorted((cid, asset, qty) for (cid, asset), qty in book_holdings(run.state).items())
    cid, asset, qty = holdings[0]
    lines = ["client,asset,qty"] + [f"{c},{a},{format_units(q - (1 if (c, a) == (cid, asset) else 0), 8)}" for c, a, q in holdings]
    statement = tmp_path / "custody.csv"
    statement.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    result = runner.invoke(app, ["broker", "report", "--seed", str(SEED), "--out", str(out), *ARGS, "--custody-statement", str(statement)])

    assert result.exit_code == EXIT_OK, result.output
    md = (out / "7_encumbrance_attestation.md").read_text(encoding="utf-8")
    assert "external file `custody.csv`" in md and "new financing is BLOCKED" in md
    assert "| OPEN |" in md and f"| {cid} | {asset} | {format_units(qty - 1, 8)} | {format_units(qty, 8)} |" in md


def test_a_malformed_custody_statement_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("client,asset\n1,BTC\n", encoding="utf-8")

    result = runner.invoke(app, ["broker", "report", "--seed", "3", "--out", str(tmp_path / "o"), *ARGS, "--custody-statement", str(bad)])

    assert result.exit_code == EXIT_ERROR


def test_call_log_shows_each_v2_price_alert_with_its_feeds_and_the_lower_price_used(report_dir: Path) -> None:
    alerts = [r for r in _rows(report_dir / "2_margin_call_log.csv") if r["event"] == "PRICE_ALERT"]

    assert alerts and all(r["instrument"] in ("BTC", "ETH") and "(primary)" in r["price_inputs"] for r in alerts)
    assert all(set(r["cause_or_trigger"].split("+")) <= {"STALE_FEED", "DIVERGENT_FEEDS", "TOO_FEW_REFERENCES"} for r in alerts)
