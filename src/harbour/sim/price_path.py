"""Seeded reference-price paths, emitted as ``SetReferencePrice`` commands.

Owns the price model of the simulator: a geometric random walk with drift and
volatility, plus occasional jumps, sampled whenever the scenario asks for the next
reference price. Floats are used only to draw the next level; what leaves this module
is an integer price on the instrument's tick, so nothing inexact enters a command.

Invariants: the same seed and the same sequence of ``step`` calls give the same
prices; every emitted price is a positive multiple of the tick; one step never moves
the price by more than ``max_step_bps`` (so the venue's 5% price band is never
outrun by a single update).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from harbour.sim.clock import NS_PER_MINUTE
from harbour.venue.commands import SetReferencePrice


@dataclass(frozen=True, slots=True, kw_only=True)
class PathParams:
    """Shape of a price path. Rates are in basis points of the price."""

    drift_bps_per_hour: float = 0.0
    volatility_bps_per_sqrt_minute: float = 8.0  # about 60% a year, BTC-like
    jump_probability: float = 0.003  # per step
    jump_mean_bps: float = 35.0  # mean absolute jump, exponentially distributed
    max_step_bps: float = 150.0


class PricePath:
    """The reference price of one instrument, moved step by step by a seeded RNG."""

    __slots__ = ("instrument", "tick", "params", "_rng", "_level", "_price", "jumps")

    def __init__(self, instrument: str, start_price: int, tick: int, params: PathParams, rng: random.Random) -> None:
        if start_price <= 0 or tick <= 0 or start_price % tick:
            raise ValueError("start_price must be a positive multiple of a positive tick")
        self.instrument = instrument
        self.tick = tick
        self.params = params
        self._rng = rng
        self._level = float(start_price)
        self._price = start_price
        self.jumps = 0

    @property
    def price(self) -> int:
        """The current reference price, price units, on the tick."""
        return self._price

    def step(self, dt_ns: int) -> int:
        """Advance the path by ``dt_ns`` of simulated time and return the new price."""
        p = self.params
        rng = self._rng
        dt_min = dt_ns / NS_PER_MINUTE
        move_bps = p.drift_bps_per_hour * dt_min / 60.0 + p.volatility_bps_per_sqrt_minute * math.sqrt(dt_min) * rng.gauss(0.0, 1.0)
        if rng.random() < p.jump_probability:
            self.jumps += 1
            jump = rng.expovariate(1.0 / p.jump_mean_bps)
            move_bps += jump if rng.random() < 0.5 else -jump
        move_bps = max(-p.max_step_bps, min(p.max_step_bps, move_bps))
        self._level *= math.exp(move_bps / 10_000.0)
        ticks = max(1, round(self._level / self.tick))
        self._price = ticks * self.tick
        return self._price

    def command(self) -> SetReferencePrice:
        """The command that publishes the current price to the venue."""
        return SetReferencePrice(instrument=self.instrument, price=self._price)
