"""Mark price (issue 3): margin, PnL, liquidation and triggers use the mark, never the last trade.

Rules: after a usable index print the reference price is the mark = median(P1, P2, last
trade); a single trade far from the index cannot move the mark alone; basis samples are
(book mid - index) of the venue's own book; the last funding rate and the time to the next
funding feed P1; the mark recomputes from its event alone; snapshot/restore mid-way gives
the same hash and the same next mark.

BTCUSD prices are USD cents; the index prints are the three-venue prints of
test_index_feed (methodology: 3 live venues of A-D).
"""

from __future__ import annotations

from collections import deque

import msgspec

from harbour.prices.mark import BasisSample, MarkParameters, compute_mark_price
from harbour.venue import VenueEngine
from harbour.venue.commands import SettleFunding
from harbour.venue.events import FundingSettled, MarkPriceSet, ReferencePriceSet, VenueEvent
from harbour.venue.mark import MARK_PARAMETERS, MAX_BASIS_SAMPLES

from venue.helpers import BTCUSD, BUY, SELL, T0, Venue
from venue.test_index_feed import publish, trades, with_methodology

SECOND = 1_000_000_000
HOUR = 3_600 * SECOND
INTERVAL = 8 * HOUR
INDEX = 9_600_000
START = T0 + HOUR  # well after the genesis commands
FUNDED_AT = T0 + HOUR // 2  # funding settled half an hour before START: 7.5 h of the 8 h interval left
MM, CLIENT = 9, 1


def good_print(v: Venue, ts: int, price: int = INDEX) -> MarkPriceSet:
    """Publish a fresh three-venue index at ``price``; return the MarkPriceSet it produced."""
    _, out = publish(v, ts, trades(ts, A=price, B=price, C=price))
    marks = v.events_of(MarkPriceSet, out)
    refs = v.events_of(ReferencePriceSet, out)
    assert len(marks) == 1 and refs == [ReferencePriceSet(seq=v.seq, ts_ns=ts, instrument=BTCUSD, price=marks[0].mark)], out
    assert v.state.instruments[BTCUSD].ref_price == marks[0].mark
    return marks[0]


def traders(v: Venue) -> Venue:
    v.open_mm(MM, usd=50_000_000)
    v.open_client(CLIENT, usd=1_000_000)
    return v


def quote(v: Venue, bid: int, ask: int) -> None:
    v.rest(MM, BTCUSD, BUY, 1, bid)
    v.rest(MM, BTCUSD, SELL, 1, ask)


def funding_at(v: Venue, rate_e8: int, ts: int) -> None:
    """Settle a funding interval at ``ts`` (the next funding falls due at ts + 8 h)."""
    out = v.do(SettleFunding(instrument=BTCUSD, rate_e8=rate_e8, interval_ns=INTERVAL, mark_price=INDEX), ts=ts)
    assert v.events_of(FundingSettled, out), out


def test_the_reference_after_a_good_index_print_is_the_median_of_p1_p2_and_last_trade(venue: Venue) -> None:
    with_methodology(traders(venue))
    venue.cross(MM, CLIENT, BTCUSD, BUY, 1, 9_600_500)  # last trade 9,600,500
    funding_at(venue, 10_000, FUNDED_AT)  # 0.01% per 8 h, next funding at FUNDED_AT + 8 h
    quote(venue, 9_598_000, 9_604_000)  # mid 9,601,000: basis +1,000

    mark = good_print(venue, START)

    # P1 = 9,600,000 x (1 + 0.0001 x 7.5 h / 8 h) = 9,600,000 + 900; P2 = 9,600,000 + 1,000
    assert (mark.index, mark.p1, mark.p2, mark.last_trade) == (INDEX, 9_600_900, 9_601_000, 9_600_500)
    assert mark.mark == 9_600_900 == sorted((mark.p1, mark.p2, mark.last_trade))[1]
    assert venue.state.instruments[BTCUSD].ref_price == 9_600_900  # the mark, not the index


def test_a_single_trade_far_from_the_index_cannot_move_the_mark_alone(venue: Venue) -> None:
    with_methodology(traders(venue))
    good_print(venue, START)
    ref_before = venue.state.instruments[BTCUSD].ref_price

    venue.cross(MM, CLIENT, BTCUSD, BUY, 1, 9_950_000)  # one trade 3.6% above the index
    assert venue.state.instruments[BTCUSD].ref_price == ref_before  # a trade never sets the reference
    quote(venue, 9_599_000, 9_601_000)  # mid = index: basis 0

    mark = good_print(venue, START + 5 * SECOND)

    assert mark.last_trade == 9_950_000
    assert mark.mark == INDEX  # median(P1 = index, P2 = index + 0, 9,950,000)
    assert venue.state.instruments[BTCUSD].ref_price == INDEX


def test_basis_samples_come_from_the_book_mid(venue: Venue) -> None:
    with_methodology(traders(venue))
    first = good_print(venue, START)  # empty book: no mid, no sample
    assert first.basis_samples == () and first.p2 == INDEX

    venue.rest(MM, BTCUSD, BUY, 1, 9_598_000)
    one_sided = good_print(venue, START + 5 * SECOND)  # a bid only: still no mid
    assert one_sided.basis_samples == ()

    venue.rest(MM, BTCUSD, SELL, 1, 9_604_010)  # mid (9,598,000 + 9,604,010) // 2 = 9,601,005
    second = good_print(venue, START + 10 * SECOND)
    third = good_print(venue, START + 15 * SECOND, price=9_602_000)  # same book, index up 2,000

    assert second.basis_samples == (BasisSample(ts_ns=START + 10 * SECOND, mid=9_601_005, index=INDEX),)
    assert third.basis_samples == (
        BasisSample(ts_ns=START + 10 * SECOND, mid=9_601_005, index=INDEX),
        BasisSample(ts_ns=START + 15 * SECOND, mid=9_601_005, index=9_602_000),
    )
    # MA(basis) = (1,005 + -995) / 2 = 5
    assert third.p2 == 9_602_005
    assert list(venue.state.basis_samples[BTCUSD]) == list(third.basis_samples)


def test_basis_samples_are_a_bounded_window(venue: Venue) -> None:
    with_methodology(traders(venue))
    quote(venue, 9_599_000, 9_601_000)
    window = MARK_PARAMETERS.basis_window_ns
    good_print(venue, START)

    late = good_print(venue, START + window)  # the first sample is exactly one window old: dropped
    assert [s.ts_ns for s in late.basis_samples] == [START + window]

    for i in range(1, MAX_BASIS_SAMPLES + 5):  # prints faster than the sample interval
        good_print(venue, START + window + i * SECOND)
    assert len(venue.state.basis_samples[BTCUSD]) == MAX_BASIS_SAMPLES


def test_the_funding_rate_and_time_to_funding_feed_p1(venue: Venue) -> None:
    with_methodology(traders(venue))
    assert good_print(venue, START - HOUR // 2).p1 == INDEX  # no funding settled yet: rate 0

    funding_at(venue, 10_000, FUNDED_AT)
    at_start = good_print(venue, START)  # 7.5 h left of 8 h
    at_4h = good_print(venue, FUNDED_AT + 4 * HOUR)  # 4 h left
    overdue = good_print(venue, FUNDED_AT + 9 * HOUR)  # past the next funding time: clipped to 0

    assert (at_start.last_funding_rate_e8, at_start.time_to_funding_ns, at_start.interval_ns) == (10_000, 7 * HOUR + HOUR // 2, INTERVAL)
    assert at_start.p1 == 9_600_900
    assert (at_4h.time_to_funding_ns, at_4h.p1) == (4 * HOUR, 9_600_480)
    assert (overdue.time_to_funding_ns, overdue.p1) == (0, INDEX)

    funding_at(venue, -20_000, FUNDED_AT + 10 * HOUR)  # a new settlement: shorts pay, next in 8 h
    negative = good_print(venue, FUNDED_AT + 12 * HOUR)  # 6 h left
    assert negative.p1 == INDEX - 1_440  # 9,600,000 x 0.0002 x 6/8
    assert venue.state.funding_terms[BTCUSD].next_funding_ns == FUNDED_AT + 18 * HOUR


def test_the_mark_recomputes_from_its_event_alone(venue: Venue) -> None:
    with_methodology(traders(venue))
    venue.cross(MM, CLIENT, BTCUSD, SELL, 1, 9_599_000)
    funding_at(venue, 7_777, FUNDED_AT)
    quote(venue, 9_597_000, 9_603_330)
    good_print(venue, START)
    event = good_print(venue, START + 5 * SECOND, price=9_600_123)

    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(event), type=VenueEvent)
    assert decoded == event and isinstance(decoded, MarkPriceSet)
    again = compute_mark_price(
        MarkParameters(),
        ts_ns=decoded.ts_ns,
        index=decoded.index,
        last_funding_rate_e8=decoded.last_funding_rate_e8,
        time_to_funding_ns=decoded.time_to_funding_ns,
        interval_ns=decoded.interval_ns,
        basis_samples=decoded.basis_samples,
        last_trade_price=decoded.last_trade,
    )
    assert (again.value, again.p1_funding_basis, again.p2_book_basis, again.last) == (event.mark, event.p1, event.p2, event.last_trade)


def test_snapshot_restore_midway_gives_the_same_hash_and_the_same_next_mark(venue: Venue) -> None:
    with_methodology(traders(venue))
    venue.cross(MM, CLIENT, BTCUSD, BUY, 1, 9_600_500)
    funding_at(venue, 10_000, FUNDED_AT)
    quote(venue, 9_598_000, 9_604_000)
    good_print(venue, START)
    good_print(venue, START + 5 * SECOND, price=9_601_000)

    restored = VenueEngine.restore(venue.engine.snapshot())
    assert restored.state_hash() == venue.hash()
    assert restored.state.basis_samples == venue.state.basis_samples
    assert restored.state.basis_samples[BTCUSD] == deque(venue.state.basis_samples[BTCUSD])
    assert restored.state.last_trade_price == venue.state.last_trade_price == {BTCUSD: 9_600_500}
    assert restored.state.funding_terms == venue.state.funding_terms

    original: list[object] = []
    again: list[object] = []
    for step in (10, 15):
        ts = START + step * SECOND
        good_print(venue, ts, price=9_599_000 + step)
        original += venue.last
        seq, stamped_ts, command = venue.commands[-1]
        again += restored.apply(seq, stamped_ts, command)  # type: ignore[arg-type]

    assert again == original and any(isinstance(e, MarkPriceSet) for e in again)
    assert restored.state_hash() == venue.hash()
    assert VenueEngine.restore(restored.snapshot()).state_hash() == venue.hash()
