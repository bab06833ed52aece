"""A kline stream event names the first and last trade in its candle (Binance's ``f`` and ``L``)."""

from __future__ import annotations

from types import SimpleNamespace

from harbour.api.readmodel import Series
from harbour.api.streams import kline_body
from harbour.venue import VenueEngine, default_genesis

MINUTE_MS = 60_000
T0 = 1_795_000_020_000 - 1_795_000_020_000 % (5 * MINUTE_MS)  # a 5-minute boundary


def test_a_kline_names_the_first_and_last_trade_of_its_interval() -> None:
    engine = VenueEngine()
    for seq, command in enumerate(default_genesis(), 1):
        engine.apply(seq, 0, command)
    inst = engine.state.instruments["BTCUSD"]
    series = Series()
    series.add(T0 - 1, 9_500_000, 3, trade_id=40)  # the interval before
    series.add(T0 + 5, 9_500_000, 2, trade_id=41)  # minute 1: trades 41, 42
    series.add(T0 + 9, 9_501_000, 1, trade_id=42)
    series.add(2 * MINUTE_MS + T0, 9_502_000, 0)  # minute 3: a mark-only update, no trade
    series.add(3 * MINUTE_MS + T0 + 1, 9_499_000, 4, trade_id=47)  # minute 4: trade 47
    reads = SimpleNamespace(candles={("trade", "BTCUSD"): series})

    five = kline_body(reads, inst, "5m", T0, T0 + 4 * MINUTE_MS)  # type: ignore[arg-type]
    one = kline_body(reads, inst, "1m", T0 + 2 * MINUTE_MS, T0 + 4 * MINUTE_MS)  # type: ignore[arg-type]

    assert five is not None and (five["k"]["f"], five["k"]["L"], five["k"]["n"]) == (41, 47, 3)
    assert one is not None and (one["k"]["f"], one["k"]["L"], one["k"]["n"]) == (0, 0, 0)
