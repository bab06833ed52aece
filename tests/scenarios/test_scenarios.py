"""Run every scenario table in this folder; each file is one test named after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.table import Scenario

SCENARIOS = sorted(Path(__file__).parent.glob("*.scenario"))


def test_scenario_folder_is_not_empty() -> None:
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    Scenario(path).run()
