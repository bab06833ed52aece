"""The protocols an engine must meet to be journaled, replayed and recovered.

Owns no behaviour, only the contract. The journal is generic over engines (the venue
engine now, a broker engine later) and never imports their types, so commands and
events are typed ``Any`` here: a concrete engine narrows them to its own closed
unions (``VenueCommand`` / ``VenueEvent``), which a ``Protocol`` parameter typed any
narrower than ``Any`` would not accept.

Contract an engine must keep:

* ``apply`` is pure: its result and the new state depend only on the current state,
  ``seq``, ``ts_ns`` and ``command`` (no clock, randomness or I/O). A business reject
  is returned as an event; an exception means a bug.
* ``state_hash`` is a deterministic digest of the full state: two engines that were
  given the same commands with the same seqs and timestamps return the same bytes.
* ``restore(snapshot())`` yields an engine with the same ``state_hash`` that behaves
  identically from then on.
"""

from __future__ import annotations

from typing import Any, Protocol


class Engine(Protocol):
    """A single-writer state machine driven by sequenced commands."""

    def apply(self, seq: int, ts_ns: int, command: Any) -> list[Any]:
        """Apply one command stamped with its seq and ts; return the events it caused."""
        ...

    def state_hash(self) -> bytes:
        """Return a deterministic digest of the full state."""
        ...

    def snapshot(self) -> bytes:
        """Return the full state as bytes that ``EngineFactory.restore`` accepts."""
        ...


class EngineFactory(Protocol):
    """Makes engines: empty ones, and ones restored from a snapshot."""

    def new(self) -> Engine:
        """Return an engine in its initial (empty) state."""
        ...

    def restore(self, data: bytes) -> Engine:
        """Return an engine whose state is the one ``Engine.snapshot`` wrote as ``data``."""
        ...
