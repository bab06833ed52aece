"""The async ccxt class (``ccxt.async_support``), pointed by the same snippet, trades too."""

from __future__ import annotations

import asyncio
from typing import Any

from harbour.cli.serve import RunningVenue

from .conftest import client

BTC = "BTC/USD:USD"


def test_async_client_reads_the_market_and_places_and_cancels_an_order(venue: RunningVenue) -> None:
    async def session() -> tuple[Any, Any, Any]:
        ex = client(venue, "client-a", "ccxt.async_support")
        try:
            await ex.load_markets()
            ticker = await ex.fetch_ticker(BTC)
            price = float(ex.price_to_precision(BTC, ticker["last"] * 0.98))
            order = await ex.create_order(BTC, "limit", "buy", 0.001, price)
            cancelled = await ex.cancel_order(order["id"], BTC)
            return ticker, order, cancelled
        finally:
            await ex.close()

    ticker, order, cancelled = asyncio.run(session())

    assert ticker["last"] > 0
    assert order["status"] == "open"
    assert cancelled["status"] == "canceled"
