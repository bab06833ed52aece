"""margin-financing.md §2.2, the worked examples, with house defaults and exact numbers.

Pure-VA client: BTC worth 1,000,000 HKD, 400,000 borrowed to buy more: BTC 1,400,000,
MV 560,000, R 71%. The BTC price starts at 100,000 HKD for 14 BTC.
"""

from __future__ import annotations

from fractions import Fraction

from harbour.broker.events import (
    CollateralSold,
    ForcedSaleCompleted,
    ForcedSaleStarted,
    MarginCallIssued,
    MarginWarningIssued,
)
from harbour.kernel.money import MICRO

from .helpers import BTC_100K, Broker, coins, hkd


def _btc_after_fall(percent_down: int) -> int:
    return BTC_100K * (100 - percent_down) // 100


def test_pure_va_client_after_borrowing_has_ratio_71_percent() -> None:
    b = Broker()

    b.pure_va_client(1)

    fig = b.figures(1)
    assert (fig.loan, fig.market_value, fig.margin_value) == (hkd(400_000), hkd(1_400_000), hkd(560_000))
    assert fig.ratio_bps == 7_143  # 71.43%, rounded up
    assert fig.margin_value_frr == 0 and fig.ratio_frr_bps is None  # V4: VA counts zero for capital


def test_pure_va_client_btc_down_23_percent_is_warned_at_93_percent() -> None:
    b = Broker()
    b.pure_va_client(1)

    out = b.mark_va("BTC", _btc_after_fall(23))

    [warning] = b.events_of(MarginWarningIssued, out)
    assert warning.figures.margin_value == hkd(431_200)
    assert warning.figures.ratio_bps == 9_277  # 92.76% -> "about 93%"
    assert b.events_of(MarginCallIssued, out) == []


def test_pure_va_client_btc_down_30_percent_is_called_at_102_percent_va_driven() -> None:
    b = Broker()
    b.pure_va_client(1)

    out = b.mark_va("BTC", _btc_after_fall(30))

    [call] = b.events_of(MarginCallIssued, out)
    assert call.figures.ratio_bps == 10_205  # 102.04%
    assert call.cause == "VIRTUAL_ASSET"
    assert call.shortfall == hkd(400_000) - hkd(392_000)
    assert [p.price for p in call.prices] == [_btc_after_fall(30)]
    assert b.events_of(ForcedSaleStarted, out) == []


def test_pure_va_client_btc_down_exactly_45_percent_is_just_below_the_130_percent_line() -> None:
    # The note rounds this to "R about 130% (immediate sale)"; exactly, R = 129.87% < 130%,
    # so the client is in call but not yet at the forced-sale line.
    b = Broker()
    b.pure_va_client(1)

    out = b.mark_va("BTC", _btc_after_fall(45))

    [call] = b.events_of(MarginCallIssued, out)
    assert call.figures.ratio_bps == 12_988
    assert b.events_of(ForcedSaleStarted, out) == []


def test_pure_va_client_at_130_percent_sells_about_193800_to_restore_90_percent() -> None:
    # BTC at 54,945.054 HKD: 14 BTC are worth 769,230.756 HKD and R = 130.0000% (the
    # point the note's figures are computed at, a fall of 45.05%).
    b = Broker()
    b.pure_va_client(1)
    price = 54_945_054_000

    out = b.mark_va("BTC", price)

    [started] = b.events_of(ForcedSaleStarted, out)
    assert started.trigger == "RATIO_AT_FORCED_SALE_LINE"
    assert started.figures.margin_value == 307_692_302_400
    [sale] = b.events_of(CollateralSold, out)
    [done] = b.events_of(ForcedSaleCompleted, out)
    # closed form, exactly: x = (L - R* MV) / ((1 - c) - R* m)
    x = (Fraction(hkd(400_000)) - Fraction(9, 10) * started.figures.margin_value) / (Fraction(995, 1000) - Fraction(9, 10) * Fraction(4, 10))
    assert sale.gross >= x and sale.gross - x < Fraction(price, 10**8) + 1  # at most one sat over
    assert round(sale.gross / MICRO, -2) == 193_800
    assert round(done.figures.loan / MICRO, -2) == 207_100
    assert round(done.figures.margin_value / MICRO, -2) == 230_200
    assert done.target_reached and done.figures.ratio_bps == 9_000
    assert 2_500 <= sale.qty * 10_000 // coins(14) < 2_600  # about 25% of the holding
    assert sale.cost == -(-sale.gross * 50 // 10_000)


def test_pure_va_client_loses_money_only_after_a_71_percent_fall_without_a_sale() -> None:
    b = Broker()
    b.pure_va_client(1)

    equity_at = {fall: hkd(1_400_000) * (100 - fall) // 100 - hkd(400_000) for fall in (71, 72)}

    assert equity_at[71] > 0 > equity_at[72]


def test_mixed_client_ratio_47_percent_and_59_percent_after_stock_down_15_btc_down_50() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.list_security("0005", 7_000, hkd(100))
    b.onboard(2)
    b.deposit_shares(2, "0005", 10_000)
    b.buy(2, "BTC", coins(4), BTC_100K)
    assert b.figures(2).ratio_bps == 4_652  # 46.51%

    b.mark_security("0005", hkd(85))
    out = b.mark_va("BTC", BTC_100K // 2)

    fig = b.figures(2)
    assert fig.margin_value == hkd(595_000) + hkd(80_000)
    assert fig.ratio_bps == 5_926  # 59.26%: no call
    assert b.events_of(MarginCallIssued) == [] and b.events_of(MarginWarningIssued, out) == []
