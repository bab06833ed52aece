"""A compliance officer's hand check of ``harbour broker report --seed 7``: every figure reconciles to the unit.

Each test recomputes, from the CSV files alone (or the engine's own events where a rule needs them), what
the report states: totals add up, the call log's sales reconcile loan by loan and follow the closed form of
M6, the FRR view counts BTC/ETH at zero, the S3 split by asset adds up to the sale value and the per-client
stress rows to the book, and the house defaults are printed as pending risk-committee sign-off.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harbour.broker import BrokerConfig
from harbour.broker.config import SETTINGS, VA_UNITS_PER_COIN
from harbour.broker.events import CollateralSold, ForcedSaleCompleted, ForcedSaleStarted
from harbour.broker.sellout import required_sale_value
from harbour.cli.main import EXIT_ERROR, EXIT_OK, app
from harbour.kernel.money import BPS, div_round_down, div_round_up, format_units, parse_units
from harbour.sim.broker_report import run_for_report
from harbour.sim.broker_scenario import BrokerSimConfig

runner = CliRunner()
SEED = 7


def _units(text: str, decimals: int = 6) -> int:
    return parse_units(text, decimals) if text else 0


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("report7")
    result = runner.invoke(app, ["broker", "report", "--seed", str(SEED), "--out", str(where)])
    assert result.exit_code == EXIT_OK, result.output
    return where


def test_dashboard_columns_reconcile_per_client_and_add_up_to_the_total_row(out: Path) -> None:
    rows = _rows(out / "1_dashboard.csv")
    clients, [total] = [r for r in rows if r["client"] != "TOTAL"], [r for r in rows if r["client"] == "TOTAL"]
    for r in clients:
        mv = _units(r["margin_value_hkd"])
        loan = _units(r["loan_hkd"])
        assert mv == _units(r["securities_margin_value_hkd"]) + _units(r["btc_after_haircut_hkd"]) + _units(r["eth_after_haircut_hkd"])
        assert _units(r["headroom_hkd"]) == min(div_round_down(mv * 10_000, BPS), _units(r["credit_limit_hkd"])) - loan
        assert _units(r["margin_ratio_pct"], 2) == (div_round_up(loan * BPS, mv) if loan else 0)
        market = _units(r["securities_value_hkd"]) + _units(r["btc_value_hkd"]) + _units(r["eth_value_hkd"])
        assert _units(r["nav_hkd"]) == market + _units(r["cash_hkd"]) - loan - _units(r["bad_debt_hkd"])
    for column in ("securities_value_hkd", "btc_value_hkd", "btc_after_haircut_hkd", "eth_value_hkd", "eth_after_haircut_hkd",
                   "loan_hkd", "margin_value_hkd", "credit_limit_hkd", "nav_hkd", "stressed_nav_hkd", "interest_charged_hkd"):  # fmt: skip
        assert sum(_units(r[column]) for r in clients) == _units(total[column]), column


def test_every_forced_sale_in_the_call_log_reconciles_loan_by_loan_to_the_unit(out: Path) -> None:
    log = _rows(out / "2_margin_call_log.csv")
    by_step: dict[tuple[str, str], dict[str, list[dict[str, str]]]] = {}
    for r in log:
        by_step.setdefault((r["seq"], r["client"]), {}).setdefault(r["event"], []).append(r)
    sales = [step for step in by_step.values() if "FORCED_SALE_STARTED" in step]
    assert sales
    for step in sales:
        [started], [done] = step["FORCED_SALE_STARTED"], step["FORCED_SALE_COMPLETED"]
        repaid = 0
        for fill in step["SALE_FILL"]:
            gross, cost, net = _units(fill["gross_hkd"]), _units(fill["cost_hkd"]), _units(fill["net_hkd"])
            va = fill["instrument"] in ("BTC", "ETH")
            qty = _units(fill["qty"], 8) if va else int(fill["qty"])
            assert gross == (qty * _units(fill["price_hkd"]) // VA_UNITS_PER_COIN if va else qty * _units(fill["price_hkd"]))
            assert cost == div_round_up(gross * 50, BPS)  # all-in sale cost c = 0.50%, charged rounded up
            assert net == gross - cost and _units(fill["loan_repaid_hkd"]) <= net
            repaid += _units(fill["loan_repaid_hkd"])
        assert _units(started["loan_hkd"]) - repaid == _units(done["loan_hkd"])
        if done["cause_or_trigger"] == "TARGET_REACHED":
            assert _units(done["margin_ratio_pct"], 2) <= 9_000  # M6: R* = 90%
        assert step["CALL_MET"][0]["cause_or_trigger"] == "BY_FORCED_SALE"


def test_a_forced_sale_sells_the_closed_form_quantity_and_no_more() -> None:
    """M6: one fill sells exactly ceil(x / price) of the first asset, x = (L - R*MV) / ((1 - c) - R* m); a sale in
    several fills empties the earlier lots first."""
    run = run_for_report(BrokerSimConfig(seed=SEED))
    started: dict[tuple[int, int], ForcedSaleStarted] = {}
    fills: dict[tuple[int, int], list[CollateralSold]] = {}
    checked = 0
    for e in run.events:
        if isinstance(e, ForcedSaleStarted):
            started[(e.seq, e.client)] = e
            fills[(e.seq, e.client)] = []
        elif isinstance(e, CollateralSold):
            fills[(e.seq, e.client)].append(e)
        elif isinstance(e, ForcedSaleCompleted) and e.target_reached:
            s, first = started[(e.seq, e.client)], fills[(e.seq, e.client)][0]
            x = required_sale_value(s.figures.loan, s.figures.margin_value, 9_000, first.margin_ratio_bps, 50)
            assert x is not None
            wanted = div_round_up(x * VA_UNITS_PER_COIN, first.price) if first.lot else div_round_up(x, first.price)
            if len(fills[(e.seq, e.client)]) == 1:
                assert first.qty == wanted
                checked += 1
            else:
                assert first.qty < wanted  # capped at the lot: the next fill carries on
    assert checked > 0


def test_calls_issued_are_met_or_still_open(out: Path) -> None:
    log = _rows(out / "2_margin_call_log.csv")
    issued = sum(1 for r in log if r["event"] == "CALL_ISSUED")
    met = sum(1 for r in log if r["event"] == "CALL_MET")
    open_now = sum(1 for r in _rows(out / "1_dashboard.csv") if r["call_status"] == "IN_CALL")
    assert issued == met + open_now
    md = (out / "2_margin_call_log.md").read_text(encoding="utf-8")
    assert f"Calls: {issued} issued;" in md


def test_frr_view_counts_btc_and_eth_at_zero_and_reconciles(out: Path) -> None:
    rows = _rows(out / "5_frr_evidence.csv")
    clients, [total] = [r for r in rows if r["client"] != "TOTAL"], [r for r in rows if r["client"] == "TOTAL"]
    for r in clients:
        assert _units(r["va_margin_value_frr_hkd"]) == 0
        assert _units(r["margin_value_frr_hkd"]) == _units(r["securities_margin_value_hkd"])
        assert _units(r["margin_value_house_hkd"]) == _units(r["securities_margin_value_hkd"]) + _units(r["va_margin_value_house_hkd"])
        assert _units(r["uncovered_loan_frr_hkd"]) == max(0, _units(r["loan_hkd"]) - _units(r["margin_value_frr_hkd"]))
    assert sum(_units(r["uncovered_loan_frr_hkd"]) for r in clients) == _units(total["uncovered_loan_frr_hkd"])


def test_s3_liquidation_volume_by_asset_adds_up_and_the_per_client_rows_add_up_to_the_book(out: Path) -> None:
    pack = [r for r in _rows(out / "4_stress_pack.csv") if r["kind"] != "REVERSE"]
    per_client = _rows(out / "4_stress_clients.csv")
    stored = json.loads((out / "4_stress_pack.json").read_text(encoding="utf-8"))["stress_report"]
    btc_price = 600_000 * 10**6  # the pre-crash mark of the stressed book
    for r, res in zip(pack, stored["results"], strict=True):
        assert _units(r["sale_btc_hkd"]) + _units(r["sale_eth_hkd"]) + _units(r["sale_securities_hkd"]) == _units(r["sale_value_hkd"])
        at = btc_price * (BPS + res["btc_shock_bps"]) // BPS
        assert _units(r["sale_btc_coins"], 8) == div_round_up(_units(r["sale_btc_hkd"]) * VA_UNITS_PER_COIN, at)
        if _units(r["sale_btc_coins"], 8):
            assert _units(r["sale_btc_pct_of_adv"], 2) == div_round_up(_units(r["sale_btc_coins"], 8) * BPS, 3_000 * VA_UNITS_PER_COIN)
        mine = [c for c in per_client if c["scenario"] == r["scenario"]]
        assert len(mine) == int(stored["clients"])
        for column in ("sale_value_hkd", "deficit_allowed_hkd", "deficit_blocked_hkd"):
            assert sum(_units(c[column]) for c in mine) == _units(r[column]), (r["scenario"], column)
        assert sum(c["in_call"] == "YES" for c in mine) == int(r["clients_in_call"])
        assert sum(c["forced_sale"] == "YES" for c in mine) == int(r["clients_forced"])
        assert _units(r["deficit_allowed_hkd"]) <= _units(r["deficit_blocked_hkd"])
        if r["path_steps"] == "1":
            assert r["deficit_allowed_hkd"] == r["deficit_blocked_hkd"]  # no earlier price to sell at


def test_smf_monitor_counts_each_clients_loans_in_every_product_and_the_whole_book(out: Path) -> None:
    rows = _rows(out / "3_smf_monitor.csv")
    book = {r["item"]: r for r in rows if r["section"] == "BOOK"}
    funds = _units(book["shareholders_funds"]["value"])
    total = _units(book["va_margin_loans"]["value"]) + _units(book["securities_margin_loans"]["value"])
    assert f"total HKD {format_units(total, 6)} vs" in book["total_margin_loans_to_capital"]["detail"]
    top = [r for r in rows if r["section"] == "TOP_CLIENT"]
    assert top
    for r in top:
        found = re.fullmatch(r"loans HKD ([0-9.]+) = VA loan here HKD ([0-9.]+) \+ SMF books HKD ([0-9.]+)", r["detail"])
        assert found is not None, r["detail"]
        loans, here, smf = (parse_units(g, 6) for g in found.groups())
        assert loans == here + smf and _units(r["value"], 2) == div_round_up(loans * BPS, funds)
    md = (out / "3_smf_monitor.md").read_text(encoding="utf-8")
    assert "C2 and C5 count the whole margin book" in md


def test_house_defaults_are_printed_as_pending_risk_committee_sign_off(out: Path) -> None:
    config = {r["item"]: r for r in _rows(out / "3_smf_monitor.csv") if r["section"] == "RISK_CONFIG"}
    assert set(config) == {s.field for s in SETTINGS} == set(BrokerConfig.__struct_fields__)
    for field, value in (("single_stock_max_bps", "20.00%"), ("correlated_group_max_bps", "40.00%"),
                         ("credit_limit_max_stressed_nav_bps", "200.00%"), ("interest_rate_bps", "8.00%")):  # fmt: skip
        assert (config[field]["value"], config[field]["status"]) == (value, "HOUSE_DEFAULT"), field
        assert "house default pending risk-committee sign-off" in config[field]["detail"]
    for stem in ("1_dashboard", "2_margin_call_log", "3_smf_monitor", "4_stress_pack", "5_frr_evidence", "6_credit_limit_audit", "7_encumbrance_attestation"):
        assert "house defaults pending risk-committee sign-off" in (out / f"{stem}.md").read_text(encoding="utf-8"), stem


def test_a_configured_house_default_is_shown_as_configured(tmp_path: Path) -> None:
    settings = tmp_path / "risk.json"
    settings.write_text('{"single_stock_max_bps": 1500, "interest_rate_bps": 650}', encoding="utf-8")

    result = runner.invoke(app, ["broker", "report", "--seed", "3", "--clients", "8", "--hours", "12", "--out", str(tmp_path / "o"), "--config", str(settings)])

    assert result.exit_code == EXIT_OK, result.output
    config = {r["item"]: r for r in _rows(tmp_path / "o" / "3_smf_monitor.csv") if r["section"] == "RISK_CONFIG"}
    assert (config["single_stock_max_bps"]["value"], config["single_stock_max_bps"]["status"]) == ("15.00%", "CONFIGURED")
    assert "shipped default 20.00%" in config["single_stock_max_bps"]["detail"]
    assert config["interest_rate_bps"]["status"] == "CONFIGURED" and config["correlated_group_max_bps"]["status"] == "HOUSE_DEFAULT"


@pytest.mark.parametrize(
    "text", ['{"va_haircuts": [{"asset": "BTC", "volatility_haircut_bps": 5000}]}', '{"no_such_setting": 1}', "[1, 2]", "{"],
    ids=["haircut-below-60", "unknown-setting", "not-an-object", "not-json"],
)
def test_a_refused_risk_configuration_file_is_an_error(tmp_path: Path, text: str) -> None:
    settings = tmp_path / "risk.json"
    settings.write_text(text, encoding="utf-8")

    result = runner.invoke(app, ["broker", "simulate", "--seed", "3", "--clients", "4", "--hours", "2", "--config", str(settings)])

    assert result.exit_code == EXIT_ERROR
