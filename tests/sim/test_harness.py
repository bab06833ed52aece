"""The simulator: determinism, health of a short session, and journal round trips."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harbour.journal import CommandCodec, recover, replay
from harbour.sim import (
    MM_ACCOUNT,
    HarnessConfig,
    OrderTracker,
    PathParams,
    PricePath,
    Scenario,
    ScenarioConfig,
    SimClock,
    SimulationAborted,
    run_simulation,
)
from harbour.venue import VenueEngine, VenueEngineFactory, check_all
from harbour.venue.commands import AccountKind, OpenAccount, SetReferencePrice, VenueCommand

SHORT = {"minutes": 0.5, "clients": 12, "client_actions_per_minute": 600}


def _short_run(tmp_path: Path, seed: int = 3, **harness: int):
    config = HarnessConfig(journal_dir=tmp_path / f"sim-{seed}", checkpoint_every=200, check_every=200, snapshot_every=500, **harness)
    return run_simulation(ScenarioConfig(seed=seed, **SHORT), config)


def test_run_simulation_same_seed_gives_same_final_state_hash(tmp_path: Path) -> None:
    first = _short_run(tmp_path / "a")
    second = _short_run(tmp_path / "b")
    other = _short_run(tmp_path / "c", seed=4)

    assert first.final_state_hash == second.final_state_hash
    assert first.to_dict() | {"journal_path": ""} == second.to_dict() | {"journal_path": ""}
    assert other.final_state_hash != first.final_state_hash


def test_run_simulation_in_another_process_with_other_hash_seed_gives_same_hash(tmp_path: Path) -> None:
    here = _short_run(tmp_path / "here")
    code = (
        "import sys; from pathlib import Path; from harbour.sim import *;"
        f"s = run_simulation(ScenarioConfig(seed=3, **{SHORT!r}), HarnessConfig(journal_dir=Path(sys.argv[1]),"
        " checkpoint_every=200, check_every=200, snapshot_every=500)); print(s.final_state_hash)"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")

    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], capture_output=True, text=True, env=env, check=True)

    assert out.stdout.strip() == here.final_state_hash


def test_run_simulation_short_session_is_healthy_and_busy(tmp_path: Path) -> None:
    summary = _short_run(tmp_path)

    assert summary.findings == []
    assert summary.invariants_ok
    assert summary.invariant_checks_run >= 2
    assert summary.accepted_orders > 100
    assert summary.trades > 50
    assert all(s.volume_qty > 0 and 0 < s.mm_share < 1 for s in summary.instruments.values())
    assert sum(summary.fees_collected.values()) > 0
    assert summary.last_seq == summary.commands


def test_journal_of_short_run_replays_to_same_hash_with_all_checkpoints_matched(tmp_path: Path) -> None:
    summary = _short_run(tmp_path)

    report = replay(summary.journal_path, VenueEngineFactory(), CommandCodec(VenueCommand))

    assert report.is_consistent
    assert report.checkpoints_checked >= summary.commands // 200
    assert report.commands_applied == summary.commands
    assert report.final_state_hash == summary.final_state_hash


def test_journal_dir_of_short_run_recovers_from_snapshot_to_same_hash(tmp_path: Path) -> None:
    summary = _short_run(tmp_path)

    engine, journal, last_seq = recover(Path(summary.journal_path).parent, VenueEngineFactory(), CommandCodec(VenueCommand))
    journal.close()

    assert last_seq == summary.commands
    assert engine.state_hash().hex() == summary.final_state_hash


def test_run_simulation_rerun_in_same_dir_overwrites_journal(tmp_path: Path) -> None:
    first = _short_run(tmp_path)
    second = _short_run(tmp_path)

    report = replay(second.journal_path, VenueEngineFactory(), CommandCodec(VenueCommand))

    assert report.commands_applied == first.commands == second.commands
    assert report.final_state_hash == second.final_state_hash


def test_tracker_after_session_matches_engine_books_and_positions() -> None:
    scenario = Scenario(ScenarioConfig(seed=5, **SHORT))
    engine = VenueEngine()

    for seq, command in enumerate(itertools.islice(scenario.commands(), 600), start=1):
        scenario.observe(seq, engine.apply(seq, scenario.clock.now_ns, command))

    books = {oid: (sym, o) for sym, book in engine.state.books.items() for oid, o in book.orders.items()}
    tracked = scenario.tracker.orders
    assert sorted(tracked) == sorted(books)
    for oid, (sym, order) in books.items():
        assert (tracked[oid].instrument, tracked[oid].price, tracked[oid].qty) == (sym, order.price, order.qty)
    for (account, sym), qty in scenario.tracker.positions.items():
        assert engine.position_qty(account, sym) == qty
    assert any(o.account == MM_ACCOUNT for o in tracked.values())
    assert check_all(engine.state) == []


def test_scenario_setup_opens_affiliated_mm_and_clients_with_mid_session_pi_expiry() -> None:
    config = ScenarioConfig(seed=1, **SHORT)
    scenario = Scenario(config)
    opened: list[OpenAccount] = []
    engine = VenueEngine()
    for seq, command in enumerate(scenario.commands(), start=1):
        scenario.observe(seq, engine.apply(seq, scenario.clock.now_ns, command))
        if isinstance(command, OpenAccount):
            opened.append(command)
        if len(opened) == 1 + config.clients:
            break

    mm = [a for a in opened if a.kind is AccountKind.AFFILIATED_MM]
    assert [(a.account, a.legal_entity) for a in mm] == [(MM_ACCOUNT, "Harbour Liquidity Ltd")]
    session_end = config.start_ns + config.duration_ns
    expiring = [a for a in opened if a.kind is AccountKind.CLIENT and config.start_ns < a.pi_expiry_ns < session_end]
    assert len(expiring) == 2


def test_price_path_same_seed_gives_same_prices_on_tick() -> None:
    def prices(seed: int) -> list[int]:
        path = PricePath("BTCUSD", 9_500_000, 10, PathParams(jump_probability=0.05), random.Random(seed))
        return [path.step(1_000_000_000) for _ in range(500)]

    first = prices(1)

    assert first == prices(1)
    assert first != prices(2)
    assert all(p > 0 and p % 10 == 0 for p in first)
    steps = [abs(b - a) / a for a, b in zip([9_500_000, *first], first, strict=False)]
    assert max(steps) <= 0.0151
    assert isinstance(PricePath("X", 100, 10, PathParams(), random.Random(0)).command(), SetReferencePrice)


def test_sim_clock_refuses_to_go_backwards() -> None:
    clock = SimClock(1_000)

    clock.advance(5)

    assert clock() == clock.now_ns == 1_005
    with pytest.raises(ValueError):
        clock.advance_to(1_004)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_order_tracker_empty_has_no_random_order() -> None:
    assert OrderTracker().random_order(random.Random(0)) is None


class _EngineWithBug(VenueEngine):
    __slots__ = ()

    def apply(self, seq: int, ts_ns: int, command: VenueCommand) -> list[object]:
        if seq == 100:
            raise KeyError("planted bug")
        return super().apply(seq, ts_ns, command)


def test_run_simulation_engine_exception_aborts_with_command_and_keeps_it_journaled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harbour.sim.harness.VenueEngine", _EngineWithBug)

    with pytest.raises(SimulationAborted, match="seq 100"):
        _short_run(tmp_path)

    report = replay(tmp_path / "sim-3" / "journal.log", VenueEngineFactory(), CommandCodec(VenueCommand))
    assert report.commands_applied == 100
