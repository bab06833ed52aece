"""The Parquet replay feed: the CSV feed's records in a Parquet file, replayed to the same prints.

BTCUSD prices are USD cents (price_decimals 2); the files are written in tmp_path.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harbour.prices.index import InputKind, PriceInput, compute_index
from harbour.sim.clock import NS_PER_SECOND, SESSION_START_NS
from harbour.sim.feeds import (
    DEFAULT_VENUES,
    CsvIndexFeed,
    ParquetIndexFeed,
    SimulatedIndexFeed,
    default_methodology,
    read_inputs_parquet,
    write_inputs_csv,
    write_inputs_parquet,
)

BTCUSD = "BTCUSD"
T0 = SESSION_START_NS
S = NS_PER_SECOND


def recorded_session(publishes: int = 40) -> list[PriceInput]:
    feed = SimulatedIndexFeed(11, DEFAULT_VENUES, 9_600_000, instrument=BTCUSD, start_ns=T0, tick=10)
    feed.add_outage("kraken", T0 + 10 * S, T0 + 25 * S)
    return [item for _, command in feed.run(T0, S, publishes) for item in command.inputs]


def prints(commands: list[tuple[int, object]]) -> list[tuple[int, int | None, str]]:
    methodology = default_methodology(BTCUSD, "BTC", effective_from_ns=T0).methodology
    previous = None
    out = []
    for ts, command in commands:
        previous = compute_index(methodology, command.inputs, ts, previous)  # type: ignore[attr-defined]
        out.append((ts, previous.value, previous.fallback.value))
    return out


def test_csv_and_parquet_recordings_of_the_same_rows_replay_to_identical_commands_and_prints(tmp_path: Path) -> None:
    inputs = recorded_session()
    write_inputs_csv(tmp_path / "session.csv", inputs, 2)
    write_inputs_parquet(tmp_path / "session.parquet", inputs, 2)

    csv_feed = CsvIndexFeed(tmp_path / "session.csv", instrument=BTCUSD, price_decimals=2)
    parquet_feed = ParquetIndexFeed(tmp_path / "session.parquet", instrument=BTCUSD, price_decimals=2)

    assert parquet_feed.inputs == csv_feed.inputs == tuple(inputs)
    assert parquet_feed.commands() == csv_feed.commands()
    assert list(parquet_feed) == csv_feed.commands()
    assert prints(parquet_feed.commands()) == prints(csv_feed.commands())
    assert len(parquet_feed.commands()) == 40


def test_a_parquet_decimal_price_column_is_read_exactly(tmp_path: Path) -> None:
    table = pa.table(
        {
            "ts_ns": pa.array([T0 + 1, T0 + 2], type=pa.int64()),
            "venue": ["binance", "okx"],
            "kind": ["TRADE", "FIRM_QUOTE"],
            "price": pa.array([Decimal("104250.01"), Decimal("104252.35")], type=pa.decimal128(18, 2)),
        }
    )
    pq.write_table(table, tmp_path / "decimal.parquet")

    assert read_inputs_parquet(tmp_path / "decimal.parquet", 2) == (
        PriceInput(venue="binance", kind=InputKind.TRADE, price=10_425_001, ts_ns=T0 + 1),
        PriceInput(venue="okx", kind=InputKind.FIRM_QUOTE, price=10_425_235, ts_ns=T0 + 2),
    )


def _write(path: Path, **columns: pa.Array) -> Path:
    base = {
        "ts_ns": pa.array([T0], type=pa.int64()),
        "venue": pa.array(["binance"]),
        "kind": pa.array(["TRADE"]),
        "price": pa.array(["104250.01"]),
    }
    base.update(columns)
    pq.write_table(pa.table(base), path)
    return path


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"price": pa.array([104250.01], type=pa.float64())}, "not double"),
        ({"price": pa.array(["104250.001"])}, "row 1: price"),
        ({"price": pa.array(["-1.00"])}, "row 1: price"),
        ({"kind": pa.array(["LAST"])}, "row 1: kind"),
        ({"venue": pa.array([None], type=pa.string())}, "row 1: no field may be null"),
        ({"ts_ns": pa.array([-5], type=pa.int64())}, "row 1: ts_ns"),
        ({"ts_ns": pa.array(["1"])}, "ts_ns must be an integer column"),
    ],
)
def test_the_parquet_feed_refuses_a_bad_row_or_column_naming_it(tmp_path: Path, columns: dict[str, pa.Array], message: str) -> None:
    path = _write(tmp_path / "bad.parquet", **columns)

    with pytest.raises(ValueError, match=message):
        read_inputs_parquet(path, 2)


def test_the_parquet_feed_requires_the_csv_columns_in_order(tmp_path: Path) -> None:
    table = pa.table({"venue": ["binance"], "ts_ns": pa.array([T0], type=pa.int64()), "kind": ["TRADE"], "price": ["1.00"]})
    pq.write_table(table, tmp_path / "order.parquet")

    with pytest.raises(ValueError, match="columns must be ts_ns,venue,kind,price"):
        read_inputs_parquet(tmp_path / "order.parquet", 2)
