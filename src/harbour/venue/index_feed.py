"""Index feed handlers: methodology versions and journaled index prints per instrument.

Owns ``set_index_methodology`` and ``publish_index``. The determination itself is the
pure ``harbour.prices.index.compute_index``; the venue only chooses the methodology in
force at the command's time, hands over the instrument's previous print (for the last
good value) and acts on the outcome:

- a usable value (fallback NONE or LAST_GOOD_STALE) feeds the mark (``venue.mark``): a
  basis sample (book mid - index) is taken if the book has a mid, the mark =
  median(P1, P2, last trade) is computed (``MarkPriceSet`` with all its inputs) and the
  MARK becomes the instrument's reference price (``ReferencePriceSet``), so margin, PnL
  and triggers never follow the last trade alone, and a stale print keeps trading on the
  mark of the last good value;
- a HALT trigger halts the instrument (``InstrumentStateChanged``, reason
  ``index halt trigger``) unless it is halted already; only the operator resumes it.

Invariants: every check comes before the first change, so a reject changes nothing;
the latest print is venue state (exported and restored), so the fallback and the next
print are the same after a snapshot restore as without one; the ``IndexPublished``
event carries the whole print, which recomputes bit for bit from itself.
"""

from __future__ import annotations

from collections import deque

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_PRICE
from harbour.prices.index import Fallback, check_methodology, compute_index, select_methodology
from harbour.venue.commands import InstrumentState, PublishIndex, SetIndexMethodology
from harbour.venue.events import IndexMethodologySet, IndexPublished, InstrumentStateChanged, MarkPriceSet, ReferencePriceSet
from harbour.venue.mark import mark_at, take_basis_sample
from harbour.venue.price_moves import after_mark_change
from harbour.venue.rejects import rejected
from harbour.venue.state import VenueState

C = RejectCode

HALT_REASON = "index halt trigger"


def set_index_methodology(st: VenueState, seq: int, ts: int, cmd: SetIndexMethodology, out: list[object]) -> None:
    name = "set_index_methodology"
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, name, C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    m = cmd.methodology
    problems = check_methodology(m)
    if problems:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="; ".join(f"{p.field}: {p.problem}" for p in problems)))
        return
    problem = _version_problem(st, cmd, ts, inst.price_decimals)
    if problem is not None:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem=problem))
        return
    st.index_methodologies.setdefault(cmd.instrument, []).append(m)
    out.append(IndexMethodologySet(seq=seq, ts_ns=ts, instrument=cmd.instrument, methodology=m))


def _version_problem(st: VenueState, cmd: SetIndexMethodology, ts: int, price_decimals: int) -> str | None:
    m = cmd.methodology
    if m.price_decimals != price_decimals:
        return f"methodology price_decimals {m.price_decimals} differs from the instrument's {price_decimals}"
    versions = st.index_methodologies.get(cmd.instrument, [])
    if not versions:
        return None
    latest = versions[-1]
    if m.asset != latest.asset:
        return f"methodology asset {m.asset} differs from the index's asset {latest.asset}"
    if m.version <= latest.version:
        return f"version {m.version} must be above the latest version {latest.version}"
    if m.effective_from_ns <= latest.effective_from_ns:
        return f"effective-from {m.effective_from_ns} must be after the latest version's {latest.effective_from_ns}"
    if m.effective_from_ns < ts:
        return f"effective-from {m.effective_from_ns} is before now ({ts}): a new version cannot change past prints"
    return None


def publish_index(st: VenueState, seq: int, ts: int, cmd: PublishIndex, out: list[object]) -> None:
    name = "publish_index"
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, name, C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    methodology = select_methodology(st.index_methodologies.get(cmd.instrument, []), ts)
    if methodology is None:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem=f"no index methodology of {cmd.instrument} in force at {ts}"))
        return
    too_high = [i.price for i in cmd.inputs if i.price > MAX_PRICE]
    if too_high:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem=f"input price {max(too_high)} above the ceiling {MAX_PRICE}"))
        return
    previous = st.index_prints.get(cmd.instrument)
    if previous is not None and previous.ts_ns > ts:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem=f"print time {ts} is before the previous print {previous.ts_ns}"))
        return

    index_print = compute_index(methodology, cmd.inputs, ts, previous)
    st.index_prints[cmd.instrument] = index_print
    out.append(IndexPublished(seq=seq, ts_ns=ts, instrument=cmd.instrument, print=index_print))
    if index_print.fallback is Fallback.HALT:
        if inst.state is not InstrumentState.HALTED:
            old = inst.state
            inst.state = InstrumentState.HALTED
            out.append(
                InstrumentStateChanged(seq=seq, ts_ns=ts, instrument=cmd.instrument, old=old, new=InstrumentState.HALTED, reason=HALT_REASON)
            )
    elif index_print.value is not None:
        sym = cmd.instrument
        samples = st.basis_samples.setdefault(sym, deque())
        parameters = inst.mark_parameters
        take_basis_sample(samples, st.books[sym], ts, index_print.value, parameters)
        mark = mark_at(
            ts, index_print.value, st.funding_terms.get(sym), samples, st.last_trade_price.get(sym), parameters, inst.funding_schedule.interval_ns
        )
        out.append(
            MarkPriceSet(
                seq=seq,
                ts_ns=ts,
                instrument=sym,
                mark=mark.value,
                index=mark.index,
                p1=mark.p1_funding_basis,
                p2=mark.p2_book_basis,
                last_trade=st.last_trade_price.get(sym),
                basis_samples=tuple(samples),
                last_funding_rate_e8=mark.last_funding_rate_e8,
                time_to_funding_ns=mark.time_to_funding_ns,
                interval_ns=mark.interval_ns,
                basis_window_ns=parameters.basis_window_ns,
            )
        )
        # guard: P1 and P2 can leave (0, MAX_PRICE] only on absurd inputs (a -100% rate and a
        # basis larger than the index); the reference then stays on the index, never 0
        reference = mark.value if 0 < mark.value <= MAX_PRICE else index_print.value
        inst.ref_price = reference
        out.append(ReferencePriceSet(seq=seq, ts_ns=ts, instrument=sym, price=reference))
        after_mark_change(st, sym, seq, ts, out)
