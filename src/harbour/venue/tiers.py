"""Margin brackets: initial and maintenance margin by position notional.

A bracket table is a list of notional brackets (settlement micro-units at the mark),
each with a maximum leverage (initial rate = 1 / max leverage, rounded up to a ppm) and
a maintenance rate. Maintenance works as a tax bracket, so it is continuous in size:

    MM(n) = ceil((n x mmr_t - amount_t x 1e6) / 1e6)  for the bracket t holding n
    amount_1 = 0,  amount_t = amount_(t-1) + cap_(t-1) x (mmr_t - mmr_(t-1)) / 1e6

Caps are whole currency units, so every maintenance amount is an exact integer. The
initial rate of a position is the higher of its bracket's rate and the rate of the
account's chosen leverage, so a large position always needs the margin of its bracket.
The last bracket's cap is the largest reachable position notional the venue accepts.

Pure integer functions; the same code serves the pre-trade check, the liquidation scan,
the liquidation price and the published disclosure.
"""

from __future__ import annotations

from harbour.kernel.money import MICRO, PPM
from harbour.venue.commands import MarginTier

# the cap of the single bracket an instrument gets at listing: no practical limit
UNBOUNDED_NOTIONAL = 10**18
MAX_TIERS = 20


class Tier:
    __slots__ = ("max_notional", "max_leverage", "imr_ppm", "mmr_ppm", "amount")

    def __init__(self, max_notional: int, max_leverage: int, imr_ppm: int, mmr_ppm: int, amount: int) -> None:
        self.max_notional = max_notional
        self.max_leverage = max_leverage
        self.imr_ppm = imr_ppm
        self.mmr_ppm = mmr_ppm
        self.amount = amount  # maintenance amount, settlement micro-units

    def row(self) -> tuple[int, int, int, int, int]:
        return self.max_notional, self.max_leverage, self.imr_ppm, self.mmr_ppm, self.amount


def leverage_rate_ppm(leverage: int) -> int:
    """Initial margin rate of a leverage, rounded up (platform's favour)."""
    return -(-PPM // leverage)


def default_tiers(max_leverage: int) -> tuple[MarginTier, ...]:
    """The one bracket an instrument has at listing: its maximum leverage, maintenance = half the initial rate."""
    return (MarginTier(max_notional=UNBOUNDED_NOTIONAL, max_leverage=max_leverage, maintenance_ppm=-(-leverage_rate_ppm(max_leverage) // 2)),)


def tiers_problem(tiers: tuple[MarginTier, ...], instrument_max_leverage: int) -> str | None:
    """Why a bracket table is unsound, or None."""
    if not 1 <= len(tiers) <= MAX_TIERS:
        return f"need 1 to {MAX_TIERS} brackets"
    previous: MarginTier | None = None
    for i, t in enumerate(tiers, 1):
        if t.max_notional <= 0 or t.max_notional % MICRO or t.max_notional > UNBOUNDED_NOTIONAL:
            return f"bracket {i}: max_notional must be positive whole currency units up to {UNBOUNDED_NOTIONAL}"
        if not 1 <= t.max_leverage <= instrument_max_leverage:
            return f"bracket {i}: max_leverage must be 1..{instrument_max_leverage} (the listed maximum)"
        if not 0 < t.maintenance_ppm < leverage_rate_ppm(t.max_leverage):
            return f"bracket {i}: maintenance rate must be positive and below the initial rate"
        if previous is not None:
            if t.max_notional <= previous.max_notional:
                return f"bracket {i}: max_notional must grow"
            if t.max_leverage > previous.max_leverage:
                return f"bracket {i}: max_leverage must not grow"
            if t.maintenance_ppm < previous.maintenance_ppm:
                return f"bracket {i}: maintenance rate must not fall"
        previous = t
    return None


def build_tiers(tiers: tuple[MarginTier, ...]) -> tuple[Tier, ...]:
    """The bracket rows with their derived initial rates and maintenance amounts."""
    rows: list[Tier] = []
    amount = 0
    for t in tiers:
        if rows:
            prev = rows[-1]
            amount += prev.max_notional * (t.maintenance_ppm - prev.mmr_ppm) // PPM
        rows.append(Tier(t.max_notional, t.max_leverage, leverage_rate_ppm(t.max_leverage), t.maintenance_ppm, amount))
    return tuple(rows)


def tier_for(tiers: tuple[Tier, ...], notional: int) -> Tier:
    """The bracket holding ``notional`` (the last one beyond every cap)."""
    for t in tiers:
        if notional <= t.max_notional:
            return t
    return tiers[-1]


def initial_margin(tiers: tuple[Tier, ...], notional: int, leverage: int) -> int:
    """ceil(notional x max(bracket rate, leverage rate) / 1e6); ``leverage`` 0 means the bracket's own."""
    rate = tier_for(tiers, notional).imr_ppm
    if leverage:
        chosen = leverage_rate_ppm(leverage)
        if chosen > rate:
            rate = chosen
    return -((-notional * rate) // PPM)


def maintenance_margin(tiers: tuple[Tier, ...], notional: int) -> int:
    """ceil(notional x mmr_t / 1e6) - amount_t: continuous in notional, never negative."""
    if not notional:
        return 0
    t = tier_for(tiers, notional)
    return -((-notional * t.mmr_ppm) // PPM) - t.amount
