"""Broker reject codes (5xxx) and reject events rendered from structured detail.

The codes themselves live in the one house table, ``kernel.errors.RejectCode``: the
broker's own in the 5xxx range, and the shared 1xxx request codes for generic problems.
``BROKER_CODES`` lists every code the broker can emit. A code is never renumbered or
reused.

Invariant: the human message is always rendered from the code and the detail fields,
never the other way round, and every code has a template (a test keeps
``missing_templates()`` empty).
"""

from __future__ import annotations

from harbour.broker.events import Rejected
from harbour.kernel.errors import RejectCode, render_reject

# Every code the broker can emit: its own 5xxx codes and the shared 1xxx request codes.
BROKER_CODES: tuple[RejectCode, ...] = (
    RejectCode.UNKNOWN_CLIENT,
    RejectCode.CLIENT_ALREADY_EXISTS,
    RejectCode.AMOUNT_NOT_POSITIVE,
    RejectCode.PRICE_NOT_POSITIVE,
    RejectCode.AMOUNT_TOO_LARGE,
    RejectCode.UNKNOWN_SECURITY,
    RejectCode.UNKNOWN_LOT,
    RejectCode.NO_PRICE,
    RejectCode.INVALID_PARAMETER,
    RejectCode.NO_SECURITIES_MARGIN_ACCOUNT,
    RejectCode.NO_CREDIT_LIMIT,
    RejectCode.NO_VA_SUITABILITY,
    RejectCode.FACILITY_ALREADY_OPEN,
    RejectCode.NO_VA_FACILITY,
    RejectCode.VA_NOT_ELIGIBLE,
    RejectCode.HAIRCUT_BELOW_FLOOR,
    RejectCode.INVALID_MARGIN_LEVELS,
    RejectCode.MARGIN_CALL_OUTSTANDING,
    RejectCode.RATIO_WOULD_EXCEED_LIMIT,
    RejectCode.CREDIT_LIMIT_EXCEEDED,
    RejectCode.WITHDRAWAL_WOULD_BREACH_LIMIT,
    RejectCode.INSUFFICIENT_HOLDING,
    RejectCode.INSUFFICIENT_CASH,
    RejectCode.REHYPOTHECATION_REFUSED,
    RejectCode.CREDIT_LIMIT_REASON_REFUSED,
    RejectCode.APPROVER_REQUIRED,
    RejectCode.VA_SHARE_LIMIT_EXCEEDED,
    RejectCode.SINGLE_CLIENT_LIMIT_EXCEEDED,
    RejectCode.RELATED_GROUP_LIMIT_EXCEEDED,
    RejectCode.VA_BOOK_SHARE_EXCEEDED,
    RejectCode.TOTAL_MARGIN_LOANS_EXCEEDED,
    RejectCode.INVALID_PRICE_FEEDS,
    RejectCode.CUSTODY_BREAK_OPEN,
    RejectCode.NO_OPEN_CUSTODY_BREAK,
    RejectCode.CUSTODY_STATEMENT_MISSING,
    RejectCode.CREDIT_LIMIT_ABOVE_STRESSED_NAV,
    RejectCode.LIQUIDATION_CAPACITY_EXCEEDED,
    RejectCode.SINGLE_STOCK_LIMIT_EXCEEDED,
    RejectCode.CORRELATED_GROUP_LIMIT_EXCEEDED,
    RejectCode.SECURITY_MARK_OUTSIDE_SESSION,
    RejectCode.SMF_EXTRACT_STALE,
)

C = RejectCode

_TEMPLATES: dict[RejectCode, str] = {
    C.UNKNOWN_CLIENT: "client {client} has no account at the broker",
    C.CLIENT_ALREADY_EXISTS: "client {client} already has a securities margin account",
    C.AMOUNT_NOT_POSITIVE: "{field} must be positive, got {value}",
    C.PRICE_NOT_POSITIVE: "price of {instrument} must be positive, got {price}",
    C.AMOUNT_TOO_LARGE: "{field} {value} is above the ceiling {ceiling}",
    C.UNKNOWN_SECURITY: "security {security} is not on the broker's marginable list",
    C.UNKNOWN_LOT: "client {client} holds no open {asset} lot {lot}",
    C.NO_PRICE: "no price has been marked for {instrument}",
    C.INVALID_PARAMETER: "invalid parameter: {problem}",
    C.NO_SECURITIES_MARGIN_ACCOUNT: "client {client} has no existing securities margin account (E1)",
    C.NO_CREDIT_LIMIT: "client {client} has no current credit limit (E1)",
    C.NO_VA_SUITABILITY: "client {client} has not passed the VA-dealing suitability assessment (E1)",
    C.FACILITY_ALREADY_OPEN: "client {client} already has a VA financing facility",
    C.NO_VA_FACILITY: "client {client} has no VA financing facility: purchases must be paid in cash",
    C.VA_NOT_ELIGIBLE: "{asset} is not eligible: only BTC and ETH may be financed or haircut-configured (E2)",
    C.HAIRCUT_BELOW_FLOOR: "{asset} haircut {haircut_bps} bps is below the regulatory floor of {floor_bps} bps (V3)",
    C.INVALID_MARGIN_LEVELS: "margin levels are inconsistent: {problem}",
    C.MARGIN_CALL_OUTSTANDING: "client {client} has an unmet margin call: no further advances or collateral withdrawals (M3)",
    C.RATIO_WOULD_EXCEED_LIMIT: "post-trade margin ratio {ratio_bps} bps would exceed {limit_bps} bps (M1)",
    C.CREDIT_LIMIT_EXCEEDED: "post-trade loan {loan} would exceed the credit limit {credit_limit} (M1)",
    C.WITHDRAWAL_WOULD_BREACH_LIMIT: "withdrawal would take the margin ratio to {ratio_bps} bps, above {limit_bps} bps (N1)",
    C.INSUFFICIENT_HOLDING: "client {client} holds {held} of {instrument}, less than {qty}",
    C.INSUFFICIENT_CASH: "client {client} has cash {cash}, less than {amount}",
    C.REHYPOTHECATION_REFUSED: "{purpose} of {asset} lot {lot} refused: VA collateral may only leave by withdrawal or a forced sale for its owner's own debt (N1)",
    C.CREDIT_LIMIT_REASON_REFUSED: "credit limit reason {reason_code} refused: {why} (K1)",
    C.APPROVER_REQUIRED: "{what} needs a named approver",
    C.VA_SHARE_LIMIT_EXCEEDED: "client {client}: VA margin value {value} would exceed {limit}, the {limit_id} share of its margin value",
    C.SINGLE_CLIENT_LIMIT_EXCEEDED: "client {client}: loans {value} would exceed the {limit_id} single-client limit {limit}",
    C.RELATED_GROUP_LIMIT_EXCEEDED: "client {client}: its related group's loans {value} would exceed the {limit_id} limit {limit}",
    C.VA_BOOK_SHARE_EXCEEDED: "client {client}: total VA financing {value} would exceed {limit}, the {limit_id} share of total margin loans",
    C.TOTAL_MARGIN_LOANS_EXCEEDED: "client {client}: total margin loans {value} would exceed the {limit_id} capital multiple {limit}",
    C.INVALID_PRICE_FEEDS: "{asset} price feeds cannot be cross-checked: {problem} (V2)",
    C.CUSTODY_BREAK_OPEN: "client {client}: no new financing while {open_breaks} custody break(s) are open, first break {break_id} (N2/N4)",
    C.NO_OPEN_CUSTODY_BREAK: "there is no open custody break {break_id}",
    C.CUSTODY_STATEMENT_MISSING: "client {client}: no new financing: the last custody statement is for {last_statement}, "
    "older than {max_age_days} day(s) before {today} HKT (N2)",
    C.CREDIT_LIMIT_ABOVE_STRESSED_NAV: "client {client}: credit limit {new_limit} is above {supported}, {multiple_bps} bps of its NAV with "
    "BTC/ETH at the stressed value ({stressed_nav}); a larger limit needs a documented WAIVER (K1, 26EC5)",
    C.LIQUIDATION_CAPACITY_EXCEEDED: "client {client}: the book's {instrument} collateral {value} units would exceed {limit}, "
    "the {limit_id} one-day liquidation capacity",
    C.SINGLE_STOCK_LIMIT_EXCEEDED: "client {client}: the book's margin value in {instrument}, {value}, is above the {limit_id} "
    "single-stock limit {limit}: no new financing against it",
    C.CORRELATED_GROUP_LIMIT_EXCEEDED: "client {client}: the book's margin value in correlated group {instrument}, {value}, is above "
    "the {limit_id} limit {limit}: no new financing against it",
    C.SECURITY_MARK_OUTSIDE_SESSION: "mark {price} of {security} refused: HKEX is closed and securities stay at the last close (V1)",
    C.SMF_EXTRACT_STALE: "client {client}: no new financing: the SMF extract counted by C2/C5 was recorded {recorded} "
    "(age {age}) and was current until {valid_until}; now {now}. Record today's extract (RecordBookFigures)",
}


def render(code: RejectCode, detail: dict[str, str | int]) -> str:
    """Render the message of ``code`` from its detail fields."""
    return render_reject(_TEMPLATES, code, detail)


def rejected(seq: int, ts_ns: int, command: str, code: RejectCode, **detail: str | int) -> Rejected:
    """Build the reject event of ``command`` with ``code`` and structured ``detail``."""
    return Rejected(
        seq=seq, ts_ns=ts_ns, command=command, code=int(code), reason=code.name, message=render(code, detail), detail=detail
    )


def missing_templates() -> list[RejectCode]:
    """Codes without a message template (a test keeps this empty)."""
    return [code for code in BROKER_CODES if code not in _TEMPLATES]
