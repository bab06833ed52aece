"""The published rulebook disclosure: generated from the live venue state, versioned and hashed.

Rules: the document covers every section a professional investor needs (contracts, margin
brackets, mark price, funding, index, margin assets, liquidation, loss waterfall); every number
in it is the engine's own; its version and content hash change when, and only when, the
configuration changes; Markdown and JSON carry the same version and hash.
"""

from __future__ import annotations

import json

import msgspec

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MICRO
from harbour.prices.funding import MAX_FUNDING_INTERVAL_NS, SIGN_CONVENTION, FundingParameters, funding_cap_e8
from harbour.prices.index import Constituent, IndexMethodology
from harbour.venue import VenueEngine, VenueState
from harbour.venue.commands import (
    FundPlatformAccount,
    MarginTier,
    RecordStressReport,
    SetFxRate,
    SetIndexMethodology,
    SetIssuerRegister,
    SetMarginAssetHaircut,
    SetMarginTiers,
)
from harbour.venue.disclosure import SECTIONS, build_disclosure
from harbour.venue.events import StressReportRecorded
from harbour.venue.liquidation import LIQUIDATION_FEE_PPM, WATERFALL
from harbour.venue.tiers import initial_margin, maintenance_margin

from venue.helpers import BTC_REF, BTCUSD, ETHHKD, T0, Venue, usd

INVALID = RejectCode.INVALID_PARAMETER
HASH_A = "a" * 64
HASH_B = "b" * 64

MARKDOWN_HEADINGS = (
    "## 1. Contract specifications",
    "## 2. Margin brackets",
    "## 3. Mark price",
    "## 4. Funding",
    "## 5. Index methodology and constituents",
    "## 6. Margin assets, haircuts and FX",
    "## 7. Liquidation procedure",
    "## 8. Loss waterfall",
    "## 9. Current figures (not part of the versioned content)",
)


def _btc_methodology(version: int = 1, effective_from_ns: int = T0) -> IndexMethodology:
    return IndexMethodology(
        asset="BTC",
        version=version,
        effective_from_ns=effective_from_ns,
        price_decimals=2,
        constituents=tuple(Constituent(venue=v, weight=1) for v in ("binance", "okx", "kraken", "bitstamp")),
    )


def _stress_report(**overrides: object) -> RecordStressReport:
    fields: dict[str, object] = dict(
        report_hash=HASH_A,
        as_of_seq=1,
        as_of_state_hash=HASH_B,
        library_version="2026-02-s3-v1",
        scenarios=26,
        insurance_fund=usd(15_800_000),
        capital_tranche=usd(31_600_000),
        worst_scenario="Tier extreme 7 days down",
        worst_cover2_loss=usd(40_000),
        worst_total_loss=usd(50_000),
        worst_adl=0,
        cover2_failures=0,
    )
    fields.update(overrides)
    return RecordStressReport(**fields)  # type: ignore[arg-type]


# --- coverage and reading ------------------------------------------------------------------


def test_disclosure_covers_every_published_section_in_json_and_markdown(venue: Venue) -> None:
    doc = build_disclosure(venue.state, as_of_seq=venue.seq, as_of_ts_ns=venue.ts)
    markdown = doc.markdown()

    assert tuple(doc.rules) == SECTIONS
    assert [line for line in markdown.splitlines() if line.startswith("## ")] == list(MARKDOWN_HEADINGS)
    for sym in (BTCUSD, ETHHKD):
        assert f"### {sym}" in markdown
    assert markdown.startswith("# Harbour perpetual contracts: rulebook disclosure")


def test_markdown_and_json_carry_the_same_version_and_content_hash(venue: Venue) -> None:
    doc = build_disclosure(venue.state)
    parsed = json.loads(doc.to_json())

    assert parsed["version"] == doc.version == venue.state.config_version > 0
    assert parsed["content_hash"] == doc.content_hash
    assert f"Version: **{doc.version}**" in doc.markdown()
    assert f"Content hash: `{doc.content_hash}`" in doc.markdown()


def test_contract_specifications_are_the_listed_instrument_terms(venue: Venue) -> None:
    rows = {r["symbol"]: r for r in build_disclosure(venue.state).rules["contracts"]["instruments"]}

    for sym, inst in venue.state.instruments.items():
        assert rows[sym]["tick"] == inst.tick and rows[sym]["lot"] == inst.lot
        assert rows[sym]["unit_value"] == inst.unit_value
        assert rows[sym]["taker_fee_ppm"] == inst.taker_fee_ppm
        assert rows[sym]["sfc_approval_ref"] == inst.sfc_approval_ref
    assert "| tick size | 0.10 USD |" in build_disclosure(venue.state).markdown()


# --- the numbers are the engine's -------------------------------------------------------------


def test_margin_brackets_in_the_disclosure_equal_the_engine_bracket_rows(venue: Venue) -> None:
    margin = {r["symbol"]: r for r in build_disclosure(venue.state).rules["margin"]["instruments"]}

    for sym, inst in venue.state.instruments.items():
        published = [
            (b["notional_up_to"], b["max_leverage"], b["initial_rate_ppm"], b["maintenance_rate_ppm"], b["maintenance_amount"])
            for b in margin[sym]["brackets"]
        ]
        assert published == [t.row() for t in inst.tiers]


def test_worked_margin_example_equals_the_engine_maintenance_and_initial_margin(venue: Venue) -> None:
    margin = {r["symbol"]: r for r in build_disclosure(venue.state).rules["margin"]["instruments"]}

    for sym, inst in venue.state.instruments.items():
        ex = margin[sym]["worked_example"]
        assert ex["maintenance_margin"] == maintenance_margin(inst.tiers, ex["notional"])
        assert ex["maintenance_margin"] == ex["maintenance_gross"] - ex["maintenance_amount"]
        assert ex["initial_margin_at_bracket_leverage"] == initial_margin(inst.tiers, ex["notional"], 0)
        assert ex["bracket"] == 2  # the example shows a maintenance amount at work


def test_worked_example_reads_in_currency_units_for_btcusd(venue: Venue) -> None:
    # default BTCUSD brackets: 250k at 2.5%, 1m at 5% (amount 6,250): 625,000 x 5% - 6,250 = 25,000
    markdown = build_disclosure(venue.state).markdown()

    assert "ceil(625,000 x 5%) - 6,250 = 31,250 - 6,250 = **USD 25,000**" in markdown
    assert maintenance_margin(venue.state.instruments[BTCUSD].tiers, 625_000 * MICRO) == 25_000 * MICRO


def test_funding_states_sign_convention_interval_and_the_cap_of_the_first_bracket(venue: Venue) -> None:
    funding = build_disclosure(venue.state).rules["funding"]

    assert funding["sign_convention"] == SIGN_CONVENTION == "positive rate: longs pay shorts"
    assert funding["max_interval_ns"] == MAX_FUNDING_INTERVAL_NS
    for row in funding["instruments"]:
        assert 0 < row["interval_ns"] <= MAX_FUNDING_INTERVAL_NS
        first = venue.state.instruments[row["symbol"]].tiers[0]
        assert row["cap_e8"] == funding_cap_e8(FundingParameters(imr_ppm=first.imr_ppm, mmr_ppm=first.mmr_ppm))


def test_margin_assets_show_haircuts_and_why_each_is_or_is_not_eligible(venue: Venue) -> None:
    assets = {a["asset"]: a for a in build_disclosure(venue.state).rules["margin_assets"]["assets"]}

    assert assets["HKDX"]["haircut_bps"] == 200 and assets["HKDX"]["eligible"]
    assert not assets["HKDY"]["eligible"] and "not on the HKMA" in assets["HKDY"]["why"]
    assert not assets["BTC"]["eligible"] and "never accepted" in assets["BTC"]["why"]
    assert assets["TDHKD"]["eligible"] and assets["USD"]["eligible"]


def test_liquidation_and_waterfall_are_the_engine_constants_with_current_layer_sizes(venue: Venue) -> None:
    doc = build_disclosure(venue.state, as_of_seq=venue.seq)
    layers = doc.document["current_figures"]["layers"]

    assert [layer["layer"] for layer in doc.rules["loss_waterfall"]["layers"]] == list(WATERFALL)
    assert doc.rules["liquidation"]["liquidation_fee_ppm"] == LIQUIDATION_FEE_PPM
    # genesis funds HKD 8m + USD 1m (at 7.8) and HKD 16m + USD 2m
    assert layers["INSURANCE_FUND"]["value_in_risk_currency"] == usd(15_800_000)
    assert layers["PLATFORM_CAPITAL"]["value_in_risk_currency"] == usd(31_600_000)
    assert "HKD 15,800,000 |" in doc.markdown()


def test_index_methodology_versions_are_disclosed_with_constituents_and_effective_from(venue: Venue) -> None:
    venue.ok(SetIndexMethodology(instrument=BTCUSD, methodology=_btc_methodology()))
    doc = build_disclosure(venue.state, as_of_seq=venue.seq, as_of_ts_ns=venue.ts)
    btc = next(r for r in doc.rules["index"]["instruments"] if r["symbol"] == BTCUSD)

    assert [v["version"] for v in btc["versions"]] == [1]
    assert btc["versions"][0]["effective_from_ns"] == T0
    assert [c["venue"] for c in btc["versions"][0]["constituents"]] == ["binance", "okx", "kraken", "bitstamp"]
    assert "Version 1 of the BTC index" in doc.markdown()
    assert "| kraken | 1 | yes |" in doc.markdown()
    btc_now = next(r for r in doc.document["current_figures"]["instruments"] if r["symbol"] == BTCUSD)
    assert btc_now["methodology_in_force"] == 1


# --- versioning ----------------------------------------------------------------------------------


def test_a_margin_bracket_change_makes_a_new_version_and_content_hash(venue: Venue) -> None:
    before = build_disclosure(venue.state)
    tiers = (MarginTier(max_notional=usd(500_000), max_leverage=10, maintenance_ppm=50_000),)

    venue.ok(SetMarginTiers(instrument=BTCUSD, tiers=tiers))
    after = build_disclosure(venue.state)

    assert after.version == before.version + 1
    assert after.content_hash != before.content_hash
    assert after.document["effective_from_seq"] == venue.seq


def test_every_kind_of_configuration_change_bumps_the_version(venue: Venue) -> None:
    changes = [
        SetMarginAssetHaircut(asset="HKDX", haircut_bps=300),
        SetIssuerRegister(issuers=("ISSUER-A", "ISSUER-B"), register_ref="HKMA register 2026-03"),
        SetIndexMethodology(instrument=BTCUSD, methodology=_btc_methodology()),
    ]
    for command in changes:
        before = build_disclosure(venue.state)
        venue.ok(command)
        after = build_disclosure(venue.state)
        assert (after.version, after.content_hash != before.content_hash) == (before.version + 1, True), command


def test_a_rejected_configuration_command_keeps_version_and_hash(venue: Venue) -> None:
    before = build_disclosure(venue.state)

    venue.reject(SetMarginAssetHaircut(asset="HKDX", haircut_bps=10_000), INVALID)

    after = build_disclosure(venue.state)
    assert (after.version, after.content_hash) == (before.version, before.content_hash)


def test_restating_the_same_configuration_keeps_version_and_hash(venue: Venue) -> None:
    before = build_disclosure(venue.state)
    reg = venue.state.registry

    venue.ok(SetIssuerRegister(issuers=tuple(sorted(reg.issuers)), register_ref=reg.register_ref))
    venue.ok(SetMarginAssetHaircut(asset="HKDX", haircut_bps=200))

    after = build_disclosure(venue.state)
    assert (after.version, after.content_hash) == (before.version, before.content_hash)


def test_trading_prices_funds_and_fx_move_the_figures_but_not_the_version_or_hash(venue: Venue) -> None:
    before = build_disclosure(venue.state, as_of_seq=venue.seq)
    venue.open_client(1, usd=100_000)
    venue.open_client(2, usd=100_000)
    venue.rest(2, BTCUSD, "SELL", 10, BTC_REF)
    venue.buy(1, BTCUSD, 10, BTC_REF)
    venue.set_ref(BTCUSD, BTC_REF + 1_000)
    venue.ok(FundPlatformAccount(target="INSURANCE_FUND", asset="USD", amount=usd(5)))
    venue.ok(SetFxRate(base="USD", quote="HKD", rate_e8=781_000_000))

    after = build_disclosure(venue.state, as_of_seq=venue.seq)

    assert (after.version, after.content_hash) == (before.version, before.content_hash)
    assert after.document["document_hash"] != before.document["document_hash"]


def test_version_and_latest_stress_report_survive_snapshot_restore(venue: Venue) -> None:
    venue.ok(SetMarginAssetHaircut(asset="HKDX", haircut_bps=250))
    venue.ok(_stress_report(as_of_seq=venue.seq))
    restored = VenueEngine.restore(venue.engine.snapshot())

    assert restored.state_hash() == venue.engine.state_hash()
    assert build_disclosure(restored.state).to_json() == build_disclosure(venue.state).to_json()
    assert restored.state.config_version == venue.state.config_version


def test_replaying_the_commands_reproduces_the_disclosure(venue: Venue) -> None:
    venue.ok(SetMarginAssetHaircut(asset="HKDX", haircut_bps=250))
    replayed = VenueEngine()
    for seq, ts, command in venue.commands:
        replayed.apply(seq, ts, command)  # type: ignore[arg-type]

    assert build_disclosure(replayed.state).to_json() == build_disclosure(venue.state).to_json()


def test_an_old_snapshot_without_the_version_decodes_to_version_zero() -> None:
    state = VenueState().to_state()
    del state["config"], state["stress"]

    decoded = VenueState.decode(msgspec.msgpack.encode(state))

    assert (decoded.config_version, decoded.stress_report) == (0, None)


# --- the journaled stress report ---------------------------------------------------------------------


def test_recording_a_stress_report_emits_its_summary_and_shows_in_the_disclosure(venue: Venue) -> None:
    before = build_disclosure(venue.state)

    out = venue.ok(_stress_report(as_of_seq=venue.seq))

    assert len(out) == 1 and isinstance(out[0], StressReportRecorded)
    assert out[0].cover2_covered and out[0].worst_cover2_loss == usd(40_000)
    assert venue.state.stress_report == out[0]
    after = build_disclosure(venue.state)
    assert (after.version, after.content_hash) == (before.version, before.content_hash)
    assert "cover-2 covered without ADL in every scenario" in after.markdown()


def test_a_stress_report_with_failures_is_disclosed_as_not_covered(venue: Venue) -> None:
    venue.ok(_stress_report(as_of_seq=venue.seq, cover2_failures=3, worst_adl=usd(1)))

    assert venue.state.stress_report is not None and not venue.state.stress_report.cover2_covered
    assert "NOT covered in 3 scenario(s)" in build_disclosure(venue.state).markdown()


def test_malformed_stress_reports_are_refused_and_change_nothing(venue: Venue) -> None:
    bad = [
        _stress_report(report_hash="xyz"),
        _stress_report(as_of_state_hash=HASH_A.upper()),
        _stress_report(as_of_seq=10**9),
        _stress_report(as_of_seq=-1),
        _stress_report(scenarios=0),
        _stress_report(cover2_failures=27),
        _stress_report(insurance_fund=-1),
        _stress_report(worst_cover2_loss=usd(60_000)),
        _stress_report(worst_adl=usd(60_000)),
        _stress_report(worst_scenario=" "),
    ]
    for command in bad:
        venue.reject(command, INVALID)

    assert venue.state.stress_report is None
