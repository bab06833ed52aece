"""The perpetuals venue: a deterministic single-writer engine over the shared ledger."""

from harbour.venue.engine import VenueEngine, VenueEngineFactory
from harbour.venue.genesis import default_genesis
from harbour.venue.invariants import check_all
from harbour.venue.state import VenueState

__all__ = ["VenueEngine", "VenueEngineFactory", "VenueState", "check_all", "default_genesis"]
