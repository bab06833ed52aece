"""Warning, call, deadline, forced sale and bad debt (M2-M8), as the rules table states them."""

from __future__ import annotations

from harbour.broker import BrokerConfig
from harbour.broker.commands import (
    BuyVirtualAsset,
    ConfigureBroker,
    ReviewMargins,
    SetExchangeSession,
    WithdrawCash,
    WithdrawSecurities,
    WithdrawVirtualAsset,
)
from harbour.broker.deadlines import DAY_NS, call_deadline_ns
from harbour.broker.events import (
    BadDebtBooked,
    CollateralSold,
    ForcedSaleCompleted,
    ForcedSaleStarted,
    MarginCallIssued,
    MarginCallMet,
    MarginWarningCleared,
    MarginWarningIssued,
)
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, HOUR_NS, T0, Broker, coins, hkd

C = RejectCode


def _pure_va_client_in_call(b: Broker) -> MarginCallIssued:
    b.pure_va_client(1)
    out = b.mark_va("BTC", BTC_100K * 70 // 100)  # R = 102%
    [call] = b.events_of(MarginCallIssued, out)
    return call


def _two_asset_client(b: Broker) -> None:
    """Stock with a 30% ratio (100,000) and 1.5 BTC, 50,000 borrowed; then BTC falls to 25,000: R = 111%."""
    b.mark_va("BTC", BTC_100K)
    b.list_security("0002", 3_000, hkd(10))
    b.onboard(1)
    b.deposit_shares(1, "0002", 10_000)
    b.deposit_va(1, "BTC", coins(1))
    b.buy(1, "BTC", coins(1) // 2, BTC_100K)
    b.mark_va("BTC", hkd(25_000))
    assert b.state.clients[1].call is not None


def test_ratio_above_85_percent_warns_and_clears_when_it_falls_back() -> None:
    b = Broker()
    b.pure_va_client(1)

    warned = b.mark_va("BTC", hkd(80_000))
    cleared = b.mark_va("BTC", hkd(95_000))

    assert len(b.events_of(MarginWarningIssued, warned)) == 1
    assert len(b.events_of(MarginWarningCleared, cleared)) == 1
    assert b.state.clients[1].status == "NORMAL"


def test_call_stops_further_advances() -> None:
    b = Broker()
    _pure_va_client_in_call(b)

    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=1, price=BTC_100K), C.MARGIN_CALL_OUTSTANDING)


def test_call_stops_collateral_withdrawals_of_every_kind() -> None:
    b = Broker()
    b.list_security("0700", 5_000, hkd(400))
    _pure_va_client_in_call(b)
    b.deposit_shares(1, "0700", 10)
    assert b.state.clients[1].call is not None

    b.reject(WithdrawVirtualAsset(client=1, asset="BTC", qty=1), C.MARGIN_CALL_OUTSTANDING)
    b.reject(WithdrawSecurities(client=1, security="0700", qty=1), C.MARGIN_CALL_OUTSTANDING)
    b.reject(WithdrawCash(client=1, amount=1), C.MARGIN_CALL_OUTSTANDING)


def test_call_is_met_by_a_cash_deposit_and_advances_resume() -> None:
    b = Broker()
    call = _pure_va_client_in_call(b)

    out = b.deposit_cash(1, call.shortfall)
    b.deposit_cash(1, hkd(50_000))

    assert len(b.events_of(MarginCallMet, out)) == 1
    assert b.state.clients[1].call is None
    b.buy(1, "BTC", 1_000, BTC_100K * 70 // 100)


def test_va_driven_call_is_due_within_24_hours() -> None:
    b = Broker()

    call = _pure_va_client_in_call(b)

    assert call.deadline_ns == call.ts_ns + 24 * HOUR_NS


def test_securities_driven_call_is_due_at_noon_hkt_next_business_day() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.list_security("0005", 7_000, hkd(100))
    b.onboard(1)
    b.deposit_shares(1, "0005", 10_000)
    b.buy(1, "BTC", coins(4), BTC_100K)

    out = b.mark_security("0005", hkd(40))  # MV 280,000 + 160,000 = 440,000 < 400,000 / 0.9... R = 90.9%
    out += b.mark_security("0005", hkd(30))  # MV 210,000 + 160,000 = 370,000: R = 108%

    [call] = b.events_of(MarginCallIssued, out)
    assert call.cause == "SECURITIES"
    assert call.deadline_ns == T0 + DAY_NS + 4 * HOUR_NS  # Wed 08:00 HKT -> Thu 12:00 HKT


def test_friday_call_falls_due_monday_and_skips_a_configured_holiday() -> None:
    friday_9am_hkt = T0 + 2 * DAY_NS + HOUR_NS
    monday_noon_hkt = T0 + 5 * DAY_NS + 4 * HOUR_NS
    monday = (monday_noon_hkt + 8 * HOUR_NS) // DAY_NS

    assert call_deadline_ns(friday_9am_hkt, "SECURITIES", BrokerConfig()) == monday_noon_hkt
    assert call_deadline_ns(friday_9am_hkt, "SECURITIES", BrokerConfig(hk_holidays=(monday,))) == monday_noon_hkt + DAY_NS
    assert call_deadline_ns(friday_9am_hkt, "VIRTUAL_ASSET", BrokerConfig()) == friday_9am_hkt + 24 * HOUR_NS


def test_call_before_its_deadline_sells_nothing() -> None:
    b = Broker()
    call = _pure_va_client_in_call(b)

    out = b.ok(ReviewMargins(), ts=call.deadline_ns - 1)

    assert b.events_of(ForcedSaleStarted, out) == []


def test_call_past_its_deadline_is_sold_out_to_the_target_ratio() -> None:
    b = Broker()
    call = _pure_va_client_in_call(b)

    out = b.ok(ReviewMargins(), ts=call.deadline_ns)

    [started] = b.events_of(ForcedSaleStarted, out)
    [done] = b.events_of(ForcedSaleCompleted, out)
    assert started.trigger == "DEADLINE_PASSED"
    assert done.target_reached and done.figures.ratio_bps is not None and done.figures.ratio_bps <= 9_000
    assert len(b.events_of(MarginCallMet, out)) == 1


def test_equity_at_10_percent_of_market_value_forces_a_sale_below_the_call_line() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.list_security("2800", 9_500, hkd(100))
    b.onboard(1)
    b.deposit_shares(1, "2800", 10_000)
    b.buy(1, "BTC", coins(2), BTC_100K)
    b.mark_security("2800", hkd(21))

    out = b.mark_va("BTC", hkd(5_000))  # R = 98.3%, E = 20,000 <= 10% x 220,000

    assert b.events_of(MarginCallIssued, out) == []
    [started] = b.events_of(ForcedSaleStarted, out)
    assert started.trigger == "EQUITY_BELOW_FLOOR"
    sold = [s.instrument for s in b.events_of(CollateralSold, out)]
    assert sold[0] == "BTC" and "2800" in sold  # lowest margin ratio (BTC 40%) first
    assert b.events_of(ForcedSaleCompleted, out)[0].target_reached


def test_sell_out_while_hkex_is_open_sells_the_lowest_margin_ratio_first() -> None:
    b = Broker()
    _two_asset_client(b)

    out = b.ok(ReviewMargins(), ts=b.state.clients[1].call.deadline_ns)  # type: ignore[union-attr]

    sold = b.events_of(CollateralSold, out)
    assert [s.instrument for s in sold] == ["0002"]  # 30% ratio beats BTC's 40%
    assert b.events_of(ForcedSaleCompleted, out)[0].target_reached


def test_sell_out_while_hkex_is_closed_sells_va_first() -> None:
    b = Broker()
    _two_asset_client(b)
    b.ok(SetExchangeSession(is_open=False))

    out = b.ok(ReviewMargins(), ts=b.state.clients[1].call.deadline_ns)  # type: ignore[union-attr]

    sold = b.events_of(CollateralSold, out)
    assert {s.instrument for s in sold} == {"BTC"}
    assert b.state.shares(1, "0002") == 10_000
    assert b.events_of(ForcedSaleCompleted, out)[0].target_reached


def test_sell_out_waits_for_the_session_when_only_securities_are_left() -> None:
    b = Broker()
    b.list_security("0003", 6_000, hkd(10))
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_shares(1, "0003", 100_000)  # 1,000,000, MV 600,000
    b.buy(1, "BTC", coins(5), BTC_100K)  # L 500,000, MV 800,000
    b.mark_security("0003", hkd(7))  # the close: MV 420,000 + 200,000, R = 81%
    b.ok(SetExchangeSession(is_open=False))  # 0003 stays at 7 until the next session (V1)
    b.mark_va("BTC", hkd(1))  # BTC is worthless: MV 420,000, R = 119%, a call

    waiting = b.ok(ReviewMargins(), ts=b.state.clients[1].call.deadline_ns)  # type: ignore[union-attr]
    still_called = b.state.clients[1].call is not None
    opened = b.ok(SetExchangeSession(is_open=True))

    assert {s.instrument for s in b.events_of(CollateralSold, waiting)} == {"BTC"}
    assert not b.events_of(ForcedSaleCompleted, waiting)[0].target_reached and still_called
    assert [s.instrument for s in b.events_of(CollateralSold, opened)] == ["0003"]
    assert b.events_of(ForcedSaleCompleted, opened)[0].target_reached
    assert b.state.clients[1].call is None


def test_gap_below_the_loan_books_bad_debt_against_that_client_alone() -> None:
    b = Broker()
    b.pure_va_client(1)
    b.onboard(2)
    b.deposit_cash(2, hkd(1_000_000))

    out = b.mark_va("BTC", BTC_100K * 20 // 100)  # 14 BTC now 280,000 against a 400,000 loan

    [bad] = b.events_of(BadDebtBooked, out)
    proceeds = sum(s.net for s in b.events_of(CollateralSold, out))
    assert bad.amount == hkd(400_000) - proceeds
    assert b.state.bad_debt(1) == bad.amount and b.state.loan(1) == 0
    assert b.state.cash(2) == hkd(1_000_000) and b.state.bad_debt(2) == 0
    assert b.state.custody[1].lots() == []
    assert b.state.clients[1].call is None


def test_tightened_margin_levels_call_clients_at_once() -> None:
    b = Broker()
    b.pure_va_client(1)
    b.mark_va("BTC", hkd(78_000))  # R = 91.6%: a warning under the house defaults

    levels = BrokerConfig(call_ratio_bps=9_000, target_ratio_bps=8_000, warning_ratio_bps=8_000, withdrawal_max_ratio_bps=8_000)
    out = b.ok(ConfigureBroker(config=levels))

    [call] = b.events_of(MarginCallIssued, out)
    assert call.cause == "SECURITIES"
    assert b.events_of(CollateralSold, out) == []
