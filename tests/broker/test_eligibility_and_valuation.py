"""Eligibility (E1-E4) and collateral valuation (V1, V3, V4) as the rules table states them."""

from __future__ import annotations

import pytest

from harbour.broker import VA_HAIRCUT_FLOOR_BPS, BrokerConfig, BrokerEngineFactory
from harbour.broker.commands import (
    BuyVirtualAsset,
    ConfigureBroker,
    DepositCash,
    MarkSecurity,
    OpenVaFacility,
    RecordVaSuitability,
    SetExchangeSession,
    SetSecuritySuspended,
)
from harbour.broker.config import SizeAddOnTier, VaHaircutRule
from harbour.broker.events import LoanAdvanced, VirtualAssetPurchased
from harbour.broker.valuation import va_haircut_bps
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, Broker, coins, hkd

C = RejectCode


def test_facility_for_client_without_securities_margin_account_is_refused() -> None:
    b = Broker()

    b.reject(OpenVaFacility(client=5), C.NO_SECURITIES_MARGIN_ACCOUNT)


def test_facility_after_failed_suitability_is_refused() -> None:
    b = Broker()
    b.onboard(1, suitable=False, facility=False)
    b.ok(RecordVaSuitability(client=1, passed=False, reference="SUIT-FAIL"))

    b.reject(OpenVaFacility(client=1), C.NO_VA_SUITABILITY)


def test_eligible_client_gets_a_facility() -> None:
    b = Broker()

    b.onboard(1)

    assert b.state.clients[1].facility_open


def test_suitability_withdrawn_after_opening_stops_new_financing() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))
    b.ok(RecordVaSuitability(client=1, passed=False, reference="REVIEW"))

    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.NO_VA_SUITABILITY)


def test_financed_purchase_pays_the_vatp_and_never_credits_client_cash() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))

    out = b.buy(1, "BTC", coins(1), BTC_100K)

    [purchase] = b.events_of(VirtualAssetPurchased, out)
    [advance] = b.events_of(LoanAdvanced, out)
    assert (purchase.financed, advance.amount, advance.purpose) == (hkd(100_000), hkd(100_000), "VA_PURCHASE")
    assert b.state.cash(1) == 0 and b.state.loan(1) == hkd(100_000)


def test_purchase_uses_client_cash_before_financing() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))
    b.ok(DepositCash(client=1, amount=hkd(30_000)))

    out = b.buy(1, "BTC", coins(1), BTC_100K)

    [purchase] = b.events_of(VirtualAssetPurchased, out)
    assert (purchase.cash_used, purchase.financed) == (hkd(30_000), hkd(70_000))


def test_cash_deposit_repays_the_loan_first() -> None:
    b = Broker()
    b.pure_va_client(1)

    b.deposit_cash(1, hkd(450_000))

    assert (b.state.loan(1), b.state.cash(1)) == (0, hkd(50_000))


def test_va_other_than_btc_and_eth_counts_zero() -> None:
    b = Broker()
    b.mark_va("SOL", hkd(1_000))
    b.onboard(1)

    b.deposit_va(1, "SOL", coins(100))

    fig = b.figures(1)
    assert (fig.market_value, fig.margin_value) == (0, 0)


def test_btc_haircut_configured_below_60_percent_is_refused_with_a_clear_reason() -> None:
    b = Broker()
    cfg = BrokerConfig(va_haircuts=(VaHaircutRule(asset="BTC", volatility_haircut_bps=5_000),))

    rejected = b.reject(ConfigureBroker(config=cfg), C.HAIRCUT_BELOW_FLOOR)

    assert rejected.message == "BTC haircut 5000 bps is below the regulatory floor of 6000 bps (V3)"


def test_size_add_on_tier_below_60_percent_is_refused() -> None:
    b = Broker()
    tier = SizeAddOnTier(min_units=coins(100), haircut_bps=5_500)
    cfg = BrokerConfig(va_haircuts=(VaHaircutRule(asset="ETH", size_add_on=(tier,)),))

    b.reject(ConfigureBroker(config=cfg), C.HAIRCUT_BELOW_FLOOR)


def test_engine_factory_refuses_a_config_below_the_haircut_floor() -> None:
    cfg = BrokerConfig(va_haircuts=(VaHaircutRule(asset="ETH", volatility_haircut_bps=VA_HAIRCUT_FLOOR_BPS - 1),))

    with pytest.raises(ValueError, match="below the regulatory floor"):
        BrokerEngineFactory(cfg)


def test_haircut_is_the_largest_of_floor_volatility_and_size_add_on() -> None:
    tiers = (SizeAddOnTier(min_units=coins(50), haircut_bps=7_000), SizeAddOnTier(min_units=coins(200), haircut_bps=8_000))
    cfg = BrokerConfig(va_haircuts=(VaHaircutRule(asset="BTC", volatility_haircut_bps=6_500, size_add_on=tiers), VaHaircutRule(asset="ETH")))

    assert va_haircut_bps(cfg, "ETH", coins(1)) == 6_000
    assert va_haircut_bps(cfg, "BTC", coins(1)) == 6_500
    assert va_haircut_bps(cfg, "BTC", coins(50)) == 7_000
    assert va_haircut_bps(cfg, "BTC", coins(500)) == 8_000


def test_raising_the_haircut_revalues_clients_at_once() -> None:
    b = Broker()
    b.pure_va_client(1)
    cfg = BrokerConfig(va_haircuts=(VaHaircutRule(asset="BTC", volatility_haircut_bps=7_000), VaHaircutRule(asset="ETH")))

    b.ok(ConfigureBroker(config=cfg))

    assert b.figures(1).margin_value == hkd(420_000)


def test_security_with_zero_margin_ratio_is_not_collateral_but_counts_in_market_value() -> None:
    b = Broker()
    b.list_security("8001", 0, hkd(10))
    b.onboard(1)

    b.deposit_shares(1, "8001", 1_000)

    fig = b.figures(1)
    assert (fig.market_value, fig.margin_value) == (hkd(10_000), 0)


def test_suspended_security_counts_zero_at_once() -> None:
    b = Broker()
    b.list_security("0700", 5_000, hkd(400))
    b.onboard(1)
    b.deposit_shares(1, "0700", 1_000)

    b.ok(SetSecuritySuspended(security="0700", suspended=True))

    fig = b.figures(1)
    assert (fig.market_value, fig.margin_value) == (0, 0)


def test_securities_are_marked_in_hkex_sessions_and_stay_at_the_last_close_otherwise() -> None:
    b = Broker()
    b.list_security("0700", 5_000, hkd(400))
    b.onboard(1)
    b.deposit_shares(1, "0700", 1_000)
    b.mark_security("0700", hkd(390))  # the close
    b.ok(SetExchangeSession(is_open=False))

    b.reject(MarkSecurity(security="0700", price=hkd(300)), C.SECURITY_MARK_OUTSIDE_SESSION)
    frozen = b.figures(1).market_value
    b.ok(SetExchangeSession(is_open=True))
    b.mark_security("0700", hkd(300))

    assert (frozen, b.figures(1).market_value) == (hkd(390_000), hkd(300_000))


def test_capital_view_counts_va_zero_beside_the_house_view() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.list_security("0005", 7_000, hkd(100))
    b.onboard(1)
    b.deposit_shares(1, "0005", 10_000)

    b.buy(1, "BTC", coins(4), BTC_100K)

    fig = b.figures(1)
    assert (fig.margin_value, fig.margin_value_frr) == (hkd(860_000), hkd(700_000))
    assert (fig.ratio_bps, fig.ratio_frr_bps) == (4_652, 5_715)


def test_securities_only_mode_gives_va_no_margin_value() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))

    b.ok(ConfigureBroker(config=BrokerConfig(accept_va_collateral=False)))

    fig = b.figures(1)
    assert (fig.market_value, fig.margin_value) == (hkd(1_000_000), 0)
    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.RATIO_WOULD_EXCEED_LIMIT)
