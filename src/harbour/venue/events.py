"""Venue events: what happened, in the past tense. Each carries the seq and ts of the
command that caused it. Events are immutable and never changed after emission.

Money fields are integer micro-units; prices and quantities are integers in the
instrument's price and quantity units.
"""

from __future__ import annotations

import msgspec

from harbour.prices.index import IndexMethodology, IndexPrint
from harbour.prices.mark import BasisSample
from harbour.venue.commands import AccountKind, InstrumentState, Side, TimeInForce, TriggerKind, WorkingType


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    seq: int
    ts_ns: int


class Rejected(_Event, frozen=True, tag="rejected"):
    """A command broke a rule and changed nothing."""

    command: str  # the command's journal tag
    code: int  # RejectCode value
    reason: str  # RejectCode name
    message: str  # rendered from code and detail
    detail: dict[str, str | int] = {}


class AssetListed(_Event, frozen=True, tag="asset_listed"):
    asset: str
    kind: str
    currency: str
    issuer: str
    haircut_bps: int


class IssuerRegisterUpdated(_Event, frozen=True, tag="issuer_register_updated"):
    issuers: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    register_ref: str
    assets_now_ineligible: tuple[str, ...]


class DepositBankAllowlistUpdated(_Event, frozen=True, tag="deposit_bank_allowlist_updated"):
    banks: tuple[str, ...]
    assets_now_ineligible: tuple[str, ...]


class MarginAssetHaircutSet(_Event, frozen=True, tag="margin_asset_haircut_set"):
    asset: str
    old_bps: int
    new_bps: int


class FxRateSet(_Event, frozen=True, tag="fx_rate_set"):
    base: str
    quote: str
    rate_e8: int


class EligibleReferenceAssetsSet(_Event, frozen=True, tag="eligible_reference_assets_set"):
    retail_spot_assets: tuple[str, ...]
    iosco_indices: tuple[str, ...]


class InstrumentListed(_Event, frozen=True, tag="instrument_listed"):
    instrument: str
    reference: str
    settlement_asset: str
    sfc_approval_ref: str


class InstrumentStateChanged(_Event, frozen=True, tag="instrument_state_changed"):
    instrument: str
    old: InstrumentState
    new: InstrumentState
    reason: str


class MarginTiersSet(_Event, frozen=True, tag="margin_tiers_set"):
    """The published bracket table: (max_notional, max_leverage, initial_ppm, maintenance_ppm,
    maintenance_amount) per bracket; maintenance margin = notional x rate - amount."""

    instrument: str
    tiers: tuple[tuple[int, int, int, int, int], ...]


class LeverageSet(_Event, frozen=True, tag="leverage_set"):
    account: int
    instrument: str
    old: int  # 0: the bracket maximum (no choice made)
    new: int


class ReferencePriceSet(_Event, frozen=True, tag="reference_price_set"):
    instrument: str
    price: int


class AccountOpened(_Event, frozen=True, tag="account_opened"):
    account: int
    kind: AccountKind
    pi_expiry_ns: int
    legal_entity: str


class ProfessionalInvestorStatusSet(_Event, frozen=True, tag="pi_status_set"):
    account: int
    old_expiry_ns: int
    new_expiry_ns: int


class GainRealisedAtMark(_Event, frozen=True, tag="gain_realised_at_mark"):
    """Part of a cross position's unrealised gain, realised at the mark to pay a loss the
    account's wallet could not (``settlement.pay``): its cost basis moved by ``gain``."""

    transfer_id: int
    account: int
    instrument: str
    gain: int  # settlement micro-units of the instrument
    mark: int
    cost_after: int


class TransferPosted(_Event, frozen=True, tag="transfer_posted"):
    """A balanced ledger transfer: postings sum to zero per asset."""

    transfer_id: int
    kind: str
    postings: tuple[tuple[int | str, str, int], ...]  # (ledger account, asset, signed amount)
    reference: str = ""


class OrderAccepted(_Event, frozen=True, tag="order_accepted"):
    order_id: int
    account: int
    instrument: str
    side: Side
    price: int
    qty: int
    tif: TimeInForce
    reduce_only: bool
    is_affiliated_mm: bool
    client_order_id: str


class OrderCancelled(_Event, frozen=True, tag="order_cancelled"):
    order_id: int
    account: int
    instrument: str
    remaining_qty: int
    reason: str  # USER, CANCEL_ALL, IOC_REMAINDER, STP_MAKER, STP_TAKER, REDUCE_ONLY_CLIPPED,
    # MARKET_COLLAR, AMENDED_AWAY, COLLATERAL_SHORTFALL
    is_affiliated_mm: bool


class OrderAmended(_Event, frozen=True, tag="order_amended"):
    order_id: int
    account: int
    instrument: str
    old_price: int
    new_price: int
    old_qty: int
    new_qty: int
    priority_lost: bool


class TradeExecuted(_Event, frozen=True, tag="trade_executed"):
    trade_id: int
    instrument: str
    price: int
    qty: int
    taker_side: Side
    maker_order_id: int
    taker_order_id: int
    maker_account: int
    taker_account: int
    maker_is_affiliated_mm: bool
    taker_is_affiliated_mm: bool
    maker_fee: int  # negative is a rebate paid to the maker
    taker_fee: int
    maker_realised_pnl: int
    taker_realised_pnl: int


class TriggerOrderAccepted(_Event, frozen=True, tag="trigger_order_accepted"):
    """A trigger order is pending. ``working_price`` is the watched price (``working_type``:
    MARK or LAST) at acceptance; ``reduce_only`` is as treated (a lapsed client's or a
    close-only instrument's trigger is reduce-only)."""

    trigger_id: int
    account: int
    instrument: str
    side: Side
    kind: TriggerKind
    working_type: WorkingType
    working_price: int
    qty: int
    trigger_price: int
    price: int
    tif: TimeInForce
    reduce_only: bool
    close_position: bool
    callback_bps: int
    activation_price: int
    client_order_id: str


class TrailingStopMoved(_Event, frozen=True, tag="trailing_stop_moved"):
    """A trailing stop activated or its best price moved; it now fires at ``stop_price``."""

    trigger_id: int
    account: int
    instrument: str
    working_type: WorkingType
    observed_price: int  # the watched price that moved it
    extreme: int  # best price since activation (lowest for a buy, highest for a sell)
    stop_price: int


class TriggerOrderTriggered(_Event, frozen=True, tag="trigger_order_triggered"):
    """A trigger order fired: ``observed_price`` of ``working_type`` reached ``stop_price``.

    The order it places (id ``order_id`` = the trigger id) follows: its OrderAccepted and
    trades, or a TriggerOrderCancelled naming why it could not be placed.
    """

    trigger_id: int
    account: int
    instrument: str
    side: Side
    kind: TriggerKind
    working_type: WorkingType
    observed_price: int
    stop_price: int
    order_id: int


class TriggerOrderCancelled(_Event, frozen=True, tag="trigger_order_cancelled"):
    """A trigger order ended without placing an order.

    ``reason``: USER, CANCEL_ALL, or, after it fired, the reject code name of the order it
    tried to place (e.g. INSUFFICIENT_MARGIN, REDUCE_ONLY_NO_POSITION); then ``code``,
    ``message`` and ``detail`` are that reject's, as a Rejected event would carry them.
    """

    trigger_id: int
    account: int
    instrument: str
    reason: str
    code: int = 0
    message: str = ""
    detail: dict[str, str | int] = {}


class MarginModeSet(_Event, frozen=True, tag="margin_mode_set"):
    account: int
    instrument: str
    isolated: bool


class FundingSettled(_Event, frozen=True, tag="funding_settled"):
    """One funding interval settled; its money moves in the TransferPosted that follows.

    ``accounts`` rows are (account, position qty, payment) in account order; a positive
    payment was paid, a negative one received. Zero-sum to the unit:
    total_paid == total_received + residue (the payers' rounding surplus, booked to
    INSURANCE_FUND). ``shortfall_covered`` is the part of total_paid that payers could not
    pay and the insurance fund, operator capital or DEFICIT covered.
    """

    instrument: str
    rate_e8: int  # parts per 1e8 per interval
    interval_ns: int
    mark_price: int
    sign_convention: str = "positive rate: longs pay shorts"
    rate_unit: str = "parts per 1e8 per funding interval"
    accounts: tuple[tuple[int, int, int], ...] = ()
    total_paid: int = 0
    total_received: int = 0
    residue: int = 0
    shortfall_covered: int = 0


class MarkParametersSet(_Event, frozen=True, tag="mark_parameters_set"):
    """An instrument's mark-price parameters were set; ``max_basis_samples`` = window // sample interval."""

    instrument: str
    basis_window_ns: int
    basis_sample_interval_ns: int
    max_basis_samples: int


class FundingParametersSet(_Event, frozen=True, tag="funding_parameters_set"):
    """An instrument's funding parameters were set; ``cap_e8`` is the cap they give with the
    instrument's first margin bracket now (it follows later bracket changes)."""

    instrument: str
    interval_ns: int
    interest_rate_e8: int
    dampener_e8: int
    cap_fraction_bps: int
    premium_sample_interval_ns: int
    impact_notional: int
    weighting: str
    cap_e8: int


class IndexMethodologySet(_Event, frozen=True, tag="index_methodology_set"):
    """A methodology version was stored for an instrument's index (IOSCO P11/P12)."""

    instrument: str
    methodology: IndexMethodology


class IndexPublished(_Event, frozen=True, tag="index_published"):
    """One index determination: the whole print, so ``recompute(print) == print`` from the event alone.

    A usable value (fallback NONE or LAST_GOOD_STALE) is followed by a MarkPriceSet and a
    ReferencePriceSet of the mark; a HALT trigger by an InstrumentStateChanged to HALTED unless the instrument was halted.
    """

    instrument: str
    print: IndexPrint


class MarkPriceSet(_Event, frozen=True, tag="mark_price_set"):
    """The mark at a usable index print, with every input, so it recomputes from the event alone.

    mark = median(p1, p2, last) (``harbour.prices.mark``): p1 = index x (1 + rate x
    time_to_funding / interval); p2 = index + the average basis of ``basis_samples`` (the
    venue's window at this print, oldest first); ``last_trade`` is None before any trade,
    when the index stands in for it. The ReferencePriceSet that follows sets the mark.
    """

    instrument: str
    mark: int
    index: int
    p1: int
    p2: int
    last_trade: int | None
    basis_samples: tuple[BasisSample, ...]
    last_funding_rate_e8: int  # 0 before any funding settlement
    time_to_funding_ns: int  # clipped to [0, interval_ns]
    interval_ns: int
    basis_window_ns: int = 300_000_000_000  # the instrument's configured window (SetMarkParameters)


class StressReportRecorded(_Event, frozen=True, tag="stress_report_recorded"):
    """A venue stress test summary was recorded (see ``RecordStressReport``); the latest is
    venue state and appears in the disclosure's loss-waterfall figures."""

    report_hash: str
    as_of_seq: int
    as_of_state_hash: str
    library_version: str
    scenarios: int
    insurance_fund: int
    capital_tranche: int
    worst_scenario: str
    worst_cover2_loss: int
    worst_total_loss: int
    worst_adl: int
    cover2_failures: int
    risk_currency: str
    cover2_covered: bool  # no scenario needs ADL for the default of the two largest participants




class LiquidationTriggered(_Event, frozen=True, tag="liquidation_triggered"):
    """An account's margin balance fell below its maintenance margin at the mark.

    ``scope`` is the isolated instrument, or "" for the cross-margin part of the account;
    amounts are in ``currency`` micro-units (the risk currency for cross)."""

    account: int
    scope: str
    margin_balance: int
    maintenance: int
    currency: str


class LiquidationStepped(_Event, frozen=True, tag="liquidation_stepped"):
    """One step of a liquidation: ``qty`` of the position toward a lower bracket.

    ``book_qty`` filled in the book no worse than the bankruptcy price; ``backstop_qty``
    filled in the book beyond it within the collar, its loss paid by the insurance fund
    and then the operator's tranche; ``adl_qty`` auto-deleveraged at the bankruptcy price."""

    account: int
    instrument: str
    side: Side
    qty: int
    mark: int
    bankruptcy_price: int
    book_qty: int
    backstop_qty: int
    adl_qty: int
    liquidation_fee: int


class AutoDeleveraged(_Event, frozen=True, tag="auto_deleveraged"):
    """A profitable opposite position closed against a defaulter at the bankruptcy price.

    ``rank`` is the counterparty's place in the published ADL queue (1 = first);
    ``score`` = profit ratio x effective leverage as an exact fraction "num/den"."""

    trade_id: int
    instrument: str
    price: int
    qty: int
    account: int  # the defaulter
    counterparty: int
    counterparty_side: Side  # the side the counterparty traded (closing its position)
    rank: int
    score: str
    account_realised_pnl: int
    counterparty_realised_pnl: int


class LossReported(_Event, frozen=True, tag="loss_reported"):
    """The report of one liquidation: who defaulted, what was closed, and which layer of the
    published waterfall paid how much, in order. ``layers`` rows are (layer, asset, amount):
    DEFAULTER_MARGIN is what the defaulter's wallets gave (fee included), DEFAULTER_GAINS the
    unrealised gains of its other cross positions realised at the mark, LIQUIDATION_FEE the
    fee the insurance fund received, INSURANCE_FUND and OPERATOR_TRANCHE their draws for
    losses beyond the defaulter's margin, DEFICIT any rest (pauses withdrawals). ``adl``
    rows are (counterparty, qty, price)."""

    account: int
    scope: str
    closed: tuple[tuple[str, int], ...]  # (instrument, signed qty closed)
    layers: tuple[tuple[str, str, int], ...]
    adl: tuple[tuple[int, int, int], ...]


# Every event the venue engine emits (a test checks none is missing): the type a journal of events decodes to.
VenueEvent = (
    Rejected
    | AssetListed
    | IssuerRegisterUpdated
    | DepositBankAllowlistUpdated
    | MarginAssetHaircutSet
    | FxRateSet
    | EligibleReferenceAssetsSet
    | InstrumentListed
    | InstrumentStateChanged
    | ReferencePriceSet
    | AccountOpened
    | ProfessionalInvestorStatusSet
    | TransferPosted
    | OrderAccepted
    | OrderCancelled
    | OrderAmended
    | TradeExecuted
    | TriggerOrderAccepted
    | TrailingStopMoved
    | TriggerOrderTriggered
    | TriggerOrderCancelled
    | MarginModeSet
    | FundingSettled
    | MarkParametersSet
    | FundingParametersSet
    | IndexMethodologySet
    | IndexPublished
    | MarkPriceSet
    | StressReportRecorded
    | MarginTiersSet
    | LeverageSet
    | GainRealisedAtMark
    | LiquidationTriggered
    | LiquidationStepped
    | AutoDeleveraged
    | LossReported
)
