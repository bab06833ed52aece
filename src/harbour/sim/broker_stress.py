"""Stress run of a simulated book (S2-S4): a thin caller of ``harbour.broker.stress``.

The stress rules, the integer kernels and their plain-Python reference live in the broker
(``harbour.broker.stress``, ``harbour.broker.stress_reference``); this module only takes
the column snapshot of a state and runs the library (also at S2's 2/5/10% slippage ladder)
and the reverse stress on it.
"""

from __future__ import annotations

from typing import Final

from harbour.broker.state import BrokerState
from harbour.broker.stress import BookColumns, ReverseStressResult, StressReport, inputs_for, reverse_stress, run_stress

S2_SLIPPAGE_LADDER_BPS: Final = (200, 500, 1_000)  # S2: 2/5/10% liquidation slippage


def slippage_ladder(st: BrokerState, excess_liquid_capital: int, *, seed: int | None) -> dict[int, StressReport]:
    """S2: the library against the book at each slippage of the ladder (2/5/10%), keyed by slippage bps."""
    cols = BookColumns.from_state(st)
    return {bps: run_stress(cols, inputs_for(st.config, excess_liquid_capital, slippage_bps=bps, seed=seed))[0] for bps in S2_SLIPPAGE_LADDER_BPS}


def stress_book(st: BrokerState, excess_liquid_capital: int, *, slippage_bps: int, seed: int | None) -> tuple[StressReport, ReverseStressResult]:
    """The S2 library against every client with a loan in ``st`` (both modes), and the S4 reverse stress."""
    cols = BookColumns.from_state(st)
    inputs = inputs_for(st.config, excess_liquid_capital, slippage_bps=slippage_bps, seed=seed)
    report, _ = run_stress(cols, inputs)
    return report, reverse_stress(cols, inputs)
