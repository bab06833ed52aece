"""Mark price: the manipulation-resistant price that margin, PnL, liquidation and triggers use.

Owns ``MarkParameters``, ``BasisSample``, the ``MarkPrice`` record and ``compute_mark_price``.

Method (perp-mechanics.md 2.1, as Binance and Bybit):

    mark = median(P1, P2, last)
    P1   = index x (1 + last_funding_rate x time_to_funding / interval)
    P2   = index + MA(basis),  basis = mid - index per sample

- ``last_funding_rate_e8`` is the last funding rate in parts per 1e8 per interval
  (positive: longs pay shorts); ``time_to_funding_ns`` is clipped to [0, interval_ns].
  P1 = index + index x rate x ttf / (1e8 x interval), the product rounded to nearest
  (half toward +infinity).
- MA(basis) is the plain average of the samples with ts in (ts - window, ts], rounded
  to nearest (half toward +infinity); an empty window gives a basis of 0 (P2 = index).
  Default window 5 min of 5 s samples (Binance USD-M).
- ``last`` is the last trade price; with no trade yet the index stands in for it, and
  the record says so.

Invariants: integer-only, pure; the mark is exactly one of its three recorded inputs
(the median of three needs no rounding).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import msgspec

from harbour.prices.problems import RATE_SCALE, ParameterProblem, div_round_half_up, invalid_parameter


class LastPriceSource(StrEnum):
    LAST_TRADE = "LAST_TRADE"
    INDEX = "INDEX"  # no trade yet: the index stands in for the last price


class MarkParameters(msgspec.Struct, frozen=True, kw_only=True):
    basis_window_ns: int = 300_000_000_000  # 5 min moving-average window
    basis_sample_interval_ns: int = 5_000_000_000  # the venue samples mid - index every 5 s


class BasisSample(msgspec.Struct, frozen=True, kw_only=True):
    ts_ns: int
    mid: int  # (best bid + best ask) / 2 of the perpetual's own book, same price unit as the index
    index: int

    @property
    def basis(self) -> int:
        return self.mid - self.index


class MarkPrice(msgspec.Struct, frozen=True, kw_only=True):
    ts_ns: int
    index: int
    p1_funding_basis: int
    p2_book_basis: int
    last: int
    last_source: LastPriceSource
    last_funding_rate_e8: int
    time_to_funding_ns: int
    interval_ns: int
    basis_average: int
    basis_samples_used: int
    value: int


def check_mark_parameters(parameters: MarkParameters) -> tuple[ParameterProblem, ...]:
    """Return the problems that make mark parameters unusable (empty when sound)."""
    problems: list[ParameterProblem] = []
    if parameters.basis_window_ns <= 0:
        problems.append(invalid_parameter("basis_window_ns", "the basis window must be positive"))
    if not 0 < parameters.basis_sample_interval_ns <= parameters.basis_window_ns:
        problems.append(invalid_parameter("basis_sample_interval_ns", "the sample interval must be positive and within the window"))
    return tuple(problems)


def basis_moving_average(samples: Sequence[BasisSample], ts_ns: int, window_ns: int) -> tuple[int, int]:
    """Return (average basis, samples used) over samples with ts in (ts_ns - window_ns, ts_ns].

    The average rounds to nearest, half toward +infinity; an empty window gives (0, 0).
    """
    in_window = [s.basis for s in samples if ts_ns - window_ns < s.ts_ns <= ts_ns]
    if not in_window:
        return 0, 0
    return div_round_half_up(sum(in_window), len(in_window)), len(in_window)


def compute_mark_price(
    parameters: MarkParameters,
    *,
    ts_ns: int,
    index: int,
    last_funding_rate_e8: int,
    time_to_funding_ns: int,
    interval_ns: int,
    basis_samples: Sequence[BasisSample],
    last_trade_price: int | None,
) -> MarkPrice:
    """Compute the mark as median(P1, P2, last) with every input recorded.

    Raises ValueError on a non-positive index or interval, or unsound parameters (bugs:
    a halted index must not reach the mark).
    """
    problems = check_mark_parameters(parameters)
    if problems:
        raise ValueError(f"unsound mark parameters: {[p.problem for p in problems]}")
    if index <= 0:
        raise ValueError("the index must be positive")
    if interval_ns <= 0:
        raise ValueError("the funding interval must be positive")
    ttf = min(max(time_to_funding_ns, 0), interval_ns)
    p1 = index + div_round_half_up(index * last_funding_rate_e8 * ttf, RATE_SCALE * interval_ns)
    basis_average, used = basis_moving_average(basis_samples, ts_ns, parameters.basis_window_ns)
    p2 = index + basis_average
    if last_trade_price is None:
        last, source = index, LastPriceSource.INDEX
    else:
        last, source = last_trade_price, LastPriceSource.LAST_TRADE
    value = sorted((p1, p2, last))[1]
    return MarkPrice(
        ts_ns=ts_ns,
        index=index,
        p1_funding_basis=p1,
        p2_book_basis=p2,
        last=last,
        last_source=source,
        last_funding_rate_e8=last_funding_rate_e8,
        time_to_funding_ns=ttf,
        interval_ns=interval_ns,
        basis_average=basis_average,
        basis_samples_used=used,
        value=value,
    )
