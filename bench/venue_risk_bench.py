"""Venue risk benchmark: the liquidation scan and funding settlement over 10^6 accounts.

Prints ONE JSON object to stdout; progress goes to stderr. Run with ``make bench``
(``HARBOUR_RISK_ACCOUNTS=N`` for another size).

Setup (not timed): ``bulk_venue`` writes the state 10^6 accounts reach through the engine
(open, deposit USD and HKD, about one in ten isolated on BTCUSD, then a BTCUSD and an ETHHKD
trade per pair), after checking at 300 pairs that it hashes the same as applying those
commands through ``VenueEngine.apply``. Every account holds a position in both instruments.

* ``columns_build_s``: the first scan after a restore builds the columns from the state.
* ``scan``: per instrument, two walks of mark updates around the genesis reference: 21 steps
  of a few bps (index-print sized), then 12 steps of 0.5% to 3%. Each run sets the mark on
  the instrument, as a mark change does just before the scan, and times
  ``accounts_below_maintenance`` run to the end (the liquidation itself is not part of the
  scan and is not run): wall and process-CPU milliseconds (the machine is shared, so wall
  time includes waiting for a core), the accounts the columns flagged (each rechecked
  exactly) and those found below maintenance. At +3% the result is compared with
  ``exact_accounts_below_maintenance`` (also timed).
* ``scan_after_trades_ms``: 1,000 engine trades between bench accounts, then one scan (the
  columns re-read the 2,000 touched accounts).
* ``funding_s``: ``SettleFunding`` of BTCUSD through ``VenueEngine.apply`` over every
  position (10^6), with the columns present (funding reads who holds what from them), with
  ``funding_cpu_s`` (process CPU) and ``load_average`` (1 min, just before); then
  ``scan_after_funding_ms``, the next scan (it takes in the funding transfer's 10^6 postings).
* ``funding_without_columns_s``: the next settlement of the same positions with the columns
  dropped (as after a restore, before the first scan): funding walks every account instead.

``HARBOUR_RISK_ONLY=funding`` skips the mark walks (the scan figures) to time funding alone.

GC: collected and frozen after setup, disabled while timing.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from bulk_venue import BTCUSD, ETHHKD, FIRST_ACCOUNT, T0, bulk_venue, check_bulk_equals_engine, plan
from harbour.venue.commands import PlaceOrder, SettleFunding, Side, TimeInForce
from harbour.venue.events import Rejected
from harbour.venue.risk_columns import accounts_below_maintenance, columns_for, exact_accounts_below_maintenance
from harbour.venue.state import VenueState

ACCOUNTS = int(os.environ.get("HARBOUR_RISK_ACCOUNTS", "1000000"))
ONLY = os.environ.get("HARBOUR_RISK_ONLY", "")
SEED = 20_261_122
# mark walks, in bps from the genesis reference: index-print sized steps, then moves of 0.5% to 3%
SMALL_WALK_BPS = (1, 3, 2, 5, 4, 1, -2, -4, -1, 0, 2, 6, 9, 7, 4, 2, -1, -3, -6, -4, 0)
LARGE_WALK_BPS = (-50, -100, -200, -300, -200, -100, -50, 0, 50, 100, 200, 300)
REFS = {BTCUSD: 9_500_000, ETHHKD: 2_600_000}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed_scan(st: VenueState, sym: str) -> tuple[float, float, list[tuple[int, str, int, int]]]:
    wall, cpu = time.perf_counter(), time.process_time()
    found = list(accounts_below_maintenance(st, sym, []))
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3, found


def mark(sym: str, bps: int) -> int:
    return REFS[sym] * (10_000 + bps) // 10_000 // 10 * 10


def walk(st: VenueState, sym: str, steps: tuple[int, ...]) -> dict[str, Any]:
    walls, cpus, flagged, found = [], [], [], []
    for bps in steps:
        st.instruments[sym].ref_price = mark(sym, bps)
        wall, cpu, hits = timed_scan(st, sym)
        walls.append(wall)
        cpus.append(cpu)
        flagged.append(len(columns_for(st, []).candidates(sym)))  # this run's, at this mark
        found.append(len(hits))
    return {
        "runs": len(walls),
        "wall_ms_p50": round(statistics.median(walls), 2),
        "wall_ms_max": round(max(walls), 2),
        "cpu_ms_p50": round(statistics.median(cpus), 2),
        "cpu_ms_max": round(max(cpus), 2),
        "exact_rechecks": sum(flagged),
        "found_below": sum(found),
    }


def scans(st: VenueState) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for sym in (BTCUSD, ETHHKD):
        small = walk(st, sym, SMALL_WALK_BPS)
        large = walk(st, sym, LARGE_WALK_BPS)
        st.instruments[sym].ref_price = mark(sym, 300)
        started = time.perf_counter()
        exact = exact_accounts_below_maintenance(st, sym)
        exact_s = time.perf_counter() - started
        equal = list(accounts_below_maintenance(st, sym, [])) == exact
        st.instruments[sym].ref_price = REFS[sym]
        figures[sym] = {
            "small_moves": small,
            "large_moves": large,
            "found_at_plus_3pct": len(exact),
            "exact_scan_s_at_plus_3pct": round(exact_s, 2),
            "equals_exact_scan": equal,
        }
        log(f"  {sym}: small moves p50 {small['wall_ms_p50']} ms (cpu {small['cpu_ms_p50']}), large p50 {large['wall_ms_p50']} ms, equal {equal}")
    return figures


def trades(st_engine: Any, seq: int, pairs: int) -> int:
    """``pairs`` small BTCUSD trades between bench accounts through the engine; returns the last seq."""
    for k in range(pairs):
        seller = FIRST_ACCOUNT + 2 * (k * 7919 % (ACCOUNTS // 2))
        buyer = seller + 3 if seller + 3 < FIRST_ACCOUNT + ACCOUNTS else FIRST_ACCOUNT
        for cmd in (
            PlaceOrder(account=seller, instrument=BTCUSD, side=Side.SELL, qty=1, price=REFS[BTCUSD]),
            PlaceOrder(account=buyer, instrument=BTCUSD, side=Side.BUY, qty=1, price=REFS[BTCUSD], tif=TimeInForce.IOC),
        ):
            seq += 1
            out = st_engine.apply(seq, T0 + seq, cmd)
            assert not any(isinstance(e, Rejected) for e in out), out
    return seq


def main() -> None:
    log("checking the bulk builder against the engine (300 pairs) ...")
    check_bulk_equals_engine()
    log(f"building {ACCOUNTS:,} accounts ...")
    started = time.perf_counter()
    accounts, legs = plan(ACCOUNTS // 2, SEED)
    engine = bulk_venue(accounts, legs)  # without risk columns: the first scan builds them
    del accounts, legs
    build_s = time.perf_counter() - started
    st = engine.state
    gc.collect()
    gc.freeze()
    gc.disable()

    started = time.perf_counter()
    columns_for(st, [])
    columns_build_s = time.perf_counter() - started
    log(f"columns built in {columns_build_s:.2f} s")
    scan_figures = scans(st) if ONLY != "funding" else {}

    seq = trades(engine, 10**9, 1_000)
    st.instruments[BTCUSD].ref_price = mark(BTCUSD, -20)
    after_trades_ms, _, _ = timed_scan(st, BTCUSD)
    st.instruments[BTCUSD].ref_price = REFS[BTCUSD]
    timed_scan(st, BTCUSD)

    funding = SettleFunding(instrument=BTCUSD, rate_e8=10_000, interval_ns=st.instruments[BTCUSD].funding_schedule.interval_ns, mark_price=REFS[BTCUSD])
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    out = engine.apply(seq + 1, T0 + seq + 1, funding)
    funding_s, funding_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    assert not any(isinstance(e, Rejected) for e in out), out
    positions = len(out[0].accounts)
    log(f"funding over {positions:,} positions: {funding_s:.3f} s (cpu {funding_cpu_s:.3f} s, load {load:.2f})")
    del out
    st.instruments[BTCUSD].ref_price = mark(BTCUSD, 20)
    after_funding_ms, _, _ = timed_scan(st, BTCUSD)
    st.instruments[BTCUSD].ref_price = REFS[BTCUSD]
    rows = st.risk_columns.n if st.risk_columns is not None else 0

    st.risk_columns = None
    started = time.perf_counter()
    out = engine.apply(seq + 2, T0 + seq + 2, funding)
    without_columns_s = time.perf_counter() - started
    assert not any(isinstance(e, Rejected) for e in out) and len(out[0].accounts) == positions, out[:1]
    del out
    gc.enable()

    print(
        json.dumps(
            {
                "bench": "venue_risk",
                "python": platform.python_version(),
                "machine": f"{platform.machine()} {os.cpu_count()} vCPU",
                "accounts": ACCOUNTS,
                "rows": rows,
                "build_s": round(build_s, 1),
                "columns_build_s": round(columns_build_s, 2),
                "scan": scan_figures,
                "scan_after_1000_trades_ms": round(after_trades_ms, 2),
                "funding_positions": positions,
                "funding_s": round(funding_s, 3),
                "funding_cpu_s": round(funding_cpu_s, 3),
                "load_average": round(load, 2),
                "scan_after_funding_ms": round(after_funding_ms, 1),
                "funding_without_columns_s": round(without_columns_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
