"""The client NAV used in credit assessment counts BTC/ETH at a stressed value (26EC5; K1).

regulation.md A1 items 9-10: a credit limit never rises because VA financing exists, and the
credit and NAV assessment accounts for VA volatility by a stressed VA valuation inside NAV.
House default: the severe tier's 1-day move of the S2 library (BTC -30%, ETH -45%), the
window of a VA-driven call; an increase must stay within 200% of the stressed NAV unless it
is a documented WAIVER.
"""

from __future__ import annotations

from harbour.broker import BrokerConfig, BrokerEngine, BrokerState, validate_config
from harbour.broker.commands import ChangeCreditLimit
from harbour.broker.events import CreditLimitChanged
from harbour.broker.stress_scenarios import TIER_SEVERE
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, Broker, coins, hkd

C = RejectCode


def _pure_va(limit: int = hkd(1_000_000)) -> Broker:
    """§2.2 pure-VA client: 10 BTC deposited, 4 bought on a 400,000 loan; NAV 1,000,000."""
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1, credit_limit=limit)
    b.deposit_va(1, "BTC", coins(10))
    b.buy(1, "BTC", coins(4), BTC_100K)
    return b


def test_house_nav_stress_is_the_severe_tier_one_day_move_of_the_scenario_library() -> None:
    cfg = BrokerConfig()
    one_day = TIER_SEVERE.steps[1]

    assert one_day.window == "1 day"
    assert (-cfg.nav_stress_btc_bps, -cfg.nav_stress_eth_bps) == (one_day.btc_bps, one_day.eth_bps) == (-3_000, -4_500)


def test_stressed_nav_counts_btc_30_percent_lower_and_the_loan_in_full() -> None:
    b = _pure_va()

    nav = b.engine.nav(1)

    assert (nav.nav, nav.va_value) == (hkd(1_000_000), hkd(1_400_000))
    assert (nav.stressed_va_value, nav.stressed_nav) == (hkd(980_000), hkd(580_000))


def test_stressed_nav_counts_eth_45_percent_lower_and_securities_at_their_mark() -> None:
    b = Broker()
    b.mixed_client(1)  # 1,000,000 of 0005, 4 BTC bought on a 400,000 loan
    b.mark_va("ETH", hkd(20_000))
    b.deposit_va(1, "ETH", coins(10))  # 200,000 of ETH

    nav = b.engine.nav(1)

    assert nav.nav == hkd(1_000_000 + 400_000 + 200_000 - 400_000)
    assert nav.stressed_va_value == hkd(280_000 + 110_000)
    assert nav.stressed_nav == hkd(1_000_000 + 280_000 + 110_000 - 400_000)


def test_credit_limit_increase_above_twice_the_stressed_nav_is_refused_and_changes_nothing() -> None:
    b = _pure_va()  # stressed NAV 580,000: supports 1,160,000

    rej = b.reject(ChangeCreditLimit(client=1, new_limit=hkd(1_160_000) + 1, reason_code="CLIENT_REQUEST", approver="head-of-credit"),
                   C.CREDIT_LIMIT_ABOVE_STRESSED_NAV)

    assert (rej.detail["stressed_nav"], rej.detail["supported"]) == (hkd(580_000), hkd(1_160_000))
    assert b.state.clients[1].credit_limit == hkd(1_000_000)


def test_btc_at_its_mark_would_support_the_increase_but_its_stressed_value_does_not() -> None:
    b = _pure_va()  # NAV 1,000,000 would support 2,000,000 at the mark

    b.reject(ChangeCreditLimit(client=1, new_limit=hkd(1_500_000), reason_code="FINANCIAL_CAPACITY_CHANGE", approver="head-of-credit"),
             C.CREDIT_LIMIT_ABOVE_STRESSED_NAV)
    b.ok(ChangeCreditLimit(client=1, new_limit=hkd(1_160_000), reason_code="FINANCIAL_CAPACITY_CHANGE", approver="head-of-credit"))

    assert b.state.clients[1].credit_limit == hkd(1_160_000)


def test_a_documented_waiver_may_raise_the_limit_above_what_the_stressed_nav_supports() -> None:
    b = _pure_va()

    out = b.ok(ChangeCreditLimit(client=1, new_limit=hkd(3_000_000), reason_code="WAIVER", approver="risk-committee"))

    ev = b.events_of(CreditLimitChanged, out)[0]
    assert (ev.reason_code, ev.new_limit, ev.stressed_nav) == ("WAIVER", hkd(3_000_000), hkd(580_000))


def test_a_decrease_or_a_review_is_never_refused_for_the_stressed_nav() -> None:
    b = Broker()
    b.onboard(1, credit_limit=hkd(5_000_000))  # holds nothing: stressed NAV 0

    b.ok(ChangeCreditLimit(client=1, new_limit=hkd(4_000_000), reason_code="RISK_REDUCTION", approver="head-of-credit"))
    b.ok(ChangeCreditLimit(client=1, new_limit=hkd(4_000_000), reason_code="ANNUAL_REVIEW", approver="credit-committee"))

    assert b.state.clients[1].credit_limit == hkd(4_000_000)


def test_every_credit_limit_change_records_the_nav_and_stressed_nav_it_was_assessed_on() -> None:
    b = _pure_va(limit=hkd(5_000_000))

    out = b.ok(ChangeCreditLimit(client=1, new_limit=hkd(900_000), reason_code="RISK_REDUCTION", approver="head-of-credit"))

    ev = b.events_of(CreditLimitChanged, out)[0]
    entry = b.state.credit_limit_history[1][-1]
    assert (ev.nav, ev.stressed_nav) == (entry.nav, entry.stressed_nav) == (hkd(1_000_000), hkd(580_000))
    restored = BrokerEngine(BrokerState.decode(b.engine.snapshot()))
    assert restored.state_hash() == b.hash() and restored.state.credit_limit_history[1][-1].stressed_nav == hkd(580_000)


def test_the_stress_shock_is_configurable_and_a_shock_above_100_percent_is_refused() -> None:
    b = Broker(BrokerConfig(nav_stress_btc_bps=5_000))
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))

    assert b.engine.nav(1).stressed_nav == hkd(500_000)
    assert validate_config(BrokerConfig(nav_stress_eth_bps=10_001)) is not None
