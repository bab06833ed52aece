"""Venue mark price: the inputs the venue keeps per instrument and the mark at each index print.

Owns ``FundingTerms``, ``MARK_PARAMETERS``, ``take_basis_sample`` and ``mark_at``. The
method itself is the pure ``harbour.prices.mark.compute_mark_price``:
mark = median(P1, P2, last), P1 from the last funding rate and the time to the next
funding, P2 from the moving average of the book basis, last the last trade price.

The venue's inputs, all venue state (exported and restored, so the next mark is the same
after a snapshot restore):

- the last trade price, stored by matching at every fill;
- basis samples (mid - index), one per usable index print while the book has both a bid
  and an ask (mid = (best bid + best ask) // 2), kept as a bounded window: samples at or
  before ts - basis_window_ns are dropped and at most basis_window_ns //
  basis_sample_interval_ns of the newest are kept;
- the funding terms of the last settled interval (rate, interval, next funding time =
  settlement time + interval). Before any settlement the rate is 0, so P1 is the index.

Invariants: integer-only and deterministic; nothing here reads a clock or a float.
"""

from __future__ import annotations

from collections import deque

import msgspec

from harbour.prices.funding import FundingParameters
from harbour.prices.mark import BasisSample, MarkParameters, MarkPrice, compute_mark_price
from harbour.venue.book import OrderBook

# No command sets the mark parameters yet: the prices module's defaults (Binance USD-M)
# apply to every instrument.
MARK_PARAMETERS = MarkParameters()
MAX_BASIS_SAMPLES = MARK_PARAMETERS.basis_window_ns // MARK_PARAMETERS.basis_sample_interval_ns

# Before any funding settlement: rate 0 (so P1 = index), the default interval, no time left.
NO_FUNDING_INTERVAL_NS = FundingParameters().interval_ns


class FundingTerms(msgspec.Struct, frozen=True, kw_only=True):
    """The last settled funding interval of an instrument, as P1 needs it."""

    rate_e8: int  # parts per 1e8 per interval
    interval_ns: int
    next_funding_ns: int  # settlement time + interval


def book_mid(book: OrderBook) -> int | None:
    """(best bid + best ask) // 2, or None unless both sides have a price."""
    bid = book.best_bid()
    ask = book.best_ask()
    if bid is None or ask is None:
        return None
    return (bid + ask) // 2


def take_basis_sample(samples: deque[BasisSample], book: OrderBook, ts_ns: int, index: int) -> None:
    """Append one (mid, index) sample if the book has a mid, then trim to the bounded window."""
    mid = book_mid(book)
    if mid is not None:
        samples.append(BasisSample(ts_ns=ts_ns, mid=mid, index=index))
    horizon = ts_ns - MARK_PARAMETERS.basis_window_ns
    while samples and samples[0].ts_ns <= horizon:
        samples.popleft()
    while len(samples) > MAX_BASIS_SAMPLES:
        samples.popleft()


def mark_at(
    ts_ns: int,
    index: int,
    funding: FundingTerms | None,
    samples: deque[BasisSample],
    last_trade_price: int | None,
) -> MarkPrice:
    """The mark at ``ts_ns`` from the venue's kept inputs (no trade yet: the index stands in)."""
    if funding is None:
        rate, interval, ttf = 0, NO_FUNDING_INTERVAL_NS, 0
    else:
        rate, interval, ttf = funding.rate_e8, funding.interval_ns, funding.next_funding_ns - ts_ns
    return compute_mark_price(
        MARK_PARAMETERS,
        ts_ns=ts_ns,
        index=index,
        last_funding_rate_e8=rate,
        time_to_funding_ns=ttf,
        interval_ns=interval,
        basis_samples=tuple(samples),
        last_trade_price=last_trade_price,
    )
