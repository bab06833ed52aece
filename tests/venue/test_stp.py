"""Self-trade prevention: accounts of one legal entity never trade with each other.
The taker's mode decides: EXPIRE_TAKER stops the taker, EXPIRE_MAKER (default) cancels
the resting order and matching goes on, EXPIRE_BOTH does both."""

from __future__ import annotations

from venue.helpers import (
    BTC_REF,
    BTCUSD,
    EXPIRE_BOTH,
    EXPIRE_MAKER,
    EXPIRE_TAKER,
    SELL,
    Venue,
    fills,
)


def _group(v: Venue) -> None:
    """Accounts 1 and 2 belong to legal entity GROUP-A; account 3 is independent."""
    v.open_client(1, usd=1_000_000, entity="GROUP-A")
    v.open_client(2, usd=1_000_000, entity="GROUP-A")
    v.open_client(3, usd=1_000_000, entity="OTHER")


def test_self_trade_by_default_expires_the_resting_maker_and_the_taker_goes_on(venue: Venue) -> None:
    _group(venue)
    own = venue.rest(2, BTCUSD, SELL, 2, BTC_REF)
    other = venue.rest(3, BTCUSD, SELL, 2, BTC_REF)

    out = venue.buy(1, BTCUSD, 2, BTC_REF)

    taker = venue.order_id(out)
    assert [(c.order_id, c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(own, 2, "STP_MAKER")]
    assert fills(venue.trades(out)) == [(other, taker, BTC_REF, 2)]


def test_self_trade_expire_maker_cancels_every_same_entity_maker_in_the_way(venue: Venue) -> None:
    _group(venue)
    own1 = venue.rest(2, BTCUSD, SELL, 1, BTC_REF)
    own2 = venue.rest(2, BTCUSD, SELL, 1, BTC_REF + 10)
    other = venue.rest(3, BTCUSD, SELL, 1, BTC_REF + 20)

    out = venue.buy(1, BTCUSD, 1, BTC_REF + 20, stp=EXPIRE_MAKER)

    assert [(c.order_id, c.reason) for c in venue.cancels(out)] == [(own1, "STP_MAKER"), (own2, "STP_MAKER")]
    assert [t.maker_order_id for t in venue.trades(out)] == [other]


def test_self_trade_expire_taker_cancels_the_incoming_order_and_keeps_the_maker(venue: Venue) -> None:
    _group(venue)
    own = venue.rest(2, BTCUSD, SELL, 2, BTC_REF)
    venue.rest(3, BTCUSD, SELL, 2, BTC_REF + 10)

    out = venue.buy(1, BTCUSD, 2, BTC_REF + 10, stp=EXPIRE_TAKER)

    taker = venue.order_id(out)
    assert venue.trades(out) == []
    assert [(c.order_id, c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(taker, 2, "STP_TAKER")]
    assert venue.book(BTCUSD)[1][0] == (own, BTC_REF, 2)


def test_self_trade_expire_taker_after_a_partial_fill_cancels_the_remainder_instead_of_resting(venue: Venue) -> None:
    _group(venue)
    other = venue.rest(3, BTCUSD, SELL, 1, BTC_REF)
    own = venue.rest(2, BTCUSD, SELL, 2, BTC_REF + 10)

    out = venue.buy(1, BTCUSD, 3, BTC_REF + 10, stp=EXPIRE_TAKER)

    taker = venue.order_id(out)
    assert fills(venue.trades(out)) == [(other, taker, BTC_REF, 1)]
    assert [(c.order_id, c.remaining_qty, c.reason) for c in venue.cancels(out)] == [(taker, 2, "STP_TAKER")]
    assert venue.book(BTCUSD) == ([], [(own, BTC_REF + 10, 2)])


def test_self_trade_expire_both_cancels_the_maker_and_the_taker(venue: Venue) -> None:
    _group(venue)
    own = venue.rest(2, BTCUSD, SELL, 2, BTC_REF)
    other = venue.rest(3, BTCUSD, SELL, 2, BTC_REF + 10)

    out = venue.buy(1, BTCUSD, 2, BTC_REF + 10, stp=EXPIRE_BOTH)

    taker = venue.order_id(out)
    assert venue.trades(out) == []
    assert [(c.order_id, c.reason) for c in venue.cancels(out)] == [(own, "STP_MAKER"), (taker, "STP_TAKER")]
    assert venue.book(BTCUSD) == ([], [(other, BTC_REF + 10, 2)])


def test_self_trade_prevention_spans_client_and_affiliated_mm_accounts_of_one_entity(venue: Venue) -> None:
    venue.open_mm(9, usd=1_000_000, entity="GROUP-A")
    venue.open_client(1, usd=1_000_000, entity="GROUP-A")
    mm = venue.rest(9, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(1, BTCUSD, 1, BTC_REF)

    assert venue.trades(out) == []
    assert [(c.order_id, c.reason, c.is_affiliated_mm) for c in venue.cancels(out)] == [(mm, "STP_MAKER", True)]


def test_accounts_of_different_legal_entities_trade_with_each_other(venue: Venue) -> None:
    _group(venue)
    maker = venue.rest(3, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(1, BTCUSD, 1, BTC_REF)

    assert [t.maker_order_id for t in venue.trades(out)] == [maker]
    assert venue.cancels(out) == []


def test_accounts_without_legal_entity_are_each_their_own_stp_group(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    venue.open_client(2, usd=1_000_000)
    maker = venue.rest(2, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(1, BTCUSD, 1, BTC_REF)

    assert [t.maker_order_id for t in venue.trades(out)] == [maker]


def test_an_account_never_trades_with_its_own_resting_order(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    own = venue.rest(1, BTCUSD, SELL, 1, BTC_REF)

    out = venue.buy(1, BTCUSD, 1, BTC_REF)

    assert venue.trades(out) == []
    assert [(c.order_id, c.reason) for c in venue.cancels(out)] == [(own, "STP_MAKER")]
    assert venue.position(1, BTCUSD) == 0


def test_expired_self_trade_charges_no_fee_and_moves_no_money(venue: Venue) -> None:
    _group(venue)
    venue.rest(2, BTCUSD, SELL, 1, BTC_REF)
    before = (venue.balance(1, "USD"), venue.balance(2, "USD"), venue.balance("FEE_INCOME", "USD"))

    out = venue.buy(1, BTCUSD, 1, BTC_REF, stp=EXPIRE_BOTH)

    assert [type(e).__name__ for e in out] == ["OrderAccepted", "OrderCancelled", "OrderCancelled"]
    assert (venue.balance(1, "USD"), venue.balance(2, "USD"), venue.balance("FEE_INCOME", "USD")) == before
