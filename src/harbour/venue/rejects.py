"""Reject events: a code, structured detail, and a message rendered from them.

The message is always rendered from the code and the detail fields, never the other
way round, so clients and reports can rely on the fields.
"""

from __future__ import annotations

from harbour.kernel.errors import RejectCode, render_reject
from harbour.venue.events import Rejected

C = RejectCode

_TEMPLATES: dict[RejectCode, str] = {
    C.UNKNOWN_ACCOUNT: "account {account} does not exist",
    C.UNKNOWN_INSTRUMENT: "instrument {instrument} is not listed",
    C.UNKNOWN_ASSET: "asset {asset} is not listed",
    C.QUANTITY_NOT_POSITIVE: "quantity must be positive, got {qty}",
    C.PRICE_NOT_POSITIVE: "price must be positive, got {price}",
    C.PRICE_OFF_TICK: "price {price} is not a multiple of the tick {tick}",
    C.QUANTITY_OFF_LOT: "quantity {qty} is not a multiple of the lot {lot}",
    C.QUANTITY_BELOW_MINIMUM: "quantity {qty} is below the minimum {min_qty}",
    C.QUANTITY_ABOVE_MAXIMUM: "quantity {qty} is above the maximum {max_qty}",
    C.DUPLICATE_CLIENT_ORDER_ID: "client order id {client_order_id} was already used by order {existing_order_id}",
    C.UNKNOWN_ORDER: "order {order} is not open for this account",
    C.AMOUNT_NOT_POSITIVE: "amount must be positive, got {amount}",
    C.AMOUNT_OFF_GRANULARITY: "amount {amount} is not a multiple of {granularity} for {asset}",
    C.ACCOUNT_ALREADY_EXISTS: "account {account} already exists",
    C.INSTRUMENT_ALREADY_LISTED: "instrument {instrument} is already listed",
    C.ASSET_ALREADY_LISTED: "asset {asset} is already listed",
    C.INVALID_PARAMETER: "invalid parameter: {problem}",
    C.PRICE_REQUIRED: "a limit order needs a price",
    C.PRICE_NOT_ALLOWED: "a market order must not carry a price",
    C.AMEND_NO_CHANGE: "the amendment changes neither price nor quantity",
    C.FX_RATE_MISSING: "no FX rate from {base} to {quote}",
    C.MALFORMED_COMMAND: "command fields do not have their declared types: {problem}",
    C.AMOUNT_TOO_LARGE: "amount {amount} would take net {asset} holdings past the ceiling {ceiling}",
    C.INSUFFICIENT_MARGIN: "initial margin {required} exceeds equity {available} ({currency} micro-units)",
    C.INSUFFICIENT_FREE_COLLATERAL: "withdrawal would leave equity {remaining} below initial margin {required}",
    C.REDUCE_ONLY_WOULD_INCREASE: "a reduce-only order of {qty} would increase or flip the position {position}",
    C.REDUCE_ONLY_NO_POSITION: "a reduce-only order needs an open position",
    C.NO_REFERENCE_PRICE: "instrument {instrument} has no reference price yet",
    C.PRICE_OUTSIDE_BAND: "price {price} is outside the band [{low}, {high}] around reference {reference}",
    C.MARGIN_MODE_CHANGE_WITH_EXPOSURE: "margin mode can change only with no position and no open orders",
    C.INSUFFICIENT_ISOLATED_MARGIN: "isolated margin {available} does not cover initial margin {required}",
    C.POSITION_LIMIT_EXCEEDED: "a reachable position notional of {notional} would exceed the largest margin bracket {limit}",
    C.LEVERAGE_OUT_OF_RANGE: "leverage {leverage} is outside 1..{max_leverage} of the instrument's first margin bracket",
    C.FUNDING_INTERVAL_OUT_OF_RANGE: "funding interval {interval_ns} ns is outside [{min_ns}, {max_ns}] ns: funding settles at least once every 24 hours",
    C.FUNDING_INTERVAL_MISMATCH: "settlement interval {interval_ns} ns differs from the funding interval {configured_ns} ns configured for {instrument}",
    C.PREMIUM_SAMPLE_INTERVAL_INVALID: "premium sample interval {sample_ns} ns must be at least {min_ns} ns and divide the funding interval {interval_ns} ns",
    C.FUNDING_RATE_TERM_OUT_OF_RANGE: "{field} {value} is outside [{low}, {high}] parts per 1e8 per interval",
    C.FUNDING_CAP_FRACTION_OUT_OF_RANGE: "funding cap fraction {cap_fraction_bps} bps is outside [{low}, {high}]",
    C.IMPACT_NOTIONAL_OUT_OF_RANGE: "impact notional {impact_notional} is outside [{low}, {high}] settlement micro-units",
    C.MARK_BASIS_WINDOW_OUT_OF_RANGE: "basis window {basis_window_ns} ns is outside [{min_ns}, {max_ns}] ns",
    C.MARK_BASIS_SAMPLE_INTERVAL_INVALID: "basis sample interval {sample_ns} ns must be positive, within the window {basis_window_ns} ns "
    "and keep at most {max_samples} samples",
    C.POST_ONLY_WOULD_CROSS: "post-only order at {price} would cross the best opposite price {best}",
    C.FOK_NOT_FILLABLE: "fill-or-kill order of {qty} can only fill {fillable}",
    C.INSTRUMENT_HALTED: "instrument {instrument} is halted",
    C.INSTRUMENT_CLOSE_ONLY: "instrument {instrument} is close-only: orders may only reduce a position",
    C.AMEND_WOULD_CROSS: "amended price {price} would cross the best opposite price {best}",
    C.TRIGGER_PRICE_NOT_POSITIVE: "{field} must be positive, got {value}",
    C.TRIGGER_PRICE_OFF_TICK: "{field} {value} is not a multiple of the tick {tick}",
    C.TRIGGER_PRICE_ABOVE_CEILING: "{field} {value} is above the price ceiling {ceiling}",
    C.TRIGGER_WOULD_FIRE_IMMEDIATELY: "{field} {value} would trigger at once: the {source} price is {current}",
    C.TRIGGER_FIELD_REQUIRED: "a {kind} trigger order needs {field}",
    C.TRIGGER_FIELD_NOT_ALLOWED: "a {kind} trigger order must not carry {field}",
    C.CALLBACK_OUT_OF_RANGE: "trailing callback {callback_bps} bps is outside [{low}, {high}]",
    C.NO_LAST_TRADE_PRICE: "instrument {instrument} has not traded yet: a LAST price trigger has no price to watch",
    C.TOO_MANY_TRIGGER_ORDERS: "account {account} already has {limit} trigger orders on {instrument}",
    C.UNKNOWN_TRIGGER_ORDER: "trigger order {trigger} is not pending for this account",
    C.INSUFFICIENT_BALANCE: "balance {balance} of {asset} is less than {amount}",
    C.WITHDRAWALS_PAUSED: "withdrawals are paused while an unresolved deficit exists",
    C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED: "professional-investor status of account {account} expired: orders may only reduce",
    C.MARGIN_ASSET_NOT_ELIGIBLE: "asset {asset} is not eligible margin ({why})",
    C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN: "virtual asset {asset} is not accepted as perpetual margin",
    C.REFERENCE_ASSET_NOT_ELIGIBLE: "reference {reference} is neither a retail-spot-eligible VA nor an IOSCO-compliant index",
    C.SFC_APPROVAL_MISSING: "listing needs an SFC approval reference",
    C.NOT_PROFESSIONAL_INVESTOR: "account {account} has no professional-investor status: orders may only reduce",
}


def render(code: RejectCode, detail: dict[str, str | int]) -> str:
    """Render the message of ``code`` from its detail fields."""
    return render_reject(_TEMPLATES, code, detail)


def rejected(seq: int, ts_ns: int, command: str, code: RejectCode, **detail: str | int) -> Rejected:
    return Rejected(
        seq=seq, ts_ns=ts_ns, command=command, code=int(code), reason=code.name, message=render(code, detail), detail=detail
    )


def missing_templates() -> list[RejectCode]:
    """Codes outside the broker's 5xxx range without a venue message template (a test keeps this empty)."""
    return [c for c in RejectCode if not 5000 <= c < 6000 and c not in _TEMPLATES]
