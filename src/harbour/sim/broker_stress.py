"""Stress run of a simulated book (S2-S4): a thin caller of ``harbour.broker.stress``.

The stress rules, the integer kernels and their plain-Python reference live in the broker
(``harbour.broker.stress``, ``harbour.broker.stress_reference``); this module only takes
the column snapshot of a state and runs the library and the reverse stress on it.
"""

from __future__ import annotations

from harbour.broker.state import BrokerState
from harbour.broker.stress import BookColumns, ReverseStressResult, StressReport, inputs_for, reverse_stress, run_stress


def stress_book(st: BrokerState, excess_liquid_capital: int, *, slippage_bps: int, seed: int | None) -> tuple[StressReport, ReverseStressResult]:
    """The S2 library against every client with a loan in ``st`` (both modes), and the S4 reverse stress."""
    cols = BookColumns.from_state(st)
    inputs = inputs_for(st.config, excess_liquid_capital, slippage_bps=slippage_bps, seed=seed)
    report, _ = run_stress(cols, inputs)
    return report, reverse_stress(cols, inputs)
