"""Gateway load: signed clients placing and cancelling orders over REST while WebSocket
subscribers follow the diff-depth stream, against the real server on loopback.

The server (writer thread + uvicorn) runs in this process; the order clients and the
subscribers each run in a process of their own (spawned), so the three compete for the
machine's cores as a real deployment's clients would not. Bounded: ``--seconds`` of load,
``--clients`` connections, ``--subscribers`` sockets, and a timeout on every phase.

Prints one JSON object: order requests/s achieved, round-trip latency (p50/p99/p99.9/max, ms)
of every place and cancel as the clients see it, the same requests' time inside the server
(``server_residence_ms``: parsed request to answer written, so the part of the round trip the
server owns, without the clients' own waits for a core), errors; for the subscribers: how many stayed connected and in
sequence (``pu`` = previous ``u``), how many ended with a book equal to the final REST
snapshot, gaps, disconnections, and how late depth events arrived (receive time - ``E``);
the writer's commands and group commits; the machine (cores, load average).

    python bench/gateway_load.py [--seconds 10] [--rate 2000] [--clients 40] [--subscribers 500]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

NS_PER_DAY = 86_400 * 1_000_000_000
BENCH_ACCOUNT_BASE = 50_001
REF_PRICE = 95_000.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


# --- order clients (own process) ----------------------------------------------------------------


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


def _signed(method: str, path: str, params: str, key: str, secret: str) -> bytes:
    payload = f"{params}&timestamp={int(time.time() * 1000)}&recvWindow=10000"
    payload += "&signature=" + hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if method == "POST":
        body = payload.encode()
        return (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nX-MBX-APIKEY: {key}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    return f"{method} {path}?{payload} HTTP/1.1\r\nHost: bench\r\nX-MBX-APIKEY: {key}\r\n\r\n".encode()


async def _client(i: int, host: str, port: int, key: str, secret: str, interval: float, end: float, out: dict[str, Any]) -> None:
    rng = random.Random(i)
    reader, writer = await asyncio.open_connection(host, port)
    due = time.monotonic() + rng.random() * interval
    try:
        while True:
            buy = rng.random() < 0.5
            away = 1 + rng.uniform(0.01, 0.03) * (-1 if buy else 1)
            price = f"{round(REF_PRICE * away, 1):.1f}"
            params = f"symbol=BTCUSD&side={'BUY' if buy else 'SELL'}&type=LIMIT&timeInForce=GTC&quantity=0.00{rng.randint(1, 5)}&price={price}"
            order_id = None
            for kind in ("place", "cancel"):
                now = time.monotonic()
                if now >= end:
                    return
                if due > now:
                    await asyncio.sleep(due - now)
                due += interval
                if kind == "place":
                    request = _signed("POST", "/fapi/v1/order", params, key, secret)
                elif order_id is not None:
                    request = _signed("DELETE", "/fapi/v1/order", f"symbol=BTCUSD&orderId={order_id}", key, secret)
                else:
                    continue
                sent = time.perf_counter()
                status, body = await _http(reader, writer, request)
                out["rtt_ms"].append((time.perf_counter() - sent) * 1000)
                if status != 200:
                    out["errors"][str(status)] = out["errors"].get(str(status), 0) + 1
                    break
                if kind == "place":
                    order_id = json.loads(body)["orderId"]
    finally:
        writer.close()


def _run_client(main: Any, loop: str) -> Any:
    """Run a load generator's coroutine on asyncio or uvloop (its own process)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def orders_main(url: str, credentials: list[tuple[str, str]], rate: float, seconds: float, results: Any, loop: str = "asyncio") -> None:
    host, port = url.split("//", 1)[1].split(":")

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {"rtt_ms": [], "errors": {}}
        interval = len(credentials) / rate
        start = time.monotonic()
        end = start + seconds
        await asyncio.gather(*(_client(i, host, int(port), k, s, interval, end, out) for i, (k, s) in enumerate(credentials)))
        elapsed = time.monotonic() - start
        rtt = out["rtt_ms"]
        return {
            "order_requests": len(rtt),
            "order_requests_per_s": round(len(rtt) / elapsed, 1),
            "rtt_ms_p50": pct(rtt, 0.50),
            "rtt_ms_p99": pct(rtt, 0.99),
            "rtt_ms_p999": pct(rtt, 0.999),
            "rtt_ms_max": round(max(rtt), 3) if rtt else None,
            "errors": out["errors"],
        }

    report = _run_client(run(), loop)
    report["order_clients_cpu_s"] = round(time.process_time(), 2)
    results.put(report)


# --- depth subscribers (own process) ----------------------------------------------------------------


class Follower:
    """One subscriber's local book, kept by Binance's procedure (snapshot, then pu == previous u)."""

    def __init__(self) -> None:
        self.cache: list[dict[str, Any]] = []
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last = -1  # -1: not synced yet
        self.gaps = 0
        self.events = 0
        self.closed = False

    def apply(self, e: dict[str, Any]) -> None:
        for side, book in (("b", self.bids), ("a", self.asks)):
            for price, qty in e[side]:
                if float(qty) == 0:
                    book.pop(price, None)
                else:
                    book[price] = qty
        self.last = e["u"]

    def sync(self, snapshot: dict[str, Any]) -> None:
        self.bids = {p: q for p, q in snapshot["bids"]}
        self.asks = {p: q for p, q in snapshot["asks"]}
        self.last = snapshot["lastUpdateId"]
        first = True
        for e in self.cache:
            if e["u"] < self.last:
                continue
            if first and not (e["U"] <= self.last <= e["u"] or e["pu"] == self.last):
                self.gaps += 1
            first = False
            self.apply(e)
        self.cache = []

    def on_event(self, e: dict[str, Any], lags: list[float]) -> None:
        self.events += 1
        lags.append(time.time() * 1000 - e["E"])
        if self.last < 0:
            self.cache.append(e)
            return
        if e["u"] < self.last:
            return
        if e["pu"] != self.last and not e["U"] <= self.last:
            self.gaps += 1
        self.apply(e)


def subscribers_main(
    url: str, count: int, stream: str, compression: str | None, results: Any, commands: Any, timeout: float, loop: str = "asyncio"
) -> None:
    import msgspec
    from websockets.asyncio.client import connect

    decode = msgspec.json.decode
    ws_base = url.replace("http://", "ws://")

    def get_depth() -> dict[str, Any]:
        with urllib.request.urlopen(url + "/fapi/v1/depth?symbol=BTCUSD&limit=1000", timeout=30) as r:
            return dict(json.loads(r.read()))

    async def run() -> dict[str, Any]:
        followers = [Follower() for _ in range(count)]
        lags: list[float] = []
        subscribed = 0
        done = asyncio.Event()

        async def follow(i: int, f: Follower) -> None:
            nonlocal subscribed
            try:
                async with connect(f"{ws_base}/public/ws/{i % 8}", compression=compression, max_queue=None, open_timeout=60) as ws:
                    await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": 1}))
                    while True:
                        msg = decode(await ws.recv(decode=False))
                        if msg.get("id") == 1:
                            subscribed += 1
                            continue
                        f.on_event(msg, lags)
                        if done.is_set() and f.last >= final_id:
                            return
            except Exception:
                f.closed = True

        final_id = 1 << 62
        tasks = [asyncio.ensure_future(follow(i, f)) for i, f in enumerate(followers)]
        deadline = time.monotonic() + timeout
        while subscribed < count and time.monotonic() < deadline and not all(t.done() for t in tasks):
            await asyncio.sleep(0.05)
        snapshot = await asyncio.to_thread(get_depth)
        for f in followers:
            f.sync(snapshot)
        lags.clear()
        results.put({"ready": subscribed})
        final_id = await asyncio.to_thread(commands.get)
        done.set()
        # every follower that is still connected reaches the last update (they may all have it already)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(f.closed or f.last >= final_id for f in followers):
            await asyncio.sleep(0.05)
        final = await asyncio.to_thread(get_depth)
        fb = {p: q for p, q in final["bids"]}
        fa = {p: q for p, q in final["asks"]}
        for t in tasks:
            t.cancel()
        return {
            "subscribers": count,
            "subscribed": subscribed,
            "disconnected": sum(f.closed for f in followers),
            "reached_final_update": sum(f.last >= final_id for f in followers),
            "in_sync_with_final_snapshot": sum(f.bids == fb and f.asks == fa for f in followers),
            "with_gaps": sum(f.gaps > 0 for f in followers),
            "depth_events_received": sum(f.events for f in followers),
            "event_lag_ms_p50": pct(lags, 0.50),
            "event_lag_ms_p99": pct(lags, 0.99),
            "event_lag_ms_max": round(max(lags), 1) if lags else None,
        }

    report = _run_client(run(), loop)
    report["subscribers_cpu_s"] = round(time.process_time(), 2)
    results.put(report)


# --- the server (this process) -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2_000.0, help="target order requests per second (places + cancels)")
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--stream", default="btcusd@depth@100ms")
    parser.add_argument("--compression", choices=("none", "deflate"), default="none", help="permessage-deflate on the sockets (ccxt offers it)")
    parser.add_argument("--loop", choices=("default", "asyncio", "uvloop"), default="default", help="the server's event loop (default: server.LOOP)")
    parser.add_argument("--http", choices=("default", "h11", "httptools"), default="default", help="the server's HTTP parser (default: server.HTTP)")
    parser.add_argument("--server-deflate", choices=("off", "on"), default="off", help="accept permessage-deflate when a client offers it")
    parser.add_argument("--client-loop", choices=("asyncio", "uvloop"), default="uvloop", help="the load generators' event loop")
    parser.add_argument("--switch-interval-ms", type=float, default=0.0, help="the server process's GIL switch interval (0: Python's 5 ms)")
    args = parser.parse_args()
    if not (0 < args.seconds <= 120 and 0 < args.clients <= 500 and 0 <= args.subscribers <= 2_000 and 0 < args.rate <= 50_000):
        raise SystemExit("bounded: seconds <= 120, clients <= 500, subscribers <= 2000, rate <= 50000")

    from harbour.api import Gateway, GatewayConfig, Role, Scope, ServerThread, VenueService, demo_keys, demo_setup
    from harbour.api.server import HTTP, LOOP

    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    loop = LOOP if args.loop == "default" else args.loop
    http = HTTP if args.http == "default" else args.http
    from harbour.kernel.money import MICRO
    from harbour.venue.commands import AccountKind, Deposit, OpenAccount

    start_ns = time.time_ns()
    setup = demo_setup(start_ns)
    for i in range(args.clients):
        account = BENCH_ACCOUNT_BASE + i
        setup.append(OpenAccount(account=account, kind=AccountKind.CLIENT, pi_expiry_ns=start_ns + 365 * NS_PER_DAY, legal_entity=f"Bench {i}"))
        setup.append(Deposit(account=account, asset="USD", amount=10_000_000 * MICRO, reference="bench"))
    keys, _ = demo_keys(7)
    credentials = []
    for i in range(args.clients):
        key, secret = keys.issue_hmac(Role.CLIENT, BENCH_ACCOUNT_BASE + i, (Scope.READ, Scope.TRADE), label=f"bench-{i}")
        credentials.append((key.key_id, secret))

    with tempfile.TemporaryDirectory() as tmp:
        service = VenueService(Path(tmp), setup=setup)
        service.start()
        gateway = Gateway(service, keys, GatewayConfig(ip_weight_per_minute=10**9, key_weight_per_minute=10**9))
        server = ServerThread(gateway.app, loop=loop, http=http, ws_deflate=args.server_deflate == "on").start()
        ctx = mp.get_context("spawn")
        sub_results, sub_commands, order_results = ctx.Queue(), ctx.Queue(), ctx.Queue()
        report: dict[str, Any] = {
            "bench": "gateway_load",
            "target_order_requests_per_s": args.rate,
            "seconds": args.seconds,
            "clients": args.clients,
            "loop": loop,
            "http": http,
            "compression": args.compression,
            "server_deflate": args.server_deflate,
            "switch_interval_ms": round(sys.getswitchinterval() * 1000, 3),
            "client_loop": args.client_loop,
        }
        subscribers = None
        try:
            if args.subscribers:
                compression = None if args.compression == "none" else "deflate"
                subscribers = ctx.Process(
                    target=subscribers_main,
                    args=(server.url, args.subscribers, args.stream, compression, sub_results, sub_commands, 120.0, args.client_loop),
                )
                subscribers.start()
                report["subscribers_ready"] = sub_results.get(timeout=180)["ready"]
            commands0, commits0 = service.commands, service.commits
            gateway.residence_ns = []  # each request's time inside the server (parsed -> answer written)
            load0 = os.getloadavg()
            cpu0 = time.process_time()
            wall0 = time.monotonic()
            orders = ctx.Process(target=orders_main, args=(server.url, credentials, args.rate, args.seconds, order_results, args.client_loop))
            orders.start()
            report.update(order_results.get(timeout=args.seconds + 120))
            orders.join(30)
            wall = time.monotonic() - wall0
            server_cpu = time.process_time() - cpu0
            report["server_cpu_s_per_s"] = round(server_cpu / wall, 2)
            # CPU per request is steadier than throughput on a shared machine (it ignores waiting for a core)
            report["server_cpu_ms_per_order_request"] = round(1000 * server_cpu / max(1, report["order_requests"]), 3)
            residence = [ns / 1e6 for ns in gateway.residence_ns]
            report["server_residence_ms_p50"] = pct(residence, 0.50)
            report["server_residence_ms_p99"] = pct(residence, 0.99)
            report["server_residence_ms_p999"] = pct(residence, 0.999)
            report["writer_commands"] = service.commands - commands0
            report["writer_group_commits"] = service.commits - commits0
            report["loadavg_before"] = [round(x, 2) for x in load0]
            report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
            if subscribers is not None:
                final_id = service.call(lambda ctx: ctx.reads.book_update.get("BTCUSD", 0))
                sub_commands.put(final_id)
                report.update(sub_results.get(timeout=180))
            report["server_stream_stats"] = dict(gateway.streams.stats)
        finally:
            if subscribers is not None:
                subscribers.join(30)
                if subscribers.is_alive():
                    subscribers.terminate()
            server.stop()
            service.stop()
    report["machine"] = {"cores": os.cpu_count(), "cpu": _cpu_model(), "python": sys.version.split()[0]}
    print(json.dumps(report))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
