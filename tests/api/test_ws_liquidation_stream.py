"""The public liquidation streams (``<symbol>@forceOrder`` and ``!forceOrder@arr`` on /market/ws):
a liquidation order the book absorbs is published, without naming the account liquidated.

A venue of its own without the simulated market: client B (long 1 BTC at 95,000 on USD 10,000)
is liquidated when the mark falls to 85,500, into the market maker's bid at 86,000.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from harbour.api.demo import CLIENT_A, CLIENT_B, MM_ACCOUNT
from harbour.cli.serve import RunningVenue, start_venue
from harbour.venue.commands import PlaceOrder, SetReferencePrice, Side, TimeInForce, VenueCommand
from harbour.venue.events import LiquidationStepped, Rejected

from .test_ws_streams import frames_until, ws_url

BTCUSD = "BTCUSD"


def _submit(venue: RunningVenue, command: VenueCommand) -> list[Any]:
    _, events = venue.service.call(lambda ctx: ctx.submit(command))
    assert not (events and type(events[0]) is Rejected), events[0]
    return list(events)


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVenue]:
    running = start_venue(Path(tmp_path_factory.mktemp("force-order")), port=0, market=False)
    try:
        yield running
    finally:
        running.stop()


def test_a_liquidation_filled_in_the_book_is_published_on_both_force_order_streams_without_the_account(venue: RunningVenue) -> None:
    _submit(venue, PlaceOrder(account=CLIENT_A, instrument=BTCUSD, side=Side.SELL, qty=1_000, price=9_500_000, tif=TimeInForce.GTC))
    _submit(venue, PlaceOrder(account=CLIENT_B, instrument=BTCUSD, side=Side.BUY, qty=1_000, price=9_500_000, tif=TimeInForce.GTC))
    _submit(venue, SetReferencePrice(instrument=BTCUSD, price=9_000_000))  # B still above maintenance
    _submit(venue, PlaceOrder(account=MM_ACCOUNT, instrument=BTCUSD, side=Side.BUY, qty=1_000, price=8_600_000, tif=TimeInForce.GTC))
    with connect(ws_url(venue.url) + "/market/ws", compression=None, max_queue=None) as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusd@forceOrder", "!forceOrder@arr"], "id": 1}))
        assert json.loads(ws.recv(timeout=10)) == {"result": None, "id": 1}

        events = _submit(venue, SetReferencePrice(instrument=BTCUSD, price=8_550_000))
        counted: list[Any] = []

        def second_force_order(frame: Any) -> bool:
            if frame.get("e") == "forceOrder":
                counted.append(frame)
            return len(counted) == 2

        frames = frames_until(ws, second_force_order, "a forceOrder frame on each stream")

    steps = [e for e in events if isinstance(e, LiquidationStepped) and e.account == CLIENT_B and e.book_qty]
    force = [f for f in frames if f.get("e") == "forceOrder"]
    assert steps, "the mark fall liquidated client B into the book"
    assert len(force) == 2 and force[0] == force[1]  # the symbol stream and the all-market stream
    order = force[0]["o"]
    assert order["s"] == BTCUSD and order["S"] == "SELL" and order["X"] == "FILLED"
    assert order["q"] == order["z"] == f"{steps[0].book_qty / 1000:.3f}"
    assert str(CLIENT_B) not in json.dumps(force[0])
