"""Trigger-order watching cost: the standard order-flow mix of ``engine_bench.py`` with N
pending trigger orders on its instrument that never fire during the run.

Prints ONE JSON object to stdout; progress goes to stderr. Run with ``make bench``.

For each N, the pending triggers are placed after the warm-up (untimed), spread over
clients, as LAST-price stops far from the market (half buy stops 30-40% above the mark,
half sell stops 30-40% below) and, in the "with trailing" rows, one trailing stop (10%
callback) for every ten triggers; trailing stops move with every price and so are always
visited. Throughput is the median of ``RUNS`` passes of the 200,000 timed commands; each
pass must end in the same state hash as the others with the same N.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time

from engine_bench import (
    FIRST_CLIENT,
    INSTRUMENT,
    REF_PRICE,
    TICK,
    Workload,
    generate_workload,
    log,
    machine_info,
    prepared_engine,
    quiet_point,
)
from harbour.venue import VenueEngine
from harbour.venue.commands import PlaceTriggerOrder, Side, TriggerKind, WorkingType
from harbour.venue.events import Rejected

RUNS = 3
COUNTS = (0, 100, 1_000)
TRIGGER_SEQ_BASE = 10**12  # ids far above the timed commands' seqs


def pending(n: int, trailing_every: int) -> list[PlaceTriggerOrder]:
    rng = random.Random(n)
    out = []
    for i in range(n):
        account = FIRST_CLIENT + i % 1_000
        if trailing_every and i % trailing_every == 0:
            out.append(
                PlaceTriggerOrder(
                    account=account, instrument=INSTRUMENT, side=Side.SELL, kind=TriggerKind.TRAILING_STOP_MARKET,
                    working_type=WorkingType.LAST, qty=1, callback_bps=1_000,
                )
            )
            continue
        buy = i % 2 == 0
        away = REF_PRICE * rng.randint(30, 40) // 100 // TICK * TICK
        out.append(
            PlaceTriggerOrder(
                account=account, instrument=INSTRUMENT, side=Side.BUY if buy else Side.SELL, kind=TriggerKind.STOP_MARKET,
                working_type=WorkingType.LAST, qty=1, trigger_price=REF_PRICE + away if buy else REF_PRICE - away,
            )
        )
    return out


def engine_with(w: Workload, triggers: list[PlaceTriggerOrder]) -> VenueEngine:
    engine = prepared_engine(w)
    ts = w.warmup[-1][1]
    # the warm-up only rests orders, so nothing has traded yet and a LAST trigger would be
    # refused: seed the last price at the reference (the same in every pass)
    engine.state.last_trade_price[INSTRUMENT] = REF_PRICE
    for i, cmd in enumerate(triggers):
        out = engine.apply(TRIGGER_SEQ_BASE + i, ts, cmd)
        if any(isinstance(e, Rejected) for e in out):
            raise SystemExit(f"trigger refused: {out}")
    return engine


def throughput(w: Workload, triggers: list[PlaceTriggerOrder]) -> tuple[float, bytes, int]:
    engine = engine_with(w, triggers)
    apply = engine.apply
    quiet_point()
    gc.disable()
    t0 = time.perf_counter_ns()
    for seq, ts, cmd in w.timed:
        apply(seq, ts, cmd)
    elapsed = time.perf_counter_ns() - t0
    gc.enable()
    left = sum(len(p) for p in engine.state.triggers.values())
    final = engine.state_hash()
    del engine
    gc.unfreeze()
    gc.collect()
    return len(w.timed) / (elapsed / 1e9), final, left


def main() -> int:
    started = time.perf_counter()
    log("generating the standard mix (untimed reference run)")
    w = generate_workload()
    rows = []
    ok = True
    for trailing_every in (0, 10):
        for n in COUNTS:
            if trailing_every and not n:
                continue
            triggers = pending(n, trailing_every)
            rates, hashes, left = [], set(), set()
            for r in range(RUNS):
                rate, final, still = throughput(w, triggers)
                rates.append(rate)
                hashes.add(final)
                left.add(still)
                log(f"  {n} pending ({'with' if trailing_every else 'no'} trailing) run {r + 1}: {rate:,.0f} commands/s")
            ok = ok and len(hashes) == 1 and left == {n}
            rows.append(
                {
                    "pending_triggers": n,
                    "trailing_stops": n // trailing_every if trailing_every else 0,
                    "throughput_cmds_per_s": round(statistics.median(rates)),
                    "runs": [round(x) for x in rates],
                    "none_fired": left == {n},
                }
            )
    print(
        json.dumps(
            {
                "benchmark": "harbour venue engine, standard order-flow mix with N pending trigger orders that never fire",
                "rows": rows,
                "deterministic": ok,
                "machine": machine_info(),
                "bench_seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
