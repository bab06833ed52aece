"""Pre-trade initial margin and the value of margin assets.

ETHHKD at the genesis reference 26,000.00 HKD, 20x: one ETH (1,000 lots) needs
1,300.000000 HKD of initial margin. Collateral counts after haircut and FX into HKD,
rounded down; a stablecoin counts only while its issuer is on the register snapshot.
"""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import Deposit, OrderType, PlaceOrder, SetDepositBankAllowlist, SetFxRate, SetMarginAssetHaircut
from harbour.venue.events import DepositBankAllowlistUpdated, IssuerRegisterUpdated, LiquidationTriggered, MarginAssetHaircutSet

from venue.helpers import (
    BTC_REF,
    BTCUSD,
    BUY,
    ETH_REF,
    ETHHKD,
    SELL,
    Venue,
    hkd,
    usd,
)

C = RejectCode
ONE_ETH = 1_000
ETH_IM = 1_300_000_000  # HKD micro-units for one ETH at 26,000.00 and 20x


def _buy_eth(account: int, qty: int = ONE_ETH, price: int = ETH_REF - 10) -> PlaceOrder:
    return PlaceOrder(account=account, instrument=ETHHKD, side=BUY, qty=qty, price=price)


# --- the requirement -------------------------------------------------------------------


def test_order_needing_exactly_the_available_equity_is_accepted(venue: Venue) -> None:
    venue.open_client(1, hkd=1_300)

    out = venue.ok(_buy_eth(1, price=ETH_REF))

    assert venue.order_id(out) in venue.engine.open_order_ids(1)
    assert venue.equity_and_requirement(1) == (ETH_IM, ETH_IM)


def test_order_needing_one_cent_more_than_equity_is_rejected_with_required_and_available(venue: Venue) -> None:
    venue.open_client(1)
    venue.deposit(1, "HKD", ETH_IM - 10_000)

    rejected = venue.reject(_buy_eth(1, price=ETH_REF), C.INSUFFICIENT_MARGIN)

    assert rejected.detail == {"required": ETH_IM, "available": ETH_IM - 10_000, "currency": "HKD"}
    assert "1300000000" in rejected.message and "1299990000" in rejected.message


def test_buy_above_reference_adds_its_premium_to_the_requirement(venue: Venue) -> None:
    # 1,000 lots x 100.00 HKD above the reference = 100 HKD of immediate loss if filled
    venue.open_client(1)
    venue.deposit(1, "HKD", ETH_IM + hkd(100) - 10_000)

    rejected = venue.reject(_buy_eth(1, price=ETH_REF + 10_000), C.INSUFFICIENT_MARGIN)
    venue.deposit(1, "HKD", 10_000)
    accepted = venue.ok(_buy_eth(1, price=ETH_REF + 10_000))

    assert rejected.detail["required"] == ETH_IM + hkd(100)
    assert venue.order_id(accepted) in venue.engine.open_order_ids(1)


def test_sell_below_reference_adds_its_premium_to_the_requirement(venue: Venue) -> None:
    venue.open_client(1)
    venue.deposit(1, "HKD", ETH_IM + hkd(100) - 10_000)

    rejected = venue.reject(
        PlaceOrder(account=1, instrument=ETHHKD, side=SELL, qty=ONE_ETH, price=ETH_REF - 10_000), C.INSUFFICIENT_MARGIN
    )

    assert rejected.detail["required"] == ETH_IM + hkd(100)


def test_open_orders_on_one_side_add_up_to_the_worst_reachable_position(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    venue.ok(_buy_eth(1))

    rejected = venue.reject(_buy_eth(1), C.INSUFFICIENT_MARGIN)

    assert rejected.detail["required"] == 2 * ETH_IM


def test_orders_on_opposite_sides_count_only_the_worse_side(venue: Venue) -> None:
    venue.open_client(1, hkd=1_300)
    venue.ok(_buy_eth(1))

    out = venue.ok(PlaceOrder(account=1, instrument=ETHHKD, side=SELL, qty=ONE_ETH, price=ETH_REF + 10))

    assert venue.order_id(out) in venue.engine.open_order_ids(1)
    assert venue.equity_and_requirement(1) == (ETH_IM, ETH_IM)


def test_cross_margin_sums_requirements_of_both_instruments_in_hkd(venue: Venue) -> None:
    # 1 BTC at 95,000.00 USD, 20x: 4,750 USD = 37,050 HKD at 7.8; plus 1,300 HKD for 1 ETH
    venue.open_client(1, hkd=38_350)
    venue.ok(PlaceOrder(account=1, instrument=BTCUSD, side=BUY, qty=1_000, price=BTC_REF))
    venue.ok(_buy_eth(1))

    rejected = venue.reject(_buy_eth(1, qty=1), C.INSUFFICIENT_MARGIN)

    assert venue.equity_and_requirement(1) == (hkd(38_350), hkd(38_350))
    assert rejected.detail["required"] == hkd(38_350) + 1_300_000


# --- reducing is always allowed --------------------------------------------------------


UNDERWATER_REF = 2_560_000  # 25,600.00 HKD


def _underwater_long(v: Venue) -> None:
    """Client 1 long 1 ETH at 26,000 with 1,300 HKD (1,287 after the 13 HKD fee); the reference then
    falls to 25,600: margin balance 1,287 - 400 = 887 HKD, below the 1,280 initial margin (5%) but
    above the 640 maintenance (2.5%), so the account is under-margined and not liquidated."""
    v.open_client(1, hkd=1_300)
    v.open_mm(9, hkd=1_000_000)
    v.cross(9, 1, ETHHKD, BUY, ONE_ETH, ETH_REF)
    v.set_ref(ETHHKD, UNDERWATER_REF)
    assert not v.events_of(LiquidationTriggered), "the account must stay above maintenance"


def test_account_below_initial_margin_cannot_increase_its_position(venue: Venue) -> None:
    _underwater_long(venue)
    equity, requirement = venue.equity_and_requirement(1)

    rejected = venue.reject(_buy_eth(1, qty=1, price=UNDERWATER_REF), C.INSUFFICIENT_MARGIN)

    assert (equity, requirement) == (hkd(887), hkd(1_280))
    assert rejected.detail["available"] == equity


def test_account_below_initial_margin_can_still_reduce_its_position(venue: Venue) -> None:
    _underwater_long(venue)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, UNDERWATER_REF)

    out = venue.ok(PlaceOrder(account=1, instrument=ETHHKD, side=SELL, qty=500, price=UNDERWATER_REF))

    assert sum(t.qty for t in venue.trades(out)) == 500
    assert venue.position(1, ETHHKD) == 500


def test_resting_reducing_order_is_accepted_with_zero_free_collateral(venue: Venue) -> None:
    _underwater_long(venue)

    out = venue.ok(PlaceOrder(account=1, instrument=ETHHKD, side=SELL, qty=ONE_ETH, price=UNDERWATER_REF + 10))

    assert venue.order_id(out) in venue.engine.open_order_ids(1)


def test_reduce_only_market_order_closes_an_under_margined_position(venue: Venue) -> None:
    # the bid is 100 HKD below the reference, inside the 1% market collar (25,344)
    _underwater_long(venue)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, UNDERWATER_REF - 10_000)

    out = venue.ok(PlaceOrder(account=1, instrument=ETHHKD, side=SELL, qty=ONE_ETH, order_type=OrderType.MARKET, reduce_only=True))

    assert sum(t.qty for t in venue.trades(out)) == ONE_ETH
    assert venue.position(1, ETHHKD) == 0


# --- collateral value: FX, haircut, eligibility ----------------------------------------


def test_usd_collateral_counts_at_the_fx_rate_into_hkd(venue: Venue) -> None:
    # 166.67 USD x 7.8 = 1,300.026 HKD >= 1,300; 166.66 USD = 1,299.948 HKD < 1,300
    venue.open_client(1)
    venue.open_client(2)
    venue.deposit(1, "USD", 166_670_000)
    venue.deposit(2, "USD", 166_660_000)

    venue.ok(_buy_eth(1))
    rejected = venue.reject(_buy_eth(2), C.INSUFFICIENT_MARGIN)

    assert rejected.detail["available"] == 1_299_948_000


def test_stablecoin_collateral_counts_after_its_haircut_rounded_down(venue: Venue) -> None:
    # HKDX haircut 2%: 1,326.530613 x 0.98 = 1,300.00000074 -> 1,300.000000; one micro less -> 1,299.999999
    venue.open_client(1, hkdx=1_326_530_613)
    venue.open_client(2, hkdx=1_326_530_612)

    venue.ok(_buy_eth(1))
    rejected = venue.reject(_buy_eth(2), C.INSUFFICIENT_MARGIN)

    assert rejected.detail["available"] == ETH_IM - 1


def test_tokenised_deposit_of_an_allowlisted_bank_counts_after_its_haircut(venue: Venue) -> None:
    # TDHKD haircut 1%: 1,313.131314 x 0.99 = 1,300.00000086
    venue.open_client(1, tdhkd=1_313_131_314)
    venue.open_client(2, tdhkd=1_313_131_313)

    venue.ok(_buy_eth(1))
    rejected = venue.reject(_buy_eth(2), C.INSUFFICIENT_MARGIN)

    assert rejected.detail["available"] == ETH_IM - 1


def test_haircut_change_revalues_collateral_from_the_next_command(venue: Venue) -> None:
    venue.open_client(1, hkdx=hkd(1_000))

    out = venue.ok(SetMarginAssetHaircut(asset="HKDX", haircut_bps=5_000))

    assert [(e.old_bps, e.new_bps) for e in venue.events_of(MarginAssetHaircutSet, out)] == [(200, 5_000)]
    assert venue.equity_and_requirement(1)[0] == hkd(500)


def test_fx_rate_change_revalues_usd_collateral(venue: Venue) -> None:
    venue.open_client(1, usd=1_000)
    equity_before = venue.equity_and_requirement(1)[0]

    venue.ok(SetFxRate(base="USD", quote="HKD", rate_e8=770_000_000))

    assert (equity_before, venue.equity_and_requirement(1)[0]) == (hkd(7_800), hkd(7_700))


def test_usd_requirement_converts_up_and_usd_values_convert_down_into_hkd(venue: Venue) -> None:
    # FX 7.77777777: long 3 lots of BTCUSD at 95,000.10 (fee 0.142501 USD), reference 94,999.90.
    # requirement 14.249985 USD -> 110.83321663.. HKD, rounded up to 110.833217;
    # wallet 999.857499 USD -> 7,776.66942888.. HKD, rounded down; unrealised -0.000600 USD -> -0.00466666.. HKD,
    # rounded toward -infinity to -0.004667.
    venue.ok(SetFxRate(base="USD", quote="HKD", rate_e8=777_777_777))
    venue.open_client(1, usd=1_000, hkd=10_000)
    venue.open_mm(9, usd=1_000_000)
    venue.cross(9, 1, BTCUSD, BUY, 3, BTC_REF + 10)
    venue.set_ref(BTCUSD, BTC_REF - 10)

    equity, requirement = venue.equity_and_requirement(1)

    assert venue.balance(1, "USD") == usd(1_000) - 142_501
    assert requirement == 110_833_217
    assert equity == hkd(10_000) + 7_776_669_428 - 4_667


def test_unrealised_pnl_at_the_reference_price_counts_in_equity(venue: Venue) -> None:
    venue.open_client(1, hkd=10_000)
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, ONE_ETH, ETH_REF)  # taker fee 13.00 HKD

    venue.set_ref(ETHHKD, 2_700_000)

    assert venue.engine.unrealised_pnl(1, ETHHKD) == hkd(1_000)
    assert venue.equity_and_requirement(1)[0] == hkd(10_000) - hkd(13) + hkd(1_000)


def test_removing_an_issuer_makes_its_stablecoin_count_zero_from_the_next_command(venue: Venue) -> None:
    venue.open_client(1, hkdx=hkd(2_000))
    first = venue.ok(_buy_eth(1))
    venue.cancel(1, ETHHKD, order_id=venue.order_id(first))

    venue.set_issuers()  # ISSUER-A removed from the register snapshot
    rejected = venue.reject(_buy_eth(1), C.INSUFFICIENT_MARGIN)

    assert rejected.detail["available"] == 0


def test_issuer_register_update_lists_the_assets_now_ineligible(venue: Venue) -> None:
    venue.open_client(1, hkdx=hkd(2_000))

    out = venue.set_issuers("ISSUER-B")

    [event] = venue.events_of(IssuerRegisterUpdated, out)
    assert (event.added, event.removed, event.assets_now_ineligible) == (("ISSUER-B",), ("ISSUER-A",), ("HKDX",))


def test_bank_allowlist_update_lists_the_tokenised_deposits_now_ineligible(venue: Venue) -> None:
    venue.open_client(1, tdhkd=hkd(1_000))

    out = venue.ok(SetDepositBankAllowlist(banks=()))

    [event] = venue.events_of(DepositBankAllowlistUpdated, out)
    assert (event.banks, event.assets_now_ineligible) == ((), ("TDHKD",))
    assert venue.equity_and_requirement(1)[0] == 0


def test_adding_an_issuer_makes_its_stablecoin_eligible_margin(venue: Venue) -> None:
    venue.open_client(1)
    venue.reject(Deposit(account=1, asset="HKDY", amount=hkd(100)), C.MARGIN_ASSET_NOT_ELIGIBLE)

    venue.set_issuers("ISSUER-A", "ISSUER-B")
    venue.deposit(1, "HKDY", hkd(100))

    assert venue.equity_and_requirement(1)[0] == hkd(98)


def test_collateral_of_several_assets_is_summed_after_each_haircut(venue: Venue) -> None:
    venue.open_client(1, usd=100, hkd=100, hkdx=hkd(100), tdhkd=hkd(100))

    equity, requirement = venue.equity_and_requirement(1)

    assert (equity, requirement) == (hkd(780) + hkd(100) + hkd(98) + hkd(99), 0)
