"""Liquidation and the published loss waterfall, on hand-worked books.

ETHHKD (default genesis): prices in HKD cents (tick 0.10 HKD), quantities in 0.001 ETH,
HKD is also the risk currency, so no FX enters these numbers. First bracket: 20x,
maintenance 2.5%. Taker fee 0.05%, maker fee 0.02%, liquidation fee 0.5%.

Client 1 buys 1 ETH at 26,000 with 2,000 HKD: it pays a 13 HKD taker fee, so its wallet
is 1,987 HKD. At a mark of 24,600 its margin balance is 1,987 - 1,400 = 587 HKD, below
its maintenance 2.5% x 24,600 = 615 HKD, so it is liquidated. Its bankruptcy price is
24,600 - 587 = 24,013.00 HKD.
"""

from __future__ import annotations

from harbour.venue import default_genesis
from harbour.venue.commands import FundPlatformAccount
from harbour.venue.events import AutoDeleveraged, LiquidationStepped, LiquidationTriggered, LossReported
from harbour.venue.liquidation import WATERFALL, adl_queue, liquidation_price

from venue.helpers import BTCUSD, BUY, ETH_REF, ETHHKD, SELL, Venue, hkd

ONE_ETH = 1_000
MARK = 2_460_000  # 24,600.00 HKD
NEAR = 2_470_000  # 24,700.00: balance 687 >= maintenance 617.50, and bids down to 23,465 fit its price band


def long_one_eth(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, ONE_ETH, ETH_REF)
    assert venue.balance(1, "HKD") == hkd(1_987)


def report(venue: Venue) -> LossReported:
    (found,) = venue.events_of(LossReported, venue.last)
    return found


def test_published_waterfall_order_is_margin_fund_tranche_then_adl() -> None:
    assert WATERFALL == ("DEFAULTER_MARGIN", "INSURANCE_FUND", "OPERATOR_TRANCHE", "AUTO_DELEVERAGING")


def test_an_account_above_maintenance_is_not_liquidated(venue: Venue) -> None:
    long_one_eth(venue)
    venue.set_ref(ETHHKD, 2_470_000)  # balance 687 >= maintenance 617.5

    assert venue.events_of(LiquidationTriggered, venue.last) == []
    assert venue.position(1, ETHHKD) == ONE_ETH


def test_liquidation_closes_in_the_book_no_worse_than_the_bankruptcy_price_and_pays_the_fee_to_the_fund(venue: Venue) -> None:
    long_one_eth(venue)
    venue.set_ref(ETHHKD, NEAR)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_450_000)  # a bid at 24,500
    fund_before = venue.balance("INSURANCE_FUND", "HKD")

    venue.set_ref(ETHHKD, MARK)

    (triggered,) = venue.events_of(LiquidationTriggered, venue.last)
    assert (triggered.margin_balance, triggered.maintenance) == (hkd(587), hkd(615))
    (step,) = venue.events_of(LiquidationStepped, venue.last)
    assert (step.bankruptcy_price, step.book_qty, step.backstop_qty, step.adl_qty) == (2_401_300, ONE_ETH, 0, 0)
    # sold at 24,500: loss 1,500; fee 0.5% x 24,500 = 122.50 HKD, no taker fee
    assert step.liquidation_fee == hkd(122) + 500_000
    assert venue.position(1, ETHHKD) == 0
    assert venue.balance(1, "HKD") == hkd(1_987 - 1_500 - 122) - 500_000
    assert venue.balance("INSURANCE_FUND", "HKD") == fund_before + hkd(122) + 500_000
    assert report(venue).layers == (("DEFAULTER_MARGIN", "HKD", hkd(1_622) + 500_000), ("LIQUIDATION_FEE", "HKD", hkd(122) + 500_000))


def test_what_the_book_cannot_absorb_at_the_bankruptcy_price_is_paid_by_the_insurance_fund(venue: Venue) -> None:
    long_one_eth(venue)
    venue.set_ref(ETHHKD, NEAR)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_350_000)  # only a bid at 23,500, below the bankruptcy price
    fund_before = venue.balance("INSURANCE_FUND", "HKD")

    venue.set_ref(ETHHKD, MARK)

    (step,) = venue.events_of(LiquidationStepped, venue.last)
    assert (step.book_qty, step.backstop_qty, step.adl_qty, step.liquidation_fee) == (0, ONE_ETH, 0, 0)
    # sold at 23,500: loss 2,500 HKD; the client's 1,987 first, the fund the other 513
    assert venue.balance(1, "HKD") == 0
    assert venue.balance("INSURANCE_FUND", "HKD") == fund_before - hkd(513)
    assert report(venue).layers == (("DEFAULTER_MARGIN", "HKD", hkd(1_987)), ("INSURANCE_FUND", "HKD", hkd(513)))


def venue_with_layers(fund_hkd: int, tranche_hkd: int) -> Venue:
    """The default genesis with small HKD-only insurance fund and tranche (whole HKD)."""
    venue = Venue(genesis=False)
    for command in default_genesis():
        if isinstance(command, FundPlatformAccount):
            continue
        venue.ok(command)
    venue.ok(FundPlatformAccount(target="INSURANCE_FUND", asset="HKD", amount=hkd(fund_hkd)))
    venue.ok(FundPlatformAccount(target="PLATFORM_CAPITAL", asset="HKD", amount=hkd(tranche_hkd)))
    return venue


def test_the_tranche_pays_only_after_the_insurance_fund_is_exhausted() -> None:
    venue = venue_with_layers(300, 300)
    long_one_eth(venue)
    venue.set_ref(ETHHKD, NEAR)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_350_000)

    venue.set_ref(ETHHKD, MARK)

    # loss 2,500 HKD: the client's 1,987, the fund's 300, the tranche's 213
    assert report(venue).layers == (
        ("DEFAULTER_MARGIN", "HKD", hkd(1_987)),
        ("INSURANCE_FUND", "HKD", hkd(300)),
        ("OPERATOR_TRANCHE", "HKD", hkd(213)),
    )
    assert venue.balance("INSURANCE_FUND", "HKD") == 0


def test_deleveraging_starts_only_when_the_fund_and_tranche_cannot_pay_for_one_more_unit() -> None:
    venue = venue_with_layers(100, 100)
    long_one_eth(venue)
    venue.set_ref(ETHHKD, NEAR)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_350_000)

    venue.set_ref(ETHHKD, MARK)

    (step,) = venue.events_of(LiquidationStepped, venue.last)
    assert step.backstop_qty + step.adl_qty == ONE_ETH and step.adl_qty > 0
    left = venue.balance("INSURANCE_FUND", "HKD") + venue.balance("PLATFORM_CAPITAL", "HKD")
    # what is left of both layers cannot pay the loss of one more 0.001 ETH sold at 23,500
    per_unit_loss = (step.bankruptcy_price - 2_350_000) * 10
    assert 0 <= left < per_unit_loss
    assert venue.balance("DEFICIT", "HKD") == 0
    layers = [layer for layer, _, _ in report(venue).layers]
    assert layers == sorted(layers, key=["DEFAULTER_MARGIN", "LIQUIDATION_FEE", "INSURANCE_FUND", "OPERATOR_TRANCHE"].index)


def test_with_no_liquidity_the_rest_is_deleveraged_against_the_highest_ranked_opposite_position(venue: Venue) -> None:
    long_one_eth(venue)  # client 1 long against MM 9 short, both at 26,000
    venue.open_client(2, hkd=100_000)
    venue.open_client(3, hkd=2_000)
    venue.cross(3, 2, ETHHKD, BUY, ONE_ETH, ETH_REF)  # client 3 short 1 ETH at 26,000 on 2,000 HKD
    venue.open_client(4, hkd=50_000)  # no position
    fund_before = venue.balance("INSURANCE_FUND", "HKD")
    flat_before = venue.balance(4, "HKD")
    mm_before = venue.balance(9, "HKD")
    # both shorts gain 1,400 at 24,600; client 3 is far more leveraged than the MM, so it ranks first
    queue = [account for account, _ in adl_queue(venue.state, ETHHKD, side_long=False)]
    venue.set_ref(ETHHKD, MARK)
    assert queue[0] == 3

    (adl,) = venue.events_of(AutoDeleveraged, venue.last)
    assert (adl.counterparty, adl.qty, adl.price, adl.rank) == (3, ONE_ETH, 2_401_300, 1)
    # client 3 closes its short at 24,013 instead of 26,000: +1,987 HKD; client 1 gives its whole wallet
    assert adl.counterparty_realised_pnl == hkd(1_987)
    assert venue.balance(1, "HKD") == 0
    assert venue.position(3, ETHHKD) == 0
    assert venue.balance("INSURANCE_FUND", "HKD") == fund_before
    assert venue.balance(9, "HKD") == mm_before  # the MM ranked below client 3 and was not needed
    assert venue.balance(4, "HKD") == flat_before  # an account with no position never pays
    assert report(venue).adl == ((3, ONE_ETH, 2_401_300),)


def test_the_liquidation_price_is_the_mark_at_which_the_engine_acts(venue: Venue) -> None:
    long_one_eth(venue)
    venue.set_ref(ETHHKD, NEAR)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_350_000)
    price = liquidation_price(venue.state, 1, ETHHKD)
    assert price is not None
    tick = venue.state.instruments[ETHHKD].tick

    venue.set_ref(ETHHKD, price + tick)
    assert venue.events_of(LiquidationTriggered, venue.last) == []
    venue.set_ref(ETHHKD, price)
    assert len(venue.events_of(LiquidationTriggered, venue.last)) == 1


def test_a_short_has_a_liquidation_price_above_the_mark_and_a_fully_collateralised_long_has_none(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    venue.open_client(2, hkd=60_000)
    venue.cross(1, 2, ETHHKD, BUY, ONE_ETH, ETH_REF)  # client 2 long, client 1 short

    assert liquidation_price(venue.state, 1, ETHHKD) > ETH_REF  # type: ignore[operator]
    assert liquidation_price(venue.state, 2, ETHHKD) is None  # 60,000 HKD behind 1 ETH: no price liquidates it


def test_a_large_position_is_reduced_in_steps_toward_the_lower_bracket_and_stops_when_compliant(venue: Venue) -> None:
    # long 10 BTC at 95,000 = 950,000 USD: second bracket (10x, maintenance 5% - 6,250)
    venue.open_client(1, usd=100_000)
    venue.open_mm(9, usd=50_000_000)
    venue.cross(9, 1, BTCUSD, BUY, 10_000, 9_500_000)
    venue.set_ref(BTCUSD, 9_000_000)  # balance 49,525 >= maintenance 38,750: not yet
    venue.rest(9, BTCUSD, BUY, 20_000, 8_600_000)
    # mark 86,000: balance 100,000 - 475 - 90,000 = 9,525 USD < maintenance 860,000 x 5% - 6,250 = 36,750
    venue.set_ref(BTCUSD, 8_600_000)

    steps = venue.events_of(LiquidationStepped, venue.last)
    # one step down to the first bracket's cap: 250,000 USD / 86,000 = 2.906 BTC kept, 7.094 BTC sold
    assert [(s.qty, s.book_qty) for s in steps] == [(7_094, 7_094)]
    assert venue.position(1, BTCUSD) == 2_906
    (triggered,) = venue.events_of(LiquidationTriggered, venue.last)
    assert triggered.account == 1


def test_the_loss_report_names_who_what_and_each_layer(venue: Venue) -> None:
    long_one_eth(venue)
    venue.set_ref(ETHHKD, NEAR)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_350_000)
    venue.set_ref(ETHHKD, MARK)

    loss = report(venue)
    assert (loss.account, loss.scope, loss.closed) == (1, "", ((ETHHKD, ONE_ETH),))
    assert [layer for layer, _, _ in loss.layers] == ["DEFAULTER_MARGIN", "INSURANCE_FUND"]
    assert SELL  # the defaulter sold (it was long)
