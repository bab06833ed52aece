"""Index rulebook: hierarchy, staleness, outliers, minimum constituents, fallback and halt,
methodology versions, and bit-for-bit recomputation of every print."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.kernel import RejectCode
from harbour.prices import (
    Constituent,
    ExclusionReason,
    Fallback,
    IndexMethodology,
    IndexPrint,
    InputKind,
    OutlierAction,
    PriceInput,
    check_methodology,
    compute_index,
    recompute,
    select_methodology,
)

SECOND = 1_000_000_000
T0 = 1_000 * SECOND
VENUES = ("A", "B", "C", "D", "E")


def methodology(**changes: object) -> IndexMethodology:
    base = IndexMethodology(
        asset="BTC",
        version=1,
        effective_from_ns=0,
        price_decimals=2,
        constituents=tuple(Constituent(venue=v, weight=1) for v in VENUES),
        outlier_action=OutlierAction.CLAMP,
        outlier_band_bps=100,
        staleness_limit_ns=30 * SECOND,
        min_live_constituents=3,
        halt_after_ns=60 * SECOND,
    )
    return msgspec.structs.replace(base, **changes)


def trade(venue: str, price: int, ts_ns: int = T0, kind: InputKind = InputKind.TRADE) -> PriceInput:
    return PriceInput(venue=venue, kind=kind, price=price, ts_ns=ts_ns)


def reasons(index_print: IndexPrint) -> dict[str, ExclusionReason]:
    return {e.input.venue: e.reason for e in index_print.exclusions}


def test_index_equal_weights_is_the_mean_rounded_to_nearest() -> None:
    inputs = [trade("A", 100_00), trade("B", 100_01), trade("C", 100_02), trade("D", 100_02)]

    result = compute_index(methodology(), inputs, T0, None)

    assert result.fallback is Fallback.NONE
    assert result.value == 100_01  # 400.05 / 4 = 100.0125 -> 100.01
    assert result.live_constituents == 4
    assert [w.weight for w in result.weights] == [1, 1, 1, 1, 0]


def test_index_integer_weights_weight_the_mean() -> None:
    m = methodology(constituents=(Constituent(venue="A", weight=3), Constituent(venue="B", weight=1)), min_live_constituents=2)

    result = compute_index(m, [trade("A", 100_00), trade("B", 100_40)], T0, None)

    assert result.value == 100_10


def test_index_venue_stale_beyond_limit_gets_zero_weight() -> None:
    inputs = [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00), trade("D", 100_50, ts_ns=T0 - 30 * SECOND - 1)]

    result = compute_index(methodology(), inputs, T0, None)

    assert reasons(result) == {"D": ExclusionReason.STALE}
    assert next(w for w in result.weights if w.venue == "D").weight == 0
    assert result.value == 100_00


def test_index_venue_exactly_at_staleness_limit_is_still_live() -> None:
    inputs = [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00, ts_ns=T0 - 30 * SECOND)]

    result = compute_index(methodology(), inputs, T0, None)

    assert result.live_constituents == 3


def test_index_trade_outranks_firm_quote_and_quote_stands_in_when_trade_is_stale() -> None:
    inputs = [
        trade("A", 100_00),
        trade("A", 100_20, kind=InputKind.FIRM_QUOTE),
        trade("B", 100_00, ts_ns=T0 - 60 * SECOND),
        trade("B", 100_10, kind=InputKind.FIRM_QUOTE),
        trade("C", 100_00),
    ]

    result = compute_index(methodology(), inputs, T0, None)

    used = {w.venue: (w.kind, w.price) for w in result.weights if w.weight}
    assert used == {"A": (InputKind.TRADE, 100_00), "B": (InputKind.FIRM_QUOTE, 100_10), "C": (InputKind.TRADE, 100_00)}
    assert sorted(e.reason for e in result.exclusions) == [ExclusionReason.STALE, ExclusionReason.SUPERSEDED]


def test_index_refuses_unknown_ineligible_future_and_non_positive_inputs_with_reasons() -> None:
    m = methodology(constituents=(*methodology().constituents, Constituent(venue="X", weight=0, eligible=False)))
    inputs = [trade("A", 100_00), trade("B", 100_00), trade("C", 0), trade("D", 100_00, ts_ns=T0 + 1), trade("X", 100_00), trade("Z", 1)]

    result = compute_index(m, inputs, T0, None)

    assert reasons(result) == {
        "C": ExclusionReason.NON_POSITIVE_PRICE,
        "D": ExclusionReason.AFTER_PRINT_TIME,
        "X": ExclusionReason.INELIGIBLE_VENUE,
        "Z": ExclusionReason.NOT_A_CONSTITUENT,
    }


def test_index_outlier_beyond_band_is_clamped_to_the_band_edge_with_its_record() -> None:
    inputs = [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00), trade("D", 105_00), trade("E", 90_00)]

    result = compute_index(methodology(), inputs, T0, None)

    assert [(c.venue, c.price_in, c.price_out, c.median) for c in result.clamps] == [
        ("D", 105_00, 101_00, 100_00),
        ("E", 90_00, 99_00, 100_00),
    ]
    assert result.exclusions == ()
    assert result.value == 100_00


def test_index_outlier_beyond_band_is_excluded_with_reason_when_methodology_says_exclude() -> None:
    inputs = [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00), trade("D", 101_01), trade("E", 101_00)]

    result = compute_index(methodology(outlier_action=OutlierAction.EXCLUDE), inputs, T0, None)

    assert reasons(result) == {"D": ExclusionReason.OUTLIER_EXCLUDED}
    assert "median 10000" in result.exclusions[0].detail
    assert result.live_constituents == 4


def test_index_below_minimum_constituents_holds_last_good_value_flagged_stale() -> None:
    good = compute_index(methodology(), [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00)], T0, None)

    held = compute_index(methodology(), [trade("A", 120_00, ts_ns=T0 + 10 * SECOND)], T0 + 10 * SECOND, good)

    assert held.fallback is Fallback.LAST_GOOD_STALE and held.is_stale and not held.is_halt
    assert held.value == 100_00
    assert held.last_good == good.last_good


def test_index_fallback_beyond_halt_delay_triggers_halt() -> None:
    good = compute_index(methodology(), [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00)], T0, None)
    held = compute_index(methodology(), [], T0 + 60 * SECOND, good)

    halted = compute_index(methodology(), [], T0 + 60 * SECOND + 1, held)

    assert held.fallback is Fallback.LAST_GOOD_STALE
    assert halted.fallback is Fallback.HALT and halted.is_halt
    assert halted.value == 100_00  # the held value is still shown, never as a live print


def test_index_with_no_good_value_ever_halts_at_once() -> None:
    result = compute_index(methodology(), [trade("A", 100_00)], T0, None)

    assert result.fallback is Fallback.HALT
    assert result.value is None


def test_index_recovers_from_fallback_as_soon_as_enough_venues_are_live() -> None:
    held = compute_index(methodology(), [], T0, compute_index(methodology(), [trade(v, 100_00) for v in "ABC"], T0 - SECOND, None))

    recovered = compute_index(methodology(), [trade(v, 101_00, ts_ns=T0 + SECOND) for v in "ABC"], T0 + SECOND, held)

    assert recovered.fallback is Fallback.NONE
    assert recovered.value == 101_00


def test_index_methodology_selected_by_effective_from_time() -> None:
    v1 = methodology(version=1, effective_from_ns=0)
    v2 = methodology(version=2, effective_from_ns=T0, outlier_band_bps=50)

    assert select_methodology([v2, v1], T0 - 1) == v1
    assert select_methodology([v2, v1], T0) == v2
    assert select_methodology([methodology(effective_from_ns=T0)], T0 - 1) is None


def test_index_methodology_versions_with_the_same_effective_time_are_refused() -> None:
    with pytest.raises(ValueError):
        select_methodology([methodology(version=1), methodology(version=2)], T0)


def test_index_print_records_its_methodology_version() -> None:
    m = methodology(version=7, effective_from_ns=T0)

    result = compute_index(m, [trade(v, 100_00) for v in "ABC"], T0, None)

    assert result.methodology_version == 7
    with pytest.raises(ValueError):
        compute_index(m, [], T0 - 1, None)


def test_index_methodology_check_returns_invalid_parameter_problems() -> None:
    problems = check_methodology(methodology(min_live_constituents=6, outlier_band_bps=0))

    assert {p.field for p in problems} == {"min_live_constituents", "outlier_band_bps"}
    assert {p.code for p in problems} == {RejectCode.INVALID_PARAMETER}


def test_index_print_recomputes_bit_for_bit_after_a_storage_round_trip() -> None:
    good = compute_index(methodology(), [trade("A", 100_00), trade("B", 100_00), trade("C", 100_00)], T0, None)
    inputs = [trade("D", 105_00, ts_ns=T0 + SECOND), trade("A", 100_10, ts_ns=T0 + SECOND), trade("B", 99_00, ts_ns=T0 - 40 * SECOND)]
    original = compute_index(methodology(), inputs, T0 + SECOND, good)

    stored = msgspec.msgpack.encode(original)
    restored = msgspec.msgpack.decode(stored, type=IndexPrint)

    assert recompute(restored) == original
    assert msgspec.msgpack.encode(recompute(restored)) == stored


# --- properties ----------------------------------------------------------------------------

_input = st.builds(
    PriceInput,
    venue=st.sampled_from((*VENUES, "Z")),
    kind=st.sampled_from(InputKind),
    price=st.integers(min_value=-5, max_value=10**9),
    ts_ns=st.integers(min_value=T0 - 60 * SECOND, max_value=T0 + SECOND),
)
_methodology = st.builds(
    methodology,
    outlier_action=st.sampled_from(OutlierAction),
    outlier_band_bps=st.integers(min_value=1, max_value=2_000),
    min_live_constituents=st.integers(min_value=1, max_value=5),
    constituents=st.lists(st.integers(min_value=1, max_value=1_000), min_size=5, max_size=5).map(
        lambda ws: tuple(Constituent(venue=v, weight=w) for v, w in zip(VENUES, ws, strict=True))
    ),
)


@settings(max_examples=200, deadline=None)
@given(m=_methodology, inputs=st.lists(_input, max_size=12))
def test_index_value_lies_within_the_prices_it_used_and_recomputes_identically(m: IndexMethodology, inputs: list[PriceInput]) -> None:
    result = compute_index(m, inputs, T0, None)

    used = [w.price for w in result.weights if w.price is not None]
    if result.fallback is Fallback.NONE:
        assert result.value is not None and min(used) <= result.value <= max(used)
        clamped_from = {c.venue: c.price_in for c in result.clamps}
        raw = [clamped_from.get(w.venue, w.price) for w in result.weights if w.price is not None]
        assert min(raw) <= result.value <= max(raw)
    else:
        assert result.fallback is Fallback.HALT and result.value is None
    assert recompute(result) == result
    assert compute_index(m, list(reversed(inputs)), T0, None) == result
