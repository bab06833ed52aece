"""Broker commands: the only inputs that change broker state.

Owns the closed union ``BrokerCommand``. Commands are immutable, imperative and carry
no seq or time: the sequencer stamps them. The msgspec tag is the command's stable
journal name. Units: money is HKD micro-units; security quantities are shares; VA
quantities are integer units of 1e-8 coin; security prices are HKD micro-units per
share and VA prices HKD micro-units per whole coin. Prices come in only as commands,
so every valuation is reproducible from the journal (A1).
"""

from __future__ import annotations

from enum import Enum

import msgspec

from harbour.broker.config import BrokerConfig


class EncumbrancePurpose(str, Enum):
    """Ways someone might try to reuse a client's VA collateral: all are refused (N1)."""

    PLEDGE = "PLEDGE"
    LEND = "LEND"
    STAKE = "STAKE"
    TRANSFER_TO_HOUSE = "TRANSFER_TO_HOUSE"
    SETTLE_OTHER_CLIENT_DEBT = "SETTLE_OTHER_CLIENT_DEBT"


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pass


# --- configuration and market data (operator, price feeds) ------------------------------


class ConfigureBroker(_Command, frozen=True, tag="configure_broker"):
    """Replace the risk configuration; refused as a whole if any setting is invalid."""

    config: BrokerConfig


class SetSecurityMarginRatio(_Command, frozen=True, tag="set_security_margin_ratio"):
    """Put a security on the marginable list with the broker's margin ratio (0 = not collateral).

    ``correlation_group`` names the group of highly correlated securities it belongs to (C5);
    every setting replaces the previous one, group included.
    """

    security: str
    margin_ratio_bps: int
    correlation_group: str = ""


class SetSecuritySuspended(_Command, frozen=True, tag="set_security_suspended"):
    security: str
    suspended: bool


class MarkSecurity(_Command, frozen=True, tag="mark_security"):
    security: str
    price: int  # HKD micro-units per share


class MarkVirtualAsset(_Command, frozen=True, tag="mark_virtual_asset"):
    asset: str
    price: int  # HKD micro-units per whole coin


class FeedPrice(msgspec.Struct, frozen=True, kw_only=True):
    """One VA price feed reading: the source, its price (HKD micro per coin) and when it was observed.

    ``primary`` marks the executable bid on the execution VATP; the others are reference
    venues whose median cross-checks it (V2).
    """

    source: str
    price: int
    ts_ns: int
    primary: bool = False


class MarkVirtualAssetFeeds(_Command, frozen=True, tag="mark_virtual_asset_feeds"):
    """Mark BTC/ETH at the cross-checked price of its feeds (V2): one primary, the rest references."""

    asset: str
    feeds: tuple[FeedPrice, ...]


class SetExchangeSession(_Command, frozen=True, tag="set_exchange_session"):
    """HKEX opened or closed: securities can be sold only while it is open (M7)."""

    is_open: bool


class RecordAverageDailyVolume(_Command, frozen=True, tag="record_average_daily_volume"):
    """An instrument's average daily volume on its execution venues, from the market-data team.

    ``qty`` is shares per day for a listed security, VA units (1e-8 coin) per day for BTC/ETH.
    It sets the size multiplier k of large holdings (C3 for BTC/ETH, C5 for stocks) and, for
    BTC/ETH, the book's one-day liquidation capacity (C4).
    """

    instrument: str
    qty: int
    window_days: int = 30
    source: str = ""


class AccrueInterest(_Command, frozen=True, tag="accrue_interest"):
    """Charge ``days`` days of interest on every loan (the scheduler's daily tick); written-off debt accrues none (M8)."""

    days: int = 1


class ReviewMargins(_Command, frozen=True, tag="review_margins"):
    """Re-examine every client at the stamped time (call deadlines fall due on this tick)."""


# --- clients and eligibility (E1) ----------------------------------------------------------


class RegisterSecuritiesMarginAccount(_Command, frozen=True, tag="register_securities_margin_account"):
    """The client's existing securities margin account and its current credit limit (HKD micro)."""

    client: int
    credit_limit: int
    related_group: str = ""  # C2: clients sharing a group name are one related group


class RecordVaSuitability(_Command, frozen=True, tag="record_va_suitability"):
    client: int
    passed: bool
    reference: str = ""


class OpenVaFacility(_Command, frozen=True, tag="open_va_facility"):
    client: int


# --- collateral in and out -------------------------------------------------------------------


class DepositCash(_Command, frozen=True, tag="deposit_cash"):
    """Cash paid in; it repays any loan first (a margin account's single debit balance)."""

    client: int
    amount: int


class DepositSecurities(_Command, frozen=True, tag="deposit_securities"):
    client: int
    security: str
    qty: int


class DepositVirtualAsset(_Command, frozen=True, tag="deposit_virtual_asset"):
    """A VA transferred in; it becomes a new lot in the client's own sub-ledger."""

    client: int
    asset: str
    qty: int
    cost_price: int  # HKD micro per coin, for losers-first ordering (M7)


class BuyVirtualAsset(_Command, frozen=True, tag="buy_virtual_asset"):
    """Settle a BTC/ETH purchase filled on the VATP: cash first, the rest financed (E4, M1)."""

    client: int
    asset: str
    qty: int
    price: int  # execution price, HKD micro per coin


class WithdrawCash(_Command, frozen=True, tag="withdraw_cash"):
    client: int
    amount: int


class WithdrawSecurities(_Command, frozen=True, tag="withdraw_securities"):
    client: int
    security: str
    qty: int


class WithdrawVirtualAsset(_Command, frozen=True, tag="withdraw_virtual_asset"):
    """Withdraw VA from the client's lots, oldest lot first (N1 allowed path a)."""

    client: int
    asset: str
    qty: int


class EncumberVirtualAsset(_Command, frozen=True, tag="encumber_virtual_asset"):
    """A request to pledge, lend, stake or move a VA lot: always refused (N1, N3)."""

    client: int
    lot: int
    qty: int
    purpose: EncumbrancePurpose
    beneficiary: str = ""


# --- custody reconciliation (N2/N4) ------------------------------------------------------------


class CustodyHolding(msgspec.Struct, frozen=True, kw_only=True):
    """One row of an external custody statement: a client's holding of one VA, in 1e-8 units."""

    client: int
    asset: str
    qty: int


class ReconcileCustody(_Command, frozen=True, tag="reconcile_custody"):
    """Compare the custodian's statement with every client's custody sub-ledger (N2/N4).

    Every (client, asset) whose quantities differ is a break; a break open before and
    matching now is closed.
    """

    statement_date: str  # YYYY-MM-DD
    holdings: tuple[CustodyHolding, ...]


class ResolveCustodyBreak(_Command, frozen=True, tag="resolve_custody_break"):
    """Close one open custody break with a documented resolution and a named approver."""

    break_id: int
    resolution: str
    approver: str


# --- credit limits (K1) and concentration limits (C1-C5) ------------------------------------


class ChangeCreditLimit(_Command, frozen=True, tag="change_credit_limit"):
    """Change (or, on a review, confirm) a client's credit limit with a reason and an approver (K1).

    A review reason (ANNUAL_REVIEW, TRIGGERED_REVIEW) may keep the limit unchanged; it
    restarts the review clock. VA_FINANCING_ENABLED and unknown reasons are refused. An
    increase must be supported by the client's NAV with BTC/ETH at the stressed value, or be
    a WAIVER (a documented, approved risk assessment).
    """

    client: int
    new_limit: int
    reason_code: str
    approver: str


class SmfClientLoan(msgspec.Struct, frozen=True, kw_only=True):
    """One client's margin loans in the broker's SMF books outside this engine (securities and every other product), HKD micro."""

    client: int
    amount: int


class SmfGroupLoan(msgspec.Struct, frozen=True, kw_only=True):
    """Margin loans outside this engine to members of a related group who have no account here (C2), HKD micro."""

    related_group: str
    amount: int


class SmfSecurityMarginValue(msgspec.Struct, frozen=True, kw_only=True):
    """The margin value of one security in the broker's SMF book outside this engine (C5), HKD micro."""

    security: str
    margin_value: int


class RecordBookFigures(_Command, frozen=True, tag="record_book_figures"):
    """The broker's capital figures and its securities margin loan book (from the SMF books).

    From the first of these the C1-C5 limits are checked on every new advance. The SMF
    extract (per-client and related-group loans, per-security margin value outside this
    engine) makes C2 count a client's loans in every product and C5 the whole margin book;
    each record replaces the previous figures and extract as a whole.
    """

    shareholders_funds: int
    capital: int
    securities_margin_loans: int  # margin loans outside this engine (all non-VA products)
    client_loans: tuple[SmfClientLoan, ...] = ()  # C2: per client, part of securities_margin_loans
    group_loans: tuple[SmfGroupLoan, ...] = ()  # C2: related-group members without an account here, part of it too
    security_margin_values: tuple[SmfSecurityMarginValue, ...] = ()  # C5: the SMF book's collateral outside this engine


class RecordLimitException(_Command, frozen=True, tag="record_limit_exception"):
    """An exceptions-register entry allowing a breach of one C-limit until ``expiry_ns``.

    ``limit_id`` is one of ``limits.LIMIT_IDS``; ``client`` is the client for C1/C2 and 0
    for the book limits (C4, C5); ``instrument`` names what a per-instrument limit is about:
    BTC or ETH for C4_LIQUIDITY, the security for C5_STOCK, the group for C5_GROUP.
    """

    limit_id: str
    client: int
    justification: str
    approver: str
    expiry_ns: int
    instrument: str = ""


BrokerCommand = (
    ConfigureBroker
    | SetSecurityMarginRatio
    | SetSecuritySuspended
    | MarkSecurity
    | MarkVirtualAsset
    | MarkVirtualAssetFeeds
    | SetExchangeSession
    | RecordAverageDailyVolume
    | AccrueInterest
    | ReviewMargins
    | RegisterSecuritiesMarginAccount
    | RecordVaSuitability
    | OpenVaFacility
    | DepositCash
    | DepositSecurities
    | DepositVirtualAsset
    | BuyVirtualAsset
    | WithdrawCash
    | WithdrawSecurities
    | WithdrawVirtualAsset
    | EncumberVirtualAsset
    | ChangeCreditLimit
    | RecordBookFigures
    | RecordLimitException
    | ReconcileCustody
    | ResolveCustodyBreak
)
