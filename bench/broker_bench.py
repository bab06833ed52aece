"""Broker benchmark: revalue 10^5 clients on one price tick, and 10^5 clients x 50 scenarios.

Prints ONE JSON object to stdout; ``make bench`` runs it after the engine benchmark.

* Book: 100,000 seeded synthetic clients as ``BookColumns`` int64 columns (BTC, ETH and
  up to three of 20 securities each), built directly (not through the engine: onboarding
  10^5 clients is setup, not what is measured).
* Revalue: one BTC tick, exact post-tick margin value, R (bps) and call flags for every
  client (the numpy path of ``harbour.broker.stress``). Median of 7 runs.
* Stress: the 22-scenario library plus 28 seeded instantaneous shocks (50 in all),
  both liquidation modes, per client x scenario. Median of 3 runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np

from harbour.broker import BrokerConfig
from harbour.broker.stress import BookColumns, inputs_for, revalue, revalue_plan, stress_grid
from harbour.broker.stress_scenarios import LIBRARY, instantaneous
from harbour.kernel.money import MICRO

N = 100_000


def book(n: int, seed: int = 7) -> BookColumns:
    rng = np.random.default_rng(seed)
    per = rng.integers(0, 4, n)
    pos_client = np.repeat(np.arange(n, dtype=np.int64), per)
    m = pos_client.shape[0]
    sec_price = rng.integers(1, 500, 20) * MICRO
    sec_mr = rng.choice([0, 5_000, 6_000, 7_000], 20)
    which = rng.integers(0, 20, m)
    return BookColumns(
        state_hash="synthetic", config=BrokerConfig(),
        client_ids=np.arange(1, n + 1, dtype=np.int64), loan=rng.integers(10_000, 5_000_000, n) * MICRO,
        cash=np.zeros(n, dtype=np.int64), credit_limit=np.full(n, 10_000_000 * MICRO, dtype=np.int64),
        btc_units=rng.integers(0, 10 * 10**8, n), eth_units=rng.integers(0, 100 * 10**8, n),
        btc_mr=np.full(n, 4_000, dtype=np.int64), eth_mr=np.full(n, 4_000, dtype=np.int64),
        btc_price=600_000 * MICRO, eth_price=20_000 * MICRO,
        pos_client=pos_client, pos_qty=rng.integers(100, 100_000, m), pos_price=sec_price[which].astype(np.int64), pos_mr=sec_mr[which].astype(np.int64),
    )


def main() -> None:
    cols = book(N)
    inp = inputs_for(cols.config, 10**9 * MICRO)
    plan = revalue_plan(cols)  # what a VA tick does not change (the securities margin value), prepared once
    revalue(plan, cols.btc_price - 1, cols.eth_price, inp.call_ratio_bps)  # warm-up
    reval = []
    for i in range(7):
        t = time.perf_counter()
        revalue(plan, cols.btc_price - 1_000 * i, cols.eth_price, inp.call_ratio_bps)
        reval.append((time.perf_counter() - t) * 1e3)
    rng = np.random.default_rng(1)
    scen = list(LIBRARY) + [instantaneous(f"r{i}", -int(rng.integers(0, 9_000)), -int(rng.integers(0, 9_000)), -int(rng.integers(0, 3_000))) for i in range(50 - len(LIBRARY))]
    runs = []
    cpu = []
    shape = (0, 0)
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        grid = stress_grid(cols, scen, inp)
        runs.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
        shape = grid.ratio_bps.shape
        del grid  # a service keeps one grid at a time
    print(f"stress grid {shape}", file=sys.stderr)
    print(json.dumps({
        "clients": N,
        "revalue_one_tick_ms": round(statistics.median(reval), 2),
        "revalue_aim_ms": 20,
        "stress_scenarios": len(scen),
        "stress_run_ms": round(statistics.median(runs), 1),
        "stress_run_cpu_ms": round(statistics.median(cpu), 1),  # process CPU time: less sensitive to a busy shared machine
        "stress_aim_ms": 1000,
    }))


if __name__ == "__main__":
    main()
