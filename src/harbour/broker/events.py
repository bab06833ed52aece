"""Broker events: what happened, in the past tense.

Owns the closed vocabulary of broker output. Each event carries the seq and ts of the
command that caused it, is immutable and is never changed after emission. Every margin
step (warning, call, sale, bad debt, advance, withdrawal) carries the ``MarginFigures``
it was decided on and the ``PriceMark`` snapshot those figures were computed from, so
any call or sale can be reproduced from the event alone (A1).

Units as in ``commands``: money HKD micro-units, shares, VA units of 1e-8 coin, ratios
in basis points. A ratio of None means "no margin value" (a loan against nothing).
"""

from __future__ import annotations

import msgspec

from harbour.broker.commands import FeedPrice, SmfClientLoan, SmfGroupLoan, SmfSecurityMarginValue
from harbour.broker.config import BrokerConfig


class PriceMark(msgspec.Struct, frozen=True, kw_only=True):
    """One price used in a decision: the instrument, its price and when it was marked."""

    instrument: str
    price: int
    marked_ts_ns: int
    suspended: bool = False


class MarginFigures(msgspec.Struct, frozen=True, kw_only=True):
    """A client's margin position at one instant (house and FRR views side by side, V4)."""

    loan: int  # L
    cash: int
    market_value: int  # sum of MVal (suspended securities and non-BTC/ETH VA count zero)
    margin_value: int  # MV, house view
    margin_value_frr: int  # MV, capital view: VA collateral counts zero
    equity: int  # E = market value + cash - L
    ratio_bps: int | None  # R = L / MV, rounded up; None when L > 0 and MV = 0
    ratio_frr_bps: int | None
    shortfall: int  # S = max(0, L - min(MV, credit limit))
    credit_limit: int


class NavFigures(msgspec.Struct, frozen=True, kw_only=True):
    """A client's net asset value at the broker, plainly and with BTC/ETH at the stressed value.

    NAV = market value + cash - loan - bad debt. The stressed NAV replaces the BTC/ETH value by its
    value at the configured stress shock (26EC5: VA volatility reflected in the NAV used for credit
    assessment); it is the basis of every credit-limit decision (K1).
    """

    nav: int
    va_value: int  # BTC/ETH at the mark
    stressed_va_value: int  # BTC/ETH at the stress shock
    stressed_nav: int
    btc_stress_bps: int  # the shocks applied (falls, bps)
    eth_stress_bps: int


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    seq: int
    ts_ns: int


class Rejected(_Event, frozen=True, tag="rejected"):
    """A command broke a rule and changed nothing."""

    command: str
    code: int  # RejectCode value
    reason: str  # RejectCode name
    message: str  # rendered from code and detail
    detail: dict[str, str | int] = {}


# --- configuration and market data ---------------------------------------------------------


class BrokerConfigured(_Event, frozen=True, tag="broker_configured"):
    config: BrokerConfig


class SecurityMarginRatioSet(_Event, frozen=True, tag="security_margin_ratio_set"):
    security: str
    old_bps: int
    new_bps: int
    correlation_group: str = ""


class SecuritySuspensionSet(_Event, frozen=True, tag="security_suspension_set"):
    security: str
    suspended: bool


class SecurityMarked(_Event, frozen=True, tag="security_marked"):
    security: str
    price: int


class VirtualAssetMarked(_Event, frozen=True, tag="virtual_asset_marked"):
    asset: str
    price: int


class PriceAlertRaised(_Event, frozen=True, tag="price_alert_raised"):
    """V2: the VA feeds did not confirm each other, so the lower price was used.

    ``reasons`` holds STALE_FEED, DIVERGENT_FEEDS and/or TOO_FEW_REFERENCES;
    ``deviation_bps`` is |primary - reference median| / reference median, rounded up.
    """

    asset: str
    reasons: tuple[str, ...]
    primary_price: int
    reference_price: int  # median of the reference feeds
    used_price: int  # the lower of the two
    deviation_bps: int
    stale_sources: tuple[str, ...]
    feeds: tuple[FeedPrice, ...]


class AverageDailyVolumeRecorded(_Event, frozen=True, tag="average_daily_volume_recorded"):
    """An instrument's ADV (shares or VA units per day) for the C3/C5 size multiplier and C4 capacity."""

    instrument: str
    qty: int
    window_days: int
    source: str


class ExchangeSessionSet(_Event, frozen=True, tag="exchange_session_set"):
    is_open: bool


# --- clients -------------------------------------------------------------------------------


class SecuritiesMarginAccountRegistered(_Event, frozen=True, tag="securities_margin_account_registered"):
    client: int
    credit_limit: int
    related_group: str = ""


class VaSuitabilityRecorded(_Event, frozen=True, tag="va_suitability_recorded"):
    client: int
    passed: bool
    reference: str


class VaFacilityOpened(_Event, frozen=True, tag="va_facility_opened"):
    client: int
    credit_limit: int


# --- money and collateral ------------------------------------------------------------------


class TransferPosted(_Event, frozen=True, tag="transfer_posted"):
    """A balanced transfer in the main ledger or in one client's VA custody sub-ledger."""

    ledger: str  # "MAIN" or "CUSTODY:<client>"
    transfer_id: int
    kind: str
    postings: tuple[tuple[str, str, int], ...]  # (ledger account, asset, signed amount)
    reference: str = ""


class CashDeposited(_Event, frozen=True, tag="cash_deposited"):
    client: int
    amount: int
    loan_repaid: int
    cash_credited: int


class LotOpened(_Event, frozen=True, tag="lot_opened"):
    client: int
    lot: int
    asset: str
    qty: int
    cost_price: int
    source: str  # DEPOSIT or PURCHASE


class VirtualAssetPurchased(_Event, frozen=True, tag="virtual_asset_purchased"):
    client: int
    asset: str
    lot: int
    qty: int
    price: int
    cost: int  # qty x price, rounded up (charged)
    cash_used: int
    financed: int


class LoanAdvanced(_Event, frozen=True, tag="loan_advanced"):
    """New financing, used only to settle a VA purchase on the VATP (E4)."""

    client: int
    amount: int
    purpose: str
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class CollateralWithdrawn(_Event, frozen=True, tag="collateral_withdrawn"):
    client: int
    instrument: str
    lot: int  # 0 for securities and cash
    qty: int
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


# --- margin state machine (M2-M8) ------------------------------------------------------------


class MarginWarningIssued(_Event, frozen=True, tag="margin_warning_issued"):
    client: int
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class MarginWarningCleared(_Event, frozen=True, tag="margin_warning_cleared"):
    client: int
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class MarginCallIssued(_Event, frozen=True, tag="margin_call_issued"):
    client: int
    cause: str  # SECURITIES or VIRTUAL_ASSET (what moved)
    deadline_ns: int
    shortfall: int
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class MarginCallMet(_Event, frozen=True, tag="margin_call_met"):
    client: int
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class ForcedSaleStarted(_Event, frozen=True, tag="forced_sale_started"):
    client: int
    trigger: str  # RATIO_AT_FORCED_SALE_LINE, DEADLINE_PASSED or EQUITY_BELOW_FLOOR
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class CollateralSold(_Event, frozen=True, tag="collateral_sold"):
    """One forced sale, for the client's own debt only (N1 allowed path b)."""

    client: int
    instrument: str
    lot: int  # 0 for securities
    qty: int
    price: int
    margin_ratio_bps: int  # m of the asset sold (M7 orders by it)
    gross: int  # rounded down (credited)
    cost: int  # gross x c, rounded up (charged)
    net: int
    loan_repaid: int
    cash_credited: int


class ForcedSaleCompleted(_Event, frozen=True, tag="forced_sale_completed"):
    client: int
    target_reached: bool
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


class InterestAccrued(_Event, frozen=True, tag="interest_accrued"):
    """Interest charged on one client's loan (part of L); none accrues on a written-off residual (M8)."""

    client: int
    amount: int  # rounded up (charged)
    loan_after: int
    rate_bps: int  # a year
    days: int


class BadDebtBooked(_Event, frozen=True, tag="bad_debt_booked"):
    """The residual loan after every sale, booked against this client alone (M8)."""

    client: int
    amount: int
    figures: MarginFigures
    prices: tuple[PriceMark, ...]


# --- credit limits (K1) and concentration limits (C1-C5) ----------------------------------


class CreditLimitChanged(_Event, frozen=True, tag="credit_limit_changed"):
    """One entry of the credit-limit audit trail (K1): old and new limit, reason, approver, time."""

    client: int
    old_limit: int
    new_limit: int
    reason_code: str
    approver: str
    next_review_ns: int
    nav: int = 0  # the client's NAV at the broker, the credit-assessment basis ...
    stressed_nav: int = 0  # ... with BTC/ETH at the stressed value (26EC5)


class CreditReviewDue(_Event, frozen=True, tag="credit_review_due"):
    """A K1 review trigger fired: the client's credit limit is due for review."""

    client: int
    trigger: str  # ANNUAL, MARGIN_CALLS_IN_WINDOW, VA_LOAN_ABOVE_SHARE_OF_LIMIT, LARGE_DEPOSIT or LARGE_WITHDRAWAL
    due_ns: int


class BookFiguresRecorded(_Event, frozen=True, tag="book_figures_recorded"):
    shareholders_funds: int
    capital: int
    securities_margin_loans: int
    client_loans: tuple[SmfClientLoan, ...] = ()
    group_loans: tuple[SmfGroupLoan, ...] = ()
    security_margin_values: tuple[SmfSecurityMarginValue, ...] = ()


class LimitExceptionRecorded(_Event, frozen=True, tag="limit_exception_recorded"):
    """An exceptions-register entry (C1-C5): justification, approver and expiry."""

    exception_id: int
    limit_id: str
    client: int  # 0 for a book limit
    justification: str
    approver: str
    expiry_ns: int
    instrument: str = ""  # per-instrument limits (C4_LIQUIDITY, C5_STOCK, C5_GROUP)


class LimitExceptionApplied(_Event, frozen=True, tag="limit_exception_applied"):
    """A new advance breached a limit and went ahead only under a register entry."""

    exception_id: int
    limit_id: str
    client: int
    value: int  # the figure checked (HKD micro; VA units for C4_LIQUIDITY)
    limit: int  # its limit (same unit)
    instrument: str = ""


# --- custody reconciliation (N2/N4) --------------------------------------------------------------


class CustodyBreakFound(_Event, frozen=True, tag="custody_break_found"):
    """The custodian's statement and the client's custody sub-ledger disagree."""

    break_id: int
    statement_date: str
    client: int
    asset: str
    statement_qty: int
    book_qty: int


class CustodyBreakResolved(_Event, frozen=True, tag="custody_break_resolved"):
    """An open break closed: by a clean reconciliation, a superseding break or an approved resolution."""

    break_id: int
    client: int
    asset: str
    resolution: str
    approver: str  # "" when a reconciliation closed it


class CustodyReconciled(_Event, frozen=True, tag="custody_reconciled"):
    """A custody statement was compared with the books; new financing is blocked while breaks are open."""

    statement_date: str
    rows: int
    breaks_found: int
    breaks_resolved: int
    open_breaks: int
