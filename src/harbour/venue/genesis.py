"""The embedded default configuration, as the commands that build it.

Genesis is ordinary journaled commands, so a journal alone rebuilds the venue.
Issuer and bank names are placeholders for the operator's real register snapshot.
"""

from __future__ import annotations

from harbour.kernel.assets import AssetKind
from harbour.kernel.money import MICRO
from harbour.prices.funding import PremiumWeighting
from harbour.venue.commands import (
    FundPlatformAccount,
    ListAsset,
    ListInstrument,
    MarginTier,
    SetDepositBankAllowlist,
    SetEligibleReferenceAssets,
    SetFundingParameters,
    SetFxRate,
    SetIssuerRegister,
    SetMarginTiers,
    SetMarkParameters,
    SetReferencePrice,
    VenueCommand,
)

CENT = MICRO // 100  # fiat moves in whole cents

BTCUSD = "BTCUSD"
ETHHKD = "ETHHKD"


# Conservative brackets (maintenance = half the initial rate), caps in USD for BTCUSD and
# about 8x that in HKD for ETHHKD: (cap in currency units, max leverage, maintenance ppm).
_BRACKETS = (
    (250_000, 20, 25_000),
    (1_000_000, 10, 50_000),
    (5_000_000, 5, 100_000),
    (20_000_000, 2, 250_000),
    (50_000_000, 1, 500_000),
)


def _brackets(scale: int) -> tuple[MarginTier, ...]:
    return tuple(MarginTier(max_notional=cap * scale * MICRO, max_leverage=lev, maintenance_ppm=mmr) for cap, lev, mmr in _BRACKETS)


SECOND_NS = 1_000_000_000
HOUR_NS = 3_600 * SECOND_NS


def default_mark_parameters(instrument: str) -> SetMarkParameters:
    """The house mark: a 5-minute basis window, at most one sample per 5 s kept (Binance USD-M)."""
    return SetMarkParameters(instrument=instrument, basis_window_ns=300 * SECOND_NS, basis_sample_interval_ns=5 * SECOND_NS)


def default_funding_parameters(instrument: str, impact_units: int) -> SetFundingParameters:
    """The house funding terms: 8-hour interval, I = 0.01%, dampener +-0.05%, cap 75% of (IMR - MMR)
    of the first bracket, a premium sample every 5 s at ``impact_units`` of the settlement currency."""
    return SetFundingParameters(
        instrument=instrument,
        interval_ns=8 * HOUR_NS,
        interest_rate_e8=10_000,
        dampener_e8=50_000,
        cap_fraction_bps=7_500,
        premium_sample_interval_ns=5 * SECOND_NS,
        impact_notional=impact_units * MICRO,
        weighting=PremiumWeighting.LINEAR,
    )


def default_genesis() -> list[VenueCommand]:
    return [
        ListAsset(asset="HKD", kind=AssetKind.FIAT, currency="HKD", granularity=CENT),
        ListAsset(asset="USD", kind=AssetKind.FIAT, currency="USD", granularity=CENT),
        ListAsset(asset="HKDX", kind=AssetKind.STABLECOIN, currency="HKD", issuer="ISSUER-A", haircut_bps=200),
        ListAsset(asset="HKDY", kind=AssetKind.STABLECOIN, currency="HKD", issuer="ISSUER-B", haircut_bps=200),
        ListAsset(asset="TDHKD", kind=AssetKind.TOKENISED_DEPOSIT, currency="HKD", issuer="BANK-A", haircut_bps=100),
        ListAsset(asset="BTC", kind=AssetKind.VIRTUAL_ASSET, currency="BTC"),
        ListAsset(asset="ETH", kind=AssetKind.VIRTUAL_ASSET, currency="ETH"),
        SetIssuerRegister(issuers=("ISSUER-A",), register_ref="HKMA register snapshot (embedded default)"),
        SetDepositBankAllowlist(banks=("BANK-A",)),
        SetFxRate(base="USD", quote="HKD", rate_e8=780_000_000),
        SetEligibleReferenceAssets(retail_spot_assets=("BTC", "ETH")),
        ListInstrument(
            instrument=BTCUSD,
            reference="BTC",
            settlement_asset="USD",
            price_decimals=2,
            tick=10,  # 0.10 USD
            qty_decimals=3,
            lot=1,  # 0.001 BTC
            min_qty=1,
            max_qty=100_000,  # 100 BTC
            max_leverage=20,
            maker_fee_ppm=200,
            taker_fee_ppm=500,
            price_band_bps=500,
            market_collar_bps=100,
            sfc_approval_ref="SFC-PERP-DEMO-0001",
        ),
        ListInstrument(
            instrument=ETHHKD,
            reference="ETH",
            settlement_asset="HKD",
            price_decimals=2,
            tick=10,  # 0.10 HKD
            qty_decimals=3,
            lot=1,  # 0.001 ETH
            min_qty=1,
            max_qty=1_000_000,  # 1,000 ETH
            max_leverage=20,
            maker_fee_ppm=200,
            taker_fee_ppm=500,
            price_band_bps=500,
            market_collar_bps=100,
            sfc_approval_ref="SFC-PERP-DEMO-0002",
        ),
        SetMarginTiers(instrument=BTCUSD, tiers=_brackets(1)),
        SetMarginTiers(instrument=ETHHKD, tiers=_brackets(8)),
        default_mark_parameters(BTCUSD),
        default_mark_parameters(ETHHKD),
        default_funding_parameters(BTCUSD, 25_000),  # USD 25,000
        default_funding_parameters(ETHHKD, 200_000),  # HKD 200,000, about USD 25,000
        SetReferencePrice(instrument=BTCUSD, price=9_500_000),  # 95,000.00 USD
        SetReferencePrice(instrument=ETHHKD, price=2_600_000),  # 26,000.00 HKD
        FundPlatformAccount(target="INSURANCE_FUND", asset="USD", amount=1_000_000 * MICRO),
        FundPlatformAccount(target="INSURANCE_FUND", asset="HKD", amount=8_000_000 * MICRO),
        FundPlatformAccount(target="PLATFORM_CAPITAL", asset="USD", amount=2_000_000 * MICRO),
        FundPlatformAccount(target="PLATFORM_CAPITAL", asset="HKD", amount=16_000_000 * MICRO),
    ]
