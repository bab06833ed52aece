"""``harbour disclosure`` and ``harbour stress``: the rulebook document and the journaled cover-2 table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harbour.cli.main import EXIT_ERROR, EXIT_OK, app
from harbour.journal import CommandCodec, replay
from harbour.venue import VenueEngine, VenueEngineFactory
from harbour.venue.commands import VenueCommand

SHORT = ["--minutes", "0.3", "--clients", "10", "--rate", "600", "--checkpoint-every", "200"]
REPORT_HASH = re.compile(r"report hash ([0-9a-f]{64})")

runner = CliRunner()


class _Keep(VenueEngineFactory):
    def __init__(self) -> None:
        self.made: list[VenueEngine] = []

    def new(self) -> VenueEngine:
        engine = super().new()
        self.made.append(engine)
        return engine


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stress") / "sim"
    result = runner.invoke(app, ["simulate", "--seed", "5", *SHORT, "--journal-dir", str(directory)])
    assert result.exit_code == EXIT_OK, result.output
    return directory


def test_disclosure_prints_the_rulebook_in_markdown_with_version_and_hash() -> None:
    result = runner.invoke(app, ["disclosure"])

    assert result.exit_code == EXIT_OK, result.output
    assert result.output.startswith("# Harbour perpetual contracts: rulebook disclosure")
    assert re.search(r"Version: \*\*\d+\*\*", result.output)
    assert re.search(r"Content hash: `[0-9a-f]{64}`", result.output)
    for heading in ("## 2. Margin brackets", "## 7. Liquidation procedure", "## 8. Loss waterfall"):
        assert heading in result.output


def test_disclosure_json_to_a_file_carries_version_and_content_hash(tmp_path: Path) -> None:
    out = tmp_path / "rulebook.json"

    result = runner.invoke(app, ["disclosure", "--json", "--out", str(out)])

    assert result.exit_code == EXIT_OK, result.output
    doc = json.loads(out.read_text())
    assert doc["version"] > 0 and len(doc["content_hash"]) == 64
    assert doc["content_hash"] in result.output


def test_stress_on_a_journal_prints_the_cover_two_table_and_journals_the_report(journal_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "copy"
    directory.mkdir()
    (directory / "journal.log").write_bytes((journal_dir / "journal.log").read_bytes())

    result = runner.invoke(app, ["stress", "--journal", str(directory)], env={"COLUMNS": "250"})

    assert result.exit_code == EXIT_OK, result.output
    assert "cover-2" in result.output and "Tier extreme" in result.output
    assert "recorded in" in result.output
    printed = REPORT_HASH.search(result.output)
    assert printed is not None
    factory = _Keep()
    replayed = replay(directory / "journal.log", factory, CommandCodec(VenueCommand))
    assert replayed.is_consistent
    report = factory.made[-1].state.stress_report
    assert report is not None and report.report_hash == printed.group(1)
    assert report.scenarios == 52  # the four house tiers: 13 windows, each down, up and the two decouplings


def test_stress_json_without_recording_leaves_the_journal_unchanged(journal_dir: Path) -> None:
    before = (journal_dir / "journal.log").read_bytes()

    result = runner.invoke(app, ["stress", "--journal", str(journal_dir), "--no-record", "--json", "--all-scenarios"])

    assert result.exit_code == EXIT_OK, result.output
    body = json.loads(result.output)
    assert body["recorded_seq"] is None
    assert len(body["results"]) > 52
    assert {"insurance_fund", "capital_tranche", "report_hash"} <= set(body)
    assert (journal_dir / "journal.log").read_bytes() == before


def test_disclosure_from_a_journal_shows_the_recorded_stress_result(journal_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "copy"
    directory.mkdir()
    (directory / "journal.log").write_bytes((journal_dir / "journal.log").read_bytes())
    runner.invoke(app, ["stress", "--journal", str(directory)])

    result = runner.invoke(app, ["disclosure", "--journal", str(directory)])

    assert result.exit_code == EXIT_OK, result.output
    assert "Latest venue stress test" in result.output


def test_stress_without_a_journal_runs_the_default_simulation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["stress", "--seed", "3", "--minutes", "0.2", "--json"])

    assert result.exit_code == EXIT_OK, result.output
    assert json.loads(result.output)["recorded_seq"] is not None
    assert (tmp_path / "var" / "stress-3" / "journal.log").is_file()


def test_stress_on_a_missing_journal_exits_with_the_error_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stress", "--journal", str(tmp_path / "nothing")])

    assert result.exit_code == EXIT_ERROR
