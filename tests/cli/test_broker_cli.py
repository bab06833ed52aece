"""``harbour broker simulate``: exit 0, the event tables and the stress table."""

from __future__ import annotations

from typer.testing import CliRunner

from harbour.cli.main import EXIT_OK, app

runner = CliRunner()


def test_broker_simulate_prints_stress_table() -> None:
    result = runner.invoke(app, ["broker", "simulate", "--seed", "5", "--clients", "20", "--hours", "48"], env={"COLUMNS": "220"})
    assert result.exit_code == EXIT_OK, result.output
    for text in ("Broker simulation: seed 5", "Warnings and margin calls", "Forced sales", "Stress table", "Tier extreme", "COVID Black Thursday",
                 "reverse stress (S4)", "Stress reruns (S1", "END_OF_DAY", "all broker invariants hold"):
        assert text in result.output, text


def test_broker_simulate_is_deterministic() -> None:
    a = runner.invoke(app, ["broker", "simulate", "--seed", "9", "--clients", "10", "--hours", "12"], env={"COLUMNS": "220"})
    b = runner.invoke(app, ["broker", "simulate", "--seed", "9", "--clients", "10", "--hours", "12"], env={"COLUMNS": "220"})
    assert a.exit_code == EXIT_OK and a.output == b.output
