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
from harbour.venue.events import GainRealisedAtMark, LiquidationTriggered, LossReported, TransferPosted

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
    lose_beyond_margin,
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
    # long 1 ETH at 26,000 (13.00 HKD fee: 1,287 HKD left), HKDX issuer then removed, so HKDX counts zero.
    # Mark 25,500: margin balance 1,287 - 500 = 787 HKD, above the 637.50 maintenance (2.5%): no liquidation.
    # Closing at 24,300 (band bottom 24,225) owes 1,700 + 12.15 fee, so 425.15 HKD is missing. HKDX is still
    # the client's: it pays at the rate less its 2% haircut, ceil(425,150,000 / 0.98) = 433,826,531 micro-HKDX.
    venue.open_client(1, hkd=1_300, hkdx=hkd(1_000))
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, 1_000, ETH_REF)
    venue.set_issuers()
    venue.set_ref(ETHHKD, 2_550_000)
    insurance_before = venue.balance("INSURANCE_FUND", "HKD")

    venue.cross(9, 1, ETHHKD, SELL, 1_000, 2_430_000, reduce_only=True)

    assert venue.events_of(LiquidationTriggered) == []
    assert venue.balance(1, "HKD") == 0
    assert venue.balance(1, "HKDX") == hkd(1_000) - 433_826_531
    assert venue.balance("INSURANCE_FUND", "HKD") == insurance_before


# --- the shortfall waterfall -----------------------------------------------------------
#
# A loss beyond margin through trading, without a gap (a gap is liquidated at the mark move,
# test_liquidation.py): ``lose_beyond_margin`` leaves 1,092.00 USD per BTC unpaid by the client,
# which settlement's cover path charges to the insurance fund, then platform capital, then DEFICIT.
# HKD->USD is floor(1e16 / 7.8e8) = 12,820,512 e-8, so 8,000 HKD pays 1,025.640960 USD and
# 16,000 HKD pays 2,051.281920 USD.


def _thin_venue() -> Venue:
    """The default genesis with the platform funding at a thousandth of the default: insurance fund
    1,000 USD + 8,000 HKD, operator capital 2,000 USD + 16,000 HKD."""
    v = Venue(platform_funding=False)
    for target, asset, amount in (
        ("INSURANCE_FUND", "USD", usd(1_000)),
        ("INSURANCE_FUND", "HKD", hkd(8_000)),
        ("PLATFORM_CAPITAL", "USD", usd(2_000)),
        ("PLATFORM_CAPITAL", "HKD", hkd(16_000)),
    ):
        v.ok(FundPlatformAccount(target=target, asset=asset, amount=amount))
    return v


def test_shortfall_is_covered_by_the_insurance_fund_first(venue: Venue) -> None:
    # 5,000 USD - 47.50 opening fee = 4,952.50; mark 93,000, closed at 89,000: owes 6,000 + 44.50; shortfall 1,092.00
    lose_beyond_margin(venue)

    assert venue.events_of(LiquidationTriggered) == []
    assert venue.balance(1, "USD") == 0
    assert venue.balance("INSURANCE_FUND", "USD") == usd(1_000_000) - usd(1_092)
    assert venue.balance("INSURANCE_FUND", "HKD") == hkd(8_000_000)
    assert venue.balance("PLATFORM_CAPITAL", "USD") == usd(2_000_000)
    # the maker is paid its 6,000 in full, less its fees 19.00 (opening) and 17.80 (closing)
    assert venue.balance(9, "USD") == usd(50_000_000) + usd(6_000) - 19_000_000 - 17_800_000


def test_insurance_fund_pays_from_its_other_currency_before_platform_capital() -> None:
    # shortfall 1,092.00 = insurance fund 1,000 USD + 92.00 USD from its HKD, converted at the inverse
    # rate 0.12820512 (the fund gives the rounded-up amount of HKD); platform capital is untouched
    venue = _thin_venue()

    lose_beyond_margin(venue)

    hkd_given = -((-92_000_000 * 100_000_000) // 12_820_512)
    assert hkd_given == 717_600_046  # 717.60 HKD at 7.8, plus the rounding of the inverse rate
    assert venue.balance("INSURANCE_FUND", "USD") == 0
    assert venue.balance("INSURANCE_FUND", "HKD") == hkd(8_000) - hkd_given
    assert (venue.balance("PLATFORM_CAPITAL", "USD"), venue.balance("PLATFORM_CAPITAL", "HKD")) == (usd(2_000), hkd(16_000))
    assert venue.balance(1, "USD") == 0


def test_shortfall_beyond_the_insurance_fund_is_covered_by_platform_capital() -> None:
    # 2 BTC: shortfall 2,184.00 = insurance fund 1,000 USD + all its 8,000 HKD (1,025.640960 USD)
    # + platform capital 158.359040 USD; the capital's HKD is not needed
    venue = _thin_venue()

    lose_beyond_margin(venue, 2)

    assert (venue.balance("INSURANCE_FUND", "USD"), venue.balance("INSURANCE_FUND", "HKD")) == (0, 0)
    assert venue.balance("PLATFORM_CAPITAL", "USD") == usd(2_000) - 158_359_040
    assert venue.balance("PLATFORM_CAPITAL", "HKD") == hkd(16_000)
    assert venue.balance("DEFICIT", "USD") == 0
    assert venue.balance(1, "USD") == 0


def test_shortfall_beyond_platform_capital_is_booked_to_deficit() -> None:
    # 6 BTC (one 20x bracket): shortfall 6,552.00 = insurance fund 1,000 + 1,025.640960 USD, platform
    # capital 2,000 + 2,051.281920 USD, and DEFICIT books the last 475.077120 USD
    venue = _thin_venue()
    venue.single_bracket(BTCUSD)

    lose_beyond_margin(venue, 6)

    assert venue.balance("DEFICIT", "USD") == -475_077_120
    assert (venue.balance("INSURANCE_FUND", "USD"), venue.balance("PLATFORM_CAPITAL", "USD")) == (0, 0)
    assert (venue.balance("INSURANCE_FUND", "HKD"), venue.balance("PLATFORM_CAPITAL", "HKD")) == (0, 0)
    assert venue.balance(1, "USD") == 0
    # the profitable counterparty is paid in full: +36,000 less maker fees 114.00 (opening) + 106.80 (closing)
    assert venue.balance(9, "USD") == usd(50_000_000) + usd(36_000) - 114_000_000 - 106_800_000
    assert venue.state.withdrawals_paused()


def _in_deficit() -> Venue:
    """A venue whose empty insurance fund and tranche leave the whole 1,092.00 USD loss to DEFICIT."""
    v = Venue(platform_funding=False)
    drive_into_deficit(v)
    assert v.balance("DEFICIT", "USD") == -usd(1_092)
    return v


def test_deficit_pauses_every_withdrawal() -> None:
    venue = _in_deficit()

    rejected = venue.reject(Withdraw(account=9, asset="USD", amount=usd(1)), C.WITHDRAWALS_PAUSED)

    assert rejected.detail == {}


def test_operator_recapitalising_the_deficit_resumes_withdrawals() -> None:
    venue = _in_deficit()

    venue.ok(FundPlatformAccount(target="DEFICIT", asset="USD", amount=usd(1_092)))

    assert venue.balance("DEFICIT", "USD") == 0
    assert not venue.state.withdrawals_paused()
    venue.ok(Withdraw(account=9, asset="USD", amount=usd(1)))


def test_recapitalisation_larger_than_the_deficit_is_rejected() -> None:
    venue = _in_deficit()

    venue.reject(FundPlatformAccount(target="DEFICIT", asset="USD", amount=usd(1_092) + 10_000), C.INVALID_PARAMETER)


def test_deficit_does_not_stop_deposits() -> None:
    venue = _in_deficit()

    venue.ok(Deposit(account=1, asset="HKD", amount=hkd(10)))

    assert venue.balance(1, "HKD") == hkd(10)


def test_every_ledger_balance_is_the_sum_of_its_posted_transfers(venue: Venue) -> None:
    # a loss beyond margin paid by the insurance fund, then a gap liquidation that converts the
    # defaulter's HKD and deleverages the market maker. Client 2 long 1 BTC at 93,000 (46.50 fee):
    # 953.50 USD x 7.8 + 100,000 HKD = 107,437.30 HKD; at the mark 78,000 it loses 15,000 USD
    # (117,000 HKD), so its margin balance is -9,562.70 HKD = floor(-1,225.98717948 USD) and its
    # bankruptcy price 78,000 + 1,225.987180 = 79,225.98718, rounded up to the tick: 79,226.00.
    lose_beyond_margin(venue)
    venue.open_client(2, usd=1_000, hkd=100_000)
    venue.cross(9, 2, BTCUSD, BUY, ONE_BTC, 9_300_000)
    venue.set_ref(BTCUSD, 7_800_000)

    rebuilt: dict[tuple[str, str], int] = {}
    for transfer in venue.events_of(TransferPosted):
        for account, asset, amount in transfer.postings:
            rebuilt[(str(account), asset)] = rebuilt.get((str(account), asset), 0) + amount
    ledger = {(str(a), s): v for a, wallet in venue.state.ledger.accounts() for s, v in wallet.items() if v}

    assert [(e.account, e.adl) for e in venue.events_of(LossReported)] == [(2, ((9, ONE_BTC, 7_922_600),))]
    assert {k: v for k, v in rebuilt.items() if v} == ledger


# --- known gaps, pinned for the lead -----------------------------------------------------


def _long_btc_hedged_by_a_profitable_eth_short(v: Venue) -> None:
    """Client 1, cross, 10,000 USD: long 1 BTC at 95,000 (47.50 fee) and short 10 ETH at 26,000
    (130 HKD fee, paid by converting ceil(130 / 7.8) = 16.666667 USD): 9,935.833333 USD left. The
    ETH mark falls to 24,700, so the short gains 13,000 HKD (1,666.67 USD at 7.8)."""
    v.open_client(1, usd=10_000)
    v.open_mm(9, usd=50_000_000, hkd=50_000_000)
    v.cross(9, 1, BTCUSD, BUY, ONE_BTC, BTC_REF)
    v.cross(9, 1, ETHHKD, SELL, 10_000, ETH_REF)
    v.set_ref(ETHHKD, 2_470_000)
    assert v.balance(1, "USD") == 9_935_833_333


def test_liquidation_never_draws_the_insurance_fund_while_the_defaulter_keeps_a_profitable_position(venue: Venue) -> None:
    # BTC mark 85,000: margin balance 77,499.499997 HKD (the wallet at 7.8) - 78,000 (BTC) + 13,000 (ETH)
    # = 12,499.499997 HKD < 22,750 maintenance (16,575 BTC + 6,175 ETH): liquidated. The bankruptcy price
    # without gains is 85,000 + 64.166667 -> 85,064.20; the only bid, 84,000, is inside the collar (80,750).
    # The 1 BTC is unwound there: the 11,000 USD loss takes the 9,935.833333 USD wallet, and the
    # 1,064.166667 USD beyond it is paid by the ETH short's gain, realised at the mark: 1,064.166667 /
    # 0.12820512 (HKD->USD) = 8,300.500534 HKD, in whole cost units of 0.00001 HKD 8,300.50054; the
    # 0.000006 HKD over stays with the client. The insurance fund pays nothing.
    _long_btc_hedged_by_a_profitable_eth_short(venue)
    venue.set_ref(BTCUSD, 8_700_000)
    venue.rest(9, BTCUSD, BUY, ONE_BTC, 8_400_000)
    fund_before = venue.balance("INSURANCE_FUND", "USD")

    out = venue.set_ref(BTCUSD, 8_500_000)

    [gain, *_] = venue.events_of(GainRealisedAtMark, out)
    assert (gain.account, gain.instrument, gain.gain, gain.mark) == (1, ETHHKD, 8_300_500_540, 2_470_000)
    [report, *_] = venue.events_of(LossReported, out)
    assert report.layers[:2] == (("DEFAULTER_MARGIN", "USD", 9_935_833_333), ("DEFAULTER_GAINS", "HKD", 8_300_500_540))
    assert [row for row in report.layers if row[0] in ("INSURANCE_FUND", "OPERATOR_TRANCHE", "DEFICIT")] == []
    assert venue.balance("INSURANCE_FUND", "USD") == fund_before


def test_a_loss_beyond_the_wallet_is_paid_from_the_accounts_other_gains_before_the_insurance_fund(venue: Venue) -> None:
    # BTC mark 89,000: margin balance 77,499.499997 - 46,800 + 13,000 = 43,699.499997 HKD, above maintenance.
    # The client sells its BTC at 84,600 (band bottom 84,550): it owes 10,400 + 42.30 fee, 506.466667 USD
    # more than its wallet. The ETH short's gain pays it: 506.466667 / 0.12820512 = 3,950.440256 HKD,
    # 3,950.44026 in whole cost units; the short's cost basis (-260,000 HKD) rises by that much.
    _long_btc_hedged_by_a_profitable_eth_short(venue)
    venue.set_ref(BTCUSD, 8_900_000)
    fund_before = venue.balance("INSURANCE_FUND", "USD")
    eth = venue.engine.state.accounts[1].positions[ETHHKD]
    cost_before = eth.cost

    venue.cross(9, 1, BTCUSD, SELL, ONE_BTC, 8_460_000, reduce_only=True)

    [gain] = venue.events_of(GainRealisedAtMark, venue.last)
    assert (gain.instrument, gain.gain) == (ETHHKD, 3_950_440_260)
    assert eth.cost - cost_before == gain.gain // 10 == 395_044_026
    assert (venue.balance(1, "USD"), venue.balance(1, "HKD")) == (0, 4)
    assert venue.balance("INSURANCE_FUND", "USD") == fund_before


def test_client_cannot_leave_a_loss_to_the_insurance_fund_and_withdraw_its_other_positions_gain(venue: Venue) -> None:
    # As above; then the client buys its ETH back at 24,700, realising what is left of the gain,
    # 13,000 - 3,950.44026 = 9,049.55974 HKD less the 123.50 fee, and withdraws all it holds:
    # 8,926.059744 HKD. The fund never paid, so it is never left short.
    _long_btc_hedged_by_a_profitable_eth_short(venue)
    venue.set_ref(BTCUSD, 8_900_000)
    fund_before = {a: venue.balance("INSURANCE_FUND", a) for a in ("USD", "HKD")}

    venue.cross(9, 1, BTCUSD, SELL, ONE_BTC, 8_460_000, reduce_only=True)
    venue.cross(9, 1, ETHHKD, BUY, 10_000, 2_470_000, reduce_only=True)
    assert venue.balance(1, "HKD") == 8_926_059_744
    venue.do(Withdraw(account=1, asset="HKD", amount=venue.balance(1, "HKD")))

    assert {a: venue.balance("INSURANCE_FUND", a) for a in ("USD", "HKD")} == fund_before


def test_an_isolated_positions_loss_is_never_paid_from_the_accounts_cross_gains(venue: Venue) -> None:
    # An isolated position can lose its isolated wallet and no more, so its shortfall goes to the
    # insurance fund even while the account's cross ETH short holds a 13,000 HKD gain: that gain,
    # and the cross wallet, stay the client's. The isolated BTC long is lose_beyond_margin's:
    # 5,000 USD isolated, bought at 95,000, sold at 89,000 after the mark fell to 93,000, so
    # 1,092.00 USD is missing (6,000 loss + 44.50 fee - 4,952.50).
    venue.open_client(1, usd=15_000)
    venue.open_mm(9, usd=50_000_000, hkd=50_000_000)
    venue.set_isolated(1, BTCUSD)
    venue.move_isolated(1, BTCUSD, usd(5_000))
    venue.cross(9, 1, BTCUSD, BUY, ONE_BTC, BTC_REF)
    venue.cross(9, 1, ETHHKD, SELL, 10_000, ETH_REF)
    venue.set_ref(ETHHKD, 2_470_000)
    venue.set_ref(BTCUSD, 9_300_000)
    eth_cost = venue.state.accounts[1].positions[ETHHKD].cost
    cross_usd = venue.balance(1, "USD")
    fund_before = venue.balance("INSURANCE_FUND", "USD")

    venue.cross(9, 1, BTCUSD, SELL, ONE_BTC, 8_900_000, reduce_only=True)

    assert venue.events_of(GainRealisedAtMark, venue.last) == []
    assert venue.state.accounts[1].positions[ETHHKD].cost == eth_cost
    assert venue.balance(1, "USD") == cross_usd
    assert venue.balance("INSURANCE_FUND", "USD") == fund_before - usd(1_092)
