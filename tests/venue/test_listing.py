"""Listing rules and instrument states.

A perpetual is listed only on a reference that is a retail-spot-eligible VA or an
IOSCO-compliant index, with an SFC approval reference and sound numbers. States:
OPEN; CLOSE_ONLY (orders may only reduce); HALTED (no new orders or amendments,
cancels allowed). Every state change is an event.
"""

from __future__ import annotations

import pytest

from harbour.kernel.assets import AssetKind
from harbour.kernel.errors import RejectCode
from harbour.venue.commands import AmendOrder, ListAsset, PlaceOrder, SetEligibleReferenceAssets
from harbour.venue.events import InstrumentListed, InstrumentStateChanged, OrderAccepted

from venue.helpers import (
    BTC_REF,
    BTCUSD,
    BUY,
    CLOSE_ONLY,
    HALTED,
    IOC,
    OPEN,
    SELL,
    Venue,
    instrument_spec,
)

C = RejectCode


# --- listing ---------------------------------------------------------------------------


def test_listing_on_a_retail_spot_eligible_reference_is_accepted(venue: Venue) -> None:
    out = venue.ok(instrument_spec(instrument="BTCHKD", reference="BTC"))

    [event] = venue.events_of(InstrumentListed, out)
    assert (event.instrument, event.reference, event.settlement_asset, event.sfc_approval_ref) == (
        "BTCHKD",
        "BTC",
        "HKD",
        "SFC-PERP-TEST-0001",
    )


def test_listing_on_an_iosco_compliant_index_is_accepted(venue: Venue) -> None:
    venue.ok(SetEligibleReferenceAssets(retail_spot_assets=("BTC", "ETH"), iosco_indices=("HSBTCI",)))

    out = venue.ok(instrument_spec(instrument="HSBTCIHKD", reference="HSBTCI"))

    assert [e.reference for e in venue.events_of(InstrumentListed, out)] == ["HSBTCI"]


def test_listing_on_a_reference_in_neither_list_is_refused(venue: Venue) -> None:
    rejected = venue.reject(instrument_spec(instrument="SOLHKD", reference="SOL"), C.REFERENCE_ASSET_NOT_ELIGIBLE)

    assert rejected.detail == {"reference": "SOL"}


def test_listing_after_a_reference_leaves_the_eligible_list_is_refused(venue: Venue) -> None:
    venue.ok(SetEligibleReferenceAssets(retail_spot_assets=("ETH",)))

    rejected = venue.reject(instrument_spec(instrument="BTCHKD", reference="BTC"), C.REFERENCE_ASSET_NOT_ELIGIBLE)

    assert rejected.detail == {"reference": "BTC"}


@pytest.mark.parametrize("approval", ["", "   "])
def test_listing_without_an_sfc_approval_reference_is_refused(venue: Venue, approval: str) -> None:
    rejected = venue.reject(instrument_spec(sfc_approval_ref=approval), C.SFC_APPROVAL_MISSING)

    assert "SFC approval" in rejected.message


@pytest.mark.parametrize(
    "bad",
    [
        {"instrument": "BTC-HKD"},
        {"tick": 0},
        {"lot": 0},
        {"price_decimals": 4, "qty_decimals": 3},
        {"price_decimals": -1},
        {"min_qty": 0},
        {"min_qty": 10, "max_qty": 5},
        {"lot": 5, "min_qty": 7, "max_qty": 100},
        {"max_leverage": 0},
        {"max_leverage": 201},
        {"taker_fee_ppm": -1},
        {"maker_fee_ppm": -600, "taker_fee_ppm": 500},
        {"price_band_bps": 0},
        {"price_band_bps": 10_001},
        {"market_collar_bps": 0},
        {"market_collar_bps": 600, "price_band_bps": 500},
        {"settlement_asset": "HKDX"},
        {"settlement_asset": "BTC"},
        {"settlement_asset": "XYZ"},
    ],
    ids=lambda bad: ",".join(f"{k}={v}" for k, v in bad.items()),
)
def test_listing_with_unsound_numbers_is_refused_invalid_parameter(venue: Venue, bad: dict[str, object]) -> None:
    rejected = venue.reject(instrument_spec(**bad), C.INVALID_PARAMETER)

    assert rejected.detail["problem"]


def test_listing_a_symbol_twice_is_refused(venue: Venue) -> None:
    rejected = venue.reject(instrument_spec(instrument=BTCUSD, settlement_asset="USD"), C.INSTRUMENT_ALREADY_LISTED)

    assert rejected.detail == {"instrument": BTCUSD}


def test_listing_settled_in_a_currency_without_fx_rate_into_hkd_is_refused(venue: Venue) -> None:
    venue.ok(ListAsset(asset="SGD", kind=AssetKind.FIAT, currency="SGD", granularity=10_000))

    rejected = venue.reject(instrument_spec(instrument="BTCSGD", settlement_asset="SGD"), C.FX_RATE_MISSING)

    assert rejected.detail == {"base": "SGD", "quote": "HKD"}


def test_new_listing_has_no_reference_price_until_one_is_set(venue: Venue) -> None:
    venue.open_client(1, hkd=1_000_000)
    venue.ok(instrument_spec())
    venue.reject(PlaceOrder(account=1, instrument="BTCHKD", side=BUY, qty=1, price=74_100_000), C.NO_REFERENCE_PRICE)

    venue.set_ref("BTCHKD", 74_100_000)
    out = venue.ok(PlaceOrder(account=1, instrument="BTCHKD", side=BUY, qty=1, price=74_100_000))

    assert len(venue.events_of(OrderAccepted, out)) == 1


# --- states ----------------------------------------------------------------------------


def test_instrument_state_change_is_an_event_with_old_and_new_state(venue: Venue) -> None:
    out = venue.set_state(BTCUSD, HALTED)

    [event] = venue.events_of(InstrumentStateChanged, out)
    assert (event.instrument, event.old, event.new, event.reason) == (BTCUSD, OPEN, HALTED, "test")


def test_halted_instrument_rejects_new_orders(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    venue.set_state(BTCUSD, HALTED)

    rejected = venue.reject(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF), C.INSTRUMENT_HALTED)

    assert rejected.detail == {"instrument": BTCUSD}


def test_halted_instrument_rejects_amendments(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    order = venue.rest(1, BTCUSD, BUY, 2, BTC_REF)
    venue.set_state(BTCUSD, HALTED)

    rejected = venue.reject(AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF, qty=1), C.INSTRUMENT_HALTED)

    assert rejected.detail == {"instrument": BTCUSD}
    assert venue.book(BTCUSD)[0] == [(order, BTC_REF, 2)]


def test_halted_instrument_still_allows_cancels(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    order = venue.rest(1, BTCUSD, BUY, 2, BTC_REF)
    venue.set_state(BTCUSD, HALTED)

    out = venue.cancel(1, BTCUSD, order_id=order)

    assert [(c.order_id, c.reason) for c in venue.cancels(out)] == [(order, "USER")]


def test_halted_instrument_still_allows_cancel_all(venue: Venue) -> None:
    venue.open_client(1, usd=1_000_000)
    venue.rest(1, BTCUSD, BUY, 2, BTC_REF)
    venue.set_state(BTCUSD, HALTED)

    venue.cancel_all(1, BTCUSD)

    assert venue.engine.open_order_ids(1) == []


def _long_two(v: Venue) -> None:
    v.open_client(1, usd=1_000_000)
    v.open_client(2, usd=1_000_000)
    v.open_client(3, usd=1_000_000)
    v.cross(2, 1, BTCUSD, BUY, 2, BTC_REF)  # account 1 long 2, account 2 short 2


def test_close_only_instrument_rejects_an_order_that_would_open(venue: Venue) -> None:
    _long_two(venue)
    venue.set_state(BTCUSD, CLOSE_ONLY)

    rejected = venue.reject(PlaceOrder(account=3, instrument=BTCUSD, side=BUY, qty=1, price=BTC_REF), C.INSTRUMENT_CLOSE_ONLY)

    assert rejected.detail == {"instrument": BTCUSD}


def test_close_only_instrument_rejects_an_order_larger_than_the_position(venue: Venue) -> None:
    _long_two(venue)
    venue.set_state(BTCUSD, CLOSE_ONLY)

    rejected = venue.reject(PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=3, price=BTC_REF), C.INSTRUMENT_CLOSE_ONLY)

    assert rejected.detail == {"instrument": BTCUSD}


def test_close_only_instrument_accepts_a_reducing_order_as_reduce_only(venue: Venue) -> None:
    _long_two(venue)
    venue.set_state(BTCUSD, CLOSE_ONLY)

    out = venue.ok(PlaceOrder(account=1, instrument=BTCUSD, side=SELL, qty=2, price=BTC_REF + 10))

    assert [a.reduce_only for a in venue.events_of(OrderAccepted, out)] == [True]


def test_close_only_lets_two_reducing_orders_trade(venue: Venue) -> None:
    _long_two(venue)
    venue.set_state(BTCUSD, CLOSE_ONLY)
    venue.rest(1, BTCUSD, SELL, 2, BTC_REF)

    out = venue.buy(2, BTCUSD, 2, BTC_REF, tif=IOC)

    assert sum(t.qty for t in venue.trades(out)) == 2
    assert (venue.position(1, BTCUSD), venue.position(2, BTCUSD)) == (0, 0)


def test_close_only_rejects_an_amendment_that_grows_an_opening_order(venue: Venue) -> None:
    _long_two(venue)
    order = venue.rest(3, BTCUSD, BUY, 1, BTC_REF - 100)
    venue.set_state(BTCUSD, CLOSE_ONLY)

    rejected = venue.reject(
        AmendOrder(account=3, instrument=BTCUSD, order_id=order, price=BTC_REF - 100, qty=5), C.INSTRUMENT_CLOSE_ONLY
    )

    assert venue.book(BTCUSD)[0] == [(order, BTC_REF - 100, 1)]
    assert rejected.detail == {"instrument": BTCUSD}


def test_close_only_never_lets_a_resting_order_open_a_new_position(venue: Venue) -> None:
    # Decision D11: in CLOSE_ONLY every order is treated as reduce-only. An opening bid that
    # rested before the switch must not open a position when a reducing seller hits it.
    _long_two(venue)
    venue.rest(3, BTCUSD, BUY, 2, BTC_REF)
    venue.set_state(BTCUSD, CLOSE_ONLY)

    venue.sell(1, BTCUSD, 2, BTC_REF, tif=IOC)

    assert venue.position(3, BTCUSD) == 0


def test_reopened_instrument_accepts_opening_orders_again(venue: Venue) -> None:
    _long_two(venue)
    venue.set_state(BTCUSD, CLOSE_ONLY)
    venue.set_state(BTCUSD, OPEN)

    order = venue.rest(3, BTCUSD, BUY, 1, BTC_REF)

    assert order in venue.engine.open_order_ids(3)
