"""Index price feeds: constituent-venue inputs emitted as ``PublishIndex`` commands.

Owns the sources of index inputs outside the engine (issue 3, "Price feeds"):

- ``SimulatedIndexFeed``: a seeded common path (trend, volatility, jumps: the
  simulator's ``PricePath``) observed by every constituent venue with its own noise and
  latency, one input per venue per publish (a TRADE, sometimes the mid of a FIRM_QUOTE).
  On demand a venue has an outage window (it sends nothing new; the price service keeps
  forwarding its last observation, which the index refuses as STALE once it is older
  than the staleness limit) and one venue deviates by a configured offset (to exercise
  the outlier clamp/exclude rule).
- ``CsvIndexFeed`` / ``ParquetIndexFeed``: replay recorded inputs from a ``ts_ns,venue,kind,price``
  CSV or Parquet file (same columns),
  grouped into one ``PublishIndex`` per publish time on a fixed grid; parsing is strict.
- ``default_methodology``: the house index methodology as a ``SetIndexMethodology``.

Invariants: floats are used only to draw levels; every price that leaves this module is
a positive integer in the instrument's price unit (a multiple of the tick for the
simulated feed); the same seed and the same sequence of ``publish`` calls give the same
commands; a venue's draws are taken whether or not it is in an outage, so an outage or a
deviation never changes what the other venues send. Nothing here reads the network or
the wall clock.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harbour.kernel.money import format_units, parse_units
from harbour.prices.index import (
    Constituent,
    IndexMethodology,
    InputKind,
    OutlierAction,
    PriceInput,
    check_methodology,
)
from harbour.sim.clock import NS_PER_SECOND
from harbour.sim.price_path import PathParams, PricePath
from harbour.venue.commands import PublishIndex, SetIndexMethodology

DEFAULT_VENUES: Final = ("binance", "coinbase", "kraken", "okx", "bitstamp")
"""Five constituent spot venues (ccxt ids), equally weighted by default."""

MAJOR_ASSETS: Final = frozenset({"BTC", "ETH"})
MAJOR_BAND_BPS: Final = 100  # +-1% of the cross-venue median for BTC and ETH
OTHER_BAND_BPS: Final = 200  # +-2% for any other reference asset
DEFAULT_STALENESS_NS: Final = 30 * NS_PER_SECOND
DEFAULT_MIN_LIVE: Final = 3
DEFAULT_HALT_AFTER_NS: Final = 60 * NS_PER_SECOND

CSV_COLUMNS: Final = ("ts_ns", "venue", "kind", "price")


def default_methodology(
    instrument: str,
    asset: str,
    venues: Sequence[str] = DEFAULT_VENUES,
    *,
    effective_from_ns: int,
    price_decimals: int = 2,
    version: int = 1,
    outlier_action: OutlierAction = OutlierAction.CLAMP,
    outlier_band_bps: int | None = None,
    staleness_limit_ns: int = DEFAULT_STALENESS_NS,
    min_live_constituents: int = DEFAULT_MIN_LIVE,
    halt_after_ns: int = DEFAULT_HALT_AFTER_NS,
) -> SetIndexMethodology:
    """The house methodology for ``instrument``'s reference ``asset``, as a command.

    Defaults: the five ``DEFAULT_VENUES`` with weight 1 each, trades before firm quotes,
    outliers clamped to +-1% of the cross-venue median for BTC/ETH (+-2% otherwise), a
    30 s staleness limit, at least 3 live venues, and the last good value held for 60 s
    before the halt trigger. Raises ValueError when the result would fail
    ``check_methodology``.
    """
    band = outlier_band_bps if outlier_band_bps is not None else (MAJOR_BAND_BPS if asset in MAJOR_ASSETS else OTHER_BAND_BPS)
    methodology = IndexMethodology(
        asset=asset,
        version=version,
        effective_from_ns=effective_from_ns,
        price_decimals=price_decimals,
        constituents=tuple(Constituent(venue=v, weight=1) for v in venues),
        outlier_action=outlier_action,
        outlier_band_bps=band,
        staleness_limit_ns=staleness_limit_ns,
        min_live_constituents=min_live_constituents,
        halt_after_ns=halt_after_ns,
    )
    problems = check_methodology(methodology)
    if problems:
        raise ValueError("unsound methodology: " + "; ".join(f"{p.field}: {p.problem}" for p in problems))
    return SetIndexMethodology(instrument=instrument, methodology=methodology)


# --- the simulated feed ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedParams:
    """Shape of the simulated feed around the common path. Rates in basis points."""

    path: PathParams = PathParams()
    venue_noise_bps: float = 2.0  # standard deviation of a venue's price around the path
    firm_quote_probability: float = 0.2  # chance a venue's input is a firm-quote mid, not a trade
    max_latency_ns: int = 500_000_000  # a venue's observation precedes the publish by [0, this)

    def __post_init__(self) -> None:
        if self.venue_noise_bps < 0:
            raise ValueError("venue_noise_bps must not be negative")
        if not 0.0 <= self.firm_quote_probability <= 1.0:
            raise ValueError("firm_quote_probability must be in [0, 1]")
        if self.max_latency_ns <= 0:
            raise ValueError("max_latency_ns must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    """``venue`` sends nothing new from ``start_ns`` (inclusive) to ``end_ns`` (exclusive)."""

    venue: str
    start_ns: int
    end_ns: int

    def covers(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns < self.end_ns


@dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    """``venue`` quotes ``offset_bps`` away from the path in [start_ns, end_ns) (end None: for ever)."""

    venue: str
    offset_bps: int
    start_ns: int = 0
    end_ns: int | None = None

    def covers(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns and (self.end_ns is None or ts_ns < self.end_ns)


class SimulatedIndexFeed:
    """Seeded constituent-venue inputs around one common price path, for one instrument.

    ``publish(ts_ns)`` advances the path to ``ts_ns`` and returns the ``PublishIndex``
    with one input per constituent venue: its fresh observation, or during its outage
    the last observation it sent before (none if it never sent one).
    """

    __slots__ = ("instrument", "tick", "params", "constituents", "_path", "_venue_rng", "_now_ns", "_last", "_outages", "_deviation")

    def __init__(
        self,
        seed: int,
        constituents: Sequence[Constituent] | Sequence[str],
        start_price: int,
        *,
        instrument: str,
        start_ns: int,
        tick: int = 1,
        params: FeedParams = FeedParams(),
        outages: Iterable[Outage] = (),
        deviation: Deviation | None = None,
        path: PricePath | None = None,
    ) -> None:
        venues = tuple(c.venue if isinstance(c, Constituent) else c for c in constituents)
        if not venues or len(set(venues)) != len(venues):
            raise ValueError("constituents must name at least one venue, each once")
        self.instrument = instrument
        self.tick = tick
        self.params = params
        self.constituents: tuple[str, ...] = venues
        # separate streams: the path does not depend on how many venues observe it; a given
        # ``path`` (the shock scenario's, shared with the participants) is observed instead
        if path is not None and (path.price != start_price or path.tick != tick or path.instrument != instrument):
            raise ValueError("a given path must start at start_price on the feed's tick and instrument")
        if path is None:
            path = PricePath(instrument, start_price, tick, params.path, random.Random(f"harbour-feed-path:{seed}"))
        self._path = path
        self._venue_rng = random.Random(f"harbour-feed-venues:{seed}")
        self._now_ns = start_ns
        self._last: dict[str, PriceInput] = {}
        self._outages: list[Outage] = []
        self._deviation: Deviation | None = None
        for outage in outages:
            self.add_outage(outage.venue, outage.start_ns, outage.end_ns)
        if deviation is not None:
            self.set_deviation(deviation.venue, deviation.offset_bps, start_ns=deviation.start_ns, end_ns=deviation.end_ns)

    # --- on demand ------------------------------------------------------------------------

    def add_outage(self, venue: str, start_ns: int, end_ns: int) -> None:
        """Cut ``venue`` off in [start_ns, end_ns)."""
        if venue not in self.constituents:
            raise ValueError(f"{venue} is not a constituent of this feed")
        if end_ns <= start_ns:
            raise ValueError("an outage must end after it starts")
        self._outages.append(Outage(venue=venue, start_ns=start_ns, end_ns=end_ns))

    def set_deviation(self, venue: str, offset_bps: int, *, start_ns: int = 0, end_ns: int | None = None) -> None:
        """Make ``venue`` (the one deviating venue) quote ``offset_bps`` away from the path."""
        if venue not in self.constituents:
            raise ValueError(f"{venue} is not a constituent of this feed")
        if offset_bps <= -10_000:
            raise ValueError("an offset of -100% or less leaves no price")
        self._deviation = Deviation(venue=venue, offset_bps=offset_bps, start_ns=start_ns, end_ns=end_ns)

    # --- emitting -------------------------------------------------------------------------

    @property
    def path_price(self) -> int:
        """The common path's current price (price units, on the tick)."""
        return self._path.price

    def in_outage(self, venue: str, ts_ns: int) -> bool:
        return any(o.venue == venue and o.covers(ts_ns) for o in self._outages)

    def inputs(self, ts_ns: int) -> tuple[PriceInput, ...]:
        """Advance to ``ts_ns`` and return this publish's inputs, in constituent order."""
        if ts_ns < self._now_ns:
            raise ValueError(f"feed time cannot go back: {ts_ns} < {self._now_ns}")
        if ts_ns > self._now_ns:
            self._path.step(ts_ns - self._now_ns)
            self._now_ns = ts_ns
        level = self._path.price
        p = self.params
        rng = self._venue_rng
        out: list[PriceInput] = []
        for venue in self.constituents:
            # draw first, always, so outages and deviations leave the other venues' streams alone
            latency = rng.randrange(p.max_latency_ns)
            kind = InputKind.FIRM_QUOTE if rng.random() < p.firm_quote_probability else InputKind.TRADE
            noise_bps = rng.gauss(0.0, p.venue_noise_bps) if p.venue_noise_bps > 0 else 0.0
            if self.in_outage(venue, ts_ns):
                last = self._last.get(venue)
                if last is not None:
                    out.append(last)
                continue
            dev = self._deviation
            offset_bps = dev.offset_bps if dev is not None and dev.venue == venue and dev.covers(ts_ns) else 0
            raw = level * (1.0 + noise_bps / 10_000.0) * (1.0 + offset_bps / 10_000.0)
            price = max(1, math.floor(raw / self.tick + 0.5)) * self.tick
            item = PriceInput(venue=venue, kind=kind, price=price, ts_ns=max(0, ts_ns - latency))
            self._last[venue] = item
            out.append(item)
        return tuple(out)

    def publish(self, ts_ns: int) -> PublishIndex:
        """The ``PublishIndex`` command to apply at ``ts_ns``."""
        return PublishIndex(instrument=self.instrument, inputs=self.inputs(ts_ns))

    def run(self, start_ns: int, interval_ns: int, count: int) -> list[tuple[int, PublishIndex]]:
        """``count`` publishes every ``interval_ns`` from ``start_ns``: (time, command) pairs."""
        if interval_ns <= 0 or count < 0:
            raise ValueError("interval must be positive and count non-negative")
        return [(start_ns + i * interval_ns, self.publish(start_ns + i * interval_ns)) for i in range(count)]


# --- the CSV replay feed ----------------------------------------------------------------


def _parse_row(row: list[str], line: int, price_decimals: int) -> PriceInput:
    where = f"line {line}"
    if len(row) != len(CSV_COLUMNS):
        raise ValueError(f"{where}: expected {len(CSV_COLUMNS)} fields ({','.join(CSV_COLUMNS)}), got {len(row)}")
    ts_text, venue, kind_text, price_text = row
    if not (ts_text.isascii() and ts_text.isdigit()):
        raise ValueError(f"{where}: ts_ns must be a non-negative integer, got {ts_text!r}")
    if not venue or venue != venue.strip():
        raise ValueError(f"{where}: venue must be a non-empty name without surrounding spaces, got {venue!r}")
    try:
        kind = InputKind(kind_text)
    except ValueError:
        raise ValueError(f"{where}: kind must be one of {[k.value for k in InputKind]}, got {kind_text!r}") from None
    if price_text != price_text.strip():
        raise ValueError(f"{where}: price has surrounding spaces: {price_text!r}")
    try:
        price = parse_units(price_text, price_decimals)
    except ValueError as error:
        raise ValueError(f"{where}: price: {error}") from None
    if price <= 0:
        raise ValueError(f"{where}: price must be positive, got {price_text!r}")
    return PriceInput(venue=venue, kind=kind, price=price, ts_ns=int(ts_text))


def read_inputs_csv(path: Path | str, price_decimals: int) -> tuple[PriceInput, ...]:
    """Parse a ``ts_ns,venue,kind,price`` file (header required) into inputs, in file order.

    ``price`` is a plain decimal in the quote currency with at most ``price_decimals``
    decimals (``parse_units``: no exponents, no rounding). Any bad line raises
    ValueError naming its line number.
    """
    inputs: list[PriceInput] = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None or tuple(header) != CSV_COLUMNS:
                raise ValueError(f"line 1: header must be {','.join(CSV_COLUMNS)}, got {header!r}")
            for row in reader:
                inputs.append(_parse_row(row, reader.line_num, price_decimals))
        except csv.Error as error:
            raise ValueError(f"line {reader.line_num}: {error}") from None
    return tuple(inputs)


def write_inputs_csv(path: Path | str, inputs: Iterable[PriceInput], price_decimals: int) -> None:
    """Record inputs as a CSV file that ``read_inputs_csv`` reads back exactly."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for item in inputs:
            writer.writerow((item.ts_ns, item.venue, item.kind.value, format_units(item.price, price_decimals)))


class CsvIndexFeed:
    """Replays recorded inputs as ``PublishIndex`` commands, one per publish time.

    Publish times lie on a grid of ``interval_ns`` (multiples of it): an input observed
    at ``t`` goes to the first grid time at or after ``t``, so no input is ever published
    before it was observed. Within a command inputs keep their file order; commands come
    in time order. The whole file is parsed on construction (a bad line raises there).
    """

    __slots__ = ("instrument", "price_decimals", "interval_ns", "inputs")

    def __init__(self, path: Path | str, *, instrument: str, price_decimals: int, interval_ns: int = NS_PER_SECOND) -> None:
        if interval_ns <= 0:
            raise ValueError("interval_ns must be positive")
        self.instrument = instrument
        self.price_decimals = price_decimals
        self.interval_ns = interval_ns
        self.inputs = read_inputs_csv(path, price_decimals)

    def publish_time(self, observed_ns: int) -> int:
        return -(-observed_ns // self.interval_ns) * self.interval_ns

    def commands(self) -> list[tuple[int, PublishIndex]]:
        """(publish time, command) pairs in time order."""
        groups: dict[int, list[PriceInput]] = {}
        for item in self.inputs:
            groups.setdefault(self.publish_time(item.ts_ns), []).append(item)
        return [(ts, PublishIndex(instrument=self.instrument, inputs=tuple(groups[ts]))) for ts in sorted(groups)]

    def __iter__(self) -> Iterator[tuple[int, PublishIndex]]:
        return iter(self.commands())


# --- the Parquet replay feed ------------------------------------------------------------
#
# Same record layout as the CSV file: columns ts_ns (integer), venue (string), kind (string)
# and price, in that order. The price is a plain decimal string (what ``write_inputs_parquet``
# writes, the same text as the CSV) or a Parquet DECIMAL column; both are parsed with
# ``parse_units`` under the CSV's rules. A floating-point price column is refused: a
# binary float is not the decimal the venue printed. pyarrow is imported on first use
# (optional dependency group "replay"), so the rest of the simulator does not need it.


def read_inputs_parquet(path: Path | str, price_decimals: int) -> tuple[PriceInput, ...]:
    """Parse a Parquet file with the CSV's columns into inputs, in file order.

    Any bad row raises ValueError naming its row (1 = the first data row).
    """
    import pyarrow.parquet as pq  # type: ignore[import-untyped]
    import pyarrow.types as pat  # type: ignore[import-untyped]

    table = pq.read_table(path)
    names = tuple(table.column_names)
    if names != CSV_COLUMNS:
        raise ValueError(f"columns must be {','.join(CSV_COLUMNS)}, got {','.join(names)}")
    types = {name: table.schema.field(name).type for name in names}
    if not pat.is_integer(types["ts_ns"]):
        raise ValueError(f"column ts_ns must be an integer column, got {types['ts_ns']}")
    for name in ("venue", "kind"):
        if not (pat.is_string(types[name]) or pat.is_large_string(types[name])):
            raise ValueError(f"column {name} must be a string column, got {types[name]}")
    price_type = types["price"]
    if not (pat.is_string(price_type) or pat.is_large_string(price_type) or pat.is_decimal(price_type)):
        raise ValueError(f"column price must be decimal strings or a DECIMAL column, not {price_type}")
    columns = [table.column(name).to_pylist() for name in CSV_COLUMNS]
    inputs: list[PriceInput] = []
    for i, (ts_ns, venue, kind_text, price) in enumerate(zip(*columns, strict=True), start=1):
        where = f"row {i}"
        if ts_ns is None or venue is None or kind_text is None or price is None:
            raise ValueError(f"{where}: no field may be null")
        if ts_ns < 0:
            raise ValueError(f"{where}: ts_ns must be a non-negative integer, got {ts_ns}")
        price_text = price if isinstance(price, str) else format(price, "f")  # a Decimal prints its exact digits
        try:
            inputs.append(_parse_row([str(ts_ns), venue, kind_text, price_text], i, price_decimals))
        except ValueError as error:
            raise ValueError(str(error).replace(f"line {i}", where, 1)) from None
    return tuple(inputs)


def write_inputs_parquet(path: Path | str, inputs: Iterable[PriceInput], price_decimals: int) -> None:
    """Record inputs as a Parquet file that ``read_inputs_parquet`` reads back exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(inputs)
    table = pa.table(
        {
            "ts_ns": pa.array([item.ts_ns for item in rows], type=pa.int64()),
            "venue": pa.array([item.venue for item in rows], type=pa.string()),
            "kind": pa.array([item.kind.value for item in rows], type=pa.string()),
            "price": pa.array([format_units(item.price, price_decimals) for item in rows], type=pa.string()),
        }
    )
    pq.write_table(table, path)


def group_publishes(inputs: Iterable[PriceInput], instrument: str, interval_ns: int) -> list[tuple[int, PublishIndex]]:
    """Recorded inputs as (publish time, command) pairs, on the grid ``CsvIndexFeed`` uses."""
    if interval_ns <= 0:
        raise ValueError("interval_ns must be positive")
    groups: dict[int, list[PriceInput]] = {}
    for item in inputs:
        groups.setdefault(-(-item.ts_ns // interval_ns) * interval_ns, []).append(item)
    return [(ts, PublishIndex(instrument=instrument, inputs=tuple(groups[ts]))) for ts in sorted(groups)]


class ParquetIndexFeed:
    """``CsvIndexFeed`` for a Parquet recording: same columns, same grid, same commands."""

    __slots__ = ("instrument", "price_decimals", "interval_ns", "inputs")

    def __init__(self, path: Path | str, *, instrument: str, price_decimals: int, interval_ns: int = NS_PER_SECOND) -> None:
        if interval_ns <= 0:
            raise ValueError("interval_ns must be positive")
        self.instrument = instrument
        self.price_decimals = price_decimals
        self.interval_ns = interval_ns
        self.inputs = read_inputs_parquet(path, price_decimals)

    def commands(self) -> list[tuple[int, PublishIndex]]:
        """(publish time, command) pairs in time order."""
        return group_publishes(self.inputs, self.instrument, self.interval_ns)

    def __iter__(self) -> Iterator[tuple[int, PublishIndex]]:
        return iter(self.commands())
