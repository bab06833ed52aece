"""The simulated clock: integer nanoseconds that move only when the scenario says so.

Owns the simulator's notion of "now". It never reads the wall clock, so a session
driven by it stamps the same timestamps on every run. It is callable, so it can be
handed to the ``Sequencer`` as its clock.

Invariant: time never goes backwards (``advance_to`` an earlier time raises).
"""

from __future__ import annotations

from typing import Final

NS_PER_MS: Final = 1_000_000
NS_PER_SECOND: Final = 1_000_000_000
NS_PER_MINUTE: Final = 60 * NS_PER_SECOND
NS_PER_DAY: Final = 86_400 * NS_PER_SECOND

SESSION_START_NS: Final = 1_748_827_800 * NS_PER_SECOND
"""2025-06-02 01:30:00 UTC (09:30 Hong Kong time): where simulated sessions begin."""


class SimClock:
    """A monotonic simulated clock in integer nanoseconds."""

    __slots__ = ("_now_ns",)

    def __init__(self, start_ns: int = SESSION_START_NS) -> None:
        if start_ns < 0:
            raise ValueError(f"start_ns must be non-negative, got {start_ns}")
        self._now_ns = start_ns

    def __call__(self) -> int:
        """Return the current simulated time (the ``Sequencer`` clock protocol)."""
        return self._now_ns

    @property
    def now_ns(self) -> int:
        """The current simulated time in nanoseconds."""
        return self._now_ns

    def advance(self, delta_ns: int) -> int:
        """Move time forward by ``delta_ns`` (>= 0) and return the new time."""
        if delta_ns < 0:
            raise ValueError(f"time cannot go backwards (delta {delta_ns} ns)")
        self._now_ns += delta_ns
        return self._now_ns

    def advance_to(self, ts_ns: int) -> int:
        """Move time forward to ``ts_ns`` (not earlier than now) and return it."""
        if ts_ns < self._now_ns:
            raise ValueError(f"time cannot go backwards ({ts_ns} < {self._now_ns})")
        self._now_ns = ts_ns
        return ts_ns
