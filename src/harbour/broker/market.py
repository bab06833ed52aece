"""Configuration and market-data handlers: risk settings, the marginable list, marks, session.

Owns the commands through which the outside world (risk committee, price feeds, HKEX
session calendar, the scheduler's tick) reaches the broker. Prices arrive only here,
as journaled commands, so every valuation can be replayed (A1).

After any change that can move a client's ratio, every client with a loan or an open
warning or call is reviewed in client-id order. A VA mark makes any resulting call
VA-driven; every other change makes it securities-driven (M4).

V1: a security is marked only while HKEX is open (``SetExchangeSession``); outside the
session it stays at its last close and a mark is refused (SECURITY_MARK_OUTSIDE_SESSION),
so the feed must send the closing price before the session closes.

C3/C4/C5: ``RecordAverageDailyVolume`` records an instrument's ADV (shares, or VA units,
per day); it moves the size multiplier k of large holdings, so every client is reviewed
(a BTC/ETH ADV change is VA-driven for M4, a security's securities-driven).

V2: ``MarkVirtualAssetFeeds`` marks BTC/ETH at the cross-checked price of its feeds
(``cross_check``): the primary (executable VATP bid) when the reference median confirms
it, otherwise the lower of the two with a ``PriceAlertRaised``. ``MarkVirtualAsset``
(a single trusted price) stays for tests and the simulator.
"""

from __future__ import annotations

from typing import Final

import msgspec

from harbour.broker.clients import CAUSE_SECURITIES, CAUSE_VIRTUAL_ASSET, NORMAL
from harbour.broker.commands import (
    ConfigureBroker,
    FeedPrice,
    MarkSecurity,
    MarkVirtualAsset,
    MarkVirtualAssetFeeds,
    RecordAverageDailyVolume,
    ReviewMargins,
    SetExchangeSession,
    SetSecurityMarginRatio,
    SetSecuritySuspended,
)
from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS, MAX_AVERAGE_DAILY_VOLUME, MAX_SECURITY_PRICE, MAX_VA_PRICE, BrokerConfig
from harbour.broker.events import (
    AverageDailyVolumeRecorded,
    BrokerConfigured,
    ExchangeSessionSet,
    PriceAlertRaised,
    SecurityMarginRatioSet,
    SecurityMarked,
    SecuritySuspensionSet,
    VirtualAssetMarked,
)
from harbour.broker.margin import review_client
from harbour.broker.rejects import rejected
from harbour.broker.reviews import flag_annual_reviews
from harbour.broker.state import AverageDailyVolume, BrokerState, SecurityRecord, VaMark
from harbour.broker.validation import validate_config
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import BPS, div_round_up

STALE_FEED: Final = "STALE_FEED"
DIVERGENT_FEEDS: Final = "DIVERGENT_FEEDS"
TOO_FEW_REFERENCES: Final = "TOO_FEW_REFERENCES"

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
    if len(cmd.correlation_group) > 32:
        out.append(rejected(seq, ts, "set_security_margin_ratio", C.INVALID_PARAMETER, problem="correlation group name is longer than 32 characters"))
        return
    record = st.securities.get(cmd.security)
    old = record.margin_ratio_bps if record is not None else 0
    if record is None:
        st.securities[cmd.security] = SecurityRecord(margin_ratio_bps=cmd.margin_ratio_bps, correlation_group=cmd.correlation_group)
    else:
        record.margin_ratio_bps = cmd.margin_ratio_bps
        record.correlation_group = cmd.correlation_group
    out.append(
        SecurityMarginRatioSet(seq=seq, ts_ns=ts, security=cmd.security, old_bps=old, new_bps=cmd.margin_ratio_bps, correlation_group=cmd.correlation_group)
    )
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
    if not st.hkex_open:
        out.append(rejected(seq, ts, "mark_security", C.SECURITY_MARK_OUTSIDE_SESSION, security=cmd.security, price=cmd.price))
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
    _apply_va_mark(st, seq, ts, cmd.asset, cmd.price, out)


def _apply_va_mark(st: BrokerState, seq: int, ts: int, asset: str, price: int, out: list[object]) -> None:
    st.va_marks[asset] = VaMark(price=price, marked_ts_ns=ts)
    out.append(VirtualAssetMarked(seq=seq, ts_ns=ts, asset=asset, price=price))
    review_all(st, seq, ts, CAUSE_VIRTUAL_ASSET, out)


def mark_virtual_asset_feeds(st: BrokerState, seq: int, ts: int, cmd: MarkVirtualAssetFeeds, out: list[object]) -> None:
    """V2: mark at the primary VATP bid when the references confirm it, else at the lower price with an alert."""
    name = "mark_virtual_asset_feeds"
    if cmd.asset not in ELIGIBLE_VIRTUAL_ASSETS:
        out.append(rejected(seq, ts, name, C.VA_NOT_ELIGIBLE, asset=cmd.asset))
        return
    problem = _feeds_problem(cmd.feeds, ts)
    if problem:
        out.append(rejected(seq, ts, name, C.INVALID_PRICE_FEEDS, asset=cmd.asset, problem=problem))
        return
    for feed in cmd.feeds:
        if not 0 < feed.price <= MAX_VA_PRICE:
            out.append(_bad_price(seq, ts, name, f"{cmd.asset} on {feed.source}", feed.price, MAX_VA_PRICE))
            return
    check = cross_check(cmd.feeds, ts, st.config)
    if check.reasons:
        out.append(
            PriceAlertRaised(
                seq=seq, ts_ns=ts, asset=cmd.asset, reasons=check.reasons, primary_price=check.primary_price,
                reference_price=check.reference_price, used_price=check.used_price, deviation_bps=check.deviation_bps,
                stale_sources=check.stale_sources, feeds=cmd.feeds,
            )
        )
    _apply_va_mark(st, seq, ts, cmd.asset, check.used_price, out)


def _feeds_problem(feeds: tuple[FeedPrice, ...], ts: int) -> str:
    primaries = sum(1 for f in feeds if f.primary)
    if primaries != 1:
        return f"exactly one primary (execution VATP) feed is needed, got {primaries}"
    if len(feeds) < 2:
        return "at least one reference feed is needed besides the primary"
    sources = [f.source for f in feeds]
    if any(not src or len(src) > 32 for src in sources) or len(set(sources)) != len(sources):
        return "feed sources must be distinct non-empty names of at most 32 characters"
    if any(f.ts_ns > ts for f in feeds):
        return "a feed is timestamped after the mark"
    return ""


class CrossCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of cross-checking one set of VA feeds (V2)."""

    primary_price: int
    reference_price: int
    deviation_bps: int
    stale_sources: tuple[str, ...]
    reasons: tuple[str, ...]
    used_price: int


def cross_check(feeds: tuple[FeedPrice, ...], ts: int, config: BrokerConfig) -> CrossCheck:
    """V2 on well-formed feeds (one primary, at least one reference, none after ``ts``).

    The reference price is the median of the reference feeds (for an even count, the
    mean of the middle two rounded down). If any feed is older than the staleness limit,
    the primary deviates from the median by more than the band, or there are fewer
    references than configured, the lower of primary and median is used and the
    reasons are returned; otherwise the primary (the executable bid) is used.
    """
    primary = next(f for f in feeds if f.primary)
    refs = sorted(f.price for f in feeds if not f.primary)
    mid = len(refs) // 2
    median = refs[mid] if len(refs) % 2 else (refs[mid - 1] + refs[mid]) // 2
    deviation = div_round_up(abs(primary.price - median) * BPS, median)
    stale = tuple(f.source for f in feeds if ts - f.ts_ns > config.va_feed_stale_ns)
    reasons: list[str] = []
    if stale:
        reasons.append(STALE_FEED)
    if deviation > config.va_feed_max_deviation_bps:
        reasons.append(DIVERGENT_FEEDS)
    if len(refs) < config.va_min_reference_feeds:
        reasons.append(TOO_FEW_REFERENCES)
    used = min(primary.price, median) if reasons else primary.price
    return CrossCheck(
        primary_price=primary.price, reference_price=median, deviation_bps=deviation, stale_sources=stale, reasons=tuple(reasons), used_price=used
    )


def _bad_price(seq: int, ts: int, command: str, instrument: str, price: int, ceiling: int) -> object:
    if price <= 0:
        return rejected(seq, ts, command, C.PRICE_NOT_POSITIVE, instrument=instrument, price=price)
    return rejected(seq, ts, command, C.AMOUNT_TOO_LARGE, field=f"price of {instrument}", value=price, ceiling=ceiling)


def record_average_daily_volume(st: BrokerState, seq: int, ts: int, cmd: RecordAverageDailyVolume, out: list[object]) -> None:
    """C3/C4/C5: record an instrument's ADV, then review every client (k may change)."""
    name = "record_average_daily_volume"
    is_va = cmd.instrument in ELIGIBLE_VIRTUAL_ASSETS
    if not is_va and cmd.instrument not in st.securities:
        out.append(rejected(seq, ts, name, C.UNKNOWN_SECURITY, security=cmd.instrument))
    elif cmd.qty <= 0:
        out.append(rejected(seq, ts, name, C.AMOUNT_NOT_POSITIVE, field="average daily volume", value=cmd.qty))
    elif cmd.qty > MAX_AVERAGE_DAILY_VOLUME:
        out.append(rejected(seq, ts, name, C.AMOUNT_TOO_LARGE, field="average daily volume", value=cmd.qty, ceiling=MAX_AVERAGE_DAILY_VOLUME))
    elif not 1 <= cmd.window_days <= 366 or len(cmd.source) > 64:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="the ADV window must be 1 to 366 days and the source at most 64 characters"))
    else:
        st.average_daily_volumes[cmd.instrument] = AverageDailyVolume(qty=cmd.qty, window_days=cmd.window_days, source=cmd.source, recorded_ts_ns=ts)
        out.append(AverageDailyVolumeRecorded(seq=seq, ts_ns=ts, instrument=cmd.instrument, qty=cmd.qty, window_days=cmd.window_days, source=cmd.source))
        review_all(st, seq, ts, CAUSE_VIRTUAL_ASSET if is_va else CAUSE_SECURITIES, out)


def set_exchange_session(st: BrokerState, seq: int, ts: int, cmd: SetExchangeSession, out: list[object]) -> None:
    st.hkex_open = cmd.is_open
    out.append(ExchangeSessionSet(seq=seq, ts_ns=ts, is_open=cmd.is_open))
    review_all(st, seq, ts, CAUSE_SECURITIES, out)


def review_margins(st: BrokerState, seq: int, ts: int, cmd: ReviewMargins, out: list[object]) -> None:
    review_all(st, seq, ts, CAUSE_SECURITIES, out)
    flag_annual_reviews(st, seq, ts, out)
