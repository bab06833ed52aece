"""The stress scenario library (S2): historical BTC/ETH moves, house shock tiers, hypotheticals.

Owns ``Scenario`` and the versioned library built from margin-financing.md §3 and the S2
row of the rules table. Every shock is an integer in basis points of the starting price,
negative for a fall (-10,000 = price to zero). A scenario is a path of cumulative steps
(for the tiers: 1 h, 1 day, 3 days, 7 days); the last step is its headline shock. Prices
never rise along a path, so selling earlier can only help (S3 allowed vs blocked).

Historical rows take the worst reported drawdown of §3 for the window named (values are
as reported; §7 item 6 asks for a recompute from one consistent dataset before sign-off).
Where §3 reports no ETH move (the cycle bears), ETH is assumed to move like BTC; where
it reports no equity move, the equity shock is 0. Equity shocks apply to every
security alike (an HSI-type index move).
"""

from __future__ import annotations

from typing import Final

import msgspec

from harbour.kernel.money import BPS

LIBRARY_VERSION: Final = "2026-02-s3-v1"

HISTORICAL: Final = "HISTORICAL"
TIER: Final = "TIER"
HYPOTHETICAL: Final = "HYPOTHETICAL"
REVERSE: Final = "REVERSE"


class ShockStep(msgspec.Struct, frozen=True, kw_only=True):
    """Cumulative shocks from the start of the scenario, at the end of one window."""

    window: str
    btc_bps: int
    eth_bps: int
    equity_bps: int = 0


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    date: str  # ISO date (UTC) of the event, or "" for a hypothetical
    kind: str  # HISTORICAL, TIER, HYPOTHETICAL or REVERSE
    steps: tuple[ShockStep, ...]
    note: str = ""

    @property
    def final(self) -> ShockStep:
        return self.steps[-1]

    @property
    def btc_shock_bps(self) -> int:
        return self.steps[-1].btc_bps

    @property
    def eth_shock_bps(self) -> int:
        return self.steps[-1].eth_bps

    @property
    def equity_shock_bps(self) -> int:
        return self.steps[-1].equity_bps


def validate_scenario(s: Scenario) -> str | None:
    """Why ``s`` is not a usable scenario, or None: shocks in [-100%, 0], never rising along the path."""
    if not s.name or not s.steps:
        return "a scenario needs a name and at least one step"
    prev = (0, 0, 0)
    for step in s.steps:
        now = (step.btc_bps, step.eth_bps, step.equity_bps)
        if any(not -BPS <= v <= 0 for v in now):
            return f"{s.name}: every shock must be in [-10000, 0] bps, got {now}"
        if any(n > p for n, p in zip(now, prev, strict=True)):
            return f"{s.name}: prices may not rise along the path ({prev} -> {now})"
        prev = now
    return None


def instantaneous(name: str, btc_bps: int, eth_bps: int, equity_bps: int = 0, *, kind: str = HYPOTHETICAL, date: str = "", note: str = "") -> Scenario:
    return Scenario(name=name, date=date, kind=kind, steps=(ShockStep(window="instant", btc_bps=btc_bps, eth_bps=eth_bps, equity_bps=equity_bps),), note=note)


def _hist(name: str, date: str, window: str, btc: int, eth: int, note: str = "") -> Scenario:
    return Scenario(name=name, date=date, kind=HISTORICAL, steps=(ShockStep(window=window, btc_bps=btc, eth_bps=eth),), note=note)


# §3 table, worst reported drawdown per event (BTC, ETH).
HISTORICAL_SCENARIOS: Final[tuple[Scenario, ...]] = (
    _hist("COVID Black Thursday", "2020-03-12", "2 days", -5_000, -5_500, "BTC up to -50% over 2 days; ETH -50% to -55% in a day"),
    _hist("China warnings / leverage flush", "2021-05-19", "24 h", -3_100, -4_600, "BTC -27% (-31% high to low); ETH -40% to -46% intraday"),
    _hist("Weekend flash crash", "2021-12-04", "intraday", -2_060, -1_600),
    _hist("Terra/LUNA collapse", "2022-05-06", "7 days", -2_800, -3_300),
    Scenario(
        name="Celsius halt then 3AC",
        date="2022-06-13",
        kind=HISTORICAL,
        steps=(ShockStep(window="1 day", btc_bps=-1_500, eth_bps=-1_800), ShockStep(window="6 days", btc_bps=-3_300, eth_bps=-4_000)),
    ),
    _hist("FTX collapse", "2022-11-08", "multi-day", -1_430, -3_500, "ETH -35% multi-day (verify)"),
    Scenario(
        name="Yen carry-trade unwind",
        date="2024-08-05",
        kind=HISTORICAL,
        steps=(ShockStep(window="24 h", btc_bps=-1_800, eth_bps=-2_300), ShockStep(window="7 days", btc_bps=-2_000, eth_bps=-3_300)),
    ),
    _hist("US tariffs on CA/MX/CN", "2025-02-03", "1 day", -700, -2_500),
    _hist("100% China tariff, $19bn liquidations", "2025-10-10", "hours", -1_600, -2_100),
    Scenario(
        name="Risk-off, ETF outflows",
        date="2026-02-05",
        kind=HISTORICAL,
        steps=(ShockStep(window="1 day", btc_bps=-1_050, eth_bps=-1_100), ShockStep(window="7 days", btc_bps=-2_200, eth_bps=-3_150)),
    ),
    _hist("Cycle bear 2018", "2017-12-17", "12 months", -8_400, -8_400, "ETH not in §3: assumed equal to BTC"),
    _hist("Cycle bear 2022", "2021-11-10", "12 months", -7_700, -7_700, "ETH not in §3: assumed equal to BTC"),
)


def _tier(name: str, moves: tuple[tuple[int, int], ...], modelled_on: str) -> Scenario:
    windows = ("1 h", "1 day", "3 days", "7 days")
    steps = tuple(ShockStep(window=w, btc_bps=-b * 100, eth_bps=-e * 100) for w, (b, e) in zip(windows, moves, strict=True))
    return Scenario(name=name, date="", kind=TIER, steps=steps, note=f"house tier modelled on {modelled_on}")


# §3 proposed standard shock set (house defaults): percent falls (BTC, ETH) at 1 h, 1 d, 3 d, 7 d.
TIER_MODERATE: Final = _tier("Tier moderate", ((10, 15), (15, 22), (20, 30), (25, 35)), "2024-08, 2025-10, 2026-02")
TIER_SEVERE: Final = _tier("Tier severe", ((15, 20), (30, 45), (35, 50), (40, 55)), "2021-05, 2022-06")
TIER_EXTREME: Final = _tier("Tier extreme", ((20, 25), (45, 55), (50, 60), (55, 65)), "2020-03")
TIER_BREAK_EVEN: Final = instantaneous("Tier break-even", -6_000, -6_000, kind=TIER, note="instantaneous -60%: equals the haircut floor")
TIERS: Final[tuple[Scenario, ...]] = (TIER_MODERATE, TIER_SEVERE, TIER_EXTREME, TIER_BREAK_EVEN)

# S2 hypothetical set (outage and slippage are run modes, not scenarios).
HYPOTHETICAL_SCENARIOS: Final[tuple[Scenario, ...]] = (
    instantaneous("BTC/ETH -20%", -2_000, -2_000),
    instantaneous("BTC/ETH -40%", -4_000, -4_000),
    instantaneous("BTC/ETH -60%", -6_000, -6_000),
    instantaneous(
        "BTC/ETH -50% over a weekend, HKEX closed", -5_000, -5_000,
        note="one step: nothing is sold before the close-out in either mode (allowed = blocked); sale_value is the sell-out due at the final prices",
    ),
    instantaneous("Equity -15% with BTC/ETH -40%", -4_000, -4_000, -1_500),
    instantaneous("ETH = 1.5x BTC (BTC -30%)", -3_000, -4_500),
)

LIBRARY: Final[tuple[Scenario, ...]] = HISTORICAL_SCENARIOS + TIERS + HYPOTHETICAL_SCENARIOS


def uniform_va_shock(shock_bps: int, *, eth_multiplier_bps: int = BPS, equity_bps: int = 0) -> Scenario:
    """BTC falls ``shock_bps`` (a magnitude, 0..10000), ETH by that x multiplier (capped at 100%)."""
    if not 0 <= shock_bps <= BPS:
        raise ValueError("shock magnitude must be in [0, 10000] bps")
    eth = min(BPS, shock_bps * eth_multiplier_bps // BPS)
    return instantaneous(f"BTC -{shock_bps} bps", -shock_bps, -eth, equity_bps, kind=REVERSE)
