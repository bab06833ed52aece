"""C3 size multiplier, C4 liquidation capacity and C5 securities concentration, with the exceptions register.

Rules table: C3 "client BTC/ETH holding > 1% of 30-day ADV -> k steps down (1.0/0.9/0.75/0.5
at 1/5/10/20% of ADV)"; C4 "total BTC (ETH) collateral <= 1 day of liquidation capacity at
<= 20% participation"; C5 "existing SMF single-stock and correlated-group limits; apply
C3-style size haircuts to stocks too" (house defaults: one stock <= 20% and one correlated
group <= 40% of shareholders' funds, in margin value). Every step runs through the test
driver, which checks the invariants and that a rejected command changes nothing.
"""

from __future__ import annotations

from harbour.broker import BrokerConfig, BrokerEngine
from harbour.broker.commands import (
    BuyVirtualAsset,
    MarkSecurity,
    RecordAverageDailyVolume,
    RecordLimitException,
    SetSecurityMarginRatio,
)
from harbour.broker.events import AverageDailyVolumeRecorded, LimitExceptionApplied, MarginCallIssued, MarginWarningIssued
from harbour.broker.limits import book_va_units, liquidation_capacity
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, HOUR_NS, Broker, coins, hkd

C = RejectCode


def _adv(b: Broker, instrument: str, qty: int) -> list[object]:
    return b.ok(RecordAverageDailyVolume(instrument=instrument, qty=qty, window_days=30, source="VATP+3 references"))


def _register(b: Broker, limit_id: str, instrument: str) -> None:
    b.ok(RecordLimitException(limit_id=limit_id, client=0, instrument=instrument, justification="risk committee: temporary, reviewed daily",
                              approver="CRO", expiry_ns=b.ts + 24 * HOUR_NS))


# --- C3: size multiplier for BTC/ETH ----------------------------------------------------------------


def test_c3_btc_holding_above_1_percent_of_adv_counts_at_90_percent_of_its_margin_value() -> None:
    b = Broker()
    b.pure_va_client(1)  # 14 BTC at 100,000: MV 560,000 at the 60% haircut

    _adv(b, "BTC", coins(1_000))  # 1.4% of ADV

    fig = b.figures(1)
    assert fig.margin_value == hkd(504_000)  # 1,400,000 x 40% x 0.9
    assert fig.margin_value_frr == 0


def test_c3_holding_of_exactly_1_percent_of_adv_keeps_its_full_margin_value() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(10))

    _adv(b, "BTC", coins(1_000))

    assert b.figures(1).margin_value == hkd(400_000)


def test_c3_multiplier_steps_down_to_75_and_50_percent_above_5_and_10_percent_of_adv() -> None:
    b = Broker()
    b.pure_va_client(1)

    warned = _adv(b, "BTC", coins(200))  # 7%: MV 1,400,000 x 40% x 0.75 = 420,000, R = 95%
    called = _adv(b, "BTC", coins(100))  # 14%: k = 0.5, MV 280,000, R = 143%

    assert b.events_of(MarginWarningIssued, warned)
    assert [c.cause for c in b.events_of(MarginCallIssued, called)] == ["VIRTUAL_ASSET"]


# --- C4: liquidation capacity ------------------------------------------------------------------------


def test_c4_book_btc_collateral_above_one_day_of_liquidation_capacity_blocks_new_financing_and_changes_nothing() -> None:
    b = Broker()
    b.book_figures()
    b.mixed_client(1, financed_btc=0)
    b.mixed_client(2, financed_btc=0)
    _adv(b, "BTC", coins(10))  # capacity: 20% of 10 BTC in one day = 2 BTC

    b.buy(1, "BTC", coins(1), BTC_100K)
    b.buy(2, "BTC", coins(1), BTC_100K)  # the book holds exactly 2 BTC
    rej = b.reject(BuyVirtualAsset(client=2, asset="BTC", qty=1, price=BTC_100K), C.LIQUIDATION_CAPACITY_EXCEEDED)

    assert (rej.detail["limit_id"], rej.detail["instrument"]) == ("C4_LIQUIDITY", "BTC")
    assert (rej.detail["value"], rej.detail["limit"]) == (coins(2) + 1, coins(2))
    assert liquidation_capacity(b.state, "BTC") == book_va_units(b.state, "BTC") == coins(2)


def test_c4_liquidity_counts_deposited_collateral_of_every_client() -> None:
    b = Broker()
    b.book_figures()
    b.mixed_client(1, financed_btc=0)
    b.onboard(2)
    b.deposit_va(2, "BTC", coins(2))
    _adv(b, "BTC", coins(10))

    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.LIQUIDATION_CAPACITY_EXCEEDED)


def test_c4_liquidity_is_checked_only_for_an_asset_whose_adv_is_recorded() -> None:
    b = Broker()
    b.book_figures()
    b.mixed_client(1, financed_btc=0)
    b.mark_va("ETH", hkd(20_000))
    _adv(b, "BTC", coins(10))

    b.buy(1, "ETH", coins(10), hkd(20_000))  # no ETH ADV: not measured (the SMF monitor says so)

    assert liquidation_capacity(b.state, "ETH") is None


def test_c4_capacity_follows_the_configured_participation_and_days() -> None:
    b = Broker(BrokerConfig(liquidation_participation_bps=1_000, liquidation_days=3))

    _adv(b, "BTC", coins(10))

    assert liquidation_capacity(b.state, "BTC") == coins(3)


def test_c4_liquidity_breach_is_allowed_under_a_register_entry_naming_the_asset() -> None:
    b = Broker()
    b.book_figures()
    b.mixed_client(1, financed_btc=0)
    _adv(b, "BTC", coins(10))
    _register(b, "C4_LIQUIDITY", "ETH")  # another asset does not cover it
    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(3), price=BTC_100K), C.LIQUIDATION_CAPACITY_EXCEEDED)
    _register(b, "C4_LIQUIDITY", "BTC")

    out = b.buy(1, "BTC", coins(3), BTC_100K)

    assert [(a.limit_id, a.instrument, a.value, a.limit) for a in b.events_of(LimitExceptionApplied, out)] == [
        ("C4_LIQUIDITY", "BTC", coins(3), coins(2))
    ]


def test_adv_is_journaled_and_survives_snapshot_restore_and_replay() -> None:
    b = Broker()
    b.pure_va_client(1)
    out = _adv(b, "BTC", coins(1_000))

    replayed = BrokerEngine()
    for seq, ts, cmd in b.commands:
        replayed.apply(seq, ts, cmd)  # type: ignore[arg-type]

    assert b.events_of(AverageDailyVolumeRecorded, out)[0].qty == coins(1_000)
    assert replayed.state_hash() == b.hash() == BrokerEngine.restore(b.engine.snapshot()).state_hash()


def test_bad_adv_records_are_rejected_and_change_nothing() -> None:
    b = Broker()
    b.list_security("0005", 7_000, hkd(100))

    b.reject(RecordAverageDailyVolume(instrument="SOL", qty=coins(1)), C.UNKNOWN_SECURITY)
    b.reject(RecordAverageDailyVolume(instrument="BTC", qty=0), C.AMOUNT_NOT_POSITIVE)
    b.reject(RecordAverageDailyVolume(instrument="0005", qty=10**16), C.AMOUNT_TOO_LARGE)
    b.reject(RecordAverageDailyVolume(instrument="0005", qty=1, window_days=0), C.INVALID_PARAMETER)


# --- C5: securities concentration and size haircut ---------------------------------------------------------


def test_c5_stock_held_above_1_percent_of_its_adv_counts_at_90_percent_of_its_margin_ratio() -> None:
    b = Broker()
    b.mixed_client(1, financed_btc=0)  # 10,000 shares of 0005 at 100, ratio 70%

    _adv(b, "0005", 500_000)  # 2% of ADV

    assert b.figures(1).margin_value == hkd(630_000)


def test_c5_book_margin_value_in_one_stock_above_20_percent_of_shareholders_funds_blocks_financing_against_it() -> None:
    b = Broker()
    b.book_figures(shareholders_funds=hkd(3_000_000))  # C5: 600,000 per stock
    b.mixed_client(1, financed_btc=0)  # 700,000 of 0005 margin value

    rej = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.SINGLE_STOCK_LIMIT_EXCEEDED)

    assert (rej.detail["limit_id"], rej.detail["instrument"], rej.detail["value"], rej.detail["limit"]) == ("C5_STOCK", "0005", hkd(700_000), hkd(600_000))


def test_c5_does_not_stop_a_client_who_does_not_hold_the_concentrated_stock() -> None:
    b = Broker()
    b.book_figures(shareholders_funds=hkd(3_000_000))
    b.mixed_client(1, financed_btc=0)
    b.list_security("0700", 6_000, hkd(100))
    b.onboard(2)
    b.deposit_shares(2, "0700", 1_000)

    b.buy(2, "BTC", coins(1) // 10, BTC_100K)

    assert b.state.loan(2) == hkd(10_000)


def test_c5_stock_breach_is_allowed_under_a_register_entry_naming_the_security() -> None:
    b = Broker()
    b.book_figures(shareholders_funds=hkd(3_000_000))
    b.mixed_client(1, financed_btc=0)
    _register(b, "C5_STOCK", "0005")

    out = b.buy(1, "BTC", coins(1), BTC_100K)

    assert [(a.limit_id, a.instrument) for a in b.events_of(LimitExceptionApplied, out)] == [("C5_STOCK", "0005")]


def test_c5_correlated_group_above_40_percent_of_shareholders_funds_blocks_financing_against_it() -> None:
    b = Broker()
    b.book_figures(shareholders_funds=hkd(4_000_000))  # one stock 800,000; one group 1,600,000
    for code in ("0005", "0011", "0023"):
        b.ok(SetSecurityMarginRatio(security=code, margin_ratio_bps=7_000, correlation_group="HK-BANKS"))
        b.ok(MarkSecurity(security=code, price=hkd(100)))
    b.mixed_client(1, financed_btc=0)  # 0005: 700,000
    b.deposit_shares(1, "0011", 10_000)  # 0011: 700,000
    b.deposit_shares(1, "0023", 5_000)  # 0023: 350,000; the group 1,750,000

    rej = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.CORRELATED_GROUP_LIMIT_EXCEEDED)

    assert (rej.detail["limit_id"], rej.detail["instrument"], rej.detail["value"]) == ("C5_GROUP", "HK-BANKS", hkd(1_750_000))


def test_register_entries_of_per_instrument_limits_must_name_a_valid_instrument() -> None:
    b = Broker()
    b.onboard(1)
    b.list_security("0005", 7_000, hkd(100))

    def entry(limit_id: str, client: int, instrument: str) -> RecordLimitException:
        return RecordLimitException(limit_id=limit_id, client=client, instrument=instrument, justification="j", approver="CRO", expiry_ns=b.ts + HOUR_NS)

    b.reject(entry("C5_STOCK", 0, "9999"), C.UNKNOWN_SECURITY)
    b.reject(entry("C4_LIQUIDITY", 0, "SOL"), C.INVALID_PARAMETER)
    b.reject(entry("C5_GROUP", 0, "NO-SUCH-GROUP"), C.INVALID_PARAMETER)
    b.reject(entry("C1", 1, "BTC"), C.INVALID_PARAMETER)
    b.ok(entry("C5_STOCK", 0, "0005"))
