"""Configuration handlers: margin assets, issuer register, FX, reference eligibility,
instrument listing, mark-price and funding parameters, trading state and reference
prices. Each change is an event."""

from __future__ import annotations

from harbour.compliance.margin_assets import MarginAsset
from harbour.compliance.rules import is_reference_eligible
from harbour.kernel.assets import AssetKind
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, FX_SCALE, MAX_FX_RATE_E8, MAX_PRICE
from harbour.venue.book import OrderBook
from harbour.venue.commands import (
    ListAsset,
    ListInstrument,
    SetDepositBankAllowlist,
    SetEligibleReferenceAssets,
    SetFundingParameters,
    SetFxRate,
    SetInstrumentState,
    SetIssuerRegister,
    SetMarginAssetHaircut,
    SetMarginTiers,
    SetMarkParameters,
    SetReferencePrice,
)
from harbour.venue.events import (
    AssetListed,
    DepositBankAllowlistUpdated,
    EligibleReferenceAssetsSet,
    FundingParametersSet,
    FxRateSet,
    InstrumentListed,
    InstrumentStateChanged,
    IssuerRegisterUpdated,
    MarginAssetHaircutSet,
    MarginTiersSet,
    MarkParametersSet,
    ReferencePriceSet,
)
from harbour.venue.instruments import Instrument, listing_problem
from harbour.venue.price_moves import after_mark_change
from harbour.venue.price_parameters import (
    funding_cap_of,
    funding_schedule_of,
    funding_schedule_problem,
    mark_parameters_of,
    mark_parameters_problem,
    max_basis_samples,
)
from harbour.venue.rejects import rejected
from harbour.venue.state import RISK_CURRENCY, VenueState
from harbour.venue.tiers import tiers_problem

C = RejectCode


def list_asset(st: VenueState, seq: int, ts: int, cmd: ListAsset, out: list[object]) -> None:
    reg = st.registry
    if cmd.asset in reg.assets:
        out.append(rejected(seq, ts, "list_asset", C.ASSET_ALREADY_LISTED, asset=cmd.asset))
        return
    if not cmd.asset.isalnum() or not 0 <= cmd.haircut_bps < BPS or cmd.granularity <= 0:
        out.append(rejected(seq, ts, "list_asset", C.INVALID_PARAMETER, problem="asset code, haircut or granularity"))
        return
    reg.assets[cmd.asset] = MarginAsset(
        asset=cmd.asset,
        kind=cmd.kind,
        currency=cmd.currency,
        issuer=cmd.issuer,
        haircut_bps=cmd.haircut_bps,
        granularity=cmd.granularity,
    )
    reg.version += 1
    out.append(
        AssetListed(
            seq=seq,
            ts_ns=ts,
            asset=cmd.asset,
            kind=cmd.kind.value,
            currency=cmd.currency,
            issuer=cmd.issuer,
            haircut_bps=cmd.haircut_bps,
        )
    )


def set_issuer_register(st: VenueState, seq: int, ts: int, cmd: SetIssuerRegister, out: list[object]) -> None:
    reg = st.registry
    before_assets = reg.eligible_assets()
    before = reg.issuers
    reg.issuers = frozenset(cmd.issuers)
    reg.register_ref = cmd.register_ref
    reg.version += 1
    out.append(
        IssuerRegisterUpdated(
            seq=seq,
            ts_ns=ts,
            issuers=tuple(sorted(reg.issuers)),
            added=tuple(sorted(reg.issuers - before)),
            removed=tuple(sorted(before - reg.issuers)),
            register_ref=cmd.register_ref,
            assets_now_ineligible=reg.now_ineligible(before_assets),
        )
    )


def set_deposit_bank_allowlist(st: VenueState, seq: int, ts: int, cmd: SetDepositBankAllowlist, out: list[object]) -> None:
    reg = st.registry
    before_assets = reg.eligible_assets()
    reg.banks = frozenset(cmd.banks)
    reg.version += 1
    out.append(
        DepositBankAllowlistUpdated(
            seq=seq, ts_ns=ts, banks=tuple(sorted(reg.banks)), assets_now_ineligible=reg.now_ineligible(before_assets)
        )
    )


def set_margin_asset_haircut(st: VenueState, seq: int, ts: int, cmd: SetMarginAssetHaircut, out: list[object]) -> None:
    spec = st.registry.assets.get(cmd.asset)
    if spec is None:
        out.append(rejected(seq, ts, "set_margin_asset_haircut", C.UNKNOWN_ASSET, asset=cmd.asset))
        return
    if spec.kind is AssetKind.VIRTUAL_ASSET:
        out.append(rejected(seq, ts, "set_margin_asset_haircut", C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN, asset=cmd.asset))
        return
    if not 0 <= cmd.haircut_bps < BPS:
        out.append(rejected(seq, ts, "set_margin_asset_haircut", C.INVALID_PARAMETER, problem="haircut must be 0..9999 bps"))
        return
    old = spec.haircut_bps
    spec.haircut_bps = cmd.haircut_bps
    st.registry.version += 1
    out.append(MarginAssetHaircutSet(seq=seq, ts_ns=ts, asset=cmd.asset, old_bps=old, new_bps=cmd.haircut_bps))


def set_fx_rate(st: VenueState, seq: int, ts: int, cmd: SetFxRate, out: list[object]) -> None:
    """Set base->quote; quote->base becomes floor(1e16 / rate), so both directions agree."""
    if not 0 < cmd.rate_e8 <= MAX_FX_RATE_E8 or cmd.base == cmd.quote:
        out.append(rejected(seq, ts, "set_fx_rate", C.INVALID_PARAMETER, problem="rate must be positive between two currencies"))
        return
    reg = st.registry
    reg.fx_e8[(cmd.base, cmd.quote)] = cmd.rate_e8
    reg.fx_e8[(cmd.quote, cmd.base)] = FX_SCALE * FX_SCALE // cmd.rate_e8
    reg.version += 1
    out.append(FxRateSet(seq=seq, ts_ns=ts, base=cmd.base, quote=cmd.quote, rate_e8=cmd.rate_e8))


def set_eligible_reference_assets(st: VenueState, seq: int, ts: int, cmd: SetEligibleReferenceAssets, out: list[object]) -> None:
    st.retail_spot_assets = frozenset(cmd.retail_spot_assets)
    st.iosco_indices = frozenset(cmd.iosco_indices)
    out.append(
        EligibleReferenceAssetsSet(
            seq=seq,
            ts_ns=ts,
            retail_spot_assets=tuple(sorted(st.retail_spot_assets)),
            iosco_indices=tuple(sorted(st.iosco_indices)),
        )
    )


def list_instrument(st: VenueState, seq: int, ts: int, cmd: ListInstrument, out: list[object]) -> None:
    if cmd.instrument in st.instruments:
        out.append(rejected(seq, ts, "list_instrument", C.INSTRUMENT_ALREADY_LISTED, instrument=cmd.instrument))
        return
    problem = listing_problem(cmd)
    if problem is not None:
        out.append(rejected(seq, ts, "list_instrument", C.INVALID_PARAMETER, problem=problem))
        return
    settlement = st.registry.assets.get(cmd.settlement_asset)
    if settlement is None or settlement.kind is not AssetKind.FIAT:
        out.append(rejected(seq, ts, "list_instrument", C.INVALID_PARAMETER, problem="settlement asset must be a listed fiat currency"))
        return
    if st.registry.fx_rate_e8(cmd.settlement_asset, RISK_CURRENCY) is None:
        out.append(rejected(seq, ts, "list_instrument", C.FX_RATE_MISSING, base=cmd.settlement_asset, quote=RISK_CURRENCY))
        return
    if not is_reference_eligible(cmd.reference, st.retail_spot_assets, st.iosco_indices):
        out.append(rejected(seq, ts, "list_instrument", C.REFERENCE_ASSET_NOT_ELIGIBLE, reference=cmd.reference))
        return
    if not cmd.sfc_approval_ref.strip():
        out.append(rejected(seq, ts, "list_instrument", C.SFC_APPROVAL_MISSING))
        return
    st.instruments[cmd.instrument] = Instrument(cmd)
    st.books[cmd.instrument] = OrderBook()
    out.append(
        InstrumentListed(
            seq=seq,
            ts_ns=ts,
            instrument=cmd.instrument,
            reference=cmd.reference,
            settlement_asset=cmd.settlement_asset,
            sfc_approval_ref=cmd.sfc_approval_ref,
        )
    )


def set_margin_tiers(st: VenueState, seq: int, ts: int, cmd: SetMarginTiers, out: list[object]) -> None:
    """Replace an instrument's brackets. Takes effect at once: the next mark change scans every
    account against the new maintenance rates (a published change, see the disclosures)."""
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "set_margin_tiers", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    problem = tiers_problem(cmd.tiers, inst.max_leverage)
    if problem is not None:
        out.append(rejected(seq, ts, "set_margin_tiers", C.INVALID_PARAMETER, problem=problem))
        return
    inst.set_tiers(cmd.tiers)
    out.append(MarginTiersSet(seq=seq, ts_ns=ts, instrument=cmd.instrument, tiers=tuple(t.row() for t in inst.tiers)))


def set_mark_parameters(st: VenueState, seq: int, ts: int, cmd: SetMarkParameters, out: list[object]) -> None:
    """Set the basis window and sample interval of the instrument's mark; used from its next index print."""
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "set_mark_parameters", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    problem = mark_parameters_problem(cmd)
    if problem is not None:
        out.append(rejected(seq, ts, "set_mark_parameters", problem[0], **problem[1]))
        return
    inst.mark_parameters = mark_parameters_of(cmd)
    out.append(
        MarkParametersSet(
            seq=seq,
            ts_ns=ts,
            instrument=cmd.instrument,
            basis_window_ns=cmd.basis_window_ns,
            basis_sample_interval_ns=cmd.basis_sample_interval_ns,
            max_basis_samples=max_basis_samples(inst.mark_parameters),
        )
    )


def set_funding_parameters(st: VenueState, seq: int, ts: int, cmd: SetFundingParameters, out: list[object]) -> None:
    """Set the instrument's funding parameters; the next SettleFunding must carry the new interval."""
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "set_funding_parameters", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    problem = funding_schedule_problem(cmd)
    if problem is not None:
        out.append(rejected(seq, ts, "set_funding_parameters", problem[0], **problem[1]))
        return
    inst.funding_schedule = schedule = funding_schedule_of(cmd)
    out.append(
        FundingParametersSet(
            seq=seq,
            ts_ns=ts,
            instrument=cmd.instrument,
            interval_ns=schedule.interval_ns,
            interest_rate_e8=schedule.interest_rate_e8,
            dampener_e8=schedule.dampener_e8,
            cap_fraction_bps=schedule.cap_fraction_bps,
            premium_sample_interval_ns=schedule.premium_sample_interval_ns,
            impact_notional=schedule.impact_notional,
            weighting=schedule.weighting.value,
            cap_e8=funding_cap_of(schedule, inst.tiers),
        )
    )


def set_instrument_state(st: VenueState, seq: int, ts: int, cmd: SetInstrumentState, out: list[object]) -> None:
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "set_instrument_state", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    old = inst.state
    inst.state = cmd.state
    out.append(InstrumentStateChanged(seq=seq, ts_ns=ts, instrument=cmd.instrument, old=old, new=cmd.state, reason=cmd.reason))


def set_reference_price(st: VenueState, seq: int, ts: int, cmd: SetReferencePrice, out: list[object]) -> None:
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "set_reference_price", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    if cmd.price <= 0:
        out.append(rejected(seq, ts, "set_reference_price", C.PRICE_NOT_POSITIVE, price=cmd.price))
        return
    if cmd.price > MAX_PRICE:
        out.append(rejected(seq, ts, "set_reference_price", C.INVALID_PARAMETER, problem=f"price above the ceiling {MAX_PRICE}"))
        return
    inst.ref_price = cmd.price
    out.append(ReferencePriceSet(seq=seq, ts_ns=ts, instrument=cmd.instrument, price=cmd.price))
    after_mark_change(st, cmd.instrument, seq, ts, out)
