"""The price service's funding clock: premium samples on a fixed cadence, a rate at each interval end.

Owns ``PremiumSampler`` (outside the engine, like every price-service component): it
reads the venue's order book, index and each instrument's configured funding parameters
(``SetFundingParameters``: interval, premium sample interval, impact notional, interest,
dampener, cap fraction, weighting) through the engine's state (read only; it never
mutates it), and emits ``SettleFunding`` commands for the sequencer to journal, so replay
reproduces every payment without re-sampling anything. The funding clock is therefore
the one the venue publishes in its disclosure, and every ``SettleFunding`` carries the
configured interval the engine checks.

Timing (integer ns, aligned to the epoch like the anchor venues' 00:00/08:00/16:00 UTC):

- a premium sample at every multiple of the instrument's ``premium_sample_interval_ns``
  (5 s by default), and a funding interval end at every multiple of its ``interval_ns``;
- ``advance(until_ns, state)`` handles every grid time t with last < t < until_ns, in time
  order. The driver calls it before applying a command stamped ``until_ns``, so the state
  it reads at t holds exactly the commands stamped at or before t (none lies in between);
  ``finish(end_ns, state)`` handles the grid times up to and including ``end_ns``;
- at an interval end the sample at that time is taken first (it belongs to the interval
  (end - interval, end]), then the rate, then ``SettleFunding`` stamped at the end time;
- a parameter change (seen as a new configuration version) applies from the next grid
  time; an instrument not listed yet has no grid.

Each sample (``prices.funding.sample_premium``): impact bid and ask for the impact
notional against the book's aggregated levels (client and market-maker queues together),
against the index: the instrument's latest usable index print (fallback NONE or
LAST_GOOD_STALE), else, before any print or after a HALT print, its reference price (the
mark). No sample is taken while neither exists. The rate is
``prices.funding.compute_funding_rate`` over the interval's samples, with the cap tied to
the instrument's margin tiers: ``venue.price_parameters.funding_parameters`` reads IMR and
MMR from its first bracket at the interval end, so the cap is cap_fraction x (IMR - MMR)
of the tier that sets the maximum leverage. The mark on ``SettleFunding`` is the
instrument's reference price at the interval end (the mark once index prints flow, D26).
An instrument with no reference price at its interval end is not settled (nothing to
value positions at); the samples of that interval are dropped.

Invariants: integer-only; same inputs, same samples and commands; samples older than
one interval before the next interval end are dropped, so memory is bounded by
interval / sample interval per instrument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from harbour.prices.funding import FundingRate, PremiumSample, compute_funding_rate, sample_premium
from harbour.prices.index import Fallback
from harbour.venue.book import BookSide as VenueBookSide
from harbour.venue.commands import SettleFunding
from harbour.venue.price_parameters import FundingSchedule, funding_parameters
from harbour.venue.state import VenueState

Submit = Callable[[int, SettleFunding], None]
"""Called as ``submit(ts_ns, command)`` at each interval end; the driver journals and applies it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingDecision:
    """One interval's rate with every input, and the command that settles it."""

    instrument: str
    interval_end_ns: int
    rate: FundingRate
    mark_price: int
    samples: tuple[PremiumSample, ...]
    command: SettleFunding


def book_levels(side: VenueBookSide, unit_value: int, notional: int) -> list[tuple[int, int]]:
    """Aggregated (price, qty) levels of one book side, best first, until ``notional`` is reached."""
    levels: list[tuple[int, int]] = []
    reached = 0
    for price in side.prices_best_first():
        level = side.levels[price]
        qty = sum(order.qty for order in level.in_priority())
        if qty <= 0:
            continue
        levels.append((price, qty))
        reached += price * qty * unit_value
        if reached >= notional:
            break
    return levels


def premium_index_basis(state: VenueState, instrument: str) -> int | None:
    """The index a premium is measured against: the latest usable print, else the reference price."""
    last = state.index_prints.get(instrument)
    if last is not None and last.fallback is not Fallback.HALT and last.value is not None and last.value > 0:
        return last.value
    inst = state.instruments.get(instrument)
    if inst is not None and inst.ref_price > 0:
        return inst.ref_price
    return None


class PremiumSampler:
    """Premium samples and funding settlements for a set of instruments, on each one's configured grid."""

    __slots__ = ("instruments", "_last_ns", "_next_ns", "_config_version", "_schedules", "_samples", "decisions")

    def __init__(self, instruments: Iterable[str], *, start_ns: int) -> None:
        self.instruments = tuple(sorted(set(instruments)))
        if not self.instruments:
            raise ValueError("name at least one instrument")
        self._last_ns = start_ns  # grid times at or before this are handled
        self._next_ns = start_ns + 1  # read the schedules at the first call
        self._config_version = -1  # the venue configuration version the schedules were read at
        self._schedules: dict[str, FundingSchedule] = {}
        self._samples: dict[str, list[PremiumSample]] = {sym: [] for sym in self.instruments}
        self.decisions: list[FundingDecision] = []

    def advance(self, until_ns: int, state: VenueState, submit: Submit) -> None:
        """Handle every grid time strictly before ``until_ns`` (see the module doc)."""
        self._run(until_ns - 1, state, submit)

    def finish(self, end_ns: int, state: VenueState, submit: Submit) -> None:
        """Handle every grid time up to and including ``end_ns``."""
        self._run(end_ns, state, submit)

    def samples(self, instrument: str) -> tuple[PremiumSample, ...]:
        """The samples kept for ``instrument`` (the current interval's, at most)."""
        return tuple(self._samples[instrument])

    # --- the grid -------------------------------------------------------------------------------

    def _read_schedules(self, state: VenueState) -> None:
        """Re-read each listed instrument's funding parameters when the configuration changed."""
        if state.config_version == self._config_version:
            return
        self._config_version = state.config_version
        self._schedules = {sym: state.instruments[sym].funding_schedule for sym in self.instruments if sym in state.instruments}
        self._next_ns = self._next_grid_time(self._last_ns)

    def _grid(self, last_ns: int, through_ns: int) -> Iterator[tuple[int, str, bool]]:
        """(time, instrument, is_interval_end) for grid times in (last_ns, through_ns], time order."""
        events: list[tuple[int, str, bool]] = []
        for sym, p in self._schedules.items():
            step = p.premium_sample_interval_ns
            t = (last_ns // step + 1) * step
            while t <= through_ns:
                events.append((t, sym, t % p.interval_ns == 0))
                t += step
            end = (last_ns // p.interval_ns + 1) * p.interval_ns
            while end <= through_ns:
                if end % step:
                    events.append((end, sym, True))
                end += p.interval_ns
        return iter(sorted(events))

    def _next_grid_time(self, after_ns: int) -> int:
        times = [
            min((after_ns // p.premium_sample_interval_ns + 1) * p.premium_sample_interval_ns, (after_ns // p.interval_ns + 1) * p.interval_ns)
            for p in self._schedules.values()
        ]
        return min(times) if times else after_ns + 1  # nothing listed yet: look again at the next call

    def _run(self, through_ns: int, state: VenueState, submit: Submit) -> None:
        self._read_schedules(state)
        if through_ns < self._next_ns:  # the common case: nothing due since the last command
            return
        for t, sym, is_end in self._grid(self._last_ns, through_ns):
            p = self._schedules[sym]
            if t % p.premium_sample_interval_ns == 0:
                self._sample(t, sym, p, state)
            if is_end:
                self._settle(t, sym, p, state, submit)
        self._last_ns = through_ns
        self._next_ns = self._next_grid_time(through_ns)

    def _sample(self, ts_ns: int, sym: str, p: FundingSchedule, state: VenueState) -> None:
        index = premium_index_basis(state, sym)
        inst = state.instruments.get(sym)
        book = state.books.get(sym)
        if index is None or inst is None or book is None:
            return
        bids = book_levels(book.bids, inst.unit_value, p.impact_notional)
        asks = book_levels(book.asks, inst.unit_value, p.impact_notional)
        kept = self._samples[sym]
        kept.append(sample_premium(ts_ns, index, bids, asks, p.impact_notional, inst.unit_value))
        floor = ts_ns - p.interval_ns
        while kept and kept[0].ts_ns <= floor:
            kept.pop(0)

    def _settle(self, end_ns: int, sym: str, p: FundingSchedule, state: VenueState, submit: Submit) -> None:
        inst = state.instruments.get(sym)
        inside = tuple(s for s in self._samples[sym] if end_ns - p.interval_ns < s.ts_ns <= end_ns)
        self._samples[sym] = [s for s in self._samples[sym] if s.ts_ns > end_ns]
        if inst is None or inst.ref_price <= 0:
            return
        rate = compute_funding_rate(funding_parameters(p, inst.tiers), inside, end_ns)
        command = SettleFunding(instrument=sym, rate_e8=rate.rate_e8, interval_ns=p.interval_ns, mark_price=inst.ref_price)
        self.decisions.append(
            FundingDecision(instrument=sym, interval_end_ns=end_ns, rate=rate, mark_price=inst.ref_price, samples=inside, command=command)
        )
        submit(end_ns, command)
