"""Market and user-data streams over WebSocket, through the real ``ccxt.pro.binanceusdm`` class
pointed at the server by the published snippet, and through a plain WebSocket client where the
rule is about the wire: depth diffs that rebuild the engine's book exactly from the REST
snapshot, slow consumers disconnected, listen keys that expire, and user data that never
crosses from one account to another."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from harbour.api import Gateway, GatewayConfig, ServerThread, WriterContext
from harbour.api.demo import CLIENT_A, CLIENT_B, FLOW_ACCOUNT, MM_ACCOUNT
from harbour.api.streams import book_levels
from harbour.api.ws import StreamConfig
from harbour.cli.serve import RunningVenue, start_venue
from harbour.kernel.money import format_units
from harbour.venue.commands import AmendOrder, CancelOrder, Deposit, OrderType, PlaceOrder, Side, TimeInForce, Withdraw

from .conftest import WAIT_S, _send, client, credential, public, wait_for

BTC = "BTC/USD:USD"


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1)


def key_request(venue: RunningVenue, label: str, method: str, path: str, url: str = "") -> tuple[int, Any]:
    """A request with the API-key header only (the listen-key endpoints)."""
    key, _ = credential(venue, label)
    request = urllib.request.Request((url or venue.url) + path, data=b"" if method != "GET" else None, method=method, headers={"X-MBX-APIKEY": key})
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    return _send(request)


def listen_key(venue: RunningVenue, label: str, url: str = "") -> str:
    status, body = key_request(venue, label, "POST", "/fapi/v1/listenKey", url)
    assert status == 200, body
    return str(body["listenKey"])


def frames_until(ws: ClientConnection, done: Callable[[Any], bool], what: str) -> list[Any]:
    """Read JSON frames until ``done(frame)`` (bounded wait); returns them all."""
    got: list[Any] = []
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        try:
            raw = ws.recv(timeout=max(0.05, end - time.monotonic()))
        except TimeoutError:
            break
        frame = json.loads(raw)
        got.append(frame)
        if done(frame):
            return got
    raise AssertionError(f"gave up waiting for {what}")


def run(coroutine_factory: Callable[[Any], Any], venue: RunningVenue, label: str = "client-a") -> Any:
    """Run ``coroutine_factory(exchange)`` with a ccxt.pro client built by the published snippet."""

    async def session() -> Any:
        ex = client(venue, label, "ccxt.pro")
        try:
            await ex.load_markets()
            return await asyncio.wait_for(coroutine_factory(ex), WAIT_S)
        finally:
            await ex.close()

    return asyncio.run(session())


# --- ccxt.pro, unmodified ---------------------------------------------------------------------------


def test_the_published_snippet_points_every_websocket_url_at_the_server(venue: RunningVenue) -> None:
    ex = client(venue, "client-a", "ccxt.pro")
    ws_urls = ex.urls["api"]["ws"]
    flat = [v for v in ws_urls.values() if isinstance(v, str)] + list(ws_urls["ws-api"].values())

    assert flat and all(u.startswith(ws_url(venue.url) + "/") for u in flat)


def test_ccxt_pro_watch_order_book_keeps_a_book_in_step_with_the_venue(venue: RunningVenue) -> None:
    async def watch(ex: Any) -> list[Any]:
        books = []
        for _ in range(4):
            book = await ex.watch_order_book(BTC)
            books.append((book["nonce"], book["bids"][0][0], book["asks"][0][0]))
        return books

    books = run(watch, venue)

    nonces = [n for n, _, _ in books]
    assert nonces == sorted(nonces) and nonces[-1] > nonces[0]
    assert all(bid < ask for _, bid, ask in books)


def test_ccxt_pro_watch_trades_sees_a_trade_as_it_happens(venue: RunningVenue) -> None:
    async def watch(ex: Any) -> list[Any]:
        trades = asyncio.ensure_future(ex.watch_trades(BTC))
        await asyncio.sleep(0.5)
        await ex.create_order(BTC, "market", "buy", 0.002)
        return [dict(t) for t in await trades]

    trades = run(watch, venue)

    assert trades and all(t["symbol"] == BTC and t["price"] > 0 and t["amount"] > 0 for t in trades)


def test_ccxt_pro_watch_orders_sees_an_order_open_and_then_cancelled(venue: RunningVenue) -> None:
    async def watch(ex: Any) -> tuple[list[Any], list[Any], Any]:
        def mine(orders: list[Any], order_id: str) -> list[Any]:  # copies: ccxt updates its cache in place
            return [dict(o) for o in orders if o["id"] == order_id]

        first = asyncio.ensure_future(ex.watch_orders(BTC))
        await asyncio.sleep(1.0)
        mark = float((await ex.fetch_funding_rate(BTC))["markPrice"])
        order = await ex.create_order(BTC, "limit", "buy", 0.001, float(ex.price_to_precision(BTC, mark * 0.97)))
        opened = mine(await first, order["id"])
        while not opened:
            opened = mine(await ex.watch_orders(BTC), order["id"])
        later = asyncio.ensure_future(ex.watch_orders(BTC))
        await ex.cancel_order(order["id"], BTC)
        closed = mine(await later, order["id"])
        while not closed or closed[-1]["status"] != "canceled":
            closed = mine(await ex.watch_orders(BTC), order["id"])
        return opened, closed, order

    opened, closed, order = run(watch, venue)

    assert opened[-1]["status"] == "open" and opened[-1]["amount"] == 0.001 and opened[-1]["filled"] == 0
    assert opened[-1]["clientOrderId"] == order["clientOrderId"]
    assert closed[-1]["status"] == "canceled"


def test_ccxt_pro_watches_the_mark_price_ticker_and_candles(venue: RunningVenue) -> None:
    async def watch(ex: Any) -> tuple[Any, Any, Any]:
        mark = await ex.watch_mark_price(BTC)
        ticker = await ex.watch_ticker(BTC)
        await ex.create_order(BTC, "market", "sell", 0.001)
        candles = await ex.watch_ohlcv(BTC, "1m")
        return mark, ticker, candles

    mark, ticker, candles = run(watch, venue)

    assert mark["markPrice"] > 0 and mark["indexPrice"] > 0
    assert ticker["last"] > 0
    assert candles and candles[-1][4] > 0 and candles[-1][5] > 0


def test_ccxt_pro_watch_balance_and_positions_follow_a_fill(venue: RunningVenue) -> None:
    async def watch(ex: Any) -> tuple[Any, Any]:
        balance = asyncio.ensure_future(ex.watch_balance())
        positions = asyncio.ensure_future(ex.watch_positions([BTC]))
        await asyncio.sleep(1.0)
        await ex.create_order(BTC, "market", "buy", 0.001)
        return await balance, await positions

    balance, positions = run(watch, venue)

    assert balance["USD"]["total"] > 0
    assert positions and positions[-1]["symbol"] == BTC


# --- the depth stream, on the wire ------------------------------------------------------------------


@pytest.fixture(scope="module")
def quiet_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVenue]:
    """A venue with no simulated market: only the test changes the book."""
    running = start_venue(Path(tmp_path_factory.mktemp("quiet")), port=0, market=False)
    try:
        yield running
    finally:
        running.stop()


def _clear_book(ctx: WriterContext) -> None:
    for order in list(ctx.state.books["BTCUSD"].orders.values()):
        ctx.submit(CancelOrder(account=order.account, instrument="BTCUSD", order_id=order.order_id))


def _burst(rng: random.Random, rounds: int) -> Callable[[WriterContext], None]:
    """A job of mixed orders: resting at many levels, crossing, amending and cancelling."""

    def job(ctx: WriterContext) -> None:
        for _ in range(rounds):
            account = rng.choice((CLIENT_A, FLOW_ACCOUNT, MM_ACCOUNT))
            side = rng.choice((Side.BUY, Side.SELL))
            mine = [o for o in ctx.state.books["BTCUSD"].orders.values() if o.account == account]
            roll = rng.random()
            if mine and roll < 0.3:
                victim = rng.choice(mine)
                ctx.submit(CancelOrder(account=account, instrument="BTCUSD", order_id=victim.order_id))
            elif mine and roll < 0.4:
                victim = rng.choice(mine)
                ctx.submit(AmendOrder(account=account, instrument="BTCUSD", order_id=victim.order_id, price=victim.price, qty=max(1, victim.qty // 2)))
            elif roll < 0.5:
                ctx.submit(PlaceOrder(account=account, instrument="BTCUSD", side=side, qty=rng.randint(1, 5), price=0, order_type=OrderType.MARKET, tif=TimeInForce.IOC))
            else:
                offset = rng.randint(-40, 40) * 10  # ticks of 0.10 around 95,000.00
                price = 9_500_000 + offset + (-200 if side is Side.BUY else 200)
                ctx.submit(PlaceOrder(account=account, instrument="BTCUSD", side=side, qty=rng.randint(1, 8), price=price, tif=TimeInForce.GTC))

    return job


@pytest.mark.parametrize("deflate", [False, True], ids=["frames-written-once-to-every-transport", "permessage-deflate-through-asgi-send"])
def test_depth_diffs_applied_to_the_rest_snapshot_rebuild_the_engines_book_exactly(quiet_venue: RunningVenue, deflate: bool) -> None:
    gateway = Gateway(quiet_venue.service, quiet_venue.keys)
    server = ServerThread(gateway.app, ws_deflate=deflate).start()
    try:
        _rebuild_from_snapshot_and_diffs(quiet_venue, ws_url(server.url), "deflate" if deflate else None, random.Random(5), gateway, deflate)
    finally:
        server.stop()


def _rebuild_from_snapshot_and_diffs(
    venue: RunningVenue, ws_base: str, compression: str | None, rng: random.Random, gateway: Gateway, deflate: bool
) -> None:
    with connect(ws_base + "/public/ws/0", compression=compression, max_queue=None) as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusd@depth@100ms"], "id": 1}))
        assert json.loads(ws.recv(timeout=WAIT_S)) == {"result": None, "id": 1}
        early: list[Future[None]] = [venue.service.submit_job(_burst(rng, 20)) for _ in range(15)]
        early[5].result(WAIT_S)
        with urllib.request.urlopen(venue.url + "/fapi/v1/depth?symbol=BTCUSD&limit=1000", timeout=WAIT_S) as response:
            snapshot = json.loads(response.read())
        late = [venue.service.submit_job(_burst(rng, 20)) for _ in range(15)]
        for f in early + late:
            f.result(WAIT_S)
        engine_bids, engine_asks, final_id = venue.service.call(
            lambda ctx: (book_levels(ctx.state.books["BTCUSD"].bids), book_levels(ctx.state.books["BTCUSD"].asks), ctx.reads.book_update["BTCUSD"])
        )
        events = frames_until(ws, lambda f: f.get("u") == final_id, "the depth event of the last change")
        # with an extension negotiated, frames go through ASGI send; without, straight to the transport
        assert gateway.streams.conns and all((conn.direct is None) == deflate for conn in gateway.streams.conns)

    book = {"b": {p: q for p, q in snapshot["bids"]}, "a": {p: q for p, q in snapshot["asks"]}}
    last = snapshot["lastUpdateId"]
    applied = 0
    for event in events:
        if event["u"] < last:
            continue
        if applied == 0:
            assert event["U"] <= last <= event["u"] or event["pu"] == last
        else:
            assert event["pu"] == last
        for side in ("b", "a"):
            for price, qty in event[side]:
                if float(qty) == 0:
                    book[side].pop(price, None)
                else:
                    book[side][price] = qty
        last = event["u"]
        applied += 1

    def as_text(levels: dict[int, int]) -> dict[str, str]:
        return {format_units(p, 2): format_units(q, 3) for p, q in levels.items()}

    assert applied > 0 and last == final_id
    assert book["b"] == as_text(engine_bids)
    assert book["a"] == as_text(engine_asks)


def test_a_subscription_to_an_unknown_stream_or_one_served_elsewhere_is_refused(quiet_venue: RunningVenue) -> None:
    with connect(ws_url(quiet_venue.url) + "/public/ws", compression=None) as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["dogeusd@depth"], "id": 7}))
        unknown = json.loads(ws.recv(timeout=WAIT_S))
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusd@kline_1m"], "id": 8}))
        elsewhere = json.loads(ws.recv(timeout=WAIT_S))
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusd@trade", "btcusd@depth"], "id": 9}))
        ok = json.loads(ws.recv(timeout=WAIT_S))
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 10}))
        listed = json.loads(ws.recv(timeout=WAIT_S))

    assert unknown["id"] == 7 and unknown["error"]["code"] == 2
    assert elsewhere["id"] == 8 and "/market/ws" in elsewhere["error"]["msg"]
    assert ok == {"result": None, "id": 9}
    assert listed == {"result": ["btcusd@depth", "btcusd@trade"], "id": 10}


def test_legacy_paths_serve_raw_and_combined_streams(quiet_venue: RunningVenue) -> None:
    venue = quiet_venue
    base = ws_url(venue.url)
    with connect(base + "/ws/btcusd@bookTicker", compression=None) as raw, connect(base + "/stream?streams=btcusd@bookTicker", compression=None) as combined:
        venue.service.call(_clear_book)
        venue.service.call(
            lambda ctx: ctx.submit(PlaceOrder(account=CLIENT_A, instrument="BTCUSD", side=Side.BUY, qty=1, price=9_499_000, tif=TimeInForce.GTC))
        )
        plain = json.loads(raw.recv(timeout=WAIT_S))
        wrapped = json.loads(combined.recv(timeout=WAIT_S))

    assert plain["e"] == "bookTicker" and plain["s"] == "BTCUSD"
    assert wrapped["stream"] == "btcusd@bookTicker" and wrapped["data"]["e"] == "bookTicker"


# --- slow consumers -----------------------------------------------------------------------------------


@pytest.fixture()
def small_queue_gateway(quiet_venue: RunningVenue) -> Iterator[tuple[str, Gateway]]:
    """A second gateway on the quiet venue: 64 frames a socket at most, small socket buffers."""
    gateway = Gateway(quiet_venue.service, quiet_venue.keys, GatewayConfig(streams=StreamConfig(max_queued_frames=64)))
    server = ServerThread(gateway.app)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # inherited by accepted sockets
    server.start()
    try:
        yield ws_url(server.url), gateway
    finally:
        server.stop()


def _trades(pairs: int) -> Callable[[WriterContext], None]:
    """``pairs`` trades of 0.001 BTC between two clients, alternating sides (positions stay small)."""

    def job(ctx: WriterContext) -> None:
        for i in range(pairs):
            maker_side = Side.SELL if i % 2 == 0 else Side.BUY
            taker_side = Side.BUY if maker_side is Side.SELL else Side.SELL
            ctx.submit(PlaceOrder(account=FLOW_ACCOUNT, instrument="BTCUSD", side=maker_side, qty=1, price=9_500_000, tif=TimeInForce.GTC))
            ctx.submit(PlaceOrder(account=CLIENT_A, instrument="BTCUSD", side=taker_side, qty=1, price=9_500_000, tif=TimeInForce.IOC))

    return job


TRADES = 1_500


def test_a_subscriber_that_stops_reading_is_disconnected_while_others_keep_every_frame(
    quiet_venue: RunningVenue, small_queue_gateway: tuple[str, Gateway]
) -> None:
    url, gateway = small_queue_gateway
    quiet_venue.service.call(_clear_book)  # no resting order of client A for its own orders to meet (self-trade prevention)
    stalled_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    stalled_sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    received: list[Any] = []
    with connect(url + "/ws/btcusd@trade", compression=None, sock=stalled_sock, max_queue=1) as stalled, connect(
        url + "/ws/btcusd@trade", compression=None
    ) as healthy:

        def read_all() -> None:
            try:
                while True:
                    received.append(json.loads(healthy.recv(timeout=WAIT_S)))
                    if len(received) >= TRADES:
                        return
            except (TimeoutError, ConnectionClosed):
                return

        reader = threading.Thread(target=read_all)
        reader.start()
        for batch in range(1, TRADES // 20 + 1):  # in batches of 20, at the healthy reader's pace: ~200 KB
            quiet_venue.service.call(_trades(20))
            wait_for(lambda n=batch * 20: len(received) >= n or not reader.is_alive(), "the healthy subscriber to read the batch")
        reader.join(WAIT_S)
        wait_for(lambda: gateway.streams.stats["slow_consumers_disconnected"] >= 1, "the stalled subscriber to be dropped")
        with pytest.raises(ConnectionClosed):
            while True:  # what was buffered before the cut, then the end of the connection
                stalled.recv(timeout=WAIT_S)

    assert gateway.streams.stats["slow_consumers_disconnected"] == 1
    assert len(received) == TRADES and all(f["e"] == "trade" for f in received)
    assert len({f["t"] for f in received}) == TRADES


# --- user data: listen keys -----------------------------------------------------------------------------


@pytest.fixture()
def clocked_gateway(venue: RunningVenue) -> Iterator[tuple[str, list[int]]]:
    """A second gateway on the live venue whose listen keys run on a clock the test moves."""
    now = [venue.service.call(lambda ctx: ctx.now_ns // 1_000_000)]
    config = GatewayConfig(clock_ms=lambda: now[0], streams=StreamConfig(housekeeping_interval_s=0.05))
    server = ServerThread(Gateway(venue.service, venue.keys, config).app).start()
    try:
        yield server.url, now
    finally:
        server.stop()


def test_a_listen_key_kept_alive_lives_on_and_one_left_alone_expires_and_closes_its_stream(
    venue: RunningVenue, clocked_gateway: tuple[str, list[int]]
) -> None:
    url, now = clocked_gateway
    token = listen_key(venue, "client-b", url)
    again = listen_key(venue, "client-b", url)
    with connect(ws_url(url) + "/private/ws?listenKey=" + token, compression=None) as ws:
        now[0] += 50 * 60_000
        kept = key_request(venue, "client-b", "PUT", "/fapi/v1/listenKey", url)
        now[0] += 50 * 60_000  # 100 minutes after creation, 50 after the keepalive
        still = key_request(venue, "client-b", "PUT", "/fapi/v1/listenKey", url)
        now[0] += 61 * 60_000
        frames = frames_until(ws, lambda f: f.get("e") == "listenKeyExpired", "the expiry notice")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)
    after = key_request(venue, "client-b", "PUT", "/fapi/v1/listenKey", url)

    assert again == token
    assert kept[0] == 200 and still[0] == 200
    assert frames[-1] == {"e": "listenKeyExpired", "E": now[0], "listenKey": token}
    assert after == (400, {"code": -1125, "msg": "This listenKey does not exist."})


def test_an_unknown_or_closed_listen_key_opens_no_stream(venue: RunningVenue) -> None:
    token = listen_key(venue, "lapsed-pi-client")
    closed = key_request(venue, "lapsed-pi-client", "DELETE", "/fapi/v1/listenKey")
    refused: list[str] = []
    for key in (token, "0" * 64):
        try:
            with connect(ws_url(venue.url) + "/private/ws?listenKey=" + key, compression=None) as ws:
                ws.recv(timeout=WAIT_S)
        except Exception as error:
            refused.append(type(error).__name__)

    assert closed == (200, {})
    assert len(refused) == 2


def test_a_staff_key_gets_no_listen_key(venue: RunningVenue) -> None:
    status, body = key_request(venue, "auditor", "POST", "/fapi/v1/listenKey")

    assert status == 400 and body["code"] == -9008


def test_the_market_makers_user_stream_carries_only_its_own_account(venue: RunningVenue) -> None:
    base = ws_url(venue.url) + "/private/ws?listenKey="
    mm_key, b_key = listen_key(venue, "market-maker"), listen_key(venue, "client-b")
    with connect(base + mm_key, compression=None, max_queue=None) as mm_ws, connect(base + b_key, compression=None, max_queue=None) as b_ws:
        ex = client(venue, "client-a")
        ex.load_markets()
        wait_for(lambda: (b := ex.fetch_order_book(BTC, 5))["bids"] and b["asks"], "the market maker's quotes")
        taken = ex.create_order(BTC, "market", "buy", 0.002, params={"clientOrderId": "client-a-secret-take"})
        mark = float(ex.fetch_funding_rate(BTC)["markPrice"])
        resting = ex.create_order(BTC, "limit", "buy", 0.001, float(ex.price_to_precision(BTC, mark * 0.97)), params={"clientOrderId": "client-a-secret-rest"})
        ex.cancel_order(resting["id"], BTC)
        fills = wait_for(lambda: ex.fetch_my_trades(BTC, params={"orderId": taken["id"]}), "client A's fill")
        trade_ids = {int(f["id"]) for f in fills}
        mm_frames = frames_until(
            mm_ws, lambda f: f.get("e") == "ORDER_TRADE_UPDATE" and f["o"]["t"] in trade_ids, "the market maker's side of the fill"
        )
        b_frames: list[Any] = []
        try:
            while True:
                b_frames.append(json.loads(b_ws.recv(timeout=0.5)))
        except TimeoutError:
            pass
    owners = venue.service.call(lambda ctx: {oid: rec.account for oid, rec in ctx.reads.orders.items()})
    mm_order_ids = [f["o"]["i"] for f in mm_frames if f.get("e") == "ORDER_TRADE_UPDATE"]
    raw = json.dumps(mm_frames) + json.dumps(b_frames)

    assert mm_order_ids and all(owners.get(i) == MM_ACCOUNT for i in mm_order_ids)
    assert all(secret not in raw for secret in ("client-a-secret-take", "client-a-secret-rest", f'"i": {taken["id"]},', f'"i": {resting["id"]},'))
    assert not [f for f in b_frames if f.get("e") == "ORDER_TRADE_UPDATE"]


def test_account_update_reports_deposits_and_withdrawals_as_balance_change_but_not_a_fills_pnl_or_fee(quiet_venue: RunningVenue) -> None:
    venue = quiet_venue
    token = listen_key(venue, "client-b")
    with connect(ws_url(venue.url) + "/private/ws?listenKey=" + token, compression=None, max_queue=None) as ws:
        venue.service.call(lambda ctx: ctx.submit(Deposit(account=CLIENT_B, asset="USD", amount=250_000_000, reference="wire in")))
        deposit = frames_until(ws, lambda f: f.get("e") == "ACCOUNT_UPDATE", "the deposit's account update")[-1]
        venue.service.call(lambda ctx: ctx.submit(Withdraw(account=CLIENT_B, asset="USD", amount=100_000_000, reference="wire out")))
        withdrawal = frames_until(ws, lambda f: f.get("e") == "ACCOUNT_UPDATE", "the withdrawal's account update")[-1]
        venue.service.call(_clear_book)
        venue.service.call(
            lambda ctx: (
                ctx.submit(PlaceOrder(account=FLOW_ACCOUNT, instrument="BTCUSD", side=Side.SELL, qty=1, price=9_500_000, tif=TimeInForce.GTC)),
                ctx.submit(PlaceOrder(account=CLIENT_B, instrument="BTCUSD", side=Side.BUY, qty=1, price=9_500_000, tif=TimeInForce.IOC)),
            )
        )
        fill = frames_until(ws, lambda f: f.get("e") == "ACCOUNT_UPDATE", "the fill's account update")[-1]

    def usd(frame: Any) -> dict[str, str]:
        return next(b for b in frame["a"]["B"] if b["a"] == "USD")

    assert deposit["a"]["m"] == "DEPOSIT" and usd(deposit)["bc"] == "250.000000"
    assert withdrawal["a"]["m"] == "WITHDRAW" and usd(withdrawal)["bc"] == "-100.000000"
    assert float(usd(withdrawal)["wb"]) == float(usd(deposit)["wb"]) - 100
    assert fill["a"]["m"] == "ORDER" and usd(fill)["bc"] == "0.000000"
    assert float(usd(fill)["wb"]) < float(usd(withdrawal)["wb"])  # the taker fee came out of the wallet


def test_sockets_from_one_address_beyond_its_limit_are_refused_until_one_closes(quiet_venue: RunningVenue) -> None:
    gateway = Gateway(quiet_venue.service, quiet_venue.keys, GatewayConfig(streams=StreamConfig(max_connections_per_ip=2)))
    server = ServerThread(gateway.app).start()
    url = ws_url(server.url) + "/public/ws"
    try:
        with connect(url, compression=None), connect(url, compression=None) as second:
            with pytest.raises(InvalidStatus) as refused:
                connect(url, compression=None, open_timeout=WAIT_S)
            second.close()
            wait_for(lambda: gateway.streams.per_ip.get("127.0.0.1") == 1, "the closed socket to be released")
            with connect(url, compression=None) as again:
                again.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
                listed = json.loads(again.recv(timeout=WAIT_S))
    finally:
        server.stop()

    assert refused.value.response.status_code == 403
    assert listed == {"result": [], "id": 1}
    assert gateway.streams.stats["refused_over_ip_limit"] == 1


def test_after_a_restart_with_resume_the_depth_stream_continues_from_the_rest_snapshot_and_ids_never_go_back(tmp_path: Path) -> None:
    first = start_venue(tmp_path, port=0, market=False)
    try:
        first.service.call(
            lambda ctx: ctx.submit(PlaceOrder(account=CLIENT_A, instrument="BTCUSD", side=Side.BUY, qty=2, price=9_490_000, tif=TimeInForce.GTC))
        )
        before = public(first, "/fapi/v1/depth?symbol=BTCUSD")[1]
    finally:
        first.stop()
    resumed = start_venue(tmp_path, port=0, market=False, resume=True)
    try:
        snapshot = public(resumed, "/fapi/v1/depth?symbol=BTCUSD")[1]
        with connect(ws_url(resumed.url) + "/public/ws", compression=None) as ws:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusd@depth@100ms"], "id": 1}))
            assert json.loads(ws.recv(timeout=WAIT_S)) == {"result": None, "id": 1}
            resumed.service.call(
                lambda ctx: ctx.submit(PlaceOrder(account=CLIENT_A, instrument="BTCUSD", side=Side.BUY, qty=1, price=9_480_000, tif=TimeInForce.GTC))
            )
            event = frames_until(ws, lambda f: f.get("e") == "depthUpdate", "the first depth event after the restart")[-1]
    finally:
        resumed.stop()

    assert snapshot["bids"] == before["bids"] == [["94900.00", "0.002"]]
    assert snapshot["lastUpdateId"] >= before["lastUpdateId"]
    assert event["pu"] == snapshot["lastUpdateId"] < event["U"] <= event["u"]
    assert event["b"] == [["94800.00", "0.001"]]
