"""Instruments: linear perpetual specifications and their live trading state.

A price is an integer in units of 10**-price_decimals and valid only on whole ticks;
a quantity is an integer in units of 10**-qty_decimals and valid only on whole lots.
The money value of one price unit times one quantity unit, in settlement micro-units,
is ``unit_value`` = 10**(6 - price_decimals - qty_decimals), an exact integer (listing
is refused otherwise). So notional = price x qty x unit_value, exactly.
"""

from __future__ import annotations

from harbour.kernel.money import MAX_LEVERAGE, MONEY_DECIMALS
from harbour.prices.mark import MarkParameters
from harbour.venue.commands import InstrumentState, ListInstrument, MarginTier
from harbour.venue.price_parameters import HOUSE_FUNDING_SCHEDULE, HOUSE_MARK_PARAMETERS, FundingSchedule
from harbour.venue.tiers import build_tiers, default_tiers


class Instrument:
    __slots__ = (
        "symbol",
        "reference",
        "settlement_asset",
        "settlement_currency",
        "price_decimals",
        "tick",
        "qty_decimals",
        "lot",
        "min_qty",
        "max_qty",
        "max_leverage",
        "imr_ppm",
        "maker_fee_ppm",
        "taker_fee_ppm",
        "price_band_bps",
        "market_collar_bps",
        "sfc_approval_ref",
        "unit_value",
        "state",
        "ref_price",
        "clearing_account",
        "spec",
        "tier_spec",
        "tiers",
        "mark_parameters",
        "funding_schedule",
    )

    def __init__(self, spec: ListInstrument) -> None:
        self.spec = spec
        self.symbol = spec.instrument
        self.reference = spec.reference
        self.settlement_asset = spec.settlement_asset
        # the settlement asset is listed fiat, so its currency is its own code
        self.settlement_currency = spec.settlement_asset
        self.price_decimals = spec.price_decimals
        self.tick = spec.tick
        self.qty_decimals = spec.qty_decimals
        self.lot = spec.lot
        self.min_qty = spec.min_qty
        self.max_qty = spec.max_qty
        self.max_leverage = spec.max_leverage
        self.set_tiers(default_tiers(spec.max_leverage))
        self.maker_fee_ppm = spec.maker_fee_ppm
        self.taker_fee_ppm = spec.taker_fee_ppm
        self.price_band_bps = spec.price_band_bps
        self.market_collar_bps = spec.market_collar_bps
        self.sfc_approval_ref = spec.sfc_approval_ref
        self.unit_value: int = 10 ** (MONEY_DECIMALS - spec.price_decimals - spec.qty_decimals)
        # the operator's settlement account of this instrument: counterparty to every realised PnL
        self.clearing_account = "CLEARING:" + spec.instrument
        self.state = InstrumentState.OPEN
        self.ref_price = 0
        # mark-price and funding parameters (venue.price_parameters): the house defaults until
        # SetMarkParameters / SetFundingParameters set them
        self.mark_parameters: MarkParameters = HOUSE_MARK_PARAMETERS
        self.funding_schedule: FundingSchedule = HOUSE_FUNDING_SCHEDULE

    def set_tiers(self, tiers: tuple[MarginTier, ...]) -> None:
        self.tier_spec = tiers
        self.tiers = build_tiers(tiers)
        # the first bracket's initial margin rate (1 / its max leverage, rounded up)
        self.imr_ppm = self.tiers[0].imr_ppm


def listing_problem(spec: ListInstrument) -> str | None:
    """Return why a specification is malformed, or None if its numbers are sound."""
    if not spec.instrument or not spec.instrument.isalnum():
        return "instrument symbol must be alphanumeric"
    if spec.price_decimals < 0 or spec.qty_decimals < 0:
        return "decimals must be non-negative"
    if spec.price_decimals + spec.qty_decimals > MONEY_DECIMALS:
        return "price_decimals + qty_decimals must not exceed the 6 money decimals"
    if spec.tick <= 0 or spec.lot <= 0:
        return "tick and lot must be positive"
    if spec.min_qty <= 0 or spec.max_qty < spec.min_qty:
        return "need 0 < min_qty <= max_qty"
    if spec.min_qty % spec.lot or spec.max_qty % spec.lot:
        return "min_qty and max_qty must be whole lots"
    if not 1 <= spec.max_leverage <= MAX_LEVERAGE:
        return f"max_leverage must be between 1 and {MAX_LEVERAGE}"
    if spec.maker_fee_ppm + spec.taker_fee_ppm < 0 or spec.taker_fee_ppm < 0:
        return "taker fee must be non-negative and cover any maker rebate"
    if not 0 < spec.price_band_bps <= 10_000 or not 0 < spec.market_collar_bps <= spec.price_band_bps:
        return "need 0 < market_collar_bps <= price_band_bps <= 10000"
    return None
