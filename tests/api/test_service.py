"""The single writer: commands from every caller in one order, journaled before they are answered,
and a restart that rebuilds the venue and its read model from the journal."""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait
from pathlib import Path

import pytest

from harbour.api import VenueService, WriterContext, demo_setup
from harbour.api.demo import CLIENT_A, MM_ACCOUNT
from harbour.api.errors import ApiError
from harbour.api.rest import Gateway
from harbour.cli.serve import RunningVenue
from harbour.journal import FileJournal
from harbour.venue.commands import PlaceOrder, Side, TimeInForce
from harbour.venue.events import OrderAccepted

from .conftest import public

START_NS = 1_795_000_000_000_000_000


def _clock() -> int:
    return START_NS


def _place(ctx: WriterContext, account: int, side: Side, price: int) -> int:
    seq, events = ctx.submit(PlaceOrder(account=account, instrument="BTCUSD", side=side, qty=10, price=price, tif=TimeInForce.GTC))
    assert type(events[0]) is OrderAccepted
    return seq


def test_an_answer_is_given_only_once_its_command_is_in_the_journal(tmp_path: Path) -> None:
    service = VenueService(tmp_path, setup=demo_setup(START_NS), clock=_clock)
    service.start()
    try:
        seq = service.call(lambda ctx: _place(ctx, CLIENT_A, Side.BUY, 9_400_000))
        durable = service.call(lambda ctx: ctx.engine.state_hash())
    finally:
        service.stop()

    with FileJournal.open(tmp_path / "journal.log") as journal:
        assert journal.last_seq >= seq
        assert seq in {r.seq for r in journal.records()}
    assert durable


def test_a_restart_replays_the_journal_into_the_same_venue_and_read_model(tmp_path: Path) -> None:
    first = VenueService(tmp_path, setup=demo_setup(START_NS), clock=_clock)
    first.start()
    try:
        maker = first.call(lambda ctx: _place(ctx, MM_ACCOUNT, Side.SELL, 9_500_000))
        taker = first.call(lambda ctx: _place(ctx, CLIENT_A, Side.BUY, 9_500_000))
        before = first.call(lambda ctx: (ctx.engine.state_hash(), ctx.reads.orders[maker].status, ctx.reads.orders[taker].status))
    finally:
        first.stop()

    second = VenueService(tmp_path, clock=_clock, resume=True)
    second.start()
    try:
        after = second.call(lambda ctx: (ctx.engine.state_hash(), ctx.reads.orders[maker].status, ctx.reads.orders[taker].status))
        fills = second.call(lambda ctx: [f.order_id for f in ctx.reads.fills[CLIENT_A]])
    finally:
        second.stop()

    assert after == before
    assert before[1:] == ("FILLED", "FILLED")
    assert fills == [taker]


def test_the_openapi_document_describes_every_route(venue: RunningVenue) -> None:
    status, document, _ = public(venue, "/openapi.json")

    served = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert status == 200
    assert served == set(Gateway(venue.service, venue.keys).table) | {("GET", "/openapi.json")}


def test_a_job_sent_while_the_writer_stops_is_answered_not_left_waiting(tmp_path: Path) -> None:
    service = VenueService(tmp_path, setup=demo_setup(START_NS), clock=_clock)
    service.start()
    futures: list[Future[int]] = []
    sender = threading.Thread(target=lambda: futures.extend(service.submit_job(lambda ctx: ctx.last_seq) for _ in range(2_000)))
    sender.start()
    service.stop()
    sender.join()
    late = service.submit_job(lambda ctx: ctx.last_seq)

    done, waiting = wait([*futures, late], timeout=10)
    assert not waiting, f"{len(waiting)} jobs were never answered"
    with pytest.raises(ApiError) as refused:
        late.result()
    assert (refused.value.status, refused.value.code) == (503, -1001)
    for future in futures:
        error = future.exception()
        assert error is None or (isinstance(error, ApiError) and error.status == 503), error
