"""Venue engine benchmark: the standard order-flow mix through the full engine path.

Prints ONE JSON object to stdout; progress goes to stderr. Run with ``make bench``.

Workload (docs: performance-baseline.md, Part 2, "the order-flow stream"):

* setup (not timed): genesis, 1,000 client accounts and one affiliated market maker,
  each funded generously in USD, so margin never binds;
* warm-up (not timed): 2,000 passive LIMIT GTC orders on BTCUSD (10% from the MM);
* 200,000 timed commands, seeded: ~60% LIMIT GTC placed 1 + Exp(mean 7) ticks from a
  reference mid that drifts one tick with probability 0.01 per command, size
  1 + Exp(mean 10) lots; ~25% CANCEL of a currently resting order; ~15% IOC of
  1 + Exp(mean 25) lots collared at mid +/- 20 ticks. Every command takes the full
  engine path: validation, PI gate, pre-trade margin, matching with client-first
  priority, positions, fees and ledger settlement.

Method:

* Commands are generated before any timing, by one untimed reference run of the
  engine that follows resting orders through their events (so every CANCEL names an
  order resting at that moment). Timed passes then re-run the same setup and apply the
  pre-generated commands with the same seqs and timestamps; every pass must end in the
  reference run's state hash (checked and reported).
* Throughput: ``gc.collect(); gc.freeze()`` after setup, ``gc.disable()`` for the timed
  loop, then ``gc.enable(); gc.collect()`` at the quiet point after it (cyclic GC is
  managed: collected between passes, never inside the loop). Median of 3 runs.
* Latency: a separate pass with a ``perf_counter_ns`` pair around each command (so the
  timer's ~60 ns does not hurt the throughput figure); closed loop at full speed, so
  this is service time, not latency under a given arrival rate.
* Journaled: the same commands through ``Sequencer`` + ``FileJournal`` with group
  commit (one fsync per 1,000 commands) in a temporary directory.
* Memory: tracemalloc around placing 100,000 more resting orders (and, separately, the
  RSS delta without tracemalloc), divided by the number of orders.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harbour.journal import CommandCodec, FileJournal, Sequencer
from harbour.kernel.money import MICRO
from harbour.sim.clock import NS_PER_DAY, SESSION_START_NS
from harbour.sim.tracker import OrderTracker
from harbour.venue import VenueEngine, check_all, default_genesis
from harbour.venue.commands import (
    AccountKind,
    CancelOrder,
    Deposit,
    OpenAccount,
    PlaceOrder,
    Side,
    TimeInForce,
    VenueCommand,
)
from harbour.venue.events import Rejected, TradeExecuted

SEED = 20_250_602
TIMED_COMMANDS = 200_000
WARMUP_ORDERS = 2_000
CLIENT_ACCOUNTS = 1_000
FIRST_CLIENT = 1_001
MM_ACCOUNT = 1
INSTRUMENT = "BTCUSD"
TICK = 10
REF_PRICE = 9_500_000
TS_STEP_NS = 1_000  # command n is stamped SESSION_START_NS + n * TS_STEP_NS
THROUGHPUT_RUNS = 3
JOURNAL_COMMIT_EVERY = 1_000
JOURNAL_CHECKPOINT_EVERY = 10_000
MEMORY_ORDERS = 100_000

LIMIT, CANCEL, IOC = 0, 1, 2
KIND_NAMES = ("limit", "cancel", "ioc")

Stamped = list[tuple[int, int, VenueCommand]]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- workload --------------------------------------------------------------------------


def setup_commands() -> list[VenueCommand]:
    """Genesis, 1,000 funded client accounts and a funded market maker."""
    pi_expiry = SESSION_START_NS + 365 * NS_PER_DAY
    commands: list[VenueCommand] = list(default_genesis())
    commands.append(OpenAccount(account=MM_ACCOUNT, kind=AccountKind.AFFILIATED_MM, legal_entity="Harbour Liquidity Ltd"))
    commands.append(Deposit(account=MM_ACCOUNT, asset="USD", amount=100_000_000 * MICRO))
    for i in range(CLIENT_ACCOUNTS):
        account = FIRST_CLIENT + i
        commands.append(OpenAccount(account=account, kind=AccountKind.CLIENT, pi_expiry_ns=pi_expiry, legal_entity=f"Client {account}"))
        commands.append(Deposit(account=account, asset="USD", amount=5_000_000 * MICRO))
    return commands


def stamp(commands: Sequence[VenueCommand], first_seq: int) -> Stamped:
    """Give each command its seq and timestamp (the ones a sequencer would stamp)."""
    return [(seq, SESSION_START_NS + seq * TS_STEP_NS, c) for seq, c in enumerate(commands, start=first_seq)]


class Workload:
    """The pre-generated command stream and what the untimed reference run saw."""

    def __init__(self) -> None:
        self.setup: Stamped = []
        self.warmup: Stamped = []
        self.timed: Stamped = []
        self.kinds: list[int] = []
        self.final_hash = b""
        self.trades = 0
        self.rejects: dict[str, int] = {}
        self.book: dict[str, float] = {}
        self.invariant_findings: list[str] = []


def generate_workload() -> Workload:
    """Run the engine once (untimed), generating the mix from what it reports."""
    w = Workload()
    rng = random.Random(SEED)
    engine = VenueEngine()
    tracker = OrderTracker()
    w.setup = stamp(setup_commands(), 1)
    for seq, ts, cmd in w.setup:
        engine.apply(seq, ts, cmd)
    seq = len(w.setup)
    mid = REF_PRICE

    def run(cmd: VenueCommand) -> list[Any]:
        nonlocal seq
        seq += 1
        ts = SESSION_START_NS + seq * TS_STEP_NS
        events = engine.apply(seq, ts, cmd)
        tracker.observe(events)
        return events

    def passive(account: int) -> PlaceOrder:
        is_buy = rng.random() < 0.5
        distance = (1 + int(rng.expovariate(1 / 7))) * TICK
        qty = 1 + int(rng.expovariate(1 / 10))
        price = mid - distance if is_buy else mid + distance
        return PlaceOrder(account=account, instrument=INSTRUMENT, side=Side.BUY if is_buy else Side.SELL, qty=qty, price=price)

    def client() -> int:
        return FIRST_CLIENT + rng.randrange(CLIENT_ACCOUNTS)

    for _ in range(WARMUP_ORDERS):
        cmd = passive(MM_ACCOUNT if rng.random() < 0.1 else client())
        run(cmd)
        w.warmup.append((seq, SESSION_START_NS + seq * TS_STEP_NS, cmd))

    spreads: list[int] = []
    levels: list[int] = []
    resting: list[int] = []
    book = engine.state.books[INSTRUMENT]
    for i in range(TIMED_COMMANDS):
        if rng.random() < 0.01:
            mid += TICK if rng.random() < 0.5 else -TICK
        r = rng.random()
        kind = LIMIT if r < 0.60 else CANCEL if r < 0.85 else IOC
        cmd: VenueCommand
        target = tracker.random_order(rng) if kind == CANCEL else None
        if kind == CANCEL and target is not None:
            cmd = CancelOrder(account=target.account, instrument=INSTRUMENT, order_id=target.order_id)
        elif kind == IOC:
            is_buy = rng.random() < 0.5
            qty = 1 + int(rng.expovariate(1 / 25))
            price = mid + 20 * TICK if is_buy else mid - 20 * TICK
            cmd = PlaceOrder(
                account=client(), instrument=INSTRUMENT, side=Side.BUY if is_buy else Side.SELL, qty=qty, price=price, tif=TimeInForce.IOC
            )
        else:
            kind = LIMIT
            cmd = passive(client())
        events = run(cmd)
        w.timed.append((seq, SESSION_START_NS + seq * TS_STEP_NS, cmd))
        w.kinds.append(kind)
        for e in events:
            if type(e) is TradeExecuted:
                w.trades += 1
            elif type(e) is Rejected:
                w.rejects[e.reason] = w.rejects.get(e.reason, 0) + 1
        if i % 100 == 0:
            bid, ask = book.best_bid(), book.best_ask()
            if bid is not None and ask is not None:
                spreads.append((ask - bid) // TICK)
            levels.append(len(book.bids.levels) + len(book.asks.levels))
            resting.append(len(book.orders))
    w.final_hash = engine.state_hash()
    w.invariant_findings = [f"{f.check}: {f.message}" for f in check_all(engine.state)]
    w.book = {
        "resting_orders_median": statistics.median(resting),
        "resting_orders_min": min(resting),
        "resting_orders_max": max(resting),
        "price_levels_median": statistics.median(levels),
        "spread_ticks_median": statistics.median(spreads) if spreads else -1,
        "resting_orders_end": len(book.orders),
    }
    return w


def prepared_engine(w: Workload) -> VenueEngine:
    """A fresh engine after setup and warm-up (untimed)."""
    engine = VenueEngine()
    for seq, ts, cmd in w.setup:
        engine.apply(seq, ts, cmd)
    for seq, ts, cmd in w.warmup:
        engine.apply(seq, ts, cmd)
    return engine


def quiet_point() -> None:
    """Collect cyclic garbage and move every survivor to the permanent generation."""
    gc.enable()
    gc.collect()
    gc.freeze()


# --- passes ------------------------------------------------------------------------------


def throughput_pass(w: Workload) -> tuple[float, bytes]:
    engine = prepared_engine(w)
    apply = engine.apply
    timed = w.timed
    quiet_point()
    gc.disable()
    t0 = time.perf_counter_ns()
    for seq, ts, cmd in timed:
        apply(seq, ts, cmd)
    elapsed = time.perf_counter_ns() - t0
    gc.enable()
    final = engine.state_hash()
    del engine
    gc.unfreeze()
    gc.collect()
    return len(timed) / (elapsed / 1e9), final


def latency_pass(w: Workload) -> tuple[np.ndarray, bytes]:
    engine = prepared_engine(w)
    apply = engine.apply
    timed = w.timed
    samples = [0] * len(timed)
    clock = time.perf_counter_ns
    quiet_point()
    gc.disable()
    i = 0
    for seq, ts, cmd in timed:
        t = clock()
        apply(seq, ts, cmd)
        samples[i] = clock() - t
        i += 1
    gc.enable()
    final = engine.state_hash()
    del engine
    gc.unfreeze()
    gc.collect()
    return np.asarray(samples, dtype=np.int64), final


def percentiles_us(ns: np.ndarray) -> dict[str, float]:
    p = np.percentile(ns, [50, 90, 99, 99.9])
    return {
        "p50": round(p[0] / 1e3, 2),
        "p90": round(p[1] / 1e3, 2),
        "p99": round(p[2] / 1e3, 2),
        "p99.9": round(p[3] / 1e3, 2),
        "max": round(float(ns.max()) / 1e3, 2),
        "mean": round(float(ns.mean()) / 1e3, 2),
        "count": int(ns.size),
    }


def journaled_pass(w: Workload) -> dict[str, Any]:
    calls = 0

    def clock() -> int:
        # call n of the sequencer gets the same stamp as seq n in the in-process passes
        nonlocal calls
        calls += 1
        return SESSION_START_NS + calls * TS_STEP_NS

    with tempfile.TemporaryDirectory(prefix="harbour-bench-") as tmp:
        path = Path(tmp) / "journal.log"
        engine = VenueEngine()
        journal = FileJournal.open(path)
        try:
            sequencer = Sequencer(
                engine, journal, CommandCodec(VenueCommand), clock, checkpoint_every=JOURNAL_CHECKPOINT_EVERY, snapshot_every=None
            )
            for _, _, cmd in w.setup:
                sequencer.submit(cmd)
            for _, _, cmd in w.warmup:
                sequencer.submit(cmd)
            sequencer.commit()
            commands = [cmd for _, _, cmd in w.timed]
            submit = sequencer.submit
            commit = sequencer.commit
            perf = time.perf_counter_ns
            commit_ns = 0
            commits = 0
            quiet_point()
            gc.disable()
            t0 = perf()
            pending = 0
            for cmd in commands:
                submit(cmd)
                pending += 1
                if pending == JOURNAL_COMMIT_EVERY:
                    c0 = perf()
                    commit()
                    commit_ns += perf() - c0
                    commits += 1
                    pending = 0
            if pending:
                c0 = perf()
                commit()
                commit_ns += perf() - c0
                commits += 1
            elapsed = perf() - t0
            gc.enable()
            final = engine.state_hash()
        finally:
            journal.close()
        size = path.stat().st_size
    del engine
    gc.unfreeze()
    gc.collect()
    return {
        "throughput_cmds_per_s": round(len(commands) / (elapsed / 1e9)),
        "commit_every_commands": JOURNAL_COMMIT_EVERY,
        "commits": commits,
        "commit_seconds_total": round(commit_ns / 1e9, 3),
        "commit_ms_mean": round(commit_ns / commits / 1e6, 3),
        "checkpoint_every_commands": JOURNAL_CHECKPOINT_EVERY,
        "journal_bytes": size,
        "journal_bytes_per_command": round(size / (len(w.setup) + len(w.warmup) + len(commands)), 1),
        "durability": "write + fsync per group; a command counts as durable only after its group's commit returns",
        "final_state_hash_matches": final == w.final_hash,
    }


def memory_orders() -> list[VenueCommand]:
    """One seed order per account (so positions exist), then MEMORY_ORDERS resting orders."""
    rng = random.Random(SEED + 1)
    commands: list[VenueCommand] = []
    for i in range(CLIENT_ACCOUNTS + MEMORY_ORDERS):
        is_buy = rng.random() < 0.5
        distance = (1 + int(rng.expovariate(1 / 7))) * TICK
        commands.append(
            PlaceOrder(
                account=FIRST_CLIENT + i % CLIENT_ACCOUNTS,
                instrument=INSTRUMENT,
                side=Side.BUY if is_buy else Side.SELL,
                qty=1 + int(rng.expovariate(1 / 10)),
                price=REF_PRICE - distance if is_buy else REF_PRICE + distance,
            )
        )
    return commands


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_pass(measure: str) -> float:
    """Bytes retained per resting order, by tracemalloc or by RSS delta."""
    setup = stamp(setup_commands(), 1)
    orders = stamp(memory_orders(), len(setup) + 1)
    engine = VenueEngine()
    for seq, ts, cmd in setup:
        engine.apply(seq, ts, cmd)
    seeds, measured = orders[:CLIENT_ACCOUNTS], orders[CLIENT_ACCOUNTS:]
    for seq, ts, cmd in seeds:
        engine.apply(seq, ts, cmd)
    gc.collect()
    if measure == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = _rss_bytes()
    for seq, ts, cmd in measured:
        engine.apply(seq, ts, cmd)
    gc.collect()
    if measure == "tracemalloc":
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        after = _rss_bytes()
    resting = len(engine.state.books[INSTRUMENT].orders) - CLIENT_ACCOUNTS
    if resting != len(measured):
        raise RuntimeError(f"expected {len(measured)} new resting orders, found {resting}")
    del engine
    gc.collect()
    return (after - before) / len(measured)


# --- report -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
        info["git_commit"] = rev.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def timed(label: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    result = fn()
    log(f"{label}: {time.perf_counter() - t0:.1f} s")
    return result


def main() -> int:
    started = time.perf_counter()
    machine = machine_info()
    log(f"generating the standard mix: setup, {WARMUP_ORDERS:,} warm-up orders, {TIMED_COMMANDS:,} timed commands (untimed reference run)")
    w = timed("reference run", generate_workload)
    counts = [w.kinds.count(k) for k in range(3)]

    runs: list[float] = []
    hashes: list[bytes] = []
    for r in range(THROUGHPUT_RUNS):
        rate, final = timed(f"throughput run {r + 1}/{THROUGHPUT_RUNS}", lambda: throughput_pass(w))
        runs.append(rate)
        hashes.append(final)
        log(f"  {rate:,.0f} commands/s")

    lat, final = timed("latency pass", lambda: latency_pass(w))
    hashes.append(final)
    kinds = np.asarray(w.kinds, dtype=np.int8)
    latency = {"all": percentiles_us(lat)}
    for k, name in enumerate(KIND_NAMES):
        latency[name] = percentiles_us(lat[kinds == k])

    journaled = timed("journaled pass", lambda: journaled_pass(w))
    log(f"  {journaled['throughput_cmds_per_s']:,} commands/s journaled")

    journaled["ratio_vs_in_process_median"] = round(journaled["throughput_cmds_per_s"] / statistics.median(runs), 3)

    rss_per_order = timed("memory (RSS delta)", lambda: memory_pass("rss"))
    traced_per_order = timed("memory (tracemalloc)", lambda: memory_pass("tracemalloc"))

    result = {
        "benchmark": "harbour venue engine, standard order-flow mix (performance-baseline.md Part 2)",
        "seed": SEED,
        "workload": {
            "instrument": INSTRUMENT,
            "client_accounts": CLIENT_ACCOUNTS,
            "mm_accounts": 1,
            "warmup_orders": WARMUP_ORDERS,
            "timed_commands": TIMED_COMMANDS,
            "mix": {name: round(counts[k] / TIMED_COMMANDS, 4) for k, name in enumerate(KIND_NAMES)},
            "mix_counts": {name: counts[k] for k, name in enumerate(KIND_NAMES)},
            "book": w.book,
            "engine_path": "validate, PI gate, pre-trade margin, match (client-first priority), positions, fees, ledger settlement",
        },
        "in_process": {
            "throughput_cmds_per_s": round(statistics.median(runs)),
            "throughput_runs": [round(r) for r in runs],
            "gc": "gc.collect()+gc.freeze() after setup; gc.disable() in the timed loop; gc.enable()+gc.collect() after it (quiet point)",
        },
        "latency_us": latency,
        "latency_method": "separate pass; perf_counter_ns pair per command (~60 ns own cost); closed loop, so service time",
        "trades": w.trades,
        "fills_per_command": round(w.trades / TIMED_COMMANDS, 3),
        "rejects": dict(sorted(w.rejects.items())),
        "rejects_total": sum(w.rejects.values()),
        "journaled": journaled,
        "memory": {
            "resting_orders_added": MEMORY_ORDERS,
            "tracemalloc_bytes_per_order": round(traced_per_order),
            "rss_bytes_per_order": round(rss_per_order),
            "note": "net retained memory of the engine (book queues, order index, open-order totals) per added resting order",
        },
        "determinism": {
            "final_state_hash": w.final_hash.hex(),
            "all_passes_match_reference": all(h == w.final_hash for h in hashes) and journaled["final_state_hash_matches"],
            "invariant_findings": w.invariant_findings,
        },
        "machine": machine,
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["determinism"]["all_passes_match_reference"] and not w.invariant_findings else 1


if __name__ == "__main__":
    sys.exit(main())
