"""Reject codes and the exception tree.

A broken business rule is a value: a reject event carrying a RejectCode and
structured detail. An exception means a bug (an invariant broke) or an I/O failure.

Codes are stable and grouped by subsystem: 1xxx request, 2xxx margin/risk,
3xxx matching, 4xxx ledger/account, 5xxx broker, 6xxx compliance, 9xxx system.
A code is never renumbered or reused; a retired code stays, marked deprecated.

Exception tree:
    HarbourError
      InvariantBroken   a core invariant broke: stop the engine
        PostingRefused  the ledger refused a debit of a restricted account (carries a RejectCode)
      JournalCorrupt    checksum or hash chain failed before the tail
      JournalLocked     another writer holds the journal
      JournalFailed     a write or fsync failed; reopen to recover
      MalformedCommand  a command's fields do not have their declared types (MALFORMED_COMMAND)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum


class RejectCode(IntEnum):
    # 1xxx: request shape and references
    UNKNOWN_ACCOUNT = 1001
    UNKNOWN_INSTRUMENT = 1002
    UNKNOWN_ASSET = 1003
    QUANTITY_NOT_POSITIVE = 1004
    PRICE_NOT_POSITIVE = 1005
    PRICE_OFF_TICK = 1006
    QUANTITY_OFF_LOT = 1007
    QUANTITY_BELOW_MINIMUM = 1008
    QUANTITY_ABOVE_MAXIMUM = 1009
    DUPLICATE_CLIENT_ORDER_ID = 1010
    UNKNOWN_ORDER = 1011
    AMOUNT_NOT_POSITIVE = 1012
    AMOUNT_OFF_GRANULARITY = 1013
    ACCOUNT_ALREADY_EXISTS = 1014
    INSTRUMENT_ALREADY_LISTED = 1015
    ASSET_ALREADY_LISTED = 1016
    INVALID_PARAMETER = 1017
    PRICE_REQUIRED = 1018
    PRICE_NOT_ALLOWED = 1019
    AMEND_NO_CHANGE = 1021
    FX_RATE_MISSING = 1022
    AMOUNT_TOO_LARGE = 1024
    MALFORMED_COMMAND = 1025

    # 2xxx: margin and risk
    INSUFFICIENT_MARGIN = 2001
    INSUFFICIENT_FREE_COLLATERAL = 2002
    REDUCE_ONLY_WOULD_INCREASE = 2003
    REDUCE_ONLY_NO_POSITION = 2004
    NO_REFERENCE_PRICE = 2005
    PRICE_OUTSIDE_BAND = 2006
    MARGIN_MODE_CHANGE_WITH_EXPOSURE = 2007
    INSUFFICIENT_ISOLATED_MARGIN = 2008
    POSITION_LIMIT_EXCEEDED = 2010
    LEVERAGE_OUT_OF_RANGE = 2011
    # 2040-2049: mark-price and funding parameters
    FUNDING_INTERVAL_OUT_OF_RANGE = 2040
    FUNDING_INTERVAL_MISMATCH = 2041
    PREMIUM_SAMPLE_INTERVAL_INVALID = 2042
    FUNDING_RATE_TERM_OUT_OF_RANGE = 2043
    FUNDING_CAP_FRACTION_OUT_OF_RANGE = 2044
    IMPACT_NOTIONAL_OUT_OF_RANGE = 2045
    MARK_BASIS_WINDOW_OUT_OF_RANGE = 2046
    MARK_BASIS_SAMPLE_INTERVAL_INVALID = 2047

    # 3xxx: matching
    POST_ONLY_WOULD_CROSS = 3001
    FOK_NOT_FILLABLE = 3002
    INSTRUMENT_HALTED = 3003
    INSTRUMENT_CLOSE_ONLY = 3004
    AMEND_WOULD_CROSS = 3006
    # 3010-3029: trigger orders
    TRIGGER_PRICE_NOT_POSITIVE = 3010
    TRIGGER_PRICE_OFF_TICK = 3011
    TRIGGER_PRICE_ABOVE_CEILING = 3012
    TRIGGER_WOULD_FIRE_IMMEDIATELY = 3013
    TRIGGER_FIELD_REQUIRED = 3014
    TRIGGER_FIELD_NOT_ALLOWED = 3015
    CALLBACK_OUT_OF_RANGE = 3016
    NO_LAST_TRADE_PRICE = 3017
    TOO_MANY_TRIGGER_ORDERS = 3018
    UNKNOWN_TRIGGER_ORDER = 3019

    # 4xxx: ledger and account
    INSUFFICIENT_BALANCE = 4001
    WITHDRAWALS_PAUSED = 4002

    # 5xxx: broker (VA margin financing); generic request problems use the 1xxx codes
    UNKNOWN_CLIENT = 5001
    CLIENT_ALREADY_EXISTS = 5002
    UNKNOWN_SECURITY = 5006
    UNKNOWN_LOT = 5007
    NO_PRICE = 5008
    NO_SECURITIES_MARGIN_ACCOUNT = 5101
    NO_CREDIT_LIMIT = 5102
    NO_VA_SUITABILITY = 5103
    FACILITY_ALREADY_OPEN = 5104
    NO_VA_FACILITY = 5105
    VA_NOT_ELIGIBLE = 5106
    HAIRCUT_BELOW_FLOOR = 5201
    INVALID_MARGIN_LEVELS = 5202
    MARGIN_CALL_OUTSTANDING = 5301
    RATIO_WOULD_EXCEED_LIMIT = 5302
    CREDIT_LIMIT_EXCEEDED = 5303
    WITHDRAWAL_WOULD_BREACH_LIMIT = 5304
    INSUFFICIENT_HOLDING = 5305
    INSUFFICIENT_CASH = 5306
    REHYPOTHECATION_REFUSED = 5401
    CREDIT_LIMIT_REASON_REFUSED = 5501
    APPROVER_REQUIRED = 5502
    VA_SHARE_LIMIT_EXCEEDED = 5601
    SINGLE_CLIENT_LIMIT_EXCEEDED = 5602
    RELATED_GROUP_LIMIT_EXCEEDED = 5603
    VA_BOOK_SHARE_EXCEEDED = 5604
    TOTAL_MARGIN_LOANS_EXCEEDED = 5605
    INVALID_PRICE_FEEDS = 5203
    CUSTODY_BREAK_OPEN = 5402
    NO_OPEN_CUSTODY_BREAK = 5403
    CUSTODY_STATEMENT_MISSING = 5701
    # 5801-5899: broker stressed NAV (K1), liquidation capacity (C4), securities concentration (C5), marks (V1)
    CREDIT_LIMIT_ABOVE_STRESSED_NAV = 5801
    LIQUIDATION_CAPACITY_EXCEEDED = 5802
    SINGLE_STOCK_LIMIT_EXCEEDED = 5803
    CORRELATED_GROUP_LIMIT_EXCEEDED = 5804
    SECURITY_MARK_OUTSIDE_SESSION = 5805
    SMF_EXTRACT_STALE = 5806  # C2/C5 data currency: the SMF extract is past its validity (D53)

    # 6xxx: compliance
    PROFESSIONAL_INVESTOR_STATUS_EXPIRED = 6001
    MARGIN_ASSET_NOT_ELIGIBLE = 6002
    VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN = 6003
    REFERENCE_ASSET_NOT_ELIGIBLE = 6004
    SFC_APPROVAL_MISSING = 6005
    NOT_PROFESSIONAL_INVESTOR = 6006


def render_reject(templates: Mapping[RejectCode, str], code: RejectCode, detail: Mapping[str, str | int]) -> str:
    """Render a reject's human message from its code's template and its detail fields.

    The message is always derived from the fields, never the other way round; a code with
    no template, or a template naming a missing field, falls back to the code's name.
    """
    template = templates.get(code)
    if template is not None:
        try:
            return template.format(**detail)
        except KeyError:
            pass
    return code.name.lower().replace("_", " ")


class HarbourError(Exception):
    """Base of every exception Harbour raises on purpose."""


class InvariantBroken(HarbourError):
    """A core invariant no longer holds: the engine must stop, not carry on."""


class PostingRefused(InvariantBroken):
    """The ledger refused a transfer that debits a restricted account (``Ledger.restrict_debits``).

    It changed nothing. ``code`` is the stable reject code the account's owner gave the
    restriction; an engine's own checks refuse such a request first, so reaching the ledger
    guard from inside ``apply`` is a bug and stops the engine like any broken invariant.
    """

    def __init__(self, code: RejectCode, detail: Mapping[str, str | int]) -> None:
        super().__init__(f"{code.name}: {dict(detail)}")
        self.code = code
        self.detail = dict(detail)


class JournalCorrupt(HarbourError):
    """The journal failed its checksum or hash-chain verification."""


class JournalLocked(HarbourError):
    """Another open journal writer (in this or another process) holds the file."""


class JournalFailed(HarbourError):
    """An earlier journal write or fsync failed; reopen the journal to recover."""


class MalformedCommand(HarbourError):
    """A command's fields do not have their declared types; it was neither journaled nor applied."""

    code = RejectCode.MALFORMED_COMMAND
