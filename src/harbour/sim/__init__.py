"""The simulator: seeded sessions driven through the real sequencer and journal.

Sits outside the pure core: it may draw from ``random.Random(seed)`` streams, but never
from unseeded randomness or the wall clock for anything that enters a command.
"""

from harbour.sim.clock import SESSION_START_NS, SimClock
from harbour.sim.harness import (
    HarnessConfig,
    InstrumentStats,
    SimulationAborted,
    SimulationSummary,
    default_journal_dir,
    run_simulation,
)
from harbour.sim.price_path import PathParams, PricePath
from harbour.sim.scenario import MM_ACCOUNT, MM_LEGAL_ENTITY, Scenario, ScenarioConfig
from harbour.sim.tracker import OrderTracker, RestingOrder

__all__ = [
    "MM_ACCOUNT",
    "MM_LEGAL_ENTITY",
    "SESSION_START_NS",
    "HarnessConfig",
    "InstrumentStats",
    "OrderTracker",
    "PathParams",
    "PricePath",
    "RestingOrder",
    "Scenario",
    "ScenarioConfig",
    "SimClock",
    "SimulationAborted",
    "SimulationSummary",
    "default_journal_dir",
    "run_simulation",
]
