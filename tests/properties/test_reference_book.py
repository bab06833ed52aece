"""The venue's matcher agrees with a naive reference book (reference_book.py).

Clients 1-3 and affiliated MMs 8, 9, each its own legal entity (self-trade prevention
only stops an account meeting its own orders) and funded far beyond any margin need, send plain limit GTC/IOC orders close to the reference price,
cancels and amendments. After every command the venue's trades (maker id, taker id,
price, qty) and both resting sides (in priority order) must equal the reference's.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harbour.venue.commands import AmendOrder, CancelOrder, PlaceOrder, Side, TimeInForce
from harbour.venue.events import Rejected

from properties.profile import examples
from properties.reference_book import ReferenceBook
from properties.streams import weighted
from venue.helpers import BTCUSD, ETHHKD, Venue, fills

CLIENTS = (1, 2, 3)
MMS = (8, 9)
SYMBOLS = (BTCUSD, ETHHKD)

places = st.tuples(
    st.just("place"),
    st.sampled_from(CLIENTS + MMS),
    st.sampled_from(SYMBOLS),
    st.booleans(),
    st.integers(1, 30),
    st.integers(-8, 8),
    weighted((3, st.just(TimeInForce.GTC)), (1, st.just(TimeInForce.IOC))),
)
cancels = st.tuples(st.just("cancel"), st.integers(0, 1_000))
amends = st.tuples(st.just("amend"), st.integers(0, 1_000), st.integers(-8, 8), st.integers(-5, 5), st.booleans())
orders_stream = st.lists(weighted((8, places), (1, cancels), (2, amends)), min_size=40, max_size=120)


def _venue() -> Venue:
    v = Venue(check_rejects=False)
    for account in CLIENTS:
        v.open_client(account, usd=1_000_000_000, hkd=1_000_000_000)
    for account in MMS:
        v.open_mm(account, usd=1_000_000_000, hkd=1_000_000_000, entity=f"MM-{account}")
    return v


def _run(stream: list[tuple[Any, ...]]) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """Drive venue and reference side by side (books compared after every step); return both trade tapes."""
    v = _venue()
    venue_tape: list[tuple[int, int, int, int]] = []
    reference_tape: list[tuple[int, int, int, int]] = []
    books = {sym: ReferenceBook() for sym in SYMBOLS}
    owners: dict[int, tuple[int, str]] = {}
    for step in stream:
        if step[0] == "place":
            _, account, sym, is_buy, qty, ticks, tif = step
            inst = v.state.instruments[sym]
            price = inst.ref_price + ticks * inst.tick
            out = v.do(PlaceOrder(account=account, instrument=sym, side=Side.BUY if is_buy else Side.SELL, qty=qty, price=price, tif=tif))
            expected = books[sym].place(v.seq, account, is_buy, price, qty, account in MMS, ioc=tif is TimeInForce.IOC)
            owners[v.seq] = (account, sym)
            assert not any(isinstance(e, Rejected) for e in out), out
        else:
            live = sorted(o for o in owners if books[owners[o][1]].find(o) is not None)
            if not live:
                continue
            order_id = live[step[1] % len(live)]
            account, sym = owners[order_id]
            if step[0] == "cancel":
                out = v.do(CancelOrder(account=account, instrument=sym, order_id=order_id))
                assert books[sym].cancel(order_id)
                expected = []
                assert not any(isinstance(e, Rejected) for e in out), out
            else:
                _, _, ticks, dq, same_price = step
                old = books[sym].find(order_id)
                assert old is not None
                inst = v.state.instruments[sym]
                price = old.price if same_price else inst.ref_price + ticks * inst.tick
                qty = max(old.qty + dq, 1)
                out = v.do(AmendOrder(account=account, instrument=sym, order_id=order_id, price=price, qty=qty))
                refused = books[sym].amend(order_id, price, qty, arrival=v.seq)
                expected = []
                assert [e.reason for e in out if isinstance(e, Rejected)] == ([refused] if refused else [])
        venue_tape += fills(v.trades(out))
        reference_tape += expected
        assert venue_tape == reference_tape
        assert v.book(sym) == books[sym].snapshot()
    return venue_tape, reference_tape


@examples(250)
@given(stream=orders_stream)
def test_venue_matches_like_the_naive_reference_book(stream: list[tuple[Any, ...]]) -> None:
    venue_tape, reference_tape = _run(stream)

    assert venue_tape == reference_tape
