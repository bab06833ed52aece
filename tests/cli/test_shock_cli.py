"""``harbour simulate --shock crash-2020-03-12``: a Black-Thursday crash through the index feed.

The summary's liquidation, waterfall, ADL and funding figures are recomputed here from the
events of the journal the run wrote (replayed into a fresh venue), each with its own simple
sum, so the summary says what the venue did. The replay also runs every command's events
through the waterfall rules of the property tests (``properties/waterfall_rules.py``). With seed 7 every layer of the published
waterfall pays: the defaulters' margin, the insurance fund (after taking the liquidation
fees), the operator tranche, then ADL. DEFICIT is not reached, and cannot be by a
liquidation: the backstop unwinds only as far as the fund and tranche can pay, and ADL at
the bankruptcy price takes the rest, so nothing is left for DEFICIT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harbour.cli.main import EXIT_ERROR, EXIT_OK, app
from harbour.journal import CommandCodec, FileJournal, RecordKind
from harbour.venue import VenueEngine, check_all, default_genesis
from harbour.venue.commands import PublishIndex, SetReferencePrice, VenueCommand
from harbour.venue.events import (
    AutoDeleveraged,
    FundingSettled,
    IndexPublished,
    LiquidationStepped,
    LiquidationTriggered,
    LossReported,
    MarkPriceSet,
    TradeExecuted,
    TransferPosted,
)

from properties.waterfall_rules import WaterfallRules

SHOCK = "crash-2020-03-12"
SEED = 7
SETTLEMENT = {"BTCUSD": ("USD", 10), "ETHHKD": ("HKD", 10)}  # settlement asset, unit value (micro-units per price x qty unit)

runner = CliRunner()


class Run:
    """One shock run: its JSON summary, and every command and event replayed from its journal."""

    def __init__(self, summary: dict[str, Any], commands: list[object], events: list[object], replayed_hash: str) -> None:
        self.summary = summary
        self.waterfall: dict[str, Any] = summary["waterfall"]
        self.commands = commands
        self.events = events
        self.replayed_hash = replayed_hash

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def _replay(journal_dir: Path) -> tuple[list[object], list[object], str]:
    codec = CommandCodec(VenueCommand)
    engine = VenueEngine()
    rules = WaterfallRules(engine.state, [])  # the property tests' event-by-event waterfall rules
    commands: list[object] = []
    events: list[object] = []
    with FileJournal.open(journal_dir / "journal.log") as journal:
        for record in journal.records():
            if record.kind is RecordKind.COMMAND:
                command = codec.decode(record.payload)
                commands.append(command)
                out = engine.apply(record.seq, record.ts_ns, command)
                rules.check(out)
                events.extend(out)
    assert check_all(engine.state) == []
    return commands, events, engine.state_hash().hex()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    journal_dir = tmp_path_factory.mktemp("shock") / "sim"
    result = runner.invoke(app, ["simulate", "--seed", str(SEED), "--minutes", "5", "--shock", SHOCK, "--journal-dir", str(journal_dir), "--json"])
    assert result.exit_code == EXIT_OK, result.output
    commands, events, replayed_hash = _replay(journal_dir)
    return Run(json.loads(result.output), commands, events, replayed_hash)


def _by_asset(rows: list[tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, amount in rows:
        out[key] = out.get(key, 0) + amount
    return dict(sorted(out.items()))


def _layer(run: Run, name: str) -> dict[str, int]:
    return _by_asset([(asset, amount) for r in run.of(LossReported) for layer, asset, amount in r.layers if layer == name])


# --- the run is healthy and the crash came through the index feed -----------------------------


def test_the_shock_run_keeps_every_invariant_and_replays_to_the_same_state(run: Run) -> None:
    assert run.summary["shock"] == SHOCK
    assert run.summary["invariant_checks_passed"] == run.summary["invariant_checks_run"] > 0
    assert run.summary["findings"] == []
    assert run.replayed_hash == run.summary["final_state_hash"]


def test_the_crash_reaches_the_venue_only_as_index_prints_and_takes_btc_down_about_39_percent(run: Run) -> None:
    set_directly = [c for c in run.commands if isinstance(c, SetReferencePrice)]
    assert set_directly == [c for c in default_genesis() if isinstance(c, SetReferencePrice)]  # genesis only
    assert sum(isinstance(c, PublishIndex) for c in run.commands) > 500
    btc_index = [e.print.value for e in run.of(IndexPublished) if e.instrument == "BTCUSD" and e.print.value is not None]
    btc_marks = [e.mark for e in run.of(MarkPriceSet) if e.instrument == "BTCUSD"]
    assert -0.45 < min(btc_index) / btc_index[0] - 1 < -0.33
    assert min(btc_marks) / btc_marks[0] - 1 < -0.33


# --- every figure of the summary is a sum over the events ---------------------------------------


def test_liquidation_count_and_closed_quantities_are_the_events(run: Run) -> None:
    w = run.waterfall
    steps = run.of(LiquidationStepped)

    assert w["liquidations"] == len(run.of(LiquidationTriggered)) == len(run.of(LossReported)) > 0
    assert w["accounts_liquidated"] == len({e.account for e in run.of(LiquidationTriggered)})
    assert w["steps"] == len(steps)
    assert w["closed_qty"] == _by_asset([(sym, abs(q)) for r in run.of(LossReported) for sym, q in r.closed])
    assert w["book_qty"] == _by_asset([(s.instrument, s.book_qty) for s in steps])
    assert w["backstop_qty"] == _by_asset([(s.instrument, s.backstop_qty) for s in steps])
    assert w["adl_qty"] == _by_asset([(s.instrument, s.adl_qty) for s in steps])
    assert w["adl_qty"] == _by_asset([(a.instrument, a.qty) for a in run.of(AutoDeleveraged)])


def test_notional_closed_is_the_liquidation_fills_and_deleveraging_trades_at_their_prices(run: Run) -> None:
    rows: list[tuple[str, int]] = []
    liquidating: int | None = None
    for e in run.events:
        if isinstance(e, LiquidationTriggered):
            liquidating = e.account
        elif isinstance(e, LossReported):
            liquidating = None
        elif isinstance(e, TradeExecuted) and liquidating is not None:
            assert e.taker_account == liquidating and e.taker_order_id == 0  # the liquidation's own order
            rows.append((e.instrument, e.price * e.qty * SETTLEMENT[e.instrument][1]))
        elif isinstance(e, AutoDeleveraged):
            rows.append((e.instrument, e.price * e.qty * SETTLEMENT[e.instrument][1]))

    assert run.waterfall["closed_notional"] == _by_asset(rows)


def test_fee_income_and_each_layer_paid_are_the_loss_reports(run: Run) -> None:
    w = run.waterfall
    fee_transfers = _by_asset(
        [(asset, amount) for t in run.of(TransferPosted) if t.kind == "LIQUIDATION_FEE" for acct, asset, amount in t.postings if acct == "INSURANCE_FUND"]
    )
    fees_stepped = _by_asset([(SETTLEMENT[s.instrument][0], s.liquidation_fee) for s in run.of(LiquidationStepped) if s.liquidation_fee])

    assert w["liquidation_fees_to_insurance_fund"] == _layer(run, "LIQUIDATION_FEE") == fee_transfers == fees_stepped
    assert w["defaulter_margin"] == _layer(run, "DEFAULTER_MARGIN")
    assert w["defaulter_gains_realised"] == _layer(run, "DEFAULTER_GAINS")
    assert w["insurance_fund_paid"] == _layer(run, "INSURANCE_FUND")
    assert w["operator_tranche_paid"] == _layer(run, "OPERATOR_TRANCHE")
    assert w["deficit_in_liquidations"] == _layer(run, "DEFICIT")


def test_adl_count_and_counterparties_are_the_deleveraging_events(run: Run) -> None:
    adl = run.of(AutoDeleveraged)
    taken: dict[str, int] = {}
    for a in adl:
        taken[str(a.counterparty)] = taken.get(str(a.counterparty), 0) + a.qty

    assert run.waterfall["adl_trades"] == len(adl)
    assert run.waterfall["adl_counterparties"] == dict(sorted(taken.items(), key=lambda kv: int(kv[0])))
    reported = sorted((cp, q, p) for r in run.of(LossReported) for cp, q, p in r.adl)
    assert reported == sorted((a.counterparty, a.qty, a.price) for a in adl)


def test_deficit_and_funding_are_the_transfer_and_funding_events(run: Run) -> None:
    w = run.waterfall
    deficit = _by_asset([(asset, amount) for t in run.of(TransferPosted) for acct, asset, amount in t.postings if acct == "DEFICIT"])
    funding = run.of(FundingSettled)

    assert w["deficit_outstanding"] == {asset: -amount for asset, amount in deficit.items() if amount}
    assert w["funding"]["settlements"] == len(funding) > 0
    assert w["funding"]["paid"] == _by_asset([(SETTLEMENT[f.instrument][0], f.total_paid) for f in funding])
    assert w["funding"]["received"] == _by_asset([(SETTLEMENT[f.instrument][0], f.total_received) for f in funding])
    assert w["funding"]["residue_to_insurance_fund"] == _by_asset([(SETTLEMENT[f.instrument][0], f.residue) for f in funding])
    assert w["funding"]["shortfall_covered"] == _by_asset([(SETTLEMENT[f.instrument][0], f.shortfall_covered) for f in funding])
    for f in funding:
        assert f.total_paid == f.total_received + f.residue


# --- the shock exercises the whole waterfall --------------------------------------------------


def test_with_seed_7_every_layer_of_the_waterfall_pays_in_the_crash(run: Run) -> None:
    w = run.waterfall

    assert sum(w["defaulter_margin"].values()) > 0
    assert sum(w["liquidation_fees_to_insurance_fund"].values()) > 0
    assert sum(w["book_qty"].values()) > 0  # closed in the book no worse than the bankruptcy price
    assert sum(w["backstop_qty"].values()) > 0  # ... beyond it, within the collar
    assert sum(w["insurance_fund_paid"].values()) > 0
    assert sum(w["operator_tranche_paid"].values()) > 0
    assert w["adl_trades"] > 0 and len(w["adl_counterparties"]) > 1
    assert w["deficit_in_liquidations"] == {}  # unreachable by a liquidation (module docstring)


def test_the_tranche_first_pays_in_a_liquidation_that_empties_the_insurance_fund(run: Run) -> None:
    fund: dict[str, int] = {}
    first_tranche: LossReported | None = None
    for e in run.events:
        if isinstance(e, TransferPosted):
            for acct, asset, amount in e.postings:
                if acct == "INSURANCE_FUND":
                    fund[asset] = fund.get(asset, 0) + amount
        elif isinstance(e, LossReported) and any(layer == "OPERATOR_TRANCHE" for layer, _, _ in e.layers):
            first_tranche = e
            break

    assert first_tranche is not None
    assert any(layer == "INSURANCE_FUND" for layer, _, _ in first_tranche.layers)
    assert all(amount == 0 for amount in fund.values())  # fund USD and HKD both spent (the HKD converted)


# --- the command line --------------------------------------------------------------------------


def test_the_table_summary_names_each_layer(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "--seed", "3", "--minutes", "1", "--clients", "15", "--shock", SHOCK, "--journal-dir", str(tmp_path)]
    )

    assert result.exit_code == EXIT_OK, result.output
    for label in ("liquidations", "insurance fund", "operator tranche", "ADL trades", "deficit outstanding", "funding settlements"):
        assert label in result.output


def test_the_same_seed_and_shock_give_the_same_session(tmp_path: Path) -> None:
    args = ["simulate", "--seed", "5", "--minutes", "1", "--clients", "15", "--shock", SHOCK, "--json"]

    first = runner.invoke(app, [*args, "--journal-dir", str(tmp_path / "a")])
    second = runner.invoke(app, [*args, "--journal-dir", str(tmp_path / "b")])

    assert first.exit_code == second.exit_code == EXIT_OK
    one, two = json.loads(first.output), json.loads(second.output)
    assert one["final_state_hash"] == two["final_state_hash"]
    assert one["waterfall"] == two["waterfall"]


def test_an_unknown_shock_is_refused_before_anything_runs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--shock", "crash-1929", "--journal-dir", str(tmp_path / "sim")])

    assert result.exit_code == EXIT_ERROR
    assert SHOCK in result.output
    assert not (tmp_path / "sim").exists()
