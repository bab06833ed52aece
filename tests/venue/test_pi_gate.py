"""Professional-investor gate: a client whose PI status has expired at the command's
timestamp (pi_expiry_ns <= ts) may only reduce; affiliated MMs are not PI-gated."""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import AmendOrder, PlaceOrder, SetProfessionalInvestorStatus
from harbour.venue.events import OrderAccepted, ProfessionalInvestorStatusSet

from venue.helpers import BTC_REF, BTCUSD, BUY, FAR_FUTURE, IOC, SELL, STEP_NS, Venue

C = RejectCode


def _expiring_client(v: Venue, account: int = 1) -> int:
    """Open a funded client whose PI status expires 10 steps from now; return the expiry."""
    expiry = v.ts + 10 * STEP_NS
    v.open_client(account, usd=1_000_000, pi_expiry_ns=expiry)
    return expiry


def _buy(account: int, qty: int = 1, price: int = BTC_REF, **kw: object) -> PlaceOrder:
    return PlaceOrder(account=account, instrument=BTCUSD, side=BUY, qty=qty, price=price, **kw)  # type: ignore[arg-type]


def test_client_with_valid_pi_status_can_open_a_position(venue: Venue) -> None:
    expiry = _expiring_client(venue)

    out = venue.do(_buy(1), ts=expiry - 1)

    assert len(venue.events_of(OrderAccepted, out)) == 1


def test_client_whose_pi_status_expires_exactly_at_the_command_time_cannot_open(venue: Venue) -> None:
    expiry = _expiring_client(venue)
    before = venue.hash()

    out = venue.do(_buy(1), ts=expiry)

    assert [(e.reason, e.detail) for e in out] == [("PROFESSIONAL_INVESTOR_STATUS_EXPIRED", {"account": 1})]
    assert venue.hash() == before


def test_client_opened_without_pi_status_cannot_open_a_position(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000, pi_expiry_ns=0)

    out = venue.do(_buy(1))

    assert [e.reason for e in out] == ["NOT_PROFESSIONAL_INVESTOR"]


def _expired_long(v: Venue) -> int:
    """Client 1 long 3 BTC, then its PI status expires; client 2 is a valid counterparty."""
    expiry = _expiring_client(v)
    v.open_client(2, usd=1_000_000)
    v.cross(2, 1, BTCUSD, BUY, 3, BTC_REF)
    v.ts = expiry  # every later command is stamped after expiry
    return expiry


def test_expired_client_can_reduce_and_its_order_is_marked_reduce_only(venue: Venue) -> None:
    _expired_long(venue)
    venue.rest(2, BTCUSD, BUY, 5, BTC_REF)

    out = venue.ok(PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=2, price=BTC_REF))

    assert [a.reduce_only for a in venue.events_of(OrderAccepted, out)] == [True]
    assert venue.position(1, BTCUSD) == 1


def test_expired_client_cannot_increase_its_position(venue: Venue) -> None:
    _expired_long(venue)

    rejected = venue.reject(_buy(1), C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED)

    assert rejected.detail == {"account": 1}


def test_expired_client_cannot_flip_its_position(venue: Venue) -> None:
    _expired_long(venue)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=4, price=BTC_REF), C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED
    )

    assert venue.position(1, BTCUSD) == 3
    assert rejected.detail == {"account": 1}


def test_expired_client_cannot_grow_an_opening_order_by_amendment(venue: Venue) -> None:
    expiry = _expiring_client(venue)
    order = venue.rest(1, BTCUSD, BUY, 1, BTC_REF - 100)
    venue.ts = expiry

    rejected = venue.reject(
        AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF - 100, qty=3), C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED
    )

    assert venue.book(BTCUSD)[0] == [(order, BTC_REF - 100, 1)]
    assert rejected.detail == {"account": 1}


def test_expired_client_can_still_shrink_an_order_by_amendment(venue: Venue) -> None:
    expiry = _expiring_client(venue)
    order = venue.rest(1, BTCUSD, BUY, 3, BTC_REF - 100)
    venue.ts = expiry

    venue.ok(AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF - 100, qty=1))

    assert venue.book(BTCUSD)[0] == [(order, BTC_REF - 100, 1)]


def test_expired_client_can_cancel(venue: Venue) -> None:
    expiry = _expiring_client(venue)
    order = venue.rest(1, BTCUSD, BUY, 3, BTC_REF - 100)
    venue.ts = expiry

    out = venue.cancel(1, BTCUSD, order_id=order)

    assert [c.order_id for c in venue.cancels(out)] == [order]


def test_renewed_pi_status_lets_the_client_open_again(venue: Venue) -> None:
    expiry = _expiring_client(venue)
    venue.ts = expiry
    venue.reject(_buy(1), C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED)

    out = venue.ok(SetProfessionalInvestorStatus(account=1, expiry_ns=FAR_FUTURE))
    venue.ok(_buy(1))

    assert [(e.old_expiry_ns, e.new_expiry_ns) for e in venue.events_of(ProfessionalInvestorStatusSet, out)] == [
        (expiry, FAR_FUTURE)
    ]


def test_affiliated_mm_is_not_subject_to_the_pi_gate(venue: Venue) -> None:
    venue.open_mm(9, usd=1_000_000)

    out = venue.ok(_buy(9))

    assert len(venue.events_of(OrderAccepted, out)) == 1


def test_expired_clients_resting_opening_order_does_not_open_a_position_after_expiry(venue: Venue) -> None:
    # Decision D11: after expiry every order of the client is treated as reduce-only, so a bid
    # that rested before expiry must not open a position when it is hit after expiry.
    expiry = _expiring_client(venue)
    venue.open_client(2, usd=1_000_000)
    venue.rest(1, BTCUSD, BUY, 2, BTC_REF)
    venue.ts = expiry

    venue.sell(2, BTCUSD, 2, BTC_REF, tif=IOC)

    assert venue.position(1, BTCUSD) == 0
