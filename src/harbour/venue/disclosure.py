"""The published rulebook disclosure, generated from the live venue state.

Owns ``Disclosure`` and ``build_disclosure``: a read-side view over ``VenueState`` (no I/O,
no clock) that states, with the engine's own numbers, the contract specifications, margin
brackets with a worked example, the mark price and funding methods, the index methodology
and its constituents, the margin assets and haircuts, the liquidation procedure and the
loss waterfall, followed by the current figures (layer sizes, marks, last prints, FX).

The document has two parts:

- ``rules``: what the venue promises. Its canonical JSON (sorted keys, no whitespace,
  integers only) hashes to ``content_hash`` (blake2b-256). ``version`` is the venue's
  configuration version (``venue.config_version``): it and the hash change when, and only
  when, a configuration command changes the configuration. The mark-price and funding
  parameters are each contract's live configuration (``SetMarkParameters``,
  ``SetFundingParameters``), so changing one makes a new version. Code-level constants
  (the liquidation fee and collar) are in the rules too, so a release that changes them
  changes the hash; the release notes announce it.
- ``current_figures``: market figures as of a seq (insurance fund and tranche sizes, marks,
  index prints, funding terms, FX rates, the latest stress test). They move without any
  rule changing, so they are outside ``content_hash``; ``document_hash`` covers the whole
  document.

Markdown is rendered from the same document, so both carry the same numbers.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import msgspec

from harbour.kernel.assets import AssetKind
from harbour.kernel.money import BPS, FX_SCALE, MICRO, PPM, format_units
from harbour.prices.funding import MAX_FUNDING_INTERVAL_NS, RATE_UNIT, SIGN_CONVENTION
from harbour.prices.index import select_methodology
from harbour.venue.instruments import Instrument
from harbour.venue.liquidation import BACKSTOP_COLLAR_BPS, LIQUIDATION_FEE_PPM, WATERFALL
from harbour.venue.price_parameters import funding_cap_of, max_basis_samples
from harbour.venue.state import (
    DEFICIT,
    INSURANCE_FUND,
    PLATFORM_CAPITAL,
    RISK_CURRENCY,
    VenueState,
)
from harbour.venue.tiers import Tier, initial_margin, maintenance_margin, tier_for

TITLE: Final = "Harbour perpetual contracts: rulebook disclosure"
SCHEMA: Final = "harbour-disclosure/2"
HASH_ALGORITHM: Final = "blake2b-256 of the canonical JSON (sorted keys, no whitespace)"
SECTIONS: Final = (
    "contracts",
    "margin",
    "mark_price",
    "funding",
    "index",
    "margin_assets",
    "liquidation",
    "loss_waterfall",
)

# The ledger account behind each layer of the published waterfall (None: not a balance).
_LAYER_ACCOUNTS: Final[dict[str, str | None]] = {
    "DEFAULTER_MARGIN": None,
    "INSURANCE_FUND": INSURANCE_FUND,
    "OPERATOR_TRANCHE": PLATFORM_CAPITAL,
    "AUTO_DELEVERAGING": None,
}
_LAYER_TEXT: Final[dict[str, str]] = {
    "DEFAULTER_MARGIN": "The defaulting account's own margin: every asset it holds in the liquidated scope "
    "(cross: all its margin assets, converted at the FX rate, then the unrealised gains of its other "
    "cross positions, realised at the mark price; isolated: that position's wallet), "
    "including the liquidation fee buffer.",
    "INSURANCE_FUND": "The insurance fund, funded by the operator's seed, liquidation fees and funding "
    "rounding residue. It takes over what the book cannot absorb at the bankruptcy price: the "
    "position is unwound in the book beyond the bankruptcy price, within the backstop collar, "
    "and the fund pays the loss beyond the defaulter's margin.",
    "OPERATOR_TRANCHE": "The operator's committed capital tranche (skin in the game): a published "
    "amount of the operator's own capital, used only after the insurance fund is exhausted.",
    "AUTO_DELEVERAGING": "Auto-deleveraging (ADL): what is still open is closed against profitable "
    "opposite positions at the bankruptcy price, highest ADL score first. Accounts without an "
    "open position never pay.",
}


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace: the bytes every hash in the disclosure is taken over."""
    return msgspec.json.encode(value, order="sorted")


def content_hash(value: object) -> str:
    return hashlib.blake2b(canonical_json(value), digest_size=32).hexdigest()


class Disclosure:
    """One generated disclosure: the JSON document and its Markdown rendering."""

    __slots__ = ("document",)

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    @property
    def version(self) -> int:
        return int(self.document["version"])

    @property
    def content_hash(self) -> str:
        return str(self.document["content_hash"])

    @property
    def rules(self) -> dict[str, Any]:
        rules: dict[str, Any] = self.document["rules"]
        return rules

    def to_json(self) -> bytes:
        """The document as canonical JSON (the form whose parts are hashed)."""
        return canonical_json(self.document)

    def markdown(self) -> str:
        return _render_markdown(self.document)


def build_disclosure(st: VenueState, *, as_of_seq: int = 0, as_of_ts_ns: int = 0) -> Disclosure:
    """Generate the disclosure from ``st``; ``as_of_*`` date the current figures (0: unknown)."""
    rules = {
        "contracts": _contracts(st),
        "margin": _margin(st),
        "mark_price": _mark_price(st),
        "funding": _funding(st),
        "index": _index(st),
        "margin_assets": _margin_assets(st),
        "liquidation": _liquidation(),
        "loss_waterfall": _loss_waterfall(),
    }
    document: dict[str, Any] = {
        "title": TITLE,
        "schema": SCHEMA,
        "version": st.config_version,
        "effective_from_seq": st.config_since_seq,
        "hash_algorithm": HASH_ALGORITHM,
        "content_hash": content_hash(rules),
        "rules": rules,
        "current_figures": _figures(st, as_of_seq, as_of_ts_ns),
    }
    document["document_hash"] = content_hash(document)
    return Disclosure(document)


# --- rules ------------------------------------------------------------------------------


def _contracts(st: VenueState) -> dict[str, Any]:
    rows = []
    for sym, inst in sorted(st.instruments.items()):
        s = inst.spec
        rows.append(
            {
                "symbol": sym,
                "contract": "linear perpetual (no expiry)",
                "reference": s.reference,
                "settlement_asset": s.settlement_asset,
                "price_decimals": s.price_decimals,
                "tick": s.tick,
                "qty_decimals": s.qty_decimals,
                "lot": s.lot,
                "min_qty": s.min_qty,
                "max_qty": s.max_qty,
                "unit_value": inst.unit_value,
                "max_leverage": s.max_leverage,
                "maker_fee_ppm": s.maker_fee_ppm,
                "taker_fee_ppm": s.taker_fee_ppm,
                "price_band_bps": s.price_band_bps,
                "market_collar_bps": s.market_collar_bps,
                "sfc_approval_ref": s.sfc_approval_ref,
            }
        )
    return {
        "instruments": rows,
        "eligible_reference_assets": sorted(st.retail_spot_assets),
        "iosco_compliant_indices": sorted(st.iosco_indices),
        "rules": [
            "Each contract is a linear perpetual on its reference asset with no expiry, settled in its settlement asset.",
            "Prices are whole ticks and quantities whole lots; notional = price x quantity x unit value, exactly, "
            "in micro-units (1e-6) of the settlement asset.",
            "A limit order priced outside the price band around the mark is rejected; a market order executes "
            "no worse than the market collar around the mark.",
            "Only professional investors may open or increase positions; a lapsed status allows only reducing orders.",
            "A contract may reference only a virtual asset available for retail spot trading on this platform "
            "or an IOSCO-compliant index, and is listed only with an SFC approval reference.",
            "Fees are charged on traded notional: the taker fee, and the maker fee (negative is a rebate).",
        ],
    }


def _worked_example(tiers: tuple[Tier, ...]) -> dict[str, Any]:
    """A position notional in the second bracket (or 100,000 units in a single one), worked through."""
    if len(tiers) >= 2:
        notional = (tiers[0].max_notional + tiers[1].max_notional) // 2 // MICRO * MICRO
    else:
        notional = min(100_000 * MICRO, tiers[0].max_notional)
    t = tier_for(tiers, notional)
    gross = -((-notional * t.mmr_ppm) // PPM)
    return {
        "notional": notional,
        "bracket": tiers.index(t) + 1,
        "maintenance_rate_ppm": t.mmr_ppm,
        "maintenance_amount": t.amount,
        "maintenance_gross": gross,
        "maintenance_margin": maintenance_margin(tiers, notional),
        "initial_rate_ppm": t.imr_ppm,
        "initial_margin_at_bracket_leverage": initial_margin(tiers, notional, 0),
        "max_leverage": t.max_leverage,
    }


def _margin(st: VenueState) -> dict[str, Any]:
    rows = []
    for sym, inst in sorted(st.instruments.items()):
        brackets = []
        floor = 0
        for i, t in enumerate(inst.tiers, 1):
            brackets.append(
                {
                    "bracket": i,
                    "notional_above": floor,
                    "notional_up_to": t.max_notional,
                    "max_leverage": t.max_leverage,
                    "initial_rate_ppm": t.imr_ppm,
                    "maintenance_rate_ppm": t.mmr_ppm,
                    "maintenance_amount": t.amount,
                }
            )
            floor = t.max_notional
        rows.append({"symbol": sym, "currency": inst.settlement_asset, "brackets": brackets, "worked_example": _worked_example(inst.tiers)})
    return {
        "instruments": rows,
        "risk_currency": RISK_CURRENCY,
        "rules": [
            "Brackets are by position notional at the mark, in micro-units of the settlement asset.",
            "Initial margin = notional x the higher of the bracket's initial rate (1 / its maximum leverage) and "
            "the rate of the leverage the account chose, rounded up. It is collected before an order is accepted, "
            "for the largest position the account's open orders could reach, plus the immediate loss of orders "
            "priced through the mark.",
            "Maintenance margin works as a tax bracket: MM = ceil(notional x maintenance rate of the bracket "
            "holding it) - that bracket's maintenance amount; amount_1 = 0 and amount_t = amount_(t-1) + "
            "cap_(t-1) x (rate_t - rate_(t-1)), so MM is continuous in position size.",
            "An account's margin balance is its eligible collateral after haircuts plus the unrealised PnL of its "
            "positions at the mark; cross-margin amounts are summed in the risk currency at the FX rate "
            "(balances rounded down, requirements up).",
            "When the margin balance is below the maintenance margin, the account is liquidated (see Liquidation).",
            "Withdrawals may not take equity below initial margin and never pay out unrealised gains.",
        ],
    }


def _mark_price(st: VenueState) -> dict[str, Any]:
    rows = []
    for sym, inst in sorted(st.instruments.items()):
        p = inst.mark_parameters
        rows.append(
            {
                "symbol": sym,
                "basis_window_ns": p.basis_window_ns,
                "basis_sample_interval_ns": p.basis_sample_interval_ns,
                "max_basis_samples": max_basis_samples(p),
            }
        )
    return {
        "method": "median(P1, P2, last)",
        "instruments": rows,
        "rules": [
            "P1 = index x (1 + last funding rate x time to the next funding / funding interval), rounded to nearest.",
            "P2 = index + the moving average of the book basis (own book mid - index), sampled at each usable index "
            "print while the book has both a bid and an ask, over the basis window; no samples: P2 = index.",
            "last = the last trade price on this venue; before any trade the index stands in for it.",
            "The mark is recomputed at every usable index print; every input is published with it.",
            "Margin, unrealised PnL, liquidation, price bands and mark-price triggers use the mark, never the last "
            "trade alone.",
            "A stale index print (the last good value held) keeps the mark of that value; an index halt trigger "
            "halts the contract and the mark stays where it was.",
        ],
    }


def _funding(st: VenueState) -> dict[str, Any]:
    rows = []
    for sym, inst in sorted(st.instruments.items()):
        first = inst.tiers[0]
        f = inst.funding_schedule
        rows.append(
            {
                "symbol": sym,
                "interval_ns": f.interval_ns,
                "interest_rate_e8": f.interest_rate_e8,
                "dampener_e8": f.dampener_e8,
                "cap_fraction_bps": f.cap_fraction_bps,
                "premium_sample_interval_ns": f.premium_sample_interval_ns,
                "impact_notional": f.impact_notional,
                "premium_weighting": f.weighting.value,
                "imr_ppm": first.imr_ppm,
                "mmr_ppm": first.mmr_ppm,
                "cap_e8": funding_cap_of(f, inst.tiers),
            }
        )
    return {
        "formula": "F = P + clamp(I - P, -dampener, +dampener), capped at +-cap_fraction x (IMR - MMR) of the first bracket",
        "sign_convention": SIGN_CONVENTION,
        "rate_unit": RATE_UNIT,
        "max_interval_ns": MAX_FUNDING_INTERVAL_NS,
        "instruments": rows,
        "rules": [
            "Premium sample = [max(0, impact bid - index) - max(0, index - impact ask)] / index, every sample "
            "interval on a grid aligned to the epoch; the impact bid/ask is the average price of filling the impact "
            "notional (micro-units of the settlement asset) against the book.",
            "P = the interval's samples averaged with the contract's weighting (LINEAR: weights 1..n, the latest "
            "weighs most; EQUAL: the plain mean); I = the interest rate per interval.",
            "Funding settles at every multiple of the contract's interval; a settlement at any other interval than "
            "the configured one is refused. A parameter change is a new version of this disclosure.",
            "At each interval end every open position pays or receives |quantity| x mark x rate: a positive rate "
            "means longs pay shorts. Payers' amounts round up and receivers' down; the rounding residue goes to "
            "the insurance fund, so funding is zero-sum to the micro-unit.",
            "The interval is never longer than 24 hours (price convergence at least daily); each settlement "
            "record states its interval, its rate with unit and this sign convention.",
            "A payer that cannot pay is covered by the loss waterfall; receivers are always paid in full.",
        ],
    }


def _methodology_row(m: Any) -> dict[str, Any]:
    return {
        "version": m.version,
        "effective_from_ns": m.effective_from_ns,
        "asset": m.asset,
        "price_decimals": m.price_decimals,
        "constituents": [{"venue": c.venue, "weight": c.weight, "eligible": c.eligible} for c in m.constituents],
        "input_hierarchy": [k.value for k in m.input_hierarchy],
        "outlier_action": m.outlier_action.value,
        "outlier_band_bps": m.outlier_band_bps,
        "staleness_limit_ns": m.staleness_limit_ns,
        "min_live_constituents": m.min_live_constituents,
        "halt_after_ns": m.halt_after_ns,
    }


def _index(st: VenueState) -> dict[str, Any]:
    rows = []
    for sym in sorted(st.instruments):
        versions = st.index_methodologies.get(sym, [])
        rows.append({"symbol": sym, "versions": [_methodology_row(m) for m in versions]})
    return {
        "instruments": rows,
        "rules": [
            "Inputs are taken per constituent venue in the published hierarchy (trades, then firm quotes), the "
            "latest of the highest-ranked kind; inputs from non-constituents, ineligible venues, unlisted kinds, "
            "non-positive prices or after the print time are excluded with the reason recorded.",
            "A venue whose latest input is older than the staleness limit gets zero weight.",
            "Outliers: a price outside the cross-venue median +- the outlier band is clamped to the band edge or "
            "excluded, as the methodology says, and the clamp or exclusion is recorded.",
            "Index = weighted mean of the remaining prices, rounded to nearest.",
            "Fallback hierarchy: with fewer live constituents than the minimum, the last good value is held and "
            "flagged stale for at most the halt delay; after that (or with no good value ever) the print is a "
            "halt trigger and the contract is halted until the operator resumes it.",
            "Methodology versions are kept with their effective-from times; a new version takes effect only in "
            "the future, and a published print is never re-based. Every print is stored with its inputs, weights, "
            "exclusions, fallback and methodology version, and recomputes bit for bit.",
            "Until a methodology is configured for a contract, its mark is set by the operator.",
        ],
    }


def _eligibility(st: VenueState, asset: str) -> tuple[bool, str]:
    spec = st.registry.assets[asset]
    if spec.kind is AssetKind.VIRTUAL_ASSET:
        return False, "virtual assets are never accepted as perpetual margin"
    if spec.kind is AssetKind.STABLECOIN:
        if spec.issuer in st.registry.issuers:
            return True, "issuer on the HKMA licensed stablecoin issuer register"
        return False, "issuer not on the HKMA licensed stablecoin issuer register"
    if spec.kind is AssetKind.TOKENISED_DEPOSIT:
        if spec.issuer in st.registry.banks:
            return True, "issuing bank on the tokenised-deposit allowlist"
        return False, "issuing bank not on the tokenised-deposit allowlist"
    return True, "fiat currency"


def _margin_assets(st: VenueState) -> dict[str, Any]:
    reg = st.registry
    assets = []
    for a in sorted(reg.assets):
        spec = reg.assets[a]
        eligible, why = _eligibility(st, a)
        assets.append(
            {
                "asset": a,
                "kind": spec.kind.value,
                "currency": spec.currency,
                "issuer": spec.issuer,
                "haircut_bps": spec.haircut_bps,
                "eligible": eligible,
                "why": why,
                "granularity": spec.granularity,
            }
        )
    return {
        "risk_currency": RISK_CURRENCY,
        "assets": assets,
        "issuer_register_ref": reg.register_ref,
        "issuers": sorted(reg.issuers),
        "deposit_banks": sorted(reg.banks),
        "rules": [
            "Margin may be posted only in fiat, HKD stablecoins of issuers on the HKMA licensed issuer register, "
            "and tokenised deposits of allowlisted banks; no virtual asset is accepted.",
            "Collateral value in the risk currency = floor(balance x (1 - haircut) x FX rate).",
            "A stablecoin whose issuer leaves the register, or a tokenised deposit whose bank leaves the allowlist, "
            "counts zero for new risk from the next command on; it still belongs to the client and pays the "
            "client's losses, at the FX rate less its haircut, before any platform layer does.",
            "A loss in a settlement asset the account lacks is paid by converting its other margin assets at the "
            "FX rate in this order: same currency, then fiat, tokenised deposits, stablecoins, then by asset code.",
            "Fiat deposits and withdrawals are whole cents (the granularity, in micro-units).",
        ],
    }


def _liquidation() -> dict[str, Any]:
    return {
        "liquidation_fee_ppm": LIQUIDATION_FEE_PPM,
        "backstop_collar_bps": BACKSTOP_COLLAR_BPS,
        "adl_score": "profit ratio x effective leverage = max(0, unrealised PnL) / entry notional x notional at the mark / margin balance",
        "trigger": (
            "At every mark change, each account with a position in the contract is checked; the cross part "
            "of an account is liquidated when its margin balance is below the sum of its cross positions' "
            "maintenance margins, an isolated position when its wallet plus unrealised PnL is below its "
            "maintenance margin. Accounts are taken in account-id order."
        ),
        "steps": [
            "The account's open orders in the liquidated scope are cancelled.",
            "The position with the largest maintenance margin is reduced by one step (down to the cap of the next "
            "lower bracket, or closed in the first bracket) with an immediate-or-cancel order in the book, never "
            "worse than the bankruptcy price. The liquidation fee is charged on the notional filled and paid to the "
            "insurance fund instead of the taker fee.",
            "What the book cannot absorb at the bankruptcy price is unwound in the book beyond it, no further "
            "than the backstop collar from the mark, as far as the defaulter's own unrealised gains on its other "
            "cross positions, then the insurance fund, then the operator's tranche can pay the loss beyond the "
            "bankruptcy price. The bankruptcy price is fixed once for this, after step 2, and the layers commit "
            "to the loss beyond it before the order is sent.",
            "The rest is auto-deleveraged at that same bankruptcy price against opposite positions, highest ADL "
            "score first (ties: lower account id), but never at a price worse for the counterparty than both the "
            "mark and its own entry price: a counterparty gives up at most its profit. What the defaulter still "
            "cannot pay then falls to the layers in order. Each position's live ADL rank is visible to its owner.",
        ],
        "notes": [
            "Steps repeat until the scope is back above maintenance margin or flat. Every step is an event, and "
            "each liquidation ends with a loss report naming the layers that paid and how much.",
            "Bankruptcy price: the price at which the scope's margin balance would be zero, counting other "
            "positions' unrealised losses but not their gains, rounded to the tick in the defaulter's favour. "
            "The liquidation price shown for a position is computed by the same code the engine acts on.",
        ],
    }


def _loss_waterfall() -> dict[str, Any]:
    layers = [
        {"order": i, "layer": name, "ledger_account": _LAYER_ACCOUNTS.get(name), "description": _LAYER_TEXT.get(name, "")}
        for i, name in enumerate(WATERFALL, 1)
    ]
    return {
        "layers": layers,
        "rules": [
            "Layers are used strictly in this order; a layer is touched only when every earlier one is exhausted.",
            "A client never loses more than the margin it posted: no client balance is ever negative.",
            "Accounts with no open position never pay for another account's default.",
            "Each platform layer pays from its holdings of the settlement asset, then converts its other holdings at "
            "the FX rate. Any amount still uncovered is booked as an unresolved deficit, and all withdrawals are "
            "paused until the operator recapitalises it.",
            "The layers are sized by a venue stress test (cover-2: the default of the two largest participants "
            "under the published BTC/ETH shock scenarios, covered without ADL); the latest result is in the "
            "current figures.",
        ],
    }


# --- current figures ------------------------------------------------------------------------


def _value_in_risk_currency(st: VenueState, asset: str, balance: int) -> int:
    """What a platform layer's holding pays in the risk currency: eligible assets at the FX rate,
    ineligible ones less their haircut, virtual assets nothing; rounded down."""
    reg = st.registry
    spec = reg.assets.get(asset)
    if balance <= 0 or spec is None or spec.kind is AssetKind.VIRTUAL_ASSET:
        return 0
    rate = reg.fx_rate_e8(spec.currency, RISK_CURRENCY)
    if rate is None:
        return 0
    keep = BPS if reg.is_eligible(asset) else BPS - spec.haircut_bps
    return balance * rate * keep // (FX_SCALE * BPS)


def layer_sizes(st: VenueState) -> dict[str, dict[str, Any]]:
    """Each platform layer's holdings per asset and their value in the risk currency."""
    out: dict[str, dict[str, Any]] = {}
    for account in (INSURANCE_FUND, PLATFORM_CAPITAL, DEFICIT):
        holdings = {a: b for a, b in sorted(st.ledger.wallet(account).items()) if b}
        # DEFICIT holds negative balances (the uncovered losses): its value is negative too
        sign = -1 if account == DEFICIT else 1
        value = sign * sum(_value_in_risk_currency(st, a, sign * b) for a, b in holdings.items())
        out[account] = {"holdings": holdings, "value_in_risk_currency": value}
    return out


def _instrument_figures(st: VenueState, sym: str, inst: Instrument, as_of_ts_ns: int) -> dict[str, Any]:
    row: dict[str, Any] = {"symbol": sym, "state": inst.state.value, "mark": inst.ref_price}
    p = st.index_prints.get(sym)
    row["last_index_print"] = (
        None
        if p is None
        else {"ts_ns": p.ts_ns, "value": p.value, "fallback": p.fallback.value, "methodology_version": p.methodology_version, "live_constituents": p.live_constituents}
    )
    versions = st.index_methodologies.get(sym, [])
    in_force = select_methodology(versions, as_of_ts_ns) if versions and as_of_ts_ns else None
    row["methodology_in_force"] = in_force.version if in_force is not None else None
    terms = st.funding_terms.get(sym)
    row["last_funding"] = None if terms is None else {"rate_e8": terms.rate_e8, "interval_ns": terms.interval_ns, "next_funding_ns": terms.next_funding_ns}
    return row


def _figures(st: VenueState, as_of_seq: int, as_of_ts_ns: int) -> dict[str, Any]:
    report = st.stress_report
    return {
        "as_of_seq": as_of_seq,
        "as_of_ns": as_of_ts_ns,
        "layers": layer_sizes(st),
        "withdrawals_paused": st.withdrawals_paused(),
        "instruments": [_instrument_figures(st, sym, inst, as_of_ts_ns) for sym, inst in sorted(st.instruments.items())],
        "fx_rates_e8": [[b, q, r] for (b, q), r in sorted(st.registry.fx_e8.items())],
        "latest_stress_report": None if report is None else msgspec.to_builtins(report),
    }


# --- Markdown ---------------------------------------------------------------------------------


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value: int, decimals: int) -> str:
    """``value`` in units of 10**-decimals of 1, as a percent (ppm: decimals 6)."""
    return _trim(format_units(value, decimals - 2)) + "%"


def _money(value: int) -> str:
    whole, _, frac = format_units(value, 6).partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}"
    frac = frac.rstrip("0")
    return sign + grouped + (f".{frac}" if frac else "")


def _duration(ns: int) -> str:
    for unit, size in (("h", 3_600_000_000_000), ("min", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000)):
        if ns >= size and ns % size == 0:
            return f"{ns // size} {unit}"
    return f"{ns} ns"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _bullets(items: list[str]) -> list[str]:
    return [f"- {t}" for t in items]


def _render_markdown(d: dict[str, Any]) -> str:
    r = d["rules"]
    out: list[str] = [f"# {d['title']}", ""]
    out += [
        f"- Version: **{d['version']}** (in effect since the configuration command at seq {d['effective_from_seq']})",
        f"- Content hash: `{d['content_hash']}` ({d['hash_algorithm']}, over the rules sections 1-8)",
        f"- Document hash: `{d['document_hash']}` (the whole JSON document, current figures included)",
        f"- Schema: {d['schema']}",
        "",
        "Amounts are in the named currency (micro-unit exact); rates in percent; times in UTC nanoseconds.",
        "",
    ]
    specs = {c["symbol"]: c for c in r["contracts"]["instruments"]}

    c = r["contracts"]
    out += ["## 1. Contract specifications", ""]
    out += _bullets(c["rules"]) + [""]
    out += [f"Eligible reference assets: {', '.join(c['eligible_reference_assets']) or 'none'}; "
            f"IOSCO-compliant indices: {', '.join(c['iosco_compliant_indices']) or 'none'}.", ""]
    for s in c["instruments"]:
        pd, qd = s["price_decimals"], s["qty_decimals"]
        out += [f"### {s['symbol']}", ""]
        out += _table(
            ["term", "value"],
            [
                ["contract", s["contract"]],
                ["reference asset", s["reference"]],
                ["settlement asset", s["settlement_asset"]],
                ["tick size", f"{format_units(s['tick'], pd)} {s['settlement_asset']}"],
                ["lot size", f"{format_units(s['lot'], qd)} {s['reference']}"],
                ["minimum / maximum order", f"{format_units(s['min_qty'], qd)} / {format_units(s['max_qty'], qd)} {s['reference']}"],
                ["maximum leverage", f"{s['max_leverage']}x"],
                ["maker / taker fee", f"{_pct(s['maker_fee_ppm'], 6)} / {_pct(s['taker_fee_ppm'], 6)}"],
                ["price band / market collar (around the mark)", f"{_pct(s['price_band_bps'], 4)} / {_pct(s['market_collar_bps'], 4)}"],
                ["SFC approval reference", s["sfc_approval_ref"]],
            ],
        )
        out.append("")

    m = r["margin"]
    out += ["## 2. Margin brackets", ""]
    out += _bullets(m["rules"]) + [""]
    for row in m["instruments"]:
        ccy = row["currency"]
        out += [f"### {row['symbol']} (notional in {ccy})", ""]
        out += _table(
            ["bracket", "position notional", "max leverage", "initial rate", "maintenance rate", f"maintenance amount ({ccy})"],
            [
                [
                    str(b["bracket"]),
                    f"{_money(b['notional_above'])} - {_money(b['notional_up_to'])}",
                    f"{b['max_leverage']}x",
                    _pct(b["initial_rate_ppm"], 6),
                    _pct(b["maintenance_rate_ppm"], 6),
                    _money(b["maintenance_amount"]),
                ]
                for b in row["brackets"]
            ],
        )
        ex = row["worked_example"]
        out += [
            "",
            f"Worked example: a position of notional {ccy} {_money(ex['notional'])} falls in bracket {ex['bracket']}. "
            f"Maintenance margin = ceil({_money(ex['notional'])} x {_pct(ex['maintenance_rate_ppm'], 6)}) - "
            f"{_money(ex['maintenance_amount'])} = {_money(ex['maintenance_gross'])} - {_money(ex['maintenance_amount'])} = "
            f"**{ccy} {_money(ex['maintenance_margin'])}**. Initial margin at the bracket's {ex['max_leverage']}x = "
            f"{_money(ex['notional'])} x {_pct(ex['initial_rate_ppm'], 6)} = **{ccy} {_money(ex['initial_margin_at_bracket_leverage'])}**.",
            "",
        ]

    mk = r["mark_price"]
    out += ["## 3. Mark price", ""]
    out += [f"Mark = **{mk['method']}**, with each contract's basis window:", ""]
    out += _table(
        ["contract", "basis window", "at most one basis sample kept per", "samples kept at most"],
        [
            [row["symbol"], _duration(row["basis_window_ns"]), _duration(row["basis_sample_interval_ns"]), str(row["max_basis_samples"])]
            for row in mk["instruments"]
        ],
    )
    out += [""] + _bullets(mk["rules"]) + [""]

    f = r["funding"]
    out += ["## 4. Funding", ""]
    out += [
        f"- Formula: {f['formula']}.",
        f"- Sign convention: **{f['sign_convention']}**; rates in {f['rate_unit']}.",
        f"- Interval: each contract's own, never more than {_duration(f['max_interval_ns'])}.",
        "",
    ]
    out += _table(
        [
            "contract",
            "interval",
            "interest rate I",
            "dampener",
            "premium sampled every",
            "impact notional",
            "weighting",
            "cap fraction",
            "first-bracket IMR / MMR",
            "funding cap per interval",
        ],
        [
            [
                row["symbol"],
                _duration(row["interval_ns"]),
                _pct(row["interest_rate_e8"], 8),
                f"+-{_pct(row['dampener_e8'], 8)}",
                _duration(row["premium_sample_interval_ns"]),
                f"{specs[row['symbol']]['settlement_asset'] if row['symbol'] in specs else ''} {_money(row['impact_notional'])}".strip(),
                row["premium_weighting"],
                _pct(row["cap_fraction_bps"], 4),
                f"{_pct(row['imr_ppm'], 6)} / {_pct(row['mmr_ppm'], 6)}",
                f"+-{_pct(row['cap_e8'], 8)}",
            ]
            for row in f["instruments"]
        ],
    )
    out += [""] + _bullets(f["rules"]) + [""]

    ix = r["index"]
    out += ["## 5. Index methodology and constituents", ""]
    out += _bullets(ix["rules"]) + [""]
    for row in ix["instruments"]:
        out += [f"### {row['symbol']}", ""]
        if not row["versions"]:
            out += ["No index methodology is configured: the mark is set by the operator.", ""]
            continue
        for v in row["versions"]:
            out += [
                f"Version {v['version']} of the {v['asset']} index, effective from ts_ns {v['effective_from_ns']}: "
                f"hierarchy {' > '.join(v['input_hierarchy'])}; outliers {v['outlier_action']} at +-{_pct(v['outlier_band_bps'], 4)} "
                f"of the median; stale after {_duration(v['staleness_limit_ns'])}; at least {v['min_live_constituents']} live "
                f"constituents, else the last good value for at most {_duration(v['halt_after_ns'])}, then a halt trigger.",
                "",
            ]
            out += _table(
                ["venue", "weight", "eligible"],
                [[cst["venue"], str(cst["weight"]), "yes" if cst["eligible"] else "no"] for cst in v["constituents"]],
            )
            out.append("")

    ma = r["margin_assets"]
    out += ["## 6. Margin assets, haircuts and FX", ""]
    out += _bullets(ma["rules"]) + [""]
    out += [
        f"Risk currency: {ma['risk_currency']}. Issuer register: {ma['issuer_register_ref'] or 'not set'} "
        f"({', '.join(ma['issuers']) or 'no issuers'}). Tokenised-deposit banks: {', '.join(ma['deposit_banks']) or 'none'}.",
        "",
    ]
    out += _table(
        ["asset", "kind", "currency", "issuer", "haircut", "eligible", "why"],
        [[a["asset"], a["kind"], a["currency"], a["issuer"] or "-", _pct(a["haircut_bps"], 4), "yes" if a["eligible"] else "no", a["why"]] for a in ma["assets"]],
    )
    out.append("")

    lq = r["liquidation"]
    out += ["## 7. Liquidation procedure", ""]
    out += [
        f"Liquidation fee: {_pct(lq['liquidation_fee_ppm'], 6)} of the notional liquidated in the book, to the insurance fund. "
        f"Backstop collar: {_pct(lq['backstop_collar_bps'], 4)} from the mark. ADL score: {lq['adl_score']}.",
        "",
    ]
    out += [f"Trigger: {lq['trigger']}", ""]
    out += [f"{i}. {step}" for i, step in enumerate(lq["steps"], 1)] + [""]
    out += _bullets(lq["notes"]) + [""]

    wf = r["loss_waterfall"]
    fig = d["current_figures"]
    out += ["## 8. Loss waterfall", ""]
    rows = []
    for layer in wf["layers"]:
        acct = layer["ledger_account"]
        size = "-" if acct is None else f"{RISK_CURRENCY} {_money(fig['layers'][acct]['value_in_risk_currency'])}"
        rows.append([str(layer["order"]), layer["layer"], layer["description"], size])
    out += _table(["order", "layer", "what it is", f"current size (as of seq {fig['as_of_seq']})"], rows)
    out += [""] + _bullets(wf["rules"]) + [""]

    out += ["## 9. Current figures (not part of the versioned content)", ""]
    out += [f"As of seq {fig['as_of_seq']}, ts_ns {fig['as_of_ns']}. Withdrawals paused: {'yes' if fig['withdrawals_paused'] else 'no'}.", ""]
    out += _table(
        ["platform account", "holdings", f"value ({RISK_CURRENCY})"],
        [
            [name, ", ".join(f"{a} {_money(b)}" for a, b in v["holdings"].items()) or "-", _money(v["value_in_risk_currency"])]
            for name, v in fig["layers"].items()
        ],
    )
    out.append("")
    inst_rows = []
    for row in fig["instruments"]:
        pd = specs[row["symbol"]]["price_decimals"] if row["symbol"] in specs else 0
        p = row["last_index_print"]
        lf = row["last_funding"]
        inst_rows.append(
            [
                row["symbol"],
                row["state"],
                format_units(row["mark"], pd),
                "-" if p is None else f"{'-' if p['value'] is None else format_units(p['value'], pd)} ({p['fallback']}, v{p['methodology_version']})",
                "-" if lf is None else f"{_pct(lf['rate_e8'], 8)} per {_duration(lf['interval_ns'])}",
            ]
        )
    out += _table(["contract", "state", "mark", "last index print", "last funding rate"], inst_rows)
    out.append("")
    if fig["fx_rates_e8"]:
        out += ["FX rates: " + "; ".join(f"1 {b} = {_trim(format_units(rate, 8))} {q}" for b, q, rate in fig["fx_rates_e8"]) + ".", ""]
    sr = fig["latest_stress_report"]
    if sr is None:
        out += ["No venue stress test has been recorded yet.", ""]
    else:
        verdict = "covered without ADL in every scenario" if sr["cover2_covered"] else f"NOT covered in {sr['cover2_failures']} scenario(s)"
        out += [
            f"Latest venue stress test (recorded at seq {sr['seq']}, as of seq {sr['as_of_seq']}, library {sr['library_version']}, "
            f"{sr['scenarios']} scenarios): cover-2 {verdict}; worst cover-2 loss {sr['risk_currency']} {_money(sr['worst_cover2_loss'])} "
            f"({sr['worst_scenario']}) against fund {_money(sr['insurance_fund'])} + tranche {_money(sr['capital_tranche'])}; "
            f"report hash `{sr['report_hash']}`.",
            "",
        ]
    return "\n".join(out)

