"""Funding history: complete, paginated, every row stating its interval, rate unit and sign convention.

Rows are built from ``FundingSettled`` events as the engine emits them (seq increasing,
one settlement per instrument per interval end). Ranges select by interval end in
[start, end).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.prices.funding import RATE_UNIT, SIGN_CONVENTION
from harbour.sim.clock import NS_PER_MINUTE, SESSION_START_NS
from harbour.sim.funding_history import MAX_PAGE_SIZE, FundingHistory, FundingPage, FundingRow
from harbour.venue.events import FundingSettled

T0 = SESSION_START_NS
HOUR = 60 * NS_PER_MINUTE
INSTRUMENTS = ("BTCUSD", "ETHHKD")


def settled(seq: int, ts: int, instrument: str = "BTCUSD", rate: int = 10_000, accounts: tuple[tuple[int, int, int], ...] = ()) -> FundingSettled:
    paid = sum(p for _, _, p in accounts if p > 0)
    received = -sum(p for _, _, p in accounts if p < 0)
    return FundingSettled(
        seq=seq,
        ts_ns=ts,
        instrument=instrument,
        rate_e8=rate,
        interval_ns=HOUR,
        mark_price=9_500_000,
        accounts=accounts,
        total_paid=paid,
        total_received=received,
        residue=paid - received,
    )


def history_of(instruments: list[str]) -> tuple[FundingHistory, list[FundingSettled]]:
    """One settlement per listed instrument, an hour apart, seqs increasing with gaps."""
    history = FundingHistory()
    events = [settled(seq=3 * i + 7, ts=T0 + (i + 1) * HOUR, instrument=sym, rate=i - 5) for i, sym in enumerate(instruments)]
    history.observe(events)
    return history, events


def walk(history: FundingHistory, instrument: str, start: int, end: int, limit: int) -> list[FundingPage]:
    pages = [history.funding_history(instrument, start, end, limit=limit)]
    while pages[-1].next_cursor is not None:
        pages.append(history.funding_history(instrument, start, end, cursor=pages[-1].next_cursor, limit=limit))
        assert len(pages) <= 10_000
    return pages


@settings(max_examples=150, deadline=None)
@given(
    instruments=st.lists(st.sampled_from(INSTRUMENTS), max_size=120),
    limit=st.integers(min_value=1, max_value=40),
    start_hours=st.integers(min_value=0, max_value=130),
    span_hours=st.integers(min_value=0, max_value=130),
)
def test_paging_returns_every_settlement_in_the_range_exactly_once_oldest_first(
    instruments: list[str], limit: int, start_hours: int, span_hours: int
) -> None:
    history, events = history_of(instruments)
    start, end = T0 + start_hours * HOUR, T0 + (start_hours + span_hours) * HOUR

    for sym in INSTRUMENTS:
        pages = walk(history, sym, start, end, limit)

        expected = [e.seq for e in events if e.instrument == sym and start <= e.ts_ns < end]
        assert [r.seq for p in pages for r in p.rows] == expected
        assert all(p.total_in_range == len(expected) for p in pages)
        assert all(len(p.rows) == limit for p in pages[:-1])  # a next cursor only after a full page
        assert pages[-1].next_cursor is None and len(pages[-1].rows) <= limit
        assert all(p.rows for p in pages[:-1])


def test_a_limit_above_the_cap_is_capped_the_page_says_so_and_a_cursor_leads_to_the_rest() -> None:
    history, _ = history_of(["BTCUSD"] * 2_500)

    first = history.funding_history("BTCUSD", 0, 2**62, limit=5_000)
    pages = walk(history, "BTCUSD", 0, 2**62, 5_000)

    assert first.limit_applied == MAX_PAGE_SIZE and len(first.rows) == MAX_PAGE_SIZE
    assert first.next_cursor is not None and first.total_in_range == 2_500
    assert [len(p.rows) for p in pages] == [1_000, 1_000, 500]
    assert len({r.seq for p in pages for r in p.rows}) == 2_500


def test_settlements_made_while_a_client_pages_come_later_in_the_same_walk_none_twice() -> None:
    history, _ = history_of(["BTCUSD"] * 5)
    page = history.funding_history("BTCUSD", 0, 2**62, limit=3)
    history.add(settled(seq=1_000, ts=T0 + 100 * HOUR))

    rest = history.funding_history("BTCUSD", 0, 2**62, cursor=page.next_cursor, limit=3)

    assert [r.seq for r in page.rows] == [7, 10, 13]
    assert [r.seq for r in rest.rows] == [16, 19, 1_000]
    assert rest.next_cursor is None and rest.total_in_range == 6


def test_every_row_states_its_interval_the_rate_unit_and_the_sign_convention() -> None:
    history = FundingHistory()
    history.add(settled(seq=42, ts=T0 + 8 * HOUR, rate=-7_455))

    [row] = history.funding_history("BTCUSD", T0, T0 + 9 * HOUR).rows

    assert row == FundingRow(
        instrument="BTCUSD",
        seq=42,
        interval_start_ns=T0 + 7 * HOUR,
        interval_end_ns=T0 + 8 * HOUR,
        interval_ns=HOUR,
        rate_e8=-7_455,
        rate_unit=RATE_UNIT,
        sign_convention=SIGN_CONVENTION,
        mark_price=9_500_000,
        total_paid=0,
        total_received=0,
        residue=0,
        shortfall_covered=0,
        positions=0,
    )
    assert SIGN_CONVENTION == "positive rate: longs pay shorts" and RATE_UNIT == "parts per 1e8 per funding interval"


def test_an_account_sees_its_own_position_and_payment_and_zero_when_it_had_no_position() -> None:
    history = FundingHistory()
    history.add(settled(seq=5, ts=T0 + HOUR, accounts=((1001, 250, 2_376), (1002, -250, -2_375))))
    history.add(settled(seq=9, ts=T0 + 2 * HOUR, accounts=((1002, -100, -950), (1003, 100, 951))))

    rows = history.funding_history("BTCUSD", 0, 2**62, account=1001).rows

    assert [(r.account, r.account_position_qty, r.account_payment) for r in rows] == [(1001, 250, 2_376), (1001, 0, 0)]
    assert [r.total_paid - r.total_received - r.residue for r in rows] == [0, 0]
    assert history.funding_history("BTCUSD", 0, 2**62).rows[0].account_payment is None


def test_a_range_with_no_settlement_or_an_unknown_instrument_is_an_empty_final_page() -> None:
    history, _ = history_of(["BTCUSD"] * 3)

    assert history.funding_history("BTCUSD", T0 + 50 * HOUR, T0 + 60 * HOUR) == FundingPage(
        rows=(), next_cursor=None, limit_applied=100, total_in_range=0
    )
    assert history.funding_history("SOLUSD", 0, 2**62).rows == ()
    assert history.instruments() == ("BTCUSD",) and history.count("BTCUSD") == 3


def test_a_cursor_from_another_query_a_forged_cursor_or_a_bad_limit_or_range_is_refused() -> None:
    history, _ = history_of(["BTCUSD", "ETHHKD"] * 5)
    cursor = history.funding_history("BTCUSD", 0, 2**62, limit=2).next_cursor
    assert cursor is not None

    with pytest.raises(ValueError, match="another query"):
        history.funding_history("ETHHKD", 0, 2**62, cursor=cursor)
    with pytest.raises(ValueError, match="another query"):
        history.funding_history("BTCUSD", 1, 2**62, cursor=cursor)
    with pytest.raises(ValueError, match="not a funding-history cursor"):
        history.funding_history("BTCUSD", 0, 2**62, cursor="17")
    with pytest.raises(ValueError, match="limit"):
        history.funding_history("BTCUSD", 0, 2**62, limit=0)
    with pytest.raises(ValueError, match="before it starts"):
        history.funding_history("BTCUSD", 10, 5)


def test_a_settlement_out_of_seq_order_is_refused_rather_than_reordered() -> None:
    history = FundingHistory()
    history.add(settled(seq=10, ts=T0 + HOUR))

    with pytest.raises(ValueError, match="not after"):
        history.add(settled(seq=10, ts=T0 + 2 * HOUR))
    with pytest.raises(ValueError, match="before the previous"):
        history.add(settled(seq=11, ts=T0))
