"""Index feed (IOSCO): index prints enter the venue as journaled commands.

Rules: a published index sets the instrument's reference price to the mark (here always
equal to the index: see test_mark_price for the mark itself); below the minimum of
live constituents the last good value is used, flagged stale, and trading continues;
past the halt delay the print is a halt trigger and the instrument halts; methodology
versions apply from their effective-from time; every print recomputes bit for bit from
its event; snapshot/restore and the journal codec reproduce all of it.

BTCUSD prices are USD cents; the methodology asks for 3 live venues of A-D, a 30 s
staleness limit and a 60 s halt delay.
"""

from __future__ import annotations

import msgspec

from harbour.journal import CommandCodec
from harbour.kernel.errors import RejectCode
from harbour.prices.index import (
    Constituent,
    ExclusionReason,
    Fallback,
    IndexMethodology,
    InputKind,
    PriceInput,
    recompute,
)
from harbour.venue import VenueEngine
from harbour.venue.commands import PlaceOrder, PublishIndex, SetIndexMethodology, VenueCommand
from harbour.venue.events import IndexMethodologySet, IndexPublished, InstrumentStateChanged, MarkPriceSet, ReferencePriceSet, VenueEvent

from venue.helpers import BTC_REF, BTCUSD, BUY, HALTED, OPEN, T0, Venue

SECOND = 1_000_000_000
START = T0 + 3_600 * SECOND  # well after the genesis commands


def methodology(version: int = 1, effective_from_ns: int = T0, **overrides: object) -> IndexMethodology:
    fields: dict[str, object] = dict(
        asset="BTC",
        version=version,
        effective_from_ns=effective_from_ns,
        price_decimals=2,
        constituents=tuple(Constituent(venue=v, weight=1) for v in "ABCD"),
        min_live_constituents=3,
        staleness_limit_ns=30 * SECOND,
        halt_after_ns=60 * SECOND,
    )
    fields.update(overrides)
    return IndexMethodology(**fields)  # type: ignore[arg-type]


def trades(ts: int, **prices: int) -> tuple[PriceInput, ...]:
    return tuple(PriceInput(venue=venue, kind=InputKind.TRADE, price=price, ts_ns=ts) for venue, price in prices.items())


def publish(v: Venue, ts: int, inputs: tuple[PriceInput, ...]) -> tuple[IndexPublished, list[object]]:
    out = v.do(PublishIndex(instrument=BTCUSD, inputs=inputs), ts=ts)
    published = v.events_of(IndexPublished, out)
    assert len(published) == 1, out
    return published[0], out


def with_methodology(v: Venue, m: IndexMethodology | None = None) -> Venue:
    v.ok(SetIndexMethodology(instrument=BTCUSD, methodology=m or methodology()))
    return v


def test_a_published_index_moves_the_reference_price(venue: Venue) -> None:
    with_methodology(venue)

    event, out = publish(venue, START, trades(START - SECOND, A=9_600_000, B=9_600_100, C=9_599_900))

    assert event.print.value == 9_600_000 and event.print.fallback is Fallback.NONE
    # the reference is now the mark = median(P1, P2, last trade); with no funding settled
    # (P1 = index), an empty book (no basis sample: P2 = index) and no trade yet (the index
    # stands in for the last price) all three are the index, so the reference is the index
    mark = venue.events_of(MarkPriceSet, out)[0]
    assert (mark.mark, mark.p1, mark.p2, mark.last_trade, mark.basis_samples) == (9_600_000, 9_600_000, 9_600_000, None, ())
    assert venue.events_of(ReferencePriceSet, out) == [ReferencePriceSet(seq=venue.seq, ts_ns=START, instrument=BTCUSD, price=9_600_000)]
    assert venue.state.instruments[BTCUSD].ref_price == 9_600_000


def test_an_outlier_is_clamped_to_the_band_and_a_stale_venue_gets_zero_weight(venue: Venue) -> None:
    with_methodology(venue)
    inputs = trades(START, A=9_600_000, B=9_600_000, C=9_600_000, D=10_080_000)
    stale = PriceInput(venue="A", kind=InputKind.TRADE, price=1_000_000, ts_ns=START - 31 * SECOND)

    event, _ = publish(venue, START, (*inputs, stale))

    # median 9,600,000; band 1% = 96,000; D clamped to 9,696,000; (3 x 9,600,000 + 9,696,000) / 4
    assert [(c.venue, c.price_out) for c in event.print.clamps] == [("D", 9_696_000)]
    assert [(e.input.price, e.reason) for e in event.print.exclusions] == [(1_000_000, ExclusionReason.STALE)]
    assert event.print.value == 9_624_000
    assert venue.state.instruments[BTCUSD].ref_price == 9_624_000


def test_below_minimum_constituents_the_last_good_value_is_used_flagged_stale_and_trading_continues(venue: Venue) -> None:
    with_methodology(venue)
    publish(venue, START, trades(START, A=9_600_000, B=9_600_000, C=9_600_000))
    venue.open_client(1, usd=1_000_000)

    event, out = publish(venue, START + 40 * SECOND, trades(START + 40 * SECOND, A=9_000_000, B=9_000_000))

    assert event.print.fallback is Fallback.LAST_GOOD_STALE and event.print.is_stale
    assert event.print.value == 9_600_000 and event.print.live_constituents == 2
    assert venue.events_of(ReferencePriceSet, out)[0].price == 9_600_000
    assert venue.events_of(InstrumentStateChanged, out) == []
    assert venue.state.instruments[BTCUSD].state is OPEN
    venue.ok(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=9_600_000))


def test_past_the_halt_delay_the_instrument_halts_and_orders_are_rejected(venue: Venue) -> None:
    with_methodology(venue)
    publish(venue, START, trades(START, A=9_600_000, B=9_600_000, C=9_600_000))
    venue.open_client(1, usd=1_000_000)
    publish(venue, START + 60 * SECOND, trades(START + 60 * SECOND, A=9_600_000))  # exactly the delay: still held

    event, out = publish(venue, START + 61 * SECOND, trades(START + 61 * SECOND, A=9_600_000))

    assert event.print.fallback is Fallback.HALT and event.print.is_halt
    assert venue.events_of(InstrumentStateChanged, out) == [
        InstrumentStateChanged(seq=venue.seq, ts_ns=START + 61 * SECOND, instrument=BTCUSD, old=OPEN, new=HALTED, reason="index halt trigger")
    ]
    assert venue.events_of(ReferencePriceSet, out) == []
    venue.reject(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=9_600_000), RejectCode.INSTRUMENT_HALTED)
    _, again = publish(venue, START + 62 * SECOND, ())
    assert venue.events_of(InstrumentStateChanged, again) == []  # already halted: no second change


def test_a_first_print_without_enough_constituents_is_a_halt_trigger(venue: Venue) -> None:
    with_methodology(venue)

    event, out = publish(venue, START, trades(START, A=9_600_000))

    assert event.print.fallback is Fallback.HALT and event.print.value is None
    assert venue.state.instruments[BTCUSD].state is HALTED
    assert venue.state.instruments[BTCUSD].ref_price == BTC_REF


def test_methodology_versions_apply_from_their_effective_time(venue: Venue) -> None:
    with_methodology(venue)
    v2 = methodology(version=2, effective_from_ns=START + 100 * SECOND, min_live_constituents=2)
    out = venue.ok(SetIndexMethodology(instrument=BTCUSD, methodology=v2))
    assert venue.events_of(IndexMethodologySet, out)[0].methodology == v2

    before, _ = publish(venue, START + 99 * SECOND, trades(START + 99 * SECOND, A=9_600_000, B=9_700_000))
    after, _ = publish(venue, START + 100 * SECOND, trades(START + 100 * SECOND, A=9_600_000, B=9_700_000))

    assert (before.print.methodology_version, before.print.fallback) == (1, Fallback.HALT)
    assert (after.print.methodology_version, after.print.fallback, after.print.value) == (2, Fallback.NONE, 9_650_000)


def test_methodology_versions_are_refused_when_unsound_out_of_order_or_retroactive(venue: Venue) -> None:
    with_methodology(venue)
    invalid = RejectCode.INVALID_PARAMETER
    late = venue.ts + 1_000 * SECOND

    venue.reject(SetIndexMethodology(instrument=BTCUSD, methodology=methodology(2, late, min_live_constituents=0)), invalid)
    venue.reject(SetIndexMethodology(instrument=BTCUSD, methodology=methodology(1, late)), invalid)  # number not above v1
    venue.reject(SetIndexMethodology(instrument=BTCUSD, methodology=methodology(2, T0 + 1)), invalid)  # takes effect in the past
    venue.reject(SetIndexMethodology(instrument=BTCUSD, methodology=methodology(2, late, asset="ETH")), invalid)
    venue.reject(SetIndexMethodology(instrument=BTCUSD, methodology=methodology(2, late, price_decimals=3)), invalid)
    venue.reject(SetIndexMethodology(instrument="DOGEUSD", methodology=methodology()), RejectCode.UNKNOWN_INSTRUMENT)


def test_a_print_needs_a_listed_instrument_and_a_methodology_in_force(venue: Venue) -> None:
    venue.reject(PublishIndex(instrument="DOGEUSD", inputs=()), RejectCode.UNKNOWN_INSTRUMENT)
    venue.reject(PublishIndex(instrument=BTCUSD, inputs=()), RejectCode.INVALID_PARAMETER)
    with_methodology(venue, methodology(effective_from_ns=START + 10 * SECOND))
    venue.reject(PublishIndex(instrument=BTCUSD, inputs=trades(START, A=1, B=1, C=1)), RejectCode.INVALID_PARAMETER)


def test_the_published_print_recomputes_bit_for_bit_from_the_event_alone(venue: Venue) -> None:
    with_methodology(venue)
    publish(venue, START, trades(START, A=9_600_000, B=9_600_000, C=9_600_000))
    event, _ = publish(venue, START + 5 * SECOND, trades(START + 5 * SECOND, A=9_600_000, D=9_900_000))

    wire = msgspec.msgpack.encode(event)
    decoded = msgspec.msgpack.decode(wire, type=VenueEvent)

    assert decoded == event
    assert isinstance(decoded, IndexPublished)
    assert recompute(decoded.print) == decoded.print
    assert decoded.print.fallback is Fallback.LAST_GOOD_STALE


def test_snapshot_restore_midway_gives_the_same_hash_and_the_same_next_print(venue: Venue) -> None:
    with_methodology(venue)
    publish(venue, START, trades(START, A=9_600_000, B=9_600_100, C=9_599_900))

    restored = VenueEngine.restore(venue.engine.snapshot())
    assert restored.state_hash() == venue.hash()

    original: list[object] = []
    again: list[object] = []
    for step in (40, 70):  # first the last good value held, then the halt trigger
        ts = START + step * SECOND
        _, out = publish(venue, ts, trades(ts, A=9_000_000))
        original += out
        seq, stamped_ts, command = venue.commands[-1]
        again += restored.apply(seq, stamped_ts, command)  # type: ignore[arg-type]

    assert again == original
    assert restored.state_hash() == venue.hash()
    assert VenueEngine.restore(restored.snapshot()).state_hash() == venue.hash()


def test_journal_codec_round_trips_both_index_commands() -> None:
    codec = CommandCodec(VenueCommand)
    commands = [
        SetIndexMethodology(instrument=BTCUSD, methodology=methodology(version=3, effective_from_ns=START)),
        PublishIndex(instrument=BTCUSD, inputs=(*trades(START, A=9_600_000), PriceInput(venue="B", kind=InputKind.FIRM_QUOTE, price=9_600_050, ts_ns=START))),
    ]

    for command in commands:
        payload, checked = codec.encode_checked(command)
        assert codec.decode(payload) == command == checked
