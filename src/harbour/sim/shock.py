"""Market shocks for the simulator: a named crash, driven through the index feed.

Owns the shock library of ``harbour simulate --shock NAME`` and the shocked price path:

- ``ShockSpec``: one crash, as a drawdown per reference asset (peak to trough, in bps)
  on a fixed timetable expressed as shares of the session (so a shorter session crashes
  faster, never less), part of the fall taken in a few one-print gaps ("air pockets"),
  and a partial recovery to the close; plus what the crash does to the participants: the
  clients' leverage and positioning (most are leveraged long going in, as on 12 March
  2020), how far the affiliated market maker widens and shrinks its quotes
  once the fall starts (the book thins), and the size of the insurance fund and operator
  tranche, scaled to the simulated book so that the waterfall is reached.
- ``ShockPath``: a ``PricePath`` whose seeded random walk is multiplied by the shock's
  factor at the current time. The scenario hands it to the ``SimulatedIndexFeed``, so
  the crash reaches the venue only as ``PublishIndex`` prints (and from them the mark),
  never as a set reference price.

Invariants: floats draw levels only; every price that leaves the path is a positive
multiple of the tick; the factor is a pure function of (asset, session share), so the
same seed gives the same path; the factor is 1 before the fall starts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

from harbour.sim.price_path import PathParams, PricePath


@dataclass(frozen=True, slots=True, kw_only=True)
class ShockSpec:
    """One crash. Shares are of the session's duration; money is whole currency units."""

    name: str
    description: str
    drawdown_bps: tuple[tuple[str, int], ...]  # (reference asset, peak-to-trough move, negative)
    start: float = 0.2  # the fall starts here
    trough: float = 0.65  # ... and reaches its low here
    recovery: float = 0.25  # share of the fall won back by the close
    gaps: tuple[float, ...] = (0.3, 0.55, 0.8)  # where the air pockets are, as shares of the fall window
    gap_share: float = 0.35  # share of the (log) fall taken in the air pockets, split equally
    leverage: tuple[float, float] = (1.0, 4.0)  # the clients' target leverage is drawn from this range
    order_share: tuple[float, float] = (0.05, 0.35)  # a new order's notional, as a share of the client's equity
    bull_share: float = 0.5  # share of the clients positioned for a rise ...
    bull_buy_probability: float = 0.5  # ... whose new orders buy with this probability (the bears' sell with it)
    mm_inner_bps: float = 1.5  # once the fall starts: the MM's half-spread of the first level ...
    mm_step_bps: float = 2.0  # ... distance between its levels ...
    mm_size_share: float = 1.0  # ... and its quote size as a share of the usual
    insurance_fund: tuple[tuple[str, int], ...] = ()  # replaces the genesis funding when not empty
    operator_tranche: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.start < self.trough <= 1.0:
            raise ValueError("need 0 <= start < trough <= 1")
        if not 0.0 <= self.recovery <= 1.0 or not 0.0 <= self.gap_share <= 1.0:
            raise ValueError("recovery and gap_share are shares in [0, 1]")
        if any(not 0.0 <= g <= 1.0 for g in self.gaps):
            raise ValueError("gaps are shares of the fall window, in [0, 1]")
        if any(not -10_000 < bps <= 0 for _, bps in self.drawdown_bps):
            raise ValueError("a drawdown is a fall in bps, in (-10000, 0]")
        if self.leverage[0] <= 0 or self.leverage[1] < self.leverage[0]:
            raise ValueError("leverage is a positive (low, high) range")
        if self.mm_size_share <= 0:
            raise ValueError("mm_size_share must be positive")
        if not 0.0 <= self.bull_share <= 1.0 or not 0.0 <= self.bull_buy_probability <= 1.0:
            raise ValueError("bull_share and bull_buy_probability are shares in [0, 1]")
        if not 0.0 < self.order_share[0] <= self.order_share[1]:
            raise ValueError("order_share is a positive (low, high) range")

    def drawdown(self, asset: str) -> int:
        """The peak-to-trough move of ``asset`` in bps (0 for an asset the shock does not name)."""
        return dict(self.drawdown_bps).get(asset, 0)

    def factor(self, asset: str, share: float) -> float:
        """The multiplier of ``asset``'s price level at ``share`` of the session."""
        fall = math.log1p(self.drawdown(asset) / 10_000.0)
        if not fall or share < self.start:
            return 1.0
        if share >= self.trough:
            past = min(1.0, (share - self.trough) / (1.0 - self.trough)) if self.trough < 1.0 else 0.0
            return math.exp(fall * (1.0 - self.recovery * past))
        x = (share - self.start) / (self.trough - self.start)
        taken = (1.0 - self.gap_share) * x if self.gaps else x
        if self.gaps:
            taken += self.gap_share * sum(1 for g in self.gaps if g <= x) / len(self.gaps)
        return math.exp(fall * taken)

    def in_fall_or_after(self, share: float) -> bool:
        """Whether the shock has started (participants behave as in a crash from then on)."""
        return share >= self.start


CRASH_2020_03_12: Final = ShockSpec(
    name="crash-2020-03-12",
    description=(
        "COVID Black Thursday, 12 March 2020: BTC -39% and ETH -50% peak to trough within the day "
        "(scenario library, margin-financing.md section 3), compressed into the session; market makers pull back"
    ),
    drawdown_bps=(("BTC", -3_900), ("ETH", -5_000)),
    leverage=(5.0, 15.0),
    order_share=(0.1, 0.5),
    bull_share=0.7,
    bull_buy_probability=0.8,
    mm_inner_bps=300.0,
    mm_step_bps=50.0,
    mm_size_share=1.0,
    insurance_fund=(("USD", 100), ("HKD", 800)),
    operator_tranche=(("USD", 20_000), ("HKD", 150_000)),
)

SHOCKS: Final[dict[str, ShockSpec]] = {s.name: s for s in (CRASH_2020_03_12,)}
"""The shock library, by name."""


def shock_named(name: str) -> ShockSpec:
    """The library shock called ``name``; ValueError naming the known ones otherwise."""
    spec = SHOCKS.get(name)
    if spec is None:
        raise ValueError(f"unknown shock {name!r}; known: {', '.join(sorted(SHOCKS))}")
    return spec


class ShockPath(PricePath):
    """A ``PricePath`` whose level is multiplied by a shock's factor at the current time."""

    __slots__ = ("shock", "asset", "duration_ns", "elapsed_ns")

    def __init__(
        self,
        instrument: str,
        start_price: int,
        tick: int,
        params: PathParams,
        rng: random.Random,
        *,
        shock: ShockSpec,
        asset: str,
        duration_ns: int,
    ) -> None:
        if duration_ns <= 0:
            raise ValueError("duration_ns must be positive")
        super().__init__(instrument, start_price, tick, params, rng)
        self.shock = shock
        self.asset = asset
        self.duration_ns = duration_ns
        self.elapsed_ns = 0

    def step(self, dt_ns: int) -> int:
        """Advance the walk by ``dt_ns`` and return the shocked price (on the tick, positive)."""
        super().step(dt_ns)
        self.elapsed_ns += dt_ns
        factor = self.shock.factor(self.asset, self.elapsed_ns / self.duration_ns)
        ticks = max(1, round(self._level * factor / self.tick))
        self._price = ticks * self.tick
        return self._price
