"""Venue commands: the only inputs that change venue state.

Commands are immutable, imperative, and carry no sequence number or time: the
sequencer stamps (seq, ts_ns) when it journals them, and the engine receives the
stamp beside the command. Prices are integers in the instrument's price unit
(10**-price_decimals) and must be whole ticks; quantities are integers in the
quantity unit (10**-qty_decimals) and must be whole lots; money is integer
micro-units of the asset. The msgspec tag is the command's stable journal name.
"""

from __future__ import annotations

from enum import Enum

import msgspec

from harbour.kernel.assets import AssetKind
from harbour.prices.funding import PremiumWeighting
from harbour.prices.index import IndexMethodology, PriceInput


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(str, Enum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"  # an IOC with a protection collar around the reference price


class TimeInForce(str, Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"  # Binance "GTX": rejected if it would cross


class SelfTradePrevention(str, Enum):
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"


class TriggerKind(str, Enum):
    """Trigger (conditional) order kinds, as Binance USDⓈ-M names them (STOP = STOP_LIMIT)."""

    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"


class WorkingType(str, Enum):
    """The price a trigger order watches (Binance workingType MARK_PRICE / CONTRACT_PRICE)."""

    MARK = "MARK"  # the instrument's mark (its reference price)
    LAST = "LAST"  # the instrument's last trade price on this venue


class AccountKind(str, Enum):
    CLIENT = "CLIENT"  # a professional investor
    AFFILIATED_MM = "AFFILIATED_MM"  # the operator's affiliated market maker


class InstrumentState(str, Enum):
    OPEN = "OPEN"
    CLOSE_ONLY = "CLOSE_ONLY"  # every order is treated as reduce-only
    HALTED = "HALTED"  # no new orders or amendments; cancels allowed


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pass


# --- configuration (operator) ------------------------------------------------


class ListAsset(_Command, frozen=True, tag="list_asset"):
    asset: str
    kind: AssetKind
    currency: str  # the currency the asset is referenced to (HKD, USD); itself for fiat
    issuer: str = ""  # stablecoin issuer or tokenised-deposit bank
    haircut_bps: int = 0  # deduction applied when counted as margin
    granularity: int = 1  # deposits and withdrawals must be multiples (micro-units)


class SetIssuerRegister(_Command, frozen=True, tag="set_issuer_register"):
    """Replace the configured snapshot of the HKMA licensed stablecoin issuer register."""

    issuers: tuple[str, ...]
    register_ref: str = ""  # e.g. the date or version of the HKMA register snapshot


class SetDepositBankAllowlist(_Command, frozen=True, tag="set_deposit_bank_allowlist"):
    """Replace the allowlist of banks whose tokenised deposits are eligible margin."""

    banks: tuple[str, ...]


class SetMarginAssetHaircut(_Command, frozen=True, tag="set_margin_asset_haircut"):
    asset: str
    haircut_bps: int


class SetFxRate(_Command, frozen=True, tag="set_fx_rate"):
    """Set the conversion from one currency into another, as an integer scaled by 1e8."""

    base: str
    quote: str
    rate_e8: int


class SetEligibleReferenceAssets(_Command, frozen=True, tag="set_eligible_reference_assets"):
    """Configure the retail-spot-eligible VA list and the IOSCO-compliant index list."""

    retail_spot_assets: tuple[str, ...]
    iosco_indices: tuple[str, ...] = ()


class ListInstrument(_Command, frozen=True, tag="list_instrument"):
    """List a linear perpetual. Refused unless the reference is eligible and approved."""

    instrument: str  # symbol, e.g. BTCUSD
    reference: str  # reference VA (BTC) or index name
    settlement_asset: str  # HKD or USD
    price_decimals: int
    tick: int  # in price units
    qty_decimals: int
    lot: int  # in quantity units
    min_qty: int
    max_qty: int
    max_leverage: int
    maker_fee_ppm: int  # negative means a rebate
    taker_fee_ppm: int
    price_band_bps: int  # limit orders beyond ref +/- band are rejected
    market_collar_bps: int  # market orders execute no worse than ref +/- collar
    sfc_approval_ref: str


class MarginTier(msgspec.Struct, frozen=True, kw_only=True):
    """One notional bracket of an instrument's margin table.

    The bracket covers position notionals (settlement micro-units, at the mark) above the
    previous bracket's ``max_notional`` and up to its own, which must be whole currency
    units. Initial margin rate = 1 / ``max_leverage``; maintenance rate ``maintenance_ppm``.
    """

    max_notional: int
    max_leverage: int
    maintenance_ppm: int


class SetMarginTiers(_Command, frozen=True, tag="set_margin_tiers"):
    """Replace an instrument's margin brackets (published; maintenance amounts are derived)."""

    instrument: str
    tiers: tuple[MarginTier, ...]


class SetInstrumentState(_Command, frozen=True, tag="set_instrument_state"):
    instrument: str
    state: InstrumentState
    reason: str = ""


class SetReferencePrice(_Command, frozen=True, tag="set_reference_price"):
    """Set the price used for bands, collars, unrealised PnL and margin (the mark, later)."""

    instrument: str
    price: int


class OpenAccount(_Command, frozen=True, tag="open_account"):
    account: int
    kind: AccountKind
    pi_expiry_ns: int = 0  # professional-investor status valid until (clients)
    legal_entity: str = ""


class SetProfessionalInvestorStatus(_Command, frozen=True, tag="set_pi_status"):
    account: int
    expiry_ns: int


class Deposit(_Command, frozen=True, tag="deposit"):
    account: int
    asset: str
    amount: int
    reference: str = ""


class Withdraw(_Command, frozen=True, tag="withdraw"):
    account: int
    asset: str
    amount: int
    reference: str = ""


class FundPlatformAccount(_Command, frozen=True, tag="fund_platform_account"):
    """Operator money into the insurance fund, the committed capital tranche, or DEFICIT
    (recapitalising an unresolved deficit, at most its size, which un-pauses withdrawals)."""

    target: str  # "INSURANCE_FUND", "PLATFORM_CAPITAL" or "DEFICIT"
    asset: str
    amount: int


# --- trading -----------------------------------------------------------------


class PlaceOrder(_Command, frozen=True, tag="place_order"):
    account: int
    instrument: str
    side: Side
    qty: int
    price: int = 0  # required for LIMIT, must be 0 for MARKET
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    stp: SelfTradePrevention = SelfTradePrevention.EXPIRE_MAKER
    client_order_id: str = ""


class CancelOrder(_Command, frozen=True, tag="cancel_order"):
    account: int
    instrument: str
    order_id: int = 0
    client_order_id: str = ""


class CancelAllOrders(_Command, frozen=True, tag="cancel_all_orders"):
    account: int
    instrument: str = ""  # empty means every instrument


class AmendOrder(_Command, frozen=True, tag="amend_order"):
    """Change price and/or remaining quantity; priority is lost if price changes or qty grows."""

    account: int
    instrument: str
    order_id: int
    price: int
    qty: int  # new remaining quantity


class PlaceTriggerOrder(_Command, frozen=True, tag="place_trigger_order"):
    """A stop, take-profit or trailing stop that places an order when its price is reached.

    ``working_type`` is required: the engine has no default price source (the gateway
    supplies Binance's CONTRACT_PRICE default as LAST explicitly). ``trigger_price`` for the
    stop and take-profit kinds; ``price`` and ``tif`` for the limit kinds; ``callback_bps``
    (10..1000, Binance callbackRate x 100) and an optional ``activation_price`` for the
    trailing stop. ``close_position`` (market stop / take-profit only, ``qty`` 0) closes the
    whole position at firing. No margin is held: the order is checked when it fires.
    """

    account: int
    instrument: str
    side: Side
    kind: TriggerKind
    working_type: WorkingType
    qty: int = 0
    trigger_price: int = 0
    price: int = 0
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False
    callback_bps: int = 0
    activation_price: int = 0
    stp: SelfTradePrevention = SelfTradePrevention.EXPIRE_MAKER
    client_order_id: str = ""


class CancelTriggerOrder(_Command, frozen=True, tag="cancel_trigger_order"):
    """Cancel a pending trigger order by its id or its client order id."""

    account: int
    instrument: str
    trigger_id: int = 0
    client_order_id: str = ""


class SetMarginMode(_Command, frozen=True, tag="set_margin_mode"):
    account: int
    instrument: str
    isolated: bool


class SetLeverage(_Command, frozen=True, tag="set_leverage"):
    """Choose the account's leverage on an instrument, within its first bracket's maximum."""

    account: int
    instrument: str
    leverage: int


class TransferIsolatedMargin(_Command, frozen=True, tag="transfer_isolated_margin"):
    """Move settlement-asset money between the cross wallet and an isolated position (+ in, - out)."""

    account: int
    instrument: str
    amount: int


class SettleFunding(_Command, frozen=True, tag="settle_funding"):
    """Settle one funding interval of an instrument at its end, through the ledger.

    The rate is computed by the price service outside the engine and journaled here, so
    replay reproduces it. Sign convention: a positive rate means longs pay shorts.
    ``rate_e8`` is in parts per 1e8 per interval; ``interval_ns`` must be in (0, 24 h];
    ``mark_price`` is in the instrument's price units.
    """

    instrument: str
    rate_e8: int
    interval_ns: int
    mark_price: int


class SetMarkParameters(_Command, frozen=True, tag="set_mark_parameters"):
    """Set an instrument's mark-price parameters (``venue.price_parameters``).

    P2's basis is the moving average of (book mid - index) samples over
    ``basis_window_ns``; at most ``basis_window_ns // basis_sample_interval_ns`` of the
    newest samples are kept. Takes effect at the next index print.
    """

    instrument: str
    basis_window_ns: int
    basis_sample_interval_ns: int


class SetFundingParameters(_Command, frozen=True, tag="set_funding_parameters"):
    """Set an instrument's funding parameters (``venue.price_parameters``).

    ``interval_ns`` is at most 24 hours and every ``SettleFunding`` must carry it; the
    premium is sampled every ``premium_sample_interval_ns`` (a whole divisor of the
    interval) at ``impact_notional`` (settlement micro-units); ``interest_rate_e8`` and
    ``dampener_e8`` are parts per 1e8 per interval; the cap is ``cap_fraction_bps`` x
    (IMR - MMR) of the instrument's first margin bracket. Takes effect at once: the next
    ``SettleFunding`` must carry the new interval (the mark's P1 keeps the last settled
    interval's terms until then).
    """

    instrument: str
    interval_ns: int
    interest_rate_e8: int
    dampener_e8: int
    cap_fraction_bps: int
    premium_sample_interval_ns: int
    impact_notional: int
    weighting: PremiumWeighting = PremiumWeighting.LINEAR


# --- index (IOSCO) ----------------------------------------------------------


class SetIndexMethodology(_Command, frozen=True, tag="set_index_methodology"):
    """Add a version of the index methodology of an instrument's reference index.

    Versions are kept; the one in force at a print's time (the latest
    ``effective_from_ns`` not after it) determines the print. A new version must carry
    a higher number and a later effective-from time than every stored one, and may not
    take effect before the command's own time (published prints are never re-based).
    """

    instrument: str
    methodology: IndexMethodology


class PublishIndex(_Command, frozen=True, tag="publish_index"):
    """Determine the instrument's index from constituent-venue inputs, at the command's time.

    The price service gathers the inputs outside the engine and journals them here, so
    replay reproduces every print. Prices are in the methodology's price unit, which is
    the instrument's.
    """

    instrument: str
    inputs: tuple[PriceInput, ...]


# --- risk reports -------------------------------------------------------------


class RecordStressReport(_Command, frozen=True, tag="record_stress_report"):
    """Record the summary of a venue stress test computed outside the engine (``harbour stress``).

    The report is computed from the venue state after ``as_of_seq`` (whose state hash is
    ``as_of_state_hash``) by ``harbour.sim.venue_stress``; ``report_hash`` is blake2b-256
    of its canonical JSON, so anyone can replay the journal to ``as_of_seq``, recompute
    the report and compare. Amounts are micro-units of ``risk_currency``. ``worst_scenario``
    is the scenario with the largest loss of the two largest defaulting participants
    (cover-2); ``cover2_failures`` counts scenarios where that loss exceeds the insurance
    fund plus the operator's capital tranche (ADL would be needed).
    """

    report_hash: str  # 64 hex digits
    as_of_seq: int
    as_of_state_hash: str  # 64 hex digits
    library_version: str
    scenarios: int
    insurance_fund: int
    capital_tranche: int
    worst_scenario: str
    worst_cover2_loss: int
    worst_total_loss: int
    worst_adl: int
    cover2_failures: int
    risk_currency: str = "HKD"


VenueCommand = (
    ListAsset
    | SetIssuerRegister
    | SetDepositBankAllowlist
    | SetMarginAssetHaircut
    | SetFxRate
    | SetEligibleReferenceAssets
    | ListInstrument
    | SetMarginTiers
    | SetInstrumentState
    | SetReferencePrice
    | OpenAccount
    | SetProfessionalInvestorStatus
    | Deposit
    | Withdraw
    | FundPlatformAccount
    | PlaceOrder
    | CancelOrder
    | CancelAllOrders
    | AmendOrder
    | PlaceTriggerOrder
    | CancelTriggerOrder
    | SetMarginMode
    | SetLeverage
    | TransferIsolatedMargin
    | SettleFunding
    | SetMarkParameters
    | SetFundingParameters
    | SetIndexMethodology
    | PublishIndex
    | RecordStressReport
)
