"""Venue mark price: the inputs the venue keeps per instrument and the mark at each index print.

Owns ``FundingTerms``, ``take_basis_sample`` and ``mark_at``. The
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

The parameters (basis window and sample interval; the funding interval before any
settlement) are the instrument's configuration (``venue.price_parameters``, set by
``SetMarkParameters`` and ``SetFundingParameters``), passed in by the caller.

Invariants: integer-only and deterministic; nothing here reads a clock or a float.
"""

from __future__ import annotations

from collections import deque

import msgspec

from harbour.prices.mark import BasisSample, MarkParameters, MarkPrice, compute_mark_price
from harbour.venue.book import OrderBook
from harbour.venue.price_parameters import HOUSE_MARK_PARAMETERS, max_basis_samples

# The house defaults (Binance USD-M) every instrument has at listing and the default genesis sets.
MARK_PARAMETERS = HOUSE_MARK_PARAMETERS
MAX_BASIS_SAMPLES = max_basis_samples(HOUSE_MARK_PARAMETERS)


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


def take_basis_sample(samples: deque[BasisSample], book: OrderBook, ts_ns: int, index: int, parameters: MarkParameters) -> None:
    """Append one (mid, index) sample if the book has a mid, then trim to the bounded window."""
    mid = book_mid(book)
    if mid is not None:
        samples.append(BasisSample(ts_ns=ts_ns, mid=mid, index=index))
    horizon = ts_ns - parameters.basis_window_ns
    while samples and samples[0].ts_ns <= horizon:
        samples.popleft()
    limit = max_basis_samples(parameters)
    while len(samples) > limit:
        samples.popleft()


def mark_at(
    ts_ns: int,
    index: int,
    funding: FundingTerms | None,
    samples: deque[BasisSample],
    last_trade_price: int | None,
    parameters: MarkParameters,
    configured_interval_ns: int,
) -> MarkPrice:
    """The mark at ``ts_ns`` from the venue's kept inputs (no trade yet: the index stands in).

    Before any settlement: rate 0 (so P1 = index), the configured interval, no time left.
    """
    if funding is None:
        rate, interval, ttf = 0, configured_interval_ns, 0
    else:
        rate, interval, ttf = funding.rate_e8, funding.interval_ns, funding.next_funding_ns - ts_ns
    return compute_mark_price(
        parameters,
        ts_ns=ts_ns,
        index=index,
        last_funding_rate_e8=rate,
        time_to_funding_ns=ttf,
        interval_ns=interval,
        basis_samples=tuple(samples),
        last_trade_price=last_trade_price,
    )
