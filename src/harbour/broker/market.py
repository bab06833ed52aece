"""Configuration and market-data handlers: risk settings, the marginable list, marks, session.

Owns the commands through which the outside world (risk committee, price feeds, HKEX
session calendar, the scheduler's tick) reaches the broker. Prices arrive only here,
as journaled commands, so every valuation can be replayed (A1).

After any change that can move a client's ratio, every client with a loan or an open
warning or call is reviewed in client-id order. A VA mark makes any resulting call
VA-driven; every other change makes it securities-driven (M4).
"""

from __future__ import annotations

from harbour.broker.clients import CAUSE_SECURITIES, CAUSE_VIRTUAL_ASSET, NORMAL
from harbour.broker.commands import (
    ConfigureBroker,
    MarkSecurity,
    MarkVirtualAsset,
    ReviewMargins,
    SetExchangeSession,
    SetSecurityMarginRatio,
    SetSecuritySuspended,
)
from harbour.broker.config import MAX_SECURITY_PRICE, MAX_VA_PRICE
from harbour.broker.events import (
    BrokerConfigured,
    ExchangeSessionSet,
    SecurityMarginRatioSet,
    SecurityMarked,
    SecuritySuspensionSet,
    VirtualAssetMarked,
)
from harbour.broker.margin import review_client
from harbour.broker.rejects import rejected
from harbour.broker.reviews import flag_annual_reviews
from harbour.broker.state import BrokerState, SecurityRecord, VaMark
from harbour.broker.validation import validate_config
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS

C = RejectCode


def review_all(st: BrokerState, seq: int, ts: int, cause: str, out: list[object]) -> None:
    """Review every client that has a loan, a warning or a call, in client-id order."""
    for cid in sorted(st.clients):
        client = st.clients[cid]
        if client.call is not None or client.status != NORMAL or st.loan(cid) > 0:
            review_client(st, cid, seq, ts, cause, out)


def configure(st: BrokerState, seq: int, ts: int, cmd: ConfigureBroker, out: list[object]) -> None:
    problem = validate_config(cmd.config)
    if problem is not None:
        code, detail = problem
        out.append(rejected(seq, ts, "configure_broker", code, **detail))
        return
    st.config = cmd.config
    out.append(BrokerConfigured(seq=seq, ts_ns=ts, config=cmd.config))
    review_all(st, seq, ts, CAUSE_SECURITIES, out)


def set_security_margin_ratio(st: BrokerState, seq: int, ts: int, cmd: SetSecurityMarginRatio, out: list[object]) -> None:
    if not cmd.security or len(cmd.security) > 16:
        out.append(rejected(seq, ts, "set_security_margin_ratio", C.INVALID_PARAMETER, problem=f"bad security code {cmd.security!r}"))
        return
    if not 0 <= cmd.margin_ratio_bps < BPS:
        out.append(rejected(seq, ts, "set_security_margin_ratio", C.INVALID_PARAMETER, problem="margin ratio must be in [0, 10000) bps"))
        return
    record = st.securities.get(cmd.security)
    old = record.margin_ratio_bps if record is not None else 0
    if record is None:
        st.securities[cmd.security] = SecurityRecord(margin_ratio_bps=cmd.margin_ratio_bps)
    else:
        record.margin_ratio_bps = cmd.margin_ratio_bps
    out.append(SecurityMarginRatioSet(seq=seq, ts_ns=ts, security=cmd.security, old_bps=old, new_bps=cmd.margin_ratio_bps))
    review_all(st, seq, ts, CAUSE_SECURITIES, out)


def set_security_suspended(st: BrokerState, seq: int, ts: int, cmd: SetSecuritySuspended, out: list[object]) -> None:
    record = st.securities.get(cmd.security)
    if record is None:
        out.append(rejected(seq, ts, "set_security_suspended", C.UNKNOWN_SECURITY, security=cmd.security))
        return
    record.suspended = cmd.suspended
    out.append(SecuritySuspensionSet(seq=seq, ts_ns=ts, security=cmd.security, suspended=cmd.suspended))
    review_all(st, seq, ts, CAUSE_SECURITIES, out)


def mark_security(st: BrokerState, seq: int, ts: int, cmd: MarkSecurity, out: list[object]) -> None:
    record = st.securities.get(cmd.security)
    if record is None:
        out.append(rejected(seq, ts, "mark_security", C.UNKNOWN_SECURITY, security=cmd.security))
        return
    if not 0 < cmd.price <= MAX_SECURITY_PRICE:
        out.append(_bad_price(seq, ts, "mark_security", cmd.security, cmd.price, MAX_SECURITY_PRICE))
        return
    record.price = cmd.price
    record.marked_ts_ns = ts
    out.append(SecurityMarked(seq=seq, ts_ns=ts, security=cmd.security, price=cmd.price))
    review_all(st, seq, ts, CAUSE_SECURITIES, out)


def mark_virtual_asset(st: BrokerState, seq: int, ts: int, cmd: MarkVirtualAsset, out: list[object]) -> None:
    if not cmd.asset or len(cmd.asset) > 16:
        out.append(rejected(seq, ts, "mark_virtual_asset", C.INVALID_PARAMETER, problem=f"bad asset code {cmd.asset!r}"))
        return
    if not 0 < cmd.price <= MAX_VA_PRICE:
        out.append(_bad_price(seq, ts, "mark_virtual_asset", cmd.asset, cmd.price, MAX_VA_PRICE))
        return
    st.va_marks[cmd.asset] = VaMark(price=cmd.price, marked_ts_ns=ts)
    out.append(VirtualAssetMarked(seq=seq, ts_ns=ts, asset=cmd.asset, price=cmd.price))
    review_all(st, seq, ts, CAUSE_VIRTUAL_ASSET, out)


def _bad_price(seq: int, ts: int, command: str, instrument: str, price: int, ceiling: int) -> object:
    if price <= 0:
        return rejected(seq, ts, command, C.PRICE_NOT_POSITIVE, instrument=instrument, price=price)
    return rejected(seq, ts, command, C.AMOUNT_TOO_LARGE, field=f"price of {instrument}", value=price, ceiling=ceiling)


def set_exchange_session(st: BrokerState, seq: int, ts: int, cmd: SetExchangeSession, out: list[object]) -> None:
    st.hkex_open = cmd.is_open
    out.append(ExchangeSessionSet(seq=seq, ts_ns=ts, is_open=cmd.is_open))
    review_all(st, seq, ts, CAUSE_SECURITIES, out)


def review_margins(st: BrokerState, seq: int, ts: int, cmd: ReviewMargins, out: list[object]) -> None:
    review_all(st, seq, ts, CAUSE_SECURITIES, out)
    flag_annual_reviews(st, seq, ts, out)
