"""Funding settlement: at each interval end, funding moves through the ledger zero-sum
between longs and shorts; every record states its interval and sign convention.

Units: BTCUSD prices are USD cents, quantities 0.001 BTC, unit value 10 micro-USD, so
1 BTC (qty 1,000) at 95,000 USD is a notional of 95,000 USD = 95,000,000,000 micro-USD.
A rate of 10,000 per 1e8 is 0.01% per interval.
"""

from __future__ import annotations

import msgspec
import pytest

from harbour.kernel.errors import RejectCode
from harbour.venue import check_all
from harbour.venue.commands import SettleFunding
from harbour.venue.events import FundingSettled, TransferPosted
from harbour.venue.genesis import default_funding_parameters
from harbour.venue.state import INSURANCE_FUND, isolated_account

from venue.helpers import BTC_REF, BTCUSD, BUY, ETH_REF, ETHHKD, SELL, Venue, hkd, posting_sum, usd

HOUR_NS = 3_600 * 10**9
EIGHT_HOURS = 8 * HOUR_NS
C = RejectCode


def _funding(instrument: str = BTCUSD, rate_e8: int = 10_000, interval_ns: int = EIGHT_HOURS, mark_price: int = BTC_REF) -> SettleFunding:
    return SettleFunding(instrument=instrument, rate_e8=rate_e8, interval_ns=interval_ns, mark_price=mark_price)


def _long_short(v: Venue, qty: int = 1_000, long: int = 1, short: int = 2) -> None:
    v.open_client(long, usd=1_000_000)
    v.open_client(short, usd=1_000_000)
    v.cross(short, long, BTCUSD, BUY, qty, BTC_REF)


def _configure_interval(v: Venue, interval_ns: int) -> None:
    """Set BTCUSD's funding interval (the house terms otherwise): settlements must carry it."""
    v.ok(msgspec.structs.replace(default_funding_parameters(BTCUSD, 25_000), interval_ns=interval_ns))


def _record(events: list[object]) -> FundingSettled:
    records = [e for e in events if isinstance(e, FundingSettled)]
    assert len(records) == 1, events
    return records[0]


def test_positive_rate_longs_pay_shorts(venue: Venue) -> None:
    _long_short(venue)
    long_before, short_before = venue.balance(1, "USD"), venue.balance(2, "USD")

    out = venue.ok(_funding(rate_e8=10_000))

    # 95,000 USD notional x 0.01% = 9.50 USD
    assert venue.balance(1, "USD") == long_before - 9_500_000
    assert venue.balance(2, "USD") == short_before + 9_500_000
    record = _record(out)
    assert record.accounts == ((1, 1_000, 9_500_000), (2, -1_000, -9_500_000))
    assert (record.total_paid, record.total_received, record.residue) == (9_500_000, 9_500_000, 0)


def test_negative_rate_shorts_pay_longs(venue: Venue) -> None:
    _long_short(venue)
    long_before, short_before = venue.balance(1, "USD"), venue.balance(2, "USD")

    venue.ok(_funding(rate_e8=-10_000))

    assert venue.balance(1, "USD") == long_before + 9_500_000
    assert venue.balance(2, "USD") == short_before - 9_500_000


def test_funding_is_zero_sum_to_the_unit_with_the_residue_booked_to_insurance(venue: Venue) -> None:
    # long 7 lots against shorts of 3 and 4 lots; notional of one lot 95,000,000 micro-USD,
    # rate 3 per 1e8: the long pays ceil(19.95) = 20, the shorts receive floor(8.55) = 8
    # and floor(11.4) = 11; the 1 micro-USD residue goes to the insurance fund
    for account in (1, 2, 3):
        venue.open_client(account, usd=1_000_000)
    venue.rest(2, BTCUSD, SELL, 3, BTC_REF)
    venue.rest(3, BTCUSD, SELL, 4, BTC_REF)
    venue.ok(_funding(rate_e8=0))  # nothing to settle yet: no position
    venue.buy(1, BTCUSD, 7, BTC_REF)
    insurance_before = venue.balance(INSURANCE_FUND, "USD")

    out = venue.ok(_funding(rate_e8=3))

    record = _record(out)
    assert record.accounts == ((1, 7, 20), (2, -3, -8), (3, -4, -11))
    assert (record.total_paid, record.total_received, record.residue) == (20, 19, 1)
    assert record.total_paid == record.total_received + record.residue
    assert venue.balance(INSURANCE_FUND, "USD") == insurance_before + 1
    transfer = venue.events_of(TransferPosted, out)[0]
    assert transfer.kind == "FUNDING"
    assert sum(amount for _, _, amount in transfer.postings) == 0
    assert posting_sum(out, INSURANCE_FUND, "USD") == record.residue


def test_an_account_without_a_position_neither_pays_nor_appears(venue: Venue) -> None:
    _long_short(venue)
    venue.open_client(3, usd=1_000)
    venue.rest(3, BTCUSD, BUY, 1, BTC_REF - 100)  # an open order is not a position
    before = venue.balance(3, "USD")

    out = venue.ok(_funding())

    assert [row[0] for row in _record(out).accounts] == [1, 2]
    assert venue.balance(3, "USD") == before


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param(_funding(interval_ns=24 * HOUR_NS + 1), C.INVALID_PARAMETER, id="interval-above-24h"),
        pytest.param(_funding(interval_ns=0), C.INVALID_PARAMETER, id="interval-zero"),
        pytest.param(_funding(rate_e8=100_000_001), C.INVALID_PARAMETER, id="rate-beyond-bound"),
        pytest.param(_funding(rate_e8=-100_000_001), C.INVALID_PARAMETER, id="negative-rate-beyond-bound"),
        pytest.param(_funding(mark_price=0), C.PRICE_NOT_POSITIVE, id="mark-zero"),
        pytest.param(_funding(mark_price=10**13), C.INVALID_PARAMETER, id="mark-past-ceiling"),
        pytest.param(_funding(instrument="DOGEUSD"), C.UNKNOWN_INSTRUMENT, id="unknown-instrument"),
        pytest.param(_funding(interval_ns=4 * HOUR_NS), C.FUNDING_INTERVAL_MISMATCH, id="interval-not-the-configured-one"),
    ],
)
def test_bad_funding_is_rejected_and_changes_nothing(venue: Venue, command: SettleFunding, code: RejectCode) -> None:
    _long_short(venue)

    venue.reject(command, code)


def test_an_interval_above_24_hours_is_rejected_and_changes_nothing(venue: Venue) -> None:
    _long_short(venue)
    before = venue.hash()

    rejected = venue.reject(_funding(interval_ns=25 * HOUR_NS), C.INVALID_PARAMETER)

    assert "24 hours" in rejected.message
    assert venue.hash() == before


def test_an_interval_of_exactly_24_hours_settles(venue: Venue) -> None:
    _long_short(venue)
    _configure_interval(venue, 24 * HOUR_NS)

    out = venue.ok(_funding(interval_ns=24 * HOUR_NS))

    assert _record(out).interval_ns == 24 * HOUR_NS


def test_a_payer_who_cannot_pay_never_goes_negative_and_insurance_covers(venue: Venue) -> None:
    # 0.1 BTC long (9,500 USD notional) posted with 500 USD; a 10% rate owes 950 USD
    venue.open_client(1, usd=500)
    venue.open_client(2, usd=1_000_000)
    venue.cross(2, 1, BTCUSD, BUY, 100, BTC_REF)
    wallet = venue.balance(1, "USD")
    insurance_before = venue.balance(INSURANCE_FUND, "USD")
    short_before = venue.balance(2, "USD")

    out = venue.ok(_funding(rate_e8=10_000_000))

    record = _record(out)
    assert record.total_paid == usd(950)
    assert venue.balance(1, "USD") == 0
    assert record.shortfall_covered == usd(950) - wallet
    assert venue.balance(INSURANCE_FUND, "USD") == insurance_before - record.shortfall_covered + record.residue
    assert venue.balance(2, "USD") == short_before + usd(950)


def test_an_isolated_position_pays_from_its_isolated_wallet(venue: Venue) -> None:
    venue.open_client(1, hkd=10_000)
    venue.open_client(2, hkd=100_000)
    venue.set_isolated(1, ETHHKD)
    venue.move_isolated(1, ETHHKD, hkd(2_000))
    venue.cross(2, 1, ETHHKD, BUY, 1_000, ETH_REF)
    iso = isolated_account(1, ETHHKD)
    iso_before, cross_before = venue.balance(iso, "HKD"), venue.balance(1, "HKD")

    venue.ok(_funding(instrument=ETHHKD, rate_e8=10_000, mark_price=ETH_REF))

    # 1 ETH at 26,000 HKD x 0.01% = 2.60 HKD, from the isolated wallet only
    assert venue.balance(iso, "HKD") == iso_before - 2_600_000
    assert venue.balance(1, "HKD") == cross_before


def test_an_isolated_payer_short_of_money_is_covered_without_touching_its_cross_wallet(venue: Venue) -> None:
    venue.open_client(1, hkd=10_000)
    venue.open_client(2, hkd=100_000)
    venue.set_isolated(1, ETHHKD)
    venue.move_isolated(1, ETHHKD, hkd(2_000))
    venue.cross(2, 1, ETHHKD, BUY, 1_000, ETH_REF)
    iso = isolated_account(1, ETHHKD)
    cross_before = venue.balance(1, "HKD")

    out = venue.ok(_funding(instrument=ETHHKD, rate_e8=10_000_000, mark_price=ETH_REF))  # owes 2,600 HKD

    assert venue.balance(iso, "HKD") == 0
    assert venue.balance(1, "HKD") == cross_before
    assert _record(out).shortfall_covered > 0


def test_an_isolated_receiver_is_credited_to_its_isolated_wallet(venue: Venue) -> None:
    venue.open_client(1, hkd=10_000)
    venue.open_client(2, hkd=100_000)
    venue.set_isolated(1, ETHHKD)
    venue.move_isolated(1, ETHHKD, hkd(2_000))
    venue.cross(2, 1, ETHHKD, BUY, 1_000, ETH_REF)
    iso = isolated_account(1, ETHHKD)
    iso_before = venue.balance(iso, "HKD")

    venue.ok(_funding(instrument=ETHHKD, rate_e8=-10_000, mark_price=ETH_REF))

    assert venue.balance(iso, "HKD") == iso_before + 2_600_000


def test_settlement_leaves_every_invariant_true(venue: Venue) -> None:
    venue.open_client(1, usd=500)
    venue.open_client(2, usd=1_000_000)
    venue.open_client(3, usd=1_000_000)
    venue.open_mm(9, usd=10_000_000)
    venue.cross(2, 1, BTCUSD, BUY, 100, BTC_REF)
    venue.cross(9, 3, BTCUSD, SELL, 333, BTC_REF)
    for rate in (7, -13, 10_000_000, -99_999_999):
        venue.ok(_funding(rate_e8=rate, mark_price=BTC_REF + 1_230))

        assert check_all(venue.state) == []


def test_the_funding_record_states_its_interval_and_sign_convention(venue: Venue) -> None:
    _long_short(venue)
    _configure_interval(venue, 4 * HOUR_NS)

    out = venue.ok(_funding(rate_e8=10_000, interval_ns=4 * HOUR_NS, mark_price=BTC_REF + 50))

    record = _record(out)
    assert record.sign_convention == "positive rate: longs pay shorts"
    assert record.rate_unit == "parts per 1e8 per funding interval"
    assert (record.instrument, record.rate_e8, record.interval_ns, record.mark_price) == (BTCUSD, 10_000, 4 * HOUR_NS, BTC_REF + 50)
    assert isinstance(out[-1], TransferPosted) and out[-1].reference.startswith("funding:BTCUSD:")


def test_funding_pays_at_the_mark_in_the_command_not_the_reference(venue: Venue) -> None:
    _long_short(venue)
    before = venue.balance(1, "USD")

    venue.ok(_funding(rate_e8=10_000, mark_price=2 * BTC_REF))

    assert venue.balance(1, "USD") == before - 19_000_000
