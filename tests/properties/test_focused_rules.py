"""Focused properties: small random books built to stress one rule each.

The long random streams rarely line up the exact situation some rules are about; these
tests draw it directly: positions, a book of resting orders (some reduce-only, some of a
shared legal entity), then the order or state change under test. RuleWatch (rules.py)
checks every fill.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harbour.venue.commands import (
    InstrumentState,
    PlaceOrder,
    SelfTradePrevention,
    SetInstrumentState,
    SetProfessionalInvestorStatus,
    Side,
    TimeInForce,
)

from properties.profile import examples
from properties.rules import RuleWatch
from venue.helpers import BTC_REF, BTCUSD, Venue

ACCOUNTS = (1, 2, 3, 4, 9)  # 9 is the affiliated MM
TICK = 10

positions = st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.integers(1, 20)), max_size=6)
makers = st.lists(
    st.tuples(st.sampled_from(ACCOUNTS), st.booleans(), st.integers(-4, 4), st.integers(1, 15), st.sampled_from([False, False, True])),
    min_size=6,
    max_size=16,
)
entities = st.tuples(*[st.sampled_from(["", "GROUP-A"])] * len(ACCOUNTS))


def _venue(shared: tuple[str, ...]) -> Venue:
    v = Venue(check_rejects=False)
    for account, entity in zip(ACCOUNTS, shared, strict=False):
        if account == 9:
            v.open_mm(account, usd=10_000_000, entity=entity or "MM-AFFILIATE")
        else:
            v.open_client(account, usd=10_000_000, entity=entity)
    return v


def _build(v: Venue, opens: list[tuple[int, int, int]], book: list[tuple[int, bool, int, int, bool]]) -> RuleWatch:
    """Open positions by crossing pairs at the reference, then rest the book (whatever is accepted)."""
    watch = RuleWatch()
    for buyer, seller, qty in opens:
        if buyer != seller:
            watch.step(v, PlaceOrder(account=seller, instrument=BTCUSD, side=Side.SELL, qty=qty, price=BTC_REF))
            watch.step(v, PlaceOrder(account=buyer, instrument=BTCUSD, side=Side.BUY, qty=qty, price=BTC_REF, tif=TimeInForce.IOC))
            v.cancel_all(seller, BTCUSD)
    for account, is_buy, ticks, qty, reduce_only in book:
        price = BTC_REF + ticks * TICK + (-5 * TICK if is_buy else 5 * TICK)
        side = Side.BUY if is_buy else Side.SELL
        watch.step(v, PlaceOrder(account=account, instrument=BTCUSD, side=side, qty=qty, price=price, reduce_only=reduce_only, tif=TimeInForce.POST_ONLY))
    return watch


@examples(150)
@given(
    shared=entities,
    opens=positions,
    book=makers,
    taker=st.tuples(st.sampled_from(ACCOUNTS), st.booleans(), st.integers(1, 30), st.integers(0, 12), st.sampled_from(list(SelfTradePrevention))),
)
def test_fill_or_kill_order_fills_all_or_nothing_against_any_book(
    shared: tuple[str, ...], opens: list[Any], book: list[Any], taker: tuple[int, bool, int, int, SelfTradePrevention]
) -> None:
    v = _venue(shared)
    watch = _build(v, opens, book)
    account, is_buy, qty, reach, stp = taker
    price = BTC_REF + (reach if is_buy else -reach) * TICK

    broken = watch.step(
        v, PlaceOrder(account=account, instrument=BTCUSD, side=Side.BUY if is_buy else Side.SELL, qty=qty, price=price, tif=TimeInForce.FOK, stp=stp)
    )

    assert broken == []


@examples(150)
@given(
    shared=entities,
    opens=positions,
    book=makers,
    expire=st.sets(st.sampled_from((1, 2, 3, 4))),
    close_only=st.booleans(),
    takers=st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 12)), min_size=1, max_size=6),
)
def test_no_fill_grows_a_position_after_close_only_or_pi_expiry(
    shared: tuple[str, ...],
    opens: list[Any],
    book: list[Any],
    expire: set[int],
    close_only: bool,
    takers: list[tuple[int, int]],
) -> None:
    v = _venue(shared)
    watch = _build(v, opens, book)
    for account in sorted(expire):
        v.ok(SetProfessionalInvestorStatus(account=account, expiry_ns=v.ts))
    if close_only:
        v.ok(SetInstrumentState(instrument=BTCUSD, state=InstrumentState.CLOSE_ONLY))

    broken = []
    for account, reach in takers:
        held = v.position(account, BTCUSD)
        side = Side.SELL if held > 0 else Side.BUY
        price = BTC_REF + (-reach if side is Side.SELL else reach) * TICK
        broken += watch.step(v, PlaceOrder(account=account, instrument=BTCUSD, side=side, qty=abs(held) or 1, price=price, tif=TimeInForce.IOC))

    assert broken == []
