"""IOSCO index engine: one reference asset's index from its constituent venues.

Owns the versioned ``IndexMethodology`` (IOSCO P11/P12), the ``IndexPrint`` record of
each determination (P9/P18) and the pure functions ``compute_index``, ``recompute`` and
``select_methodology``.

Method, in order (each step is recorded on the print):

1. Input hierarchy (P8). An input is refused, with a reason, when its venue is not a
   constituent or not eligible, its kind is not in the hierarchy, its price is not
   positive, it is time-stamped after the print, or it is older than the staleness
   limit (a venue with no fresh input gets zero weight). Of a venue's remaining inputs
   the one of the highest-ranked kind is used (trades before firm quotes), then the
   latest; a tie on both goes to the lower price. The rest are SUPERSEDED.
2. Outliers. The cross-venue median is the unweighted median of the selected prices
   (even count: midpoint rounded down). The band is median x band_bps / 10_000 rounded
   down (the narrower band). A price outside [median - band, median + band] is clamped to
   the band edge (CLAMP) or excluded (EXCLUDE), as the methodology says.
3. Minimum live constituents. If fewer venues remain than the minimum, the print holds
   the last good value flagged LAST_GOOD_STALE, for at most ``halt_after_ns`` since that
   value was made; after that, or with no good value ever, the print is a HALT trigger.
4. Value = sum(weight x price) / sum(weight), rounded to nearest (half toward +inf),
   in the methodology's price unit (10**-price_decimals of the quote currency).

Invariants: pure, integer-only and deterministic (the outcome does not depend on the
order of the inputs); a good value lies within [min, max] of the prices used; a print
embeds its methodology, its inputs (canonically ordered) and the last good value it
was given, so ``recompute(print) == print`` bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

import msgspec

from harbour.kernel.money import BPS
from harbour.prices.problems import ParameterProblem, div_round_half_up, invalid_parameter, median_round_down


class InputKind(StrEnum):
    """Input types, in no order; a methodology's ``input_hierarchy`` gives the order."""

    TRADE = "TRADE"
    FIRM_QUOTE = "FIRM_QUOTE"  # mid of a firm, executable top-of-book quote


class OutlierAction(StrEnum):
    CLAMP = "CLAMP"
    EXCLUDE = "EXCLUDE"


class ExclusionReason(StrEnum):
    NOT_A_CONSTITUENT = "NOT_A_CONSTITUENT"
    INELIGIBLE_VENUE = "INELIGIBLE_VENUE"
    KIND_NOT_IN_HIERARCHY = "KIND_NOT_IN_HIERARCHY"
    NON_POSITIVE_PRICE = "NON_POSITIVE_PRICE"
    AFTER_PRINT_TIME = "AFTER_PRINT_TIME"
    STALE = "STALE"
    SUPERSEDED = "SUPERSEDED"
    OUTLIER_EXCLUDED = "OUTLIER_EXCLUDED"


class Fallback(StrEnum):
    NONE = "NONE"
    LAST_GOOD_STALE = "LAST_GOOD_STALE"
    HALT = "HALT"


class Constituent(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    weight: int  # integer weight; an eligible venue's weight is positive
    eligible: bool = True


class IndexMethodology(msgspec.Struct, frozen=True, kw_only=True):
    """One published version of an asset's index methodology, in force from ``effective_from_ns``."""

    asset: str
    version: int
    effective_from_ns: int
    price_decimals: int  # prices are integers in units of 10**-price_decimals of the quote currency
    constituents: tuple[Constituent, ...]
    input_hierarchy: tuple[InputKind, ...] = (InputKind.TRADE, InputKind.FIRM_QUOTE)
    outlier_action: OutlierAction = OutlierAction.CLAMP
    outlier_band_bps: int = 100  # +-1% of the cross-venue median (Binance BTC/ETH)
    staleness_limit_ns: int = 30_000_000_000  # 30 s
    min_live_constituents: int = 3
    halt_after_ns: int = 60_000_000_000  # hold the last good value for at most 60 s


class PriceInput(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    kind: InputKind
    price: int
    ts_ns: int  # when the venue observed it


class Exclusion(msgspec.Struct, frozen=True, kw_only=True):
    input: PriceInput
    reason: ExclusionReason
    detail: str


class Clamp(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    price_in: int
    price_out: int
    median: int
    band_low: int
    band_high: int


class WeightUsed(msgspec.Struct, frozen=True, kw_only=True):
    """A constituent's part in one print: zero weight when it had no usable input."""

    venue: str
    configured_weight: int
    weight: int
    price: int | None  # the price used after any clamp; None with zero weight
    kind: InputKind | None


class LastGood(msgspec.Struct, frozen=True, kw_only=True):
    value: int
    ts_ns: int


class IndexPrint(msgspec.Struct, frozen=True, kw_only=True):
    """One index determination with everything needed to recompute it."""

    asset: str
    ts_ns: int
    methodology_version: int
    methodology: IndexMethodology
    inputs: tuple[PriceInput, ...]  # every input offered, canonically ordered
    carried_last_good: LastGood | None  # the last good value this print was given
    median: int | None  # cross-venue median of the selected prices, None if none selected
    weights: tuple[WeightUsed, ...]  # one per constituent, in methodology order
    exclusions: tuple[Exclusion, ...]
    clamps: tuple[Clamp, ...]
    live_constituents: int
    fallback: Fallback
    value: int | None  # the index; with HALT, the last good value held (None if there never was one)
    last_good: LastGood | None  # what the next print carries

    @property
    def is_stale(self) -> bool:
        return self.fallback is not Fallback.NONE

    @property
    def is_halt(self) -> bool:
        return self.fallback is Fallback.HALT


def check_methodology(methodology: IndexMethodology) -> tuple[ParameterProblem, ...]:
    """Return the problems that make a methodology unusable (empty when it is sound)."""
    m = methodology
    problems: list[ParameterProblem] = []
    if not m.asset:
        problems.append(invalid_parameter("asset", "asset must be named"))
    if m.version < 1:
        problems.append(invalid_parameter("version", f"version must be at least 1, got {m.version}"))
    if not 0 <= m.price_decimals <= 12:
        problems.append(invalid_parameter("price_decimals", f"price_decimals must be 0..12, got {m.price_decimals}"))
    venues = [c.venue for c in m.constituents]
    if len(set(venues)) != len(venues):
        problems.append(invalid_parameter("constituents", "a venue is listed twice"))
    for c in m.constituents:
        if c.eligible and c.weight <= 0:
            problems.append(invalid_parameter("constituents", f"eligible venue {c.venue} needs a positive weight, got {c.weight}"))
        if c.weight < 0:
            problems.append(invalid_parameter("constituents", f"venue {c.venue} has a negative weight {c.weight}"))
    eligible = sum(1 for c in m.constituents if c.eligible)
    if not m.input_hierarchy or len(set(m.input_hierarchy)) != len(m.input_hierarchy):
        problems.append(invalid_parameter("input_hierarchy", "the hierarchy must list each input kind at most once, and at least one"))
    if not 0 < m.outlier_band_bps <= BPS:
        problems.append(invalid_parameter("outlier_band_bps", f"band must be 1..{BPS} bps, got {m.outlier_band_bps}"))
    if m.staleness_limit_ns <= 0:
        problems.append(invalid_parameter("staleness_limit_ns", "staleness limit must be positive"))
    if not 1 <= m.min_live_constituents <= max(eligible, 1):
        problems.append(
            invalid_parameter("min_live_constituents", f"minimum must be 1..{eligible} (eligible venues), got {m.min_live_constituents}")
        )
    if m.halt_after_ns < 0:
        problems.append(invalid_parameter("halt_after_ns", "halt delay must not be negative"))
    return tuple(problems)


def select_methodology(versions: Iterable[IndexMethodology], ts_ns: int) -> IndexMethodology | None:
    """Return the version in force at ``ts_ns``: the latest ``effective_from_ns`` <= ts_ns.

    Raises ValueError when two versions share a number or an effective-from time, or
    versions of different assets are mixed (a configuration bug, not a market event).
    """
    listed = list(versions)
    if len({v.asset for v in listed}) > 1:
        raise ValueError("methodology versions of different assets")
    if len({v.version for v in listed}) != len(listed) or len({v.effective_from_ns for v in listed}) != len(listed):
        raise ValueError("methodology versions must have distinct numbers and effective-from times")
    in_force = [v for v in listed if v.effective_from_ns <= ts_ns]
    if not in_force:
        return None
    return max(in_force, key=lambda v: v.effective_from_ns)


def compute_index(
    methodology: IndexMethodology, inputs: Sequence[PriceInput], ts_ns: int, previous_print: IndexPrint | None
) -> IndexPrint:
    """Determine the index at ``ts_ns`` from ``inputs`` under ``methodology``.

    ``previous_print`` supplies only the last good value for the fallback. Raises
    ValueError for caller bugs: an unsound methodology, one not yet in force, or a
    previous print of another asset or from a later time.
    """
    if previous_print is not None:
        if previous_print.asset != methodology.asset:
            raise ValueError("previous print is for another asset")
        if previous_print.ts_ns > ts_ns:
            raise ValueError("previous print is later than this one")
    carried = previous_print.last_good if previous_print is not None else None
    return _compute(methodology, tuple(inputs), ts_ns, carried)


def recompute(index_print: IndexPrint) -> IndexPrint:
    """Recompute a print from its own record; equals the original bit for bit."""
    p = index_print
    return _compute(p.methodology, p.inputs, p.ts_ns, p.carried_last_good)


def _input_order(item: PriceInput) -> tuple[str, str, int, int]:
    return (item.venue, item.kind.value, item.ts_ns, item.price)


def _compute(m: IndexMethodology, given: tuple[PriceInput, ...], ts_ns: int, carried: LastGood | None) -> IndexPrint:
    problems = check_methodology(m)
    if problems:
        raise ValueError(f"unsound methodology: {[p.problem for p in problems]}")
    if m.effective_from_ns > ts_ns:
        raise ValueError(f"methodology version {m.version} is not in force at {ts_ns}")
    inputs = tuple(sorted(given, key=_input_order))
    constituents = {c.venue: c for c in m.constituents}
    rank = {kind: i for i, kind in enumerate(m.input_hierarchy)}
    exclusions: list[Exclusion] = []

    # 1. input hierarchy and staleness
    candidates: dict[str, list[PriceInput]] = {}
    for item in inputs:
        constituent = constituents.get(item.venue)
        age_ns = ts_ns - item.ts_ns
        if constituent is None:
            exclusions.append(Exclusion(input=item, reason=ExclusionReason.NOT_A_CONSTITUENT, detail=f"{item.venue} is not a constituent"))
        elif not constituent.eligible:
            exclusions.append(Exclusion(input=item, reason=ExclusionReason.INELIGIBLE_VENUE, detail=f"{item.venue} is not eligible"))
        elif item.kind not in rank:
            exclusions.append(
                Exclusion(input=item, reason=ExclusionReason.KIND_NOT_IN_HIERARCHY, detail=f"{item.kind} is not in the input hierarchy")
            )
        elif item.price <= 0:
            exclusions.append(Exclusion(input=item, reason=ExclusionReason.NON_POSITIVE_PRICE, detail=f"price {item.price}"))
        elif age_ns < 0:
            exclusions.append(
                Exclusion(input=item, reason=ExclusionReason.AFTER_PRINT_TIME, detail=f"observed {-age_ns} ns after the print")
            )
        elif age_ns > m.staleness_limit_ns:
            exclusions.append(
                Exclusion(input=item, reason=ExclusionReason.STALE, detail=f"age {age_ns} ns > limit {m.staleness_limit_ns} ns")
            )
        else:
            candidates.setdefault(item.venue, []).append(item)
    selected: dict[str, PriceInput] = {}
    for venue, items in candidates.items():
        best = min(items, key=lambda i: (rank[i.kind], -i.ts_ns, i.price))
        selected[venue] = best
        for item in items:
            if item is not best:
                exclusions.append(
                    Exclusion(input=item, reason=ExclusionReason.SUPERSEDED, detail=f"{best.kind} at {best.ts_ns} used instead")
                )

    # 2. outliers against the cross-venue median
    median = median_round_down([i.price for i in selected.values()]) if selected else None
    clamps: list[Clamp] = []
    used: dict[str, int] = {}
    for venue, item in selected.items():
        assert median is not None
        band = (median * m.outlier_band_bps) // BPS  # rounded down: the narrower band
        low, high = median - band, median + band
        if low <= item.price <= high:
            used[venue] = item.price
        elif m.outlier_action is OutlierAction.CLAMP:
            edge = low if item.price < low else high
            clamps.append(Clamp(venue=venue, price_in=item.price, price_out=edge, median=median, band_low=low, band_high=high))
            used[venue] = edge
        else:
            exclusions.append(
                Exclusion(
                    input=item,
                    reason=ExclusionReason.OUTLIER_EXCLUDED,
                    detail=f"{item.price} outside [{low}, {high}] around median {median} ({m.outlier_band_bps} bps)",
                )
            )

    weights = tuple(
        WeightUsed(
            venue=c.venue,
            configured_weight=c.weight,
            weight=c.weight if c.venue in used else 0,
            price=used.get(c.venue),
            kind=selected[c.venue].kind if c.venue in used else None,
        )
        for c in m.constituents
    )
    live = len(used)

    # 3. minimum live constituents and the fallback hierarchy; 4. the weighted value
    value: int | None
    if live >= m.min_live_constituents:
        total_weight = sum(w.weight for w in weights)
        weighted = sum(w.weight * w.price for w in weights if w.price is not None)
        value = div_round_half_up(weighted, total_weight)
        fallback = Fallback.NONE
        last_good: LastGood | None = LastGood(value=value, ts_ns=ts_ns)
    else:
        last_good = carried
        value = carried.value if carried is not None else None
        held_ok = carried is not None and ts_ns - carried.ts_ns <= m.halt_after_ns
        fallback = Fallback.LAST_GOOD_STALE if held_ok else Fallback.HALT

    return IndexPrint(
        asset=m.asset,
        ts_ns=ts_ns,
        methodology_version=m.version,
        methodology=m,
        inputs=inputs,
        carried_last_good=carried,
        median=median,
        weights=weights,
        exclusions=tuple(exclusions),
        clamps=tuple(clamps),
        live_constituents=live,
        fallback=fallback,
        value=value,
        last_good=last_good,
    )
