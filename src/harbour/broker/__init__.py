"""The VA margin-financing broker: a deterministic single-writer engine over the shared ledger.

A sibling of the venue (neither imports the other) with its own state machine and its
own journal stream: lending to existing securities margin clients to buy BTC/ETH,
against securities plus BTC/ETH collateral (margin-financing.md §2, regulation.md A1-A2).
"""

from harbour.broker.commands import BrokerCommand
from harbour.broker.config import VA_HAIRCUT_FLOOR_BPS, VA_UNITS_PER_COIN, BrokerConfig
from harbour.broker.engine import BrokerEngine, BrokerEngineFactory
from harbour.broker.invariants import check_all
from harbour.broker.rejects import BROKER_CODES
from harbour.broker.state import BrokerState
from harbour.broker.validation import validate_config

__all__ = [
    "BROKER_CODES",
    "VA_HAIRCUT_FLOOR_BPS",
    "VA_UNITS_PER_COIN",
    "BrokerCommand",
    "BrokerConfig",
    "BrokerEngine",
    "BrokerEngineFactory",
    "BrokerState",
    "check_all",
    "validate_config",
]
