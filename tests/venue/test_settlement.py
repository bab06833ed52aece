"""Trade settlement: fees (charged round up, rebates round down), exact realised PnL,
conversion of other eligible assets, and the shortfall waterfall insurance fund ->
platform capital -> DEFICIT (which pauses withdrawals). Every balance change is a
balanced TransferPosted, and no participant balance is ever negative.

BTCUSD: price unit 0.01 USD, quantity unit 0.001 BTC, so price x qty x 10 is the
notional in micro-USD; taker fee 500 ppm, maker fee 200 ppm.
"""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import Deposit, FundPlatformAccount, Withdraw
from harbour.venue.events import TransferPosted

from venue.helpers import (
    BTC_REF,
    BTCUSD,
    BUY,
    ETH_REF,
    ETHHKD,
    SELL,
    Venue,
    drive_into_deficit,
    hkd,
    instrument_spec,
    usd,
)

C = RejectCode
ONE_BTC = 1_000


def _pair(v: Venue, usd_each: int = 1_000_000) -> None:
    v.open_client(1, usd=usd_each)
    v.open_client(2, usd=usd_each)


# --- fees ------------------------------------------------------------------------------


def test_taker_and_maker_fees_round_up_to_the_micro_unit(venue: Venue) -> None:
    # notional 95,000.10 x 0.001 = 95.0001 USD; taker 0.05% = 47,500.05 micro -> 47,501; maker 0.02% = 19,000.02 -> 19,001
    _pair(venue)

    trade = venue.cross(1, 2, BTCUSD, BUY, 1, BTC_REF + 10)

    assert (trade.taker_fee, trade.maker_fee) == (47_501, 19_001)
    assert venue.balance(2, "USD") == usd(1_000_000) - 47_501
    assert venue.balance(1, "USD") == usd(1_000_000) - 19_001
    assert venue.balance("FEE_INCOME", "USD") == 47_501 + 19_001


def test_maker_rebate_rounds_down_and_the_taker_fee_pays_for_it(venue: Venue) -> None:
    # BTCHKD with a 0.01% maker rebate: notional 741,000.10 x 0.001 = 741.0001 HKD;
    # taker 0.05% = 370,500.05 micro -> 370,501; rebate 0.01% = 74,100.01 micro -> 74,100
    venue.ok(instrument_spec(maker_fee_ppm=-100, taker_fee_ppm=500))
    venue.set_ref("BTCHKD", 74_100_000)
    venue.open_client(1, hkd=1_000_000)
    venue.open_client(2, hkd=1_000_000)

    trade = venue.cross(1, 2, "BTCHKD", BUY, 1, 74_100_010)

    assert (trade.taker_fee, trade.maker_fee) == (370_501, -74_100)
    assert venue.balance(1, "HKD") == hkd(1_000_000) + 74_100
    assert venue.balance("FEE_INCOME", "HKD") == 370_501 - 74_100


def test_trade_settlement_is_one_balanced_transfer_referencing_the_trade(venue: Venue) -> None:
    _pair(venue)

    venue.cross(1, 2, BTCUSD, BUY, 1, BTC_REF)

    [transfer] = venue.events_of(TransferPosted, venue.last)
    trade = venue.trades(venue.last)[0]
    assert (transfer.kind, transfer.reference) == ("TRADE_SETTLEMENT", f"trade:{trade.trade_id}")
    assert sum(amount for _, _, amount in transfer.postings) == 0


# --- realised PnL ----------------------------------------------------------------------


def test_round_trip_realises_the_price_difference_exactly(venue: Venue) -> None:
    # long 1 BTC at 95,000.00, sold at 96,000.00: +1,000.000000 USD
    _pair(venue)
    venue.cross(1, 2, BTCUSD, BUY, ONE_BTC, BTC_REF)

    trade = venue.cross(1, 2, BTCUSD, SELL, ONE_BTC, 9_600_000)

    assert (trade.taker_realised_pnl, trade.maker_realised_pnl) == (usd(1_000), -usd(1_000))
    assert venue.position(2, BTCUSD) == 0


def _three_lots(v: Venue, taker_side: object) -> None:
    """Account 2 takes 3 lots at 95,000.00, 95,000.00 and 95,000.10 (cost 28,500,010 price x qty)."""
    for price in (BTC_REF, BTC_REF, BTC_REF + 10):
        v.cross(1, 2, BTCUSD, taker_side, 1, price)  # type: ignore[arg-type]


def test_partial_close_of_a_long_rounds_realised_pnl_down(venue: Venue) -> None:
    # long 3 lots at average 95,000.0333..; selling 1 at 95,000.00 realises exactly -33.33 micro-USD,
    # rounded down to -40 (the cost removed rounds up to 9,500,004 price units x 1 lot)
    _pair(venue)
    _three_lots(venue, BUY)

    trade = venue.cross(1, 2, BTCUSD, SELL, 1, BTC_REF)

    assert trade.taker_realised_pnl == -40


def test_partial_close_of_a_short_rounds_realised_pnl_down(venue: Venue) -> None:
    # short 3 lots at average 95,000.0333..; buying 1 back at 95,000.00 realises exactly +33.33 micro-USD,
    # which must round down (platform's favour, decision D4) to +30, never up to +40
    _pair(venue)
    _three_lots(venue, SELL)

    trade = venue.cross(1, 2, BTCUSD, BUY, 1, BTC_REF)

    assert trade.taker_realised_pnl == 30


def test_flat_account_lifetime_realised_pnl_equals_its_trading_cash_flows_exactly(venue: Venue) -> None:
    _pair(venue)
    legs = [(BUY, 3, BTC_REF + 10), (BUY, 4, BTC_REF + 30), (SELL, 5, BTC_REF + 50), (BUY, 1, BTC_REF - 70), (SELL, 3, BTC_REF)]
    trades = [venue.cross(1, 2, BTCUSD, side, qty, price) for side, qty, price in legs]

    realised = sum(t.taker_realised_pnl for t in trades)
    cash_flow = sum((qty * price if side is SELL else -qty * price) * 10 for side, qty, price in legs)

    assert venue.position(2, BTCUSD) == 0
    assert realised == cash_flow
    assert sum(t.maker_realised_pnl for t in trades) == -cash_flow


def test_flipping_a_position_realises_the_closed_part_and_opens_the_rest_at_the_trade_price(venue: Venue) -> None:
    _pair(venue)
    venue.cross(1, 2, BTCUSD, BUY, 2, BTC_REF)

    trade = venue.cross(1, 2, BTCUSD, SELL, 5, BTC_REF + 1_000)
    venue.set_ref(BTCUSD, BTC_REF + 1_000)

    assert trade.taker_realised_pnl == 2 * 1_000 * 10
    assert venue.position(2, BTCUSD) == -3
    assert venue.engine.unrealised_pnl(2, BTCUSD) == 0


# --- paying a loss: settlement asset, then conversion ----------------------------------


def test_loss_beyond_the_settlement_asset_is_paid_by_converting_other_eligible_assets(venue: Venue) -> None:
    # USD left after the opening fee: 952.50. Closing loss 4,000 + fee 45.50 = 4,045.50, so 3,093.00 USD
    # is missing. HKD->USD is floor(1e16 / 7.8e8) = 12,820,512 e-8; the client gives the rounded-up
    # ceil(3,093,000,000 x 1e8 / 12,820,512) = 24,125,401,545 micro-HKD.
    venue.open_client(1, usd=1_000, hkd=100_000)
    venue.open_mm(9, usd=50_000_000)
    venue.cross(9, 1, BTCUSD, BUY, ONE_BTC, BTC_REF)
    venue.set_ref(BTCUSD, 9_100_000)
    insurance_before = venue.balance("INSURANCE_FUND", "USD")

    venue.cross(9, 1, BTCUSD, SELL, ONE_BTC, 9_100_000)

    assert venue.balance(1, "USD") == 0
    assert venue.balance(1, "HKD") == hkd(100_000) - 24_125_401_545
    assert venue.balance("FX_CONVERSION", "HKD") == 24_125_401_545
    assert venue.balance("FX_CONVERSION", "USD") == -usd(3_093)
    assert venue.balance("INSURANCE_FUND", "USD") == insurance_before


def test_conversion_takes_same_currency_assets_first_tokenised_deposits_before_stablecoins(venue: Venue) -> None:
    # ETHHKD: opening fee 13.00 HKD comes from TDHKD; closing at 25,000 owes 1,000 + 12.50:
    # 987.00 from the rest of TDHKD, 25.50 from HKDX; USD (another currency) is untouched.
    venue.open_client(1, usd=1_000, hkdx=hkd(1_000), tdhkd=hkd(1_000))
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, 1_000, ETH_REF)
    venue.set_ref(ETHHKD, 2_500_000)

    venue.cross(9, 1, ETHHKD, SELL, 1_000, 2_500_000)

    assert (venue.balance(1, "TDHKD"), venue.balance(1, "HKDX"), venue.balance(1, "USD")) == (
        0,
        hkd(1_000) - 25_500_000,
        usd(1_000),
    )
    assert venue.balance("FX_CONVERSION", "HKD") == -hkd(1_000) - 25_500_000


def test_no_longer_eligible_stablecoin_pays_its_owners_loss_at_its_haircut_before_the_insurance_fund(venue: Venue) -> None:
    # long 1 ETH at 26,000 (13.00 HKD fee: 1,287 HKD left), HKDX issuer then removed; closing at 24,000
    # owes 2,000 + 12.00, so 725.00 HKD is missing. HKDX no longer counts as margin but is still the
    # client's: it pays at the rate less its 2% haircut, ceil(725,000,000 / 0.98) = 739,795,919 micro-HKDX.
    venue.open_client(1, hkd=1_300, hkdx=hkd(1_000))
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, 1_000, ETH_REF)
    venue.set_issuers()
    venue.set_ref(ETHHKD, 2_400_000)
    insurance_before = venue.balance("INSURANCE_FUND", "HKD")

    venue.cross(9, 1, ETHHKD, SELL, 1_000, 2_400_000)

    assert venue.balance(1, "HKD") == 0
    assert venue.balance(1, "HKDX") == hkd(1_000) - 739_795_919
    assert venue.balance("INSURANCE_FUND", "HKD") == insurance_before


# --- the shortfall waterfall -----------------------------------------------------------


def test_shortfall_is_covered_by_the_insurance_fund_first(venue: Venue) -> None:
    # 5,000 USD - 47.50 opening fee = 4,952.50; closing at 89,000 owes 6,000 + 44.50; shortfall 1,092.00
    venue.open_client(1, usd=5_000)
    venue.open_mm(9, usd=50_000_000)
    venue.cross(9, 1, BTCUSD, BUY, ONE_BTC, BTC_REF)
    venue.set_ref(BTCUSD, 8_900_000)
    mm_before = venue.balance(9, "USD")

    venue.cross(9, 1, BTCUSD, SELL, ONE_BTC, 8_900_000)

    assert venue.balance(1, "USD") == 0
    assert venue.balance("INSURANCE_FUND", "USD") == usd(1_000_000) - usd(1_092)
    assert venue.balance("PLATFORM_CAPITAL", "USD") == usd(2_000_000)
    assert venue.balance(9, "USD") - mm_before == usd(6_000) - 17_800_000  # maker is paid in full, less its fee


def test_insurance_fund_pays_from_its_other_currency_before_platform_capital(venue: Venue) -> None:
    # long 100 BTC with 600,000 USD (595,250 after fee); closing at 70,000 owes 2,500,000 + 3,500:
    # shortfall 1,908,250 = insurance fund 1,000,000 USD + 908,250 USD from its HKD, converted at
    # the inverse rate 0.12820512 (the fund gives the rounded-up amount of HKD)
    venue.open_client(1, usd=600_000)
    venue.open_mm(9, usd=50_000_000)
    venue.cross(9, 1, BTCUSD, BUY, 100_000, BTC_REF)
    venue.set_ref(BTCUSD, 7_000_000)

    venue.cross(9, 1, BTCUSD, SELL, 100_000, 7_000_000)

    hkd_given = -((-908_250_000_000 * 100_000_000) // 12_820_512)
    assert venue.balance("INSURANCE_FUND", "USD") == 0
    assert venue.balance("INSURANCE_FUND", "HKD") == hkd(8_000_000) - hkd_given
    assert venue.balance("PLATFORM_CAPITAL", "USD") == usd(2_000_000)
    assert venue.balance(1, "USD") == 0


def test_shortfall_beyond_the_insurance_fund_is_covered_by_platform_capital(venue: Venue) -> None:
    # long 100 BTC with 600,000 USD (595,250 after fee); closing at 60,000 owes 3,500,000 + 3,000:
    # shortfall 2,907,750 = insurance fund 1,000,000 USD + all its 8,000,000 HKD (1,025,640.96 USD)
    # + platform capital 882,109.04 USD
    venue.open_client(1, usd=600_000)
    venue.open_mm(9, usd=50_000_000)
    venue.cross(9, 1, BTCUSD, BUY, 100_000, BTC_REF)
    venue.set_ref(BTCUSD, 6_000_000)

    venue.cross(9, 1, BTCUSD, SELL, 100_000, 6_000_000)

    assert (venue.balance("INSURANCE_FUND", "USD"), venue.balance("INSURANCE_FUND", "HKD")) == (0, 0)
    assert venue.balance("PLATFORM_CAPITAL", "USD") == usd(2_000_000) - 882_109_040_000
    assert venue.balance("PLATFORM_CAPITAL", "HKD") == hkd(16_000_000)
    assert venue.balance("DEFICIT", "USD") == 0
    assert venue.balance(1, "USD") == 0


def test_shortfall_beyond_platform_capital_is_booked_to_deficit(venue: Venue) -> None:
    drive_into_deficit(venue)

    assert venue.balance("DEFICIT", "USD") == -1_937_577_120_000
    assert (venue.balance("INSURANCE_FUND", "USD"), venue.balance("PLATFORM_CAPITAL", "USD")) == (0, 0)
    assert (venue.balance("INSURANCE_FUND", "HKD"), venue.balance("PLATFORM_CAPITAL", "HKD")) == (0, 0)
    assert venue.balance(1, "USD") == 0
    # the profitable counterparty is paid in full: +9,000,000 less maker fees 3,800 + 2,000
    assert venue.balance(9, "USD") == usd(50_000_000) + usd(9_000_000) - usd(3_800) - usd(2_000)


def test_deficit_pauses_every_withdrawal(venue: Venue) -> None:
    drive_into_deficit(venue)

    rejected = venue.reject(Withdraw(account=9, asset="USD", amount=usd(1)), C.WITHDRAWALS_PAUSED)

    assert rejected.detail == {}


def test_operator_recapitalising_the_deficit_resumes_withdrawals(venue: Venue) -> None:
    drive_into_deficit(venue)

    venue.ok(FundPlatformAccount(target="DEFICIT", asset="USD", amount=1_937_577_120_000))

    assert venue.balance("DEFICIT", "USD") == 0
    assert not venue.state.withdrawals_paused()
    venue.ok(Withdraw(account=9, asset="USD", amount=usd(1)))


def test_recapitalisation_larger_than_the_deficit_is_rejected(venue: Venue) -> None:
    drive_into_deficit(venue)

    venue.reject(FundPlatformAccount(target="DEFICIT", asset="USD", amount=1_937_577_130_000), C.INVALID_PARAMETER)


def test_deficit_does_not_stop_deposits(venue: Venue) -> None:
    drive_into_deficit(venue)

    venue.ok(Deposit(account=1, asset="HKD", amount=hkd(10)))

    assert venue.balance(1, "HKD") == hkd(10)


def test_every_ledger_balance_is_the_sum_of_its_posted_transfers(venue: Venue) -> None:
    venue.open_client(1, usd=1_000, hkd=100_000)
    venue.open_mm(9, usd=50_000_000)
    venue.cross(9, 1, BTCUSD, BUY, ONE_BTC, BTC_REF)
    venue.set_ref(BTCUSD, 8_000_000)
    venue.cross(9, 1, BTCUSD, SELL, ONE_BTC, 8_000_000)

    rebuilt: dict[tuple[str, str], int] = {}
    for transfer in venue.events_of(TransferPosted):
        for account, asset, amount in transfer.postings:
            rebuilt[(str(account), asset)] = rebuilt.get((str(account), asset), 0) + amount
    ledger = {(str(a), s): v for a, wallet in venue.state.ledger.accounts() for s, v in wallet.items() if v}

    assert {k: v for k, v in rebuilt.items() if v} == ledger
