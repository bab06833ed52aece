"""C2/C5 data currency: no new financing on an old SMF extract.

C2 (a client's loans in every product) and C5 (the book's margin value per security) count the SMF extract
recorded with the book figures (D53). The SMF book moves with HKEX settlement, on HK business days, and its
overnight extract is recorded each morning. House default: an extract recorded on day D stays current until
12:00 HKT on the next HK business day; after that every new advance is refused (SMF_EXTRACT_STALE) and nothing
changes, until the next extract. Repayments, withdrawals within limits, forced sales, cash-paid purchases and
credit-limit changes are never blocked by it. Time is the command's journaled timestamp (T0 = Wednesday
2026-02-11 08:00 HKT).
"""

from __future__ import annotations

from harbour.broker import BrokerConfig, BrokerEngine, BrokerEngineFactory
from harbour.broker.commands import (
    BuyVirtualAsset,
    ChangeCreditLimit,
    ConfigureBroker,
    DepositCash,
    RecordBookFigures,
    SmfClientLoan,
    WithdrawSecurities,
    WithdrawVirtualAsset,
)
from harbour.broker.config import BOOK_SETUP, HOUSE_DEFAULT, SETTINGS
from harbour.broker.events import CollateralSold, ForcedSaleStarted, LoanAdvanced, Rejected
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, HOUR_NS, T0, Broker, coins, hkd

C = RejectCode
DAY_NS = 24 * HOUR_NS
THURSDAY_NOON = T0 + 28 * HOUR_NS  # 2026-02-12 12:00 HKT: Wednesday's extract is current up to here
FRIDAY_8AM = T0 + 2 * DAY_NS
MONDAY_NOON = T0 + 5 * DAY_NS + 4 * HOUR_NS  # 2026-02-16 12:00 HKT
LUNAR_NEW_YEAR = (20_501, 20_502, 20_503)  # 2026-02-17/18/19 (days since 1970-01-01, HKT)


def _extract(*, smf_loan: int = hkd(100_000)) -> RecordBookFigures:
    """Book figures with an SMF extract: client 1 owes ``smf_loan`` in the SMF books; the limits are slack."""
    loans = (SmfClientLoan(client=1, amount=smf_loan),) if smf_loan else ()
    return RecordBookFigures(shareholders_funds=hkd(10**9), capital=hkd(10**9), securities_margin_loans=hkd(10**9), client_loans=loans)


def _book(config: BrokerConfig | None = None, *, extract: RecordBookFigures | None = None) -> Broker:
    """Client 1 (1,000,000 of stock 0005 at 70%, no loan yet) and the book figures recorded Wednesday 08:00 HKT."""
    b = Broker(config)
    b.mixed_client(1, financed_btc=0)
    b.ok(extract if extract is not None else _extract(), ts=T0)
    return b


def _advance(b: Broker, ts: int) -> list[object]:
    """Client 1 buys 1 BTC on loan (a new advance: the decision C2/C5 gate) at ``ts``."""
    return b.do(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), ts=ts)


def _refused_as_stale(out: list[object]) -> Rejected:
    assert len(out) == 1 and isinstance(out[0], Rejected), out
    assert out[0].code == int(C.SMF_EXTRACT_STALE) and out[0].reason == "SMF_EXTRACT_STALE"
    return out[0]


def test_new_financing_is_refused_after_noon_of_the_next_business_day_without_a_new_extract_and_changes_nothing() -> None:
    b = _book()
    b.mark_va("BTC", BTC_100K, ts=THURSDAY_NOON + HOUR_NS)  # Thursday 13:00 HKT, Thursday's extract never came
    before = b.hash()

    rej = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.SMF_EXTRACT_STALE)

    assert b.hash() == before and b.state.loan(1) == 0
    assert rej.detail["recorded"] == "2026-02-11 08:00:00 HKT"
    assert rej.detail["valid_until"] == "2026-02-12 12:00:00 HKT"
    assert rej.detail["age"] == "29 h 00 min"
    assert "SMF extract" in rej.message and "C2/C5" in rej.message


def test_new_financing_is_allowed_on_yesterdays_extract_before_the_noon_cut_off() -> None:
    b = _book()

    out = _advance(b, THURSDAY_NOON - HOUR_NS)  # Thursday 11:00 HKT: the morning batch may still be landing

    assert [e.amount for e in out if isinstance(e, LoanAdvanced)] == [hkd(100_000)]


def test_the_extract_is_current_at_exactly_the_cut_off_and_stale_one_nanosecond_later() -> None:
    at_limit, past_limit = _book(), _book()

    assert any(isinstance(e, LoanAdvanced) for e in _advance(at_limit, THURSDAY_NOON))
    _refused_as_stale(_advance(past_limit, THURSDAY_NOON + 1))
    assert past_limit.state.loan(1) == 0


def test_a_new_extract_lifts_the_block() -> None:
    b = _book()
    _refused_as_stale(_advance(b, THURSDAY_NOON + HOUR_NS))

    b.ok(_extract(), ts=THURSDAY_NOON + 2 * HOUR_NS)

    assert any(isinstance(e, LoanAdvanced) for e in _advance(b, THURSDAY_NOON + 3 * HOUR_NS))


def test_fridays_extract_stays_current_over_the_weekend_until_monday_noon() -> None:
    b = _book()
    b.ok(_extract(), ts=FRIDAY_8AM)  # no SMF batch on Saturday or Sunday: HKEX does not settle

    assert any(isinstance(e, LoanAdvanced) for e in _advance(b, MONDAY_NOON))  # Sunday night and Monday morning VA buyers
    _refused_as_stale(_advance(b, MONDAY_NOON + 1))


def test_hk_public_holidays_are_skipped_like_the_weekend() -> None:
    b = _book(BrokerConfig(hk_holidays=LUNAR_NEW_YEAR))
    monday_8am = T0 + 5 * DAY_NS
    friday_noon = T0 + 9 * DAY_NS + 4 * HOUR_NS  # 2026-02-20 12:00 HKT, the first business day after the holidays
    b.ok(_extract(), ts=monday_8am)

    assert any(isinstance(e, LoanAdvanced) for e in _advance(b, friday_noon))
    _refused_as_stale(_advance(b, friday_noon + 1))


def test_a_stale_extract_never_blocks_repayments_withdrawals_within_limits_limit_decreases_cash_purchases_or_forced_sales() -> None:
    b = Broker()
    b.pure_va_client(2)  # 14 BTC, loan 400,000 (before the book figures: C1 is not in force)
    b.mixed_client(1, financed_btc=0)
    b.ok(_extract(), ts=T0)
    b.buy(1, "BTC", coins(2), BTC_100K)  # loan 200,000 on a current extract
    b.mark_va("BTC", BTC_100K, ts=THURSDAY_NOON + HOUR_NS)  # from here the extract is stale
    _refused_as_stale(_advance(b, b.ts + 1))

    b.ok(DepositCash(client=1, amount=hkd(50_000)))  # a repayment
    b.ok(WithdrawVirtualAsset(client=1, asset="BTC", qty=coins(1)))  # within N1 (a)
    b.ok(WithdrawSecurities(client=1, security="0005", qty=1_000))
    b.ok(ChangeCreditLimit(client=1, new_limit=hkd(3_000_000), reason_code="RISK_REDUCTION", approver="head-of-credit"))
    b.ok(DepositCash(client=1, amount=hkd(1_000_000)))  # repays the rest; cash left 850,000
    cash_buy = b.buy(1, "BTC", coins(1), BTC_100K)  # paid in cash: not an advance
    crash = b.mark_va("BTC", hkd(40_000))  # client 2: R far above 130%

    assert b.state.loan(1) == 0 and not any(isinstance(e, LoanAdvanced) for e in cash_buy)
    assert [e.client for e in crash if isinstance(e, ForcedSaleStarted)] == [2]
    assert any(isinstance(e, CollateralSold) and e.client == 2 for e in crash)


def test_a_credit_limit_increase_is_not_a_c2_c5_decision_and_is_not_blocked() -> None:
    b = _book()
    b.mark_va("BTC", BTC_100K, ts=THURSDAY_NOON + HOUR_NS)

    b.ok(ChangeCreditLimit(client=1, new_limit=hkd(1_200_000), reason_code="CLIENT_REQUEST", approver="head-of-credit"))

    assert b.state.clients[1].credit_limit == hkd(1_200_000)  # the advance it allows is checked when it is drawn


def test_without_an_smf_extract_this_engines_book_is_the_whole_book_and_nothing_ages() -> None:
    b = _book(extract=_extract(smf_loan=0))

    assert any(isinstance(e, LoanAdvanced) for e in _advance(b, T0 + 7 * DAY_NS))


def test_when_the_configuration_says_an_smf_book_exists_an_advance_needs_a_current_extract_even_before_the_first() -> None:
    config = BrokerConfig(smf_extract_required=True)
    never = Broker(config)
    never.mixed_client(1, financed_btc=0)
    rej = _refused_as_stale(_advance(never, never.ts + 1))
    assert rej.detail["recorded"] == "never"

    empty = _book(config, extract=_extract(smf_loan=0))  # an empty extract: the SMF book has no loan to these clients
    assert any(isinstance(e, LoanAdvanced) for e in _advance(empty, THURSDAY_NOON))
    _refused_as_stale(_advance(empty, THURSDAY_NOON + 1))


def test_the_extract_age_limit_is_a_house_default_for_the_risk_committee_and_cannot_be_switched_off() -> None:
    basis = {s.field: s.basis for s in SETTINGS}
    assert basis["smf_extract_max_age_business_days"] == HOUSE_DEFAULT
    assert basis["smf_extract_cutoff_minutes_hkt"] == HOUSE_DEFAULT
    assert basis["smf_extract_required"] == BOOK_SETUP
    defaults = BrokerConfig()
    assert (defaults.smf_extract_max_age_business_days, defaults.smf_extract_cutoff_minutes_hkt, defaults.smf_extract_required) == (1, 720, False)

    b = Broker()
    for bad in (BrokerConfig(smf_extract_max_age_business_days=0), BrokerConfig(smf_extract_cutoff_minutes_hkt=24 * 60)):
        b.reject(ConfigureBroker(config=bad), C.INVALID_PARAMETER)


def test_replay_and_snapshot_restore_reproduce_the_state_through_stale_rejects_and_a_new_extract() -> None:
    b = _book()
    b.buy(1, "BTC", coins(1), BTC_100K)
    _refused_as_stale(_advance(b, THURSDAY_NOON + 1))
    middle = b.engine.snapshot()
    middle_seq = b.seq
    b.ok(_extract(smf_loan=hkd(200_000)), ts=THURSDAY_NOON + HOUR_NS)
    _advance(b, THURSDAY_NOON + 2 * HOUR_NS)

    replayed = BrokerEngine()
    events = [e for seq, ts, cmd in b.commands for e in replayed.apply(seq, ts, cmd)]  # type: ignore[arg-type]
    restored = BrokerEngineFactory().restore(middle)
    for seq, ts, cmd in b.commands[middle_seq:]:
        restored.apply(seq, ts, cmd)  # type: ignore[arg-type]

    assert events == b.events
    assert replayed.state_hash() == b.hash() == restored.state_hash()
    assert b.state.loan(1) == hkd(200_000)
