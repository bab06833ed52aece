"""The ``harbour`` command line: simulate a short session, replay its journal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harbour.cli.main import EXIT_ERROR, EXIT_OK, EXIT_UNHEALTHY, app
from harbour.ledger.invariants import Finding

SHORT = ["--minutes", "0.5", "--clients", "10", "--rate", "600", "--checkpoint-every", "200", "--check-every", "200"]
HASH = re.compile(r"final state hash ([0-9a-f]{64})")

runner = CliRunner()


def _simulate(journal_dir: Path, *extra: str):
    return runner.invoke(app, ["simulate", "--seed", "11", *SHORT, "--journal-dir", str(journal_dir), *extra])


def test_simulate_then_replay_directory_exit_zero_and_print_same_hash(tmp_path: Path) -> None:
    simulated = _simulate(tmp_path / "sim")

    replayed = runner.invoke(app, ["replay", str(tmp_path / "sim")])

    assert simulated.exit_code == EXIT_OK, simulated.output
    assert replayed.exit_code == EXIT_OK, replayed.output
    sim_hash = HASH.search(simulated.output)
    replay_hash = HASH.search(replayed.output)
    assert sim_hash is not None and replay_hash is not None
    assert sim_hash.group(1) == replay_hash.group(1)
    assert "invariant checks passed" in simulated.output
    assert "all checkpoints matched" in replayed.output
    assert "all invariants hold" in replayed.output


def test_replay_of_journal_file_path_exits_zero(tmp_path: Path) -> None:
    _simulate(tmp_path)

    result = runner.invoke(app, ["replay", str(tmp_path / "journal.log")])

    assert result.exit_code == EXIT_OK, result.output
    assert "all checkpoints matched" in result.output


def test_simulate_json_prints_parsable_summary(tmp_path: Path) -> None:
    result = _simulate(tmp_path, "--json")

    summary = json.loads(result.output)

    assert result.exit_code == EXIT_OK
    assert summary["invariant_checks_passed"] == summary["invariant_checks_run"] > 0
    assert set(summary["instruments"]) == {"BTCUSD", "ETHHKD"}
    assert len(summary["final_state_hash"]) == 64


def test_simulate_with_invariant_finding_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harbour.sim.harness.check_all", lambda state: [Finding("planted", "a planted finding")])

    result = _simulate(tmp_path)

    assert result.exit_code == EXIT_UNHEALTHY
    assert "planted" in result.output


def test_replay_of_missing_journal_exits_with_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nothing-here")])

    assert result.exit_code == EXIT_ERROR


def test_replay_of_tampered_journal_exits_with_error(tmp_path: Path) -> None:
    _simulate(tmp_path)
    journal = tmp_path / "journal.log"
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0xFF
    journal.write_bytes(bytes(data))

    result = runner.invoke(app, ["replay", str(tmp_path)])

    assert result.exit_code == EXIT_ERROR
    assert "replay failed" in result.output


def test_python_dash_m_harbour_cli_shows_both_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "harbour.cli", "--help"], capture_output=True, text=True, check=True)

    assert "simulate" in out.stdout and "replay" in out.stdout


def test_simulate_engine_exception_exits_with_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, seq: int, ts_ns: int, command: object) -> list[object]:
        raise KeyError("planted bug")

    monkeypatch.setattr("harbour.sim.harness.VenueEngine.apply", broken)

    result = _simulate(tmp_path)

    assert result.exit_code == EXIT_ERROR
    assert "simulation stopped" in result.output
