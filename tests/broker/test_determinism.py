"""Determinism: the same commands give the same state hash, by replay, by snapshot/restore,
and through the real journal (Sequencer, FileJournal, replay)."""

from __future__ import annotations

import ast
from pathlib import Path

import harbour.broker
from harbour.broker import BrokerCommand, BrokerEngine, BrokerEngineFactory, check_all
from harbour.broker.commands import AccrueInterest, RecordAverageDailyVolume, ReviewMargins, SetExchangeSession
from harbour.journal import CommandCodec, FileJournal, Sequencer, replay

from .helpers import BTC_100K, Broker, coins, hkd


def _busy_book() -> Broker:
    b = Broker()
    b.pure_va_client(1)
    b.list_security("0005", 7_000, hkd(100))
    b.onboard(2)
    b.deposit_shares(2, "0005", 10_000)
    b.buy(2, "BTC", coins(4), BTC_100K)
    b.onboard(3)
    b.deposit_cash(3, hkd(10_000))
    b.ok(RecordAverageDailyVolume(instrument="BTC", qty=coins(1_000)))  # C3: client 1's 14 BTC count at k = 0.9
    b.ok(AccrueInterest(days=1))
    for price in (90_000, 70_000, 52_000, 75_000, 20_000):
        b.mark_va("BTC", hkd(price))
    b.mark_security("0005", hkd(30))  # the close, then HKEX shuts: 0005 stays at 30 (V1)
    b.ok(SetExchangeSession(is_open=False))
    b.ok(ReviewMargins(), ts=b.ts + 3 * 86_400 * 10**9)
    b.ok(SetExchangeSession(is_open=True))
    return b


def test_replaying_the_same_commands_gives_the_same_state_hash_and_events() -> None:
    b = _busy_book()
    engine = BrokerEngine()

    events = [e for seq, ts, cmd in b.commands for e in engine.apply(seq, ts, cmd)]  # type: ignore[arg-type]

    assert engine.state_hash() == b.hash()
    assert events == b.events


def test_snapshot_restore_gives_the_same_hash_and_the_same_future() -> None:
    b = _busy_book()
    restored = BrokerEngineFactory().restore(b.engine.snapshot())
    assert restored.state_hash() == b.hash()

    b.mark_va("BTC", hkd(60_000))
    seq, ts, cmd = b.commands[-1]
    events = restored.apply(seq, ts, cmd)  # type: ignore[arg-type]

    assert restored.state_hash() == b.hash()
    assert events == b.last
    assert check_all(restored.state) == []


def test_broker_runs_through_the_journal_sequencer_and_replays_to_the_same_hash(tmp_path: Path) -> None:
    codec = CommandCodec(BrokerCommand)
    source = _busy_book()
    clock = iter(ts for _, ts, _ in source.commands)
    path = tmp_path / "broker.log"

    with FileJournal.open(path) as journal:
        sequencer = Sequencer(BrokerEngineFactory().new(), journal, codec, lambda: next(clock), checkpoint_every=5)
        sequencer.submit_many(cmd for _, _, cmd in source.commands)
        live_hash = sequencer.engine.state_hash()
    report = replay(path, BrokerEngineFactory(), codec)

    assert live_hash == source.hash()
    assert report.is_consistent and report.checkpoints_checked > 0
    assert report.final_state_hash == live_hash.hex()


def test_broker_package_uses_no_floats_and_never_imports_the_venue() -> None:
    root = Path(harbour.broker.__file__).parent
    found = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                found.append(f"{path.name}:{node.lineno} float literal")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
                found.append(f"{path.name}:{node.lineno} float()")
            elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
                found.append(f"{path.name}:{node.lineno} true division")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("harbour.venue", "harbour.journal")):
                found.append(f"{path.name}:{node.lineno} imports {node.module}")

    assert found == []
