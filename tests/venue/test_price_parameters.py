"""Mark-price and funding parameters are per-contract configuration, set by journaled operator commands.

Rules: genesis sets the house parameters of each contract through the commands; a setting
takes effect at once (the next index print uses the new basis window, the next settlement
must carry the new interval); every bad setting is refused with its own code and changes
nothing; a funding interval above 24 hours is refused; a settlement at another interval
than the configured one is refused; snapshot restore and replay reproduce the parameters
and the state hash; a change is a new disclosure version with a new content hash, a
restatement of the same values is not.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_NET_HOLDINGS, MICRO
from harbour.prices.funding import MAX_FUNDING_INTERVAL_NS, PremiumWeighting, funding_cap_e8
from harbour.prices.mark import MarkParameters, compute_mark_price
from harbour.venue import VenueEngine, VenueState
from harbour.venue.commands import MarginTier, SetFundingParameters, SetMarginTiers, SetMarkParameters, SettleFunding
from harbour.venue.disclosure import build_disclosure
from harbour.venue.events import FundingParametersSet, FundingSettled, MarkParametersSet
from harbour.venue.genesis import default_funding_parameters, default_mark_parameters
from harbour.venue.price_parameters import HOUSE_FUNDING_SCHEDULE, HOUSE_MARK_PARAMETERS, FundingSchedule, funding_parameters

from venue.helpers import BTC_REF, BTCUSD, BUY, ETHHKD, Venue, usd
from venue.test_index_feed import with_methodology
from venue.test_mark_price import INDEX, START, good_print, quote, traders

C = RejectCode
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def _funding_parameters(instrument: str = BTCUSD, **overrides: object) -> SetFundingParameters:
    """The house BTCUSD funding terms (genesis), with ``overrides``."""
    return msgspec.structs.replace(default_funding_parameters(BTCUSD, 25_000), instrument=instrument, **overrides)


def _mark_parameters(instrument: str = BTCUSD, **overrides: object) -> SetMarkParameters:
    return msgspec.structs.replace(default_mark_parameters(BTCUSD), instrument=instrument, **overrides)


def _settle(interval_ns: int, instrument: str = BTCUSD, rate_e8: int = 10_000) -> SettleFunding:
    return SettleFunding(instrument=instrument, rate_e8=rate_e8, interval_ns=interval_ns, mark_price=BTC_REF)


def _long_short(v: Venue) -> None:
    v.open_client(1, usd=1_000_000)
    v.open_client(2, usd=1_000_000)
    v.cross(2, 1, BTCUSD, BUY, 1_000, BTC_REF)


# --- genesis ------------------------------------------------------------------------------------


def test_genesis_sets_the_house_mark_and_funding_parameters_of_each_contract(venue: Venue) -> None:
    btc, eth = venue.state.instruments[BTCUSD], venue.state.instruments[ETHHKD]

    assert btc.mark_parameters == eth.mark_parameters == HOUSE_MARK_PARAMETERS == MarkParameters()
    assert btc.funding_schedule == HOUSE_FUNDING_SCHEDULE  # 8 h, I 0.01%, dampener 0.05%, 5 s, USD 25,000
    assert eth.funding_schedule == msgspec.structs.replace(HOUSE_FUNDING_SCHEDULE, impact_notional=200_000 * MICRO)
    assert btc.funding_schedule.interval_ns == 8 * HOUR


# --- accepted settings ------------------------------------------------------------------------


def test_setting_funding_parameters_records_them_with_the_cap_of_the_first_bracket(venue: Venue) -> None:
    command = _funding_parameters(interval_ns=4 * HOUR, interest_rate_e8=5_000, dampener_e8=25_000, cap_fraction_bps=5_000,
                                  premium_sample_interval_ns=MINUTE, impact_notional=50_000 * MICRO, weighting=PremiumWeighting.EQUAL)

    out = venue.ok(command)

    inst = venue.state.instruments[BTCUSD]
    assert inst.funding_schedule == FundingSchedule(interval_ns=4 * HOUR, interest_rate_e8=5_000, dampener_e8=25_000, cap_fraction_bps=5_000,
                                                    premium_sample_interval_ns=MINUTE, impact_notional=50_000 * MICRO, weighting=PremiumWeighting.EQUAL)
    # first bracket 20x: IMR 5%, MMR 2.5%; cap = 50% x 2.5% = 1.25% = 1,250,000 per 1e8
    assert out == [
        FundingParametersSet(seq=venue.seq, ts_ns=venue.ts, instrument=BTCUSD, interval_ns=4 * HOUR, interest_rate_e8=5_000, dampener_e8=25_000,
                             cap_fraction_bps=5_000, premium_sample_interval_ns=MINUTE, impact_notional=50_000 * MICRO, weighting="EQUAL",
                             cap_e8=1_250_000)
    ]
    assert funding_cap_e8(funding_parameters(inst.funding_schedule, inst.tiers)) == 1_250_000


def test_setting_mark_parameters_changes_the_basis_window_of_the_next_mark(venue: Venue) -> None:
    with_methodology(traders(venue))
    quote(venue, 9_599_000, 9_601_000)
    out = venue.ok(_mark_parameters(basis_window_ns=MINUTE, basis_sample_interval_ns=5 * SECOND))
    assert out == [MarkParametersSet(seq=venue.seq, ts_ns=venue.ts, instrument=BTCUSD, basis_window_ns=MINUTE,
                                     basis_sample_interval_ns=5 * SECOND, max_basis_samples=12)]

    for i in range(20):  # prints every second: at most 12 samples of the 1-minute window are kept
        mark = good_print(venue, START + i * SECOND)

    assert len(venue.state.basis_samples[BTCUSD]) == 12 == len(mark.basis_samples)
    assert mark.basis_window_ns == MINUTE
    late = good_print(venue, START + 19 * SECOND + MINUTE)  # every earlier sample is a window old
    assert [s.ts_ns for s in late.basis_samples] == [START + 19 * SECOND + MINUTE]


def test_before_any_settlement_the_mark_states_the_configured_interval(venue: Venue) -> None:
    with_methodology(traders(venue))
    venue.ok(_funding_parameters(interval_ns=HOUR))

    mark = good_print(venue, START)

    assert (mark.interval_ns, mark.last_funding_rate_e8, mark.p1) == (HOUR, 0, INDEX)


# --- refused settings: each changes nothing ------------------------------------------------------


REFUSED: list[tuple[str, RejectCode, Callable[[], object]]] = [
    ("funding-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda: _funding_parameters(instrument="DOGEUSD")),
    ("mark-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda: _mark_parameters(instrument="DOGEUSD")),
    ("interval-above-24h", C.FUNDING_INTERVAL_OUT_OF_RANGE, lambda: _funding_parameters(interval_ns=MAX_FUNDING_INTERVAL_NS + 5 * SECOND)),
    ("interval-zero", C.FUNDING_INTERVAL_OUT_OF_RANGE, lambda: _funding_parameters(interval_ns=0)),
    ("interval-negative", C.FUNDING_INTERVAL_OUT_OF_RANGE, lambda: _funding_parameters(interval_ns=-8 * HOUR)),
    ("interval-below-a-second", C.FUNDING_INTERVAL_OUT_OF_RANGE, lambda: _funding_parameters(interval_ns=SECOND - 1, premium_sample_interval_ns=1)),
    ("sample-below-a-second", C.PREMIUM_SAMPLE_INTERVAL_INVALID, lambda: _funding_parameters(premium_sample_interval_ns=SECOND // 2)),
    ("sample-not-dividing-the-interval", C.PREMIUM_SAMPLE_INTERVAL_INVALID, lambda: _funding_parameters(premium_sample_interval_ns=7 * SECOND)),
    ("sample-longer-than-the-interval", C.PREMIUM_SAMPLE_INTERVAL_INVALID, lambda: _funding_parameters(interval_ns=MINUTE, premium_sample_interval_ns=2 * MINUTE)),
    ("interest-beyond-100-percent", C.FUNDING_RATE_TERM_OUT_OF_RANGE, lambda: _funding_parameters(interest_rate_e8=100_000_001)),
    ("interest-below-minus-100-percent", C.FUNDING_RATE_TERM_OUT_OF_RANGE, lambda: _funding_parameters(interest_rate_e8=-100_000_001)),
    ("dampener-negative", C.FUNDING_RATE_TERM_OUT_OF_RANGE, lambda: _funding_parameters(dampener_e8=-1)),
    ("dampener-beyond-100-percent", C.FUNDING_RATE_TERM_OUT_OF_RANGE, lambda: _funding_parameters(dampener_e8=100_000_001)),
    ("cap-fraction-zero", C.FUNDING_CAP_FRACTION_OUT_OF_RANGE, lambda: _funding_parameters(cap_fraction_bps=0)),
    ("cap-fraction-above-one", C.FUNDING_CAP_FRACTION_OUT_OF_RANGE, lambda: _funding_parameters(cap_fraction_bps=10_001)),
    ("impact-notional-zero", C.IMPACT_NOTIONAL_OUT_OF_RANGE, lambda: _funding_parameters(impact_notional=0)),
    ("impact-notional-past-the-ceiling", C.IMPACT_NOTIONAL_OUT_OF_RANGE, lambda: _funding_parameters(impact_notional=MAX_NET_HOLDINGS + 1)),
    ("weighting-unknown", C.MALFORMED_COMMAND, lambda: _funding_parameters(weighting="CUBIC")),
    ("basis-window-zero", C.MARK_BASIS_WINDOW_OUT_OF_RANGE, lambda: _mark_parameters(basis_window_ns=0)),
    ("basis-window-above-24h", C.MARK_BASIS_WINDOW_OUT_OF_RANGE, lambda: _mark_parameters(basis_window_ns=25 * HOUR)),
    ("basis-sample-zero", C.MARK_BASIS_SAMPLE_INTERVAL_INVALID, lambda: _mark_parameters(basis_sample_interval_ns=0)),
    ("basis-sample-longer-than-window", C.MARK_BASIS_SAMPLE_INTERVAL_INVALID, lambda: _mark_parameters(basis_sample_interval_ns=301 * SECOND)),
    ("basis-window-of-too-many-samples", C.MARK_BASIS_SAMPLE_INTERVAL_INVALID, lambda: _mark_parameters(basis_sample_interval_ns=SECOND // 100)),
]


@pytest.mark.parametrize(("code", "command"), [pytest.param(code, command, id=name) for name, code, command in REFUSED])
def test_a_bad_parameter_setting_is_refused_with_its_code_and_changes_nothing(venue: Venue, code: RejectCode, command: Callable[[], object]) -> None:
    before = build_disclosure(venue.state)

    venue.reject(command(), code)  # the driver also checks the state hash is unchanged

    after = build_disclosure(venue.state)
    assert (after.version, after.content_hash) == (before.version, before.content_hash)


def test_a_funding_interval_above_24_hours_is_refused_and_changes_nothing(venue: Venue) -> None:
    rejected = venue.reject(_funding_parameters(interval_ns=25 * HOUR), C.FUNDING_INTERVAL_OUT_OF_RANGE)

    assert "at least once every 24 hours" in rejected.message
    assert dict(rejected.detail) == {"interval_ns": 25 * HOUR, "min_ns": SECOND, "max_ns": 24 * HOUR}
    assert venue.state.instruments[BTCUSD].funding_schedule.interval_ns == 8 * HOUR


def test_a_funding_interval_of_exactly_24_hours_is_accepted_and_settles(venue: Venue) -> None:
    _long_short(venue)

    venue.ok(_funding_parameters(interval_ns=24 * HOUR))
    out = venue.ok(_settle(24 * HOUR))

    assert [e.interval_ns for e in venue.events_of(FundingSettled, out)] == [24 * HOUR]


# --- the settlement follows the configured clock ------------------------------------------------


def test_a_settlement_at_another_interval_than_the_configured_one_is_refused_and_changes_nothing(venue: Venue) -> None:
    _long_short(venue)

    rejected = venue.reject(_settle(4 * HOUR), C.FUNDING_INTERVAL_MISMATCH)

    assert dict(rejected.detail) == {"interval_ns": 4 * HOUR, "configured_ns": 8 * HOUR, "instrument": BTCUSD}
    assert BTCUSD not in venue.state.funding_terms


def test_after_an_interval_change_settlements_carry_the_new_interval_only(venue: Venue) -> None:
    _long_short(venue)
    venue.ok(_settle(8 * HOUR))

    venue.ok(_funding_parameters(interval_ns=HOUR))

    venue.reject(_settle(8 * HOUR), C.FUNDING_INTERVAL_MISMATCH)
    venue.ok(_settle(HOUR))
    assert venue.state.funding_terms[BTCUSD].interval_ns == HOUR
    venue.ok(_settle(8 * HOUR, instrument=ETHHKD))  # the other contract keeps its own 8 h clock


# --- determinism --------------------------------------------------------------------------------


def _reconfigured(v: Venue) -> None:
    v.ok(_funding_parameters(interval_ns=HOUR, interest_rate_e8=1_250, dampener_e8=6_250, premium_sample_interval_ns=10 * SECOND))
    v.ok(_mark_parameters(instrument=ETHHKD, basis_window_ns=2 * MINUTE, basis_sample_interval_ns=10 * SECOND))


def test_snapshot_restore_reproduces_the_parameters_and_the_state_hash(venue: Venue) -> None:
    _reconfigured(venue)

    restored = VenueEngine.restore(venue.engine.snapshot())

    assert restored.state_hash() == venue.engine.state_hash()
    for sym, inst in venue.state.instruments.items():
        assert restored.state.instruments[sym].funding_schedule == inst.funding_schedule
        assert restored.state.instruments[sym].mark_parameters == inst.mark_parameters
    assert build_disclosure(restored.state).to_json() == build_disclosure(venue.state).to_json()


def test_replaying_the_commands_reproduces_the_parameters_and_the_state_hash(venue: Venue) -> None:
    _reconfigured(venue)
    replayed = VenueEngine()

    for seq, ts, command in venue.commands:
        replayed.apply(seq, ts, command)  # type: ignore[arg-type]

    assert replayed.state_hash() == venue.engine.state_hash()
    assert replayed.state.instruments[BTCUSD].funding_schedule.interval_ns == HOUR


def test_the_parameters_are_part_of_the_state_hash(venue: Venue) -> None:
    before = venue.hash()

    venue.ok(_mark_parameters(basis_window_ns=10 * MINUTE))

    assert venue.hash() != before


def test_an_old_snapshot_without_parameters_decodes_to_the_house_defaults(venue: Venue) -> None:
    state = venue.state.to_state()
    for row in state["instruments"].values():  # type: ignore[attr-defined]
        del row["mark"], row["funding"]

    decoded = VenueState.decode(msgspec.msgpack.encode(state))

    assert decoded.instruments[ETHHKD].mark_parameters == HOUSE_MARK_PARAMETERS
    assert decoded.instruments[ETHHKD].funding_schedule == HOUSE_FUNDING_SCHEDULE


# --- the disclosure states the live parameters ---------------------------------------------------


def test_the_disclosure_states_each_contracts_live_mark_and_funding_parameters(venue: Venue) -> None:
    _reconfigured(venue)
    doc = build_disclosure(venue.state)

    funding = {r["symbol"]: r for r in doc.rules["funding"]["instruments"]}
    mark = {r["symbol"]: r for r in doc.rules["mark_price"]["instruments"]}
    assert (funding[BTCUSD]["interval_ns"], funding[BTCUSD]["premium_sample_interval_ns"]) == (HOUR, 10 * SECOND)
    assert (funding[BTCUSD]["interest_rate_e8"], funding[BTCUSD]["dampener_e8"]) == (1_250, 6_250)
    assert funding[ETHHKD]["interval_ns"] == 8 * HOUR and funding[ETHHKD]["impact_notional"] == 200_000 * MICRO
    assert (mark[ETHHKD]["basis_window_ns"], mark[ETHHKD]["max_basis_samples"]) == (2 * MINUTE, 12)
    assert mark[BTCUSD]["basis_window_ns"] == 5 * MINUTE
    markdown = doc.markdown()
    assert "| BTCUSD | 1 h | 0.00125% | +-0.00625% | 10 s | USD 25,000 | LINEAR | 75% | 5% / 2.5% | +-1.875% |" in markdown
    assert "| ETHHKD | 2 min | 10 s | 12 |" in markdown


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_funding_parameters(interval_ns=HOUR), id="interval"),
        pytest.param(_funding_parameters(interest_rate_e8=20_000), id="interest-rate"),
        pytest.param(_funding_parameters(dampener_e8=40_000), id="dampener"),
        pytest.param(_funding_parameters(cap_fraction_bps=5_000), id="cap-fraction"),
        pytest.param(_funding_parameters(premium_sample_interval_ns=MINUTE), id="premium-cadence"),
        pytest.param(_funding_parameters(impact_notional=50_000 * MICRO), id="impact-notional"),
        pytest.param(_funding_parameters(weighting=PremiumWeighting.EQUAL), id="weighting"),
        pytest.param(_mark_parameters(basis_window_ns=10 * MINUTE), id="basis-window"),
        pytest.param(_mark_parameters(basis_sample_interval_ns=10 * SECOND), id="basis-sample-interval"),
    ],
)
def test_changing_any_mark_or_funding_parameter_makes_a_new_disclosure_version_and_content_hash(
    venue: Venue, change: SetFundingParameters | SetMarkParameters
) -> None:
    before = build_disclosure(venue.state)

    venue.ok(change)

    after = build_disclosure(venue.state)
    assert after.version == before.version + 1
    assert after.content_hash != before.content_hash
    assert after.document["effective_from_seq"] == venue.seq


def test_restating_the_same_parameters_keeps_the_disclosure_version_and_hash(venue: Venue) -> None:
    before = build_disclosure(venue.state)

    venue.ok(default_funding_parameters(BTCUSD, 25_000))
    venue.ok(default_mark_parameters(ETHHKD))

    after = build_disclosure(venue.state)
    assert (after.version, after.content_hash) == (before.version, before.content_hash)


def test_the_funding_cap_follows_a_margin_bracket_change(venue: Venue) -> None:
    venue.ok(SetMarginTiers(instrument=BTCUSD, tiers=(MarginTier(max_notional=usd(1_000_000), max_leverage=10, maintenance_ppm=40_000),)))

    row = next(r for r in build_disclosure(venue.state).rules["funding"]["instruments"] if r["symbol"] == BTCUSD)

    # 10x: IMR 10%, MMR 4%; cap = 75% x 6% = 4.5% = 4,500,000 per 1e8
    assert (row["imr_ppm"], row["mmr_ppm"], row["cap_e8"]) == (100_000, 40_000, 4_500_000)


def test_the_mark_price_event_recomputes_from_itself_with_the_configured_window(venue: Venue) -> None:
    with_methodology(traders(venue))
    venue.ok(_mark_parameters(basis_window_ns=MINUTE))
    quote(venue, 9_599_000, 9_601_000)
    good_print(venue, START)
    venue.cancel_all(9)
    quote(venue, 9_601_000, 9_605_000)

    event = good_print(venue, START + 30 * SECOND, price=9_600_500)

    again = compute_mark_price(
        MarkParameters(basis_window_ns=event.basis_window_ns, basis_sample_interval_ns=SECOND),
        ts_ns=event.ts_ns,
        index=event.index,
        last_funding_rate_e8=event.last_funding_rate_e8,
        time_to_funding_ns=event.time_to_funding_ns,
        interval_ns=event.interval_ns,
        basis_samples=event.basis_samples,
        last_trade_price=event.last_trade,
    )
    assert event.basis_window_ns == MINUTE and len(event.basis_samples) == 2
    assert (again.value, again.p2_book_basis) == (event.mark, event.p2)
