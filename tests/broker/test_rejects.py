"""Every broker reject code, triggered by a command that changes nothing.

Each row arranges a broker and returns the offending command. The test applies it and
checks: exactly one Rejected event with that code, the state hash unchanged, and a
message rendered from the structured detail.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harbour.broker import BROKER_CODES, BrokerConfig
from harbour.broker.commands import (
    BuyVirtualAsset,
    ChangeCreditLimit,
    ConfigureBroker,
    CustodyHolding,
    DepositCash,
    DepositSecurities,
    DepositVirtualAsset,
    EncumberVirtualAsset,
    EncumbrancePurpose,
    FeedPrice,
    MarkSecurity,
    MarkVirtualAsset,
    MarkVirtualAssetFeeds,
    OpenVaFacility,
    ReconcileCustody,
    RecordAverageDailyVolume,
    RecordBookFigures,
    RecordVaSuitability,
    RegisterSecuritiesMarginAccount,
    ResolveCustodyBreak,
    SetExchangeSession,
    SetSecurityMarginRatio,
    SmfClientLoan,
    WithdrawCash,
    WithdrawSecurities,
    WithdrawVirtualAsset,
)
from harbour.broker.config import MAX_CASH, MAX_VA_PRICE, VaHaircutRule
from harbour.broker.rejects import missing_templates
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, HOUR_NS, Broker, coins, hkd

C = RejectCode


def _called(b: Broker) -> None:
    b.pure_va_client(1)
    b.mark_va("BTC", BTC_100K * 70 // 100)


def _unknown_client(b: Broker) -> object:
    return DepositCash(client=99, amount=hkd(1))


def _client_exists(b: Broker) -> object:
    b.onboard(1)
    return RegisterSecuritiesMarginAccount(client=1, credit_limit=hkd(1))


def _amount_not_positive(b: Broker) -> object:
    b.onboard(1)
    return DepositCash(client=1, amount=0)


def _price_not_positive(b: Broker) -> object:
    return MarkVirtualAsset(asset="BTC", price=-1)


def _amount_too_large(b: Broker) -> object:
    b.onboard(1)
    return DepositCash(client=1, amount=MAX_CASH + 1)


def _unknown_security(b: Broker) -> object:
    b.onboard(1)
    return DepositSecurities(client=1, security="9999", qty=100)


def _unknown_lot(b: Broker) -> object:
    b.onboard(1)
    return EncumberVirtualAsset(client=1, lot=42, qty=1, purpose=EncumbrancePurpose.PLEDGE)


def _no_price(b: Broker) -> object:
    b.onboard(1)
    return BuyVirtualAsset(client=1, asset="ETH", qty=coins(1), price=hkd(20_000))


def _invalid_parameter(b: Broker) -> object:
    return SetSecurityMarginRatio(security="0700", margin_ratio_bps=10_001)


def _no_margin_account(b: Broker) -> object:
    return OpenVaFacility(client=7)


def _no_credit_limit(b: Broker) -> object:
    b.ok(RegisterSecuritiesMarginAccount(client=1, credit_limit=0))
    b.ok(RecordVaSuitability(client=1, passed=True))
    return OpenVaFacility(client=1)


def _no_suitability(b: Broker) -> object:
    b.onboard(1, suitable=False, facility=False)
    return OpenVaFacility(client=1)


def _facility_open(b: Broker) -> object:
    b.onboard(1)
    return OpenVaFacility(client=1)


def _no_facility(b: Broker) -> object:
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, facility=False)
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K)


def _va_not_eligible(b: Broker) -> object:
    b.onboard(1)
    b.mark_va("DOGE", hkd(1))
    return BuyVirtualAsset(client=1, asset="DOGE", qty=coins(1000), price=hkd(1))


def _haircut_below_floor(b: Broker) -> object:
    return ConfigureBroker(config=BrokerConfig(va_haircuts=(VaHaircutRule(asset="BTC", volatility_haircut_bps=5_999),)))


def _invalid_margin_levels(b: Broker) -> object:
    return ConfigureBroker(config=BrokerConfig(target_ratio_bps=10_000))


def _call_outstanding(b: Broker) -> object:
    _called(b)
    return BuyVirtualAsset(client=1, asset="BTC", qty=1, price=BTC_100K)


def _ratio_would_exceed(b: Broker) -> object:
    b.pure_va_client(1)
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(6), price=BTC_100K)


def _credit_limit_exceeded(b: Broker) -> object:
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, credit_limit=hkd(300_000))
    b.deposit_va(1, "BTC", coins(10))
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(4), price=BTC_100K)


def _withdrawal_would_breach(b: Broker) -> object:
    b.pure_va_client(1)
    return WithdrawVirtualAsset(client=1, asset="BTC", qty=coins(3))


def _insufficient_holding(b: Broker) -> object:
    b.onboard(1)
    b.list_security("0700", 5_000, hkd(400))
    b.deposit_shares(1, "0700", 100)
    return WithdrawSecurities(client=1, security="0700", qty=101)


def _insufficient_cash(b: Broker) -> object:
    b.onboard(1)
    b.deposit_cash(1, hkd(10))
    return WithdrawCash(client=1, amount=hkd(11))


def _rehypothecation(b: Broker) -> object:
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(1))
    return EncumberVirtualAsset(client=1, lot=1, qty=coins(1), purpose=EncumbrancePurpose.LEND, beneficiary="house")


def _reason_refused(b: Broker) -> object:
    b.onboard(1)
    return ChangeCreditLimit(client=1, new_limit=hkd(9_000_000), reason_code="VA_FINANCING_ENABLED", approver="head-of-credit")


def _approver_required(b: Broker) -> object:
    b.onboard(1)
    return ChangeCreditLimit(client=1, new_limit=hkd(9_000_000), reason_code="FINANCIAL_CAPACITY_CHANGE", approver=" ")


def _va_share(b: Broker) -> object:
    b.book_figures()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(4), price=BTC_100K)


def _single_client(b: Broker) -> object:
    b.book_figures(shareholders_funds=hkd(1_000_000))  # C2 cap 200,000
    b.mixed_client(1, financed_btc=0)
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(4), price=BTC_100K)


def _related_group(b: Broker) -> object:
    b.book_figures(shareholders_funds=hkd(1_000_000))  # C2 caps 200,000 per client and per group
    b.list_security("0005", 7_000, hkd(100))
    b.waive_single_stock_limit("0005")  # C5's 200,000 would stop the first purchase
    b.mixed_client(1, related_group="FAMILY-A", financed_btc=0)
    b.buy(1, "BTC", coins(1) * 3 // 2, BTC_100K)
    b.mixed_client(2, related_group="FAMILY-A", financed_btc=0)
    return BuyVirtualAsset(client=2, asset="BTC", qty=coins(1) * 3 // 2, price=BTC_100K)


def _va_book_share(b: Broker) -> object:
    b.book_figures(securities_margin_loans=hkd(1_000_000))  # 400k / 1.4m = 28.6% > 15%
    b.mixed_client(1, financed_btc=0)
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(4), price=BTC_100K)


def _total_loans(b: Broker) -> object:
    b.book_figures(capital=hkd(1_000_000), securities_margin_loans=hkd(4_800_000))  # 5.2m > 5 x 1m
    b.mixed_client(1, financed_btc=0)
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(4), price=BTC_100K)


def _invalid_price_feeds(b: Broker) -> object:
    b.pure_va_client(1)
    refs = tuple(FeedPrice(source=f"REF{i}", price=BTC_100K, ts_ns=b.ts) for i in range(3))
    return MarkVirtualAssetFeeds(asset="BTC", feeds=refs)  # no primary VATP feed


def _custody_break_open(b: Broker) -> object:
    b.pure_va_client(1)  # 14 BTC on the books
    b.ok(ReconcileCustody(statement_date="2026-02-11", holdings=(CustodyHolding(client=1, asset="BTC", qty=coins(13)),)))
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K)


def _custody_statement_missing(b: Broker) -> object:
    b.pure_va_client(1)  # 14 BTC on the books, reconciled clean on 2026-02-08; now 2026-02-11 HKT
    b.ok(ReconcileCustody(statement_date="2026-02-08", holdings=(CustodyHolding(client=1, asset="BTC", qty=coins(14)),)))
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K)


def _no_open_custody_break(b: Broker) -> object:
    b.pure_va_client(1)
    return ResolveCustodyBreak(break_id=1, resolution="statement corrected", approver="ops-head")


def _above_stressed_nav(b: Broker) -> object:
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, credit_limit=hkd(1_000_000))
    b.deposit_va(1, "BTC", coins(10))
    b.buy(1, "BTC", coins(4), BTC_100K)  # NAV 1,000,000; BTC at -30%: stressed NAV 580,000, supports 1,160,000
    return ChangeCreditLimit(client=1, new_limit=hkd(1_500_000), reason_code="CLIENT_REQUEST", approver="head-of-credit")


def _liquidation_capacity(b: Broker) -> object:
    b.book_figures()
    b.mixed_client(1, financed_btc=0)
    b.ok(RecordAverageDailyVolume(instrument="BTC", qty=coins(10)))  # one day at 20%: 2 BTC
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(4), price=BTC_100K)


def _single_stock(b: Broker) -> object:
    b.book_figures(shareholders_funds=hkd(1_000_000))  # C5: 200,000 of margin value in one stock
    b.mixed_client(1, financed_btc=0)  # 700,000 of 0005 margin value
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K)


def _correlated_group(b: Broker) -> object:
    b.ok(ConfigureBroker(config=BrokerConfig(correlated_group_max_bps=3_000)))  # group: 1,200,000 of 4,000,000
    b.book_figures(shareholders_funds=hkd(4_000_000))  # one stock: 800,000
    for code in ("0005", "0011"):
        b.ok(SetSecurityMarginRatio(security=code, margin_ratio_bps=7_000, correlation_group="HK-BANKS"))
        b.ok(MarkSecurity(security=code, price=hkd(100)))
    b.mixed_client(1, financed_btc=0)  # 0005: 700,000
    b.deposit_shares(1, "0011", 11_000)  # 0011: 770,000; the group 1,470,000
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K)


def _mark_outside_session(b: Broker) -> object:
    b.list_security("0005", 7_000, hkd(100))
    b.ok(SetExchangeSession(is_open=False))
    return MarkSecurity(security="0005", price=hkd(90))


def _smf_extract_stale(b: Broker) -> object:
    b.mixed_client(1, financed_btc=0)
    b.ok(RecordBookFigures(shareholders_funds=hkd(10**9), capital=hkd(10**9), securities_margin_loans=hkd(10**9),
                           client_loans=(SmfClientLoan(client=1, amount=hkd(100_000)),)))  # Wednesday 08:00 HKT
    b.mark_va("BTC", BTC_100K, ts=b.ts + 29 * HOUR_NS)  # Thursday 13:00 HKT: no Thursday extract by the noon cut-off
    return BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K)


ROWS: dict[RejectCode, Callable[[Broker], object]] = {
    C.UNKNOWN_CLIENT: _unknown_client,
    C.CLIENT_ALREADY_EXISTS: _client_exists,
    C.AMOUNT_NOT_POSITIVE: _amount_not_positive,
    C.PRICE_NOT_POSITIVE: _price_not_positive,
    C.AMOUNT_TOO_LARGE: _amount_too_large,
    C.UNKNOWN_SECURITY: _unknown_security,
    C.UNKNOWN_LOT: _unknown_lot,
    C.NO_PRICE: _no_price,
    C.INVALID_PARAMETER: _invalid_parameter,
    C.NO_SECURITIES_MARGIN_ACCOUNT: _no_margin_account,
    C.NO_CREDIT_LIMIT: _no_credit_limit,
    C.NO_VA_SUITABILITY: _no_suitability,
    C.FACILITY_ALREADY_OPEN: _facility_open,
    C.NO_VA_FACILITY: _no_facility,
    C.VA_NOT_ELIGIBLE: _va_not_eligible,
    C.HAIRCUT_BELOW_FLOOR: _haircut_below_floor,
    C.INVALID_MARGIN_LEVELS: _invalid_margin_levels,
    C.MARGIN_CALL_OUTSTANDING: _call_outstanding,
    C.RATIO_WOULD_EXCEED_LIMIT: _ratio_would_exceed,
    C.CREDIT_LIMIT_EXCEEDED: _credit_limit_exceeded,
    C.WITHDRAWAL_WOULD_BREACH_LIMIT: _withdrawal_would_breach,
    C.INSUFFICIENT_HOLDING: _insufficient_holding,
    C.INSUFFICIENT_CASH: _insufficient_cash,
    C.REHYPOTHECATION_REFUSED: _rehypothecation,
    C.CREDIT_LIMIT_REASON_REFUSED: _reason_refused,
    C.APPROVER_REQUIRED: _approver_required,
    C.VA_SHARE_LIMIT_EXCEEDED: _va_share,
    C.SINGLE_CLIENT_LIMIT_EXCEEDED: _single_client,
    C.RELATED_GROUP_LIMIT_EXCEEDED: _related_group,
    C.VA_BOOK_SHARE_EXCEEDED: _va_book_share,
    C.TOTAL_MARGIN_LOANS_EXCEEDED: _total_loans,
    C.INVALID_PRICE_FEEDS: _invalid_price_feeds,
    C.CUSTODY_BREAK_OPEN: _custody_break_open,
    C.NO_OPEN_CUSTODY_BREAK: _no_open_custody_break,
    C.CUSTODY_STATEMENT_MISSING: _custody_statement_missing,
    C.CREDIT_LIMIT_ABOVE_STRESSED_NAV: _above_stressed_nav,
    C.LIQUIDATION_CAPACITY_EXCEEDED: _liquidation_capacity,
    C.SINGLE_STOCK_LIMIT_EXCEEDED: _single_stock,
    C.CORRELATED_GROUP_LIMIT_EXCEEDED: _correlated_group,
    C.SECURITY_MARK_OUTSIDE_SESSION: _mark_outside_session,
    C.SMF_EXTRACT_STALE: _smf_extract_stale,
}


def test_reject_table_covers_every_broker_code() -> None:
    assert sorted(ROWS) == sorted(BROKER_CODES)


def test_every_broker_code_has_a_message_template() -> None:
    assert missing_templates() == []


def test_broker_codes_are_its_own_5xxx_codes_or_shared_1xxx_request_codes() -> None:
    assert all(5000 <= code < 6000 or 1000 <= code < 2000 for code in BROKER_CODES)


@pytest.mark.parametrize("code", list(ROWS), ids=lambda c: c.name)
def test_command_breaking_a_rule_is_rejected_with_its_code_and_changes_nothing(code: RejectCode) -> None:
    b = Broker()
    cmd = ROWS[code](b)

    rejected = b.reject(cmd, code)

    assert rejected.message and "{" not in rejected.message
    for value in rejected.detail.values():
        assert str(value) in rejected.message


def test_va_price_above_the_ceiling_is_rejected_as_too_large() -> None:
    b = Broker()

    b.reject(MarkVirtualAsset(asset="BTC", price=MAX_VA_PRICE + 1), C.AMOUNT_TOO_LARGE)


def test_deposit_of_an_unknown_lowercase_asset_code_is_rejected() -> None:
    b = Broker()
    b.onboard(1)

    b.reject(DepositVirtualAsset(client=1, asset="btc", qty=1, cost_price=0), C.INVALID_PARAMETER)


def test_mark_of_an_unlisted_security_is_rejected() -> None:
    b = Broker()

    b.reject(MarkSecurity(security="0001", price=hkd(1)), C.UNKNOWN_SECURITY)
