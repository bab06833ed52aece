"""WebSocket streams, event-loop side: the Binance USDⓈ-M stream endpoints and listen keys.

Paths (what ``ccxt.pro.binanceusdm`` and older clients open; the published snippet maps
Binance's ws host to ours and ccxt adds the rest):

* ``/public/ws[/<n>]``: high-frequency public streams (diff depth, partial depth, trades,
  book ticker); ``/market/ws[/<n>]``: the others (aggregate trades, mark price and funding,
  klines, tickers, liquidations). A stream asked for on the wrong one is refused.
* ``/private/ws?listenKey=<key>`` (also ``/private/ws/<key>``): one account's user data.
* Legacy, before the split: ``/ws``, ``/ws/<n>`` (every public stream), ``/ws/<listenKey>``,
  ``/ws/<stream>[/<stream>...]`` (raw streams) and ``/stream?streams=a/b`` (combined:
  ``{"stream": name, "data": event}``); ``/public/stream`` and ``/market/stream`` likewise.

Requests on a socket: ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` /
``SET_PROPERTY`` / ``GET_PROPERTY`` (``combined``), answered ``{"result": ..., "id": ...}`` or
``{"error": {"code", "msg"}, "id"}``, as Binance does. At most ``max_streams_per_connection``
streams and ``max_requests_per_second`` requests a second per socket (over: disconnected).

Delivery: ``StreamHub`` is one gateway's sink of the writer's ``StreamSource``. A durable
batch arrives by ``call_soon_threadsafe`` (the writer never waits); diff depth is merged per
book and sent every 100, 250 (plain ``@depth``) or 500 ms, with ``U``/``u``/``pu`` the update
ids the REST snapshot reports; trades, book ticker and user data go out as they come; mark
price, tickers and klines are polled from the writer at their cadence. Every socket has its
own bounded queue (frames and bytes) drained by its own task; a socket whose queue is full is
a slow consumer and is disconnected at once (its TCP connection aborted), never buffered
without bound and never skipped (a gap would break its book).

Fan-out writes each frame once: under uvicorn's websockets-sansio protocol with no extension
negotiated (the server declines permessage-deflate), a frame's wire bytes (text opcode, length,
payload; a server's frames are unmasked) are built once and written as they are to every
subscriber's transport while it is writable, with no task switch per socket; a socket whose
transport pushes back gets the frame through its queue, in order. Any other server, or a
socket with an extension, goes through ASGI ``send`` as before.

Listen keys (``/fapi/v1/listenKey``, API-key header only): POST creates one per API key (or
extends and returns the live one), PUT extends it, DELETE closes it; validity 60 minutes
(``listen_key_validity_ms``). On expiry every socket on it gets ``listenKeyExpired`` and is
closed. A user-data socket carries only the events of the account its key belongs to.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import parse_qs

import msgspec

from harbour.api import views
from harbour.api.errors import ApiError
from harbour.api.keys import ApiKey
from harbour.api.service import VenueService, WriterContext
from harbour.api.streams import DepthChange, Published, market_frames, source_for, text
from harbour.kernel.money import format_units

_log = logging.getLogger(__name__)

NO_SUCH_LISTEN_KEY: Final = -1125  # Binance: "This listenKey does not exist."
DEPTH_RATES_MS: Final = (100, 250, 500)
DEFAULT_DEPTH_RATE_MS: Final = 250  # Binance's plain <symbol>@depth
_RATE_SUFFIX: Final = {"": DEFAULT_DEPTH_RATE_MS, "100ms": 100, "250ms": 250, "500ms": 500}
PUBLIC, MARKET, ANY, PRIVATE = "public", "market", "any", "private"
# Binance stream request errors
_INVALID_VALUE, _INVALID_REQUEST, _INVALID_JSON = 1, 2, 3
_CLOSE_NORMAL, _CLOSE_POLICY, _CLOSE_TRY_LATER = 1000, 1008, 1013


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamConfig:
    max_connections: int = 10_000
    max_connections_per_ip: int = 1_000  # open sockets from one address; beyond: refused (HTTP 403 at the handshake)
    max_streams_per_connection: int = 200  # Binance USDⓈ-M's figure
    max_requests_per_second: int = 10  # incoming messages per socket (Binance: 10)
    max_queued_frames: int = 2_000  # per socket; beyond: a slow consumer, disconnected
    max_queued_bytes: int = 8 * 1024 * 1024
    max_request_bytes: int = 16 * 1024
    listen_key_validity_ms: int = 60 * 60 * 1000
    housekeeping_interval_s: float = 1.0  # listen-key expiry sweep
    poll_interval_s: float = 0.25  # mark price / tickers / klines


@dataclass(frozen=True, slots=True)
class Stream:
    """A stream a client can subscribe to: its key in the hub, category and how it is fed."""

    key: str  # canonical: BTCUSD@depth@100ms, BTCUSD@trade, !markPrice@arr@1s ...
    category: str  # PUBLIC or MARKET
    feed: str  # "depth" (merged diffs), "pushed" (from the writer as it happens), "polled"
    rate_ms: int = 0  # depth merge period, partial-depth throttle or polling cadence
    source_key: str = ""  # the writer's key when it differs (partial depth: BTCUSD@depth5)


_ARRAY_STREAMS: Final = {
    "!bookticker": Stream("!bookTicker", PUBLIC, "pushed"),
    "!forceorder@arr": Stream("!forceOrder@arr", MARKET, "pushed"),
    "!markprice@arr": Stream("!markPrice@arr", MARKET, "polled", 3_000),
    "!markprice@arr@1s": Stream("!markPrice@arr@1s", MARKET, "polled", 1_000),
    "!ticker@arr": Stream("!ticker@arr", MARKET, "polled", 1_000),
    "!miniticker@arr": Stream("!miniTicker@arr", MARKET, "polled", 1_000),
}


def parse_stream(name: str, symbols: Iterable[str]) -> Stream | None:
    """The stream a Binance stream name asks for (None: not a stream we serve)."""
    low = name.lower()
    if low in _ARRAY_STREAMS:
        return _ARRAY_STREAMS[low]
    sym_text, sep, rest = low.partition("@")
    sym = sym_text.upper()
    if not sep or sym not in symbols:
        return None
    channel, _, suffix = rest.partition("@")
    if channel == "depth":
        rate = _RATE_SUFFIX.get(suffix)
        return None if rate is None else Stream(f"{sym}@depth@{rate}ms", PUBLIC, "depth", rate)
    if channel in ("depth5", "depth10", "depth20"):
        rate = _RATE_SUFFIX.get(suffix)
        return None if rate is None else Stream(f"{sym}@{channel}@{rate}ms", PUBLIC, "pushed", rate, f"{sym}@{channel}")
    if suffix and channel != "markprice":
        return None
    if channel == "trade":
        return Stream(f"{sym}@trade", PUBLIC, "pushed")
    if channel == "bookticker":
        return Stream(f"{sym}@bookTicker", PUBLIC, "pushed")
    if channel == "aggtrade":
        return Stream(f"{sym}@aggTrade", MARKET, "pushed")
    if channel == "forceorder":
        return Stream(f"{sym}@forceOrder", MARKET, "pushed")
    if channel == "markprice":
        if suffix == "1s":
            return Stream(f"{sym}@markPrice@1s", MARKET, "polled", 1_000)
        return None if suffix else Stream(f"{sym}@markPrice", MARKET, "polled", 3_000)
    if channel == "ticker":
        return Stream(f"{sym}@ticker", MARKET, "polled", 1_000)
    if channel == "miniticker":
        return Stream(f"{sym}@miniTicker", MARKET, "polled", 1_000)
    if channel.startswith("kline_"):
        interval = name[name.index("@") + 1 + len("kline_") :]  # case matters: 1m is not 1M
        if interval not in views.INTERVAL_MS:
            return None
        return Stream(f"{sym}@kline_{interval}", MARKET, "polled", 250)
    return None


@dataclass(frozen=True, slots=True)
class Route:
    """What a WebSocket path asks for."""

    category: str  # PUBLIC, MARKET, ANY (legacy) or PRIVATE
    combined: bool = False
    streams: tuple[str, ...] = ()
    listen_key: str = ""


def route_for(path: str, query: bytes) -> Route | None:
    """The stream endpoint of a WebSocket request path (None: not one of ours)."""
    parts = [p for p in path.split("/") if p]
    category = ANY
    if parts and parts[0] in (PUBLIC, MARKET, PRIVATE):
        category = parts.pop(0)
    if not parts or parts[0] not in ("ws", "stream"):
        return None
    head, rest = parts[0], "/".join(parts[1:])
    params = parse_qs(query.decode("latin-1"))
    if category == PRIVATE:
        key = rest or (params.get("listenKey") or [""])[0]
        return Route(PRIVATE, listen_key=key)
    if head == "stream":
        if rest:
            return None
        names = (params.get("streams") or [""])[0]
        return Route(category, combined=True, streams=tuple(n for n in names.split("/") if n))
    if not rest or rest.isdigit():
        return Route(category)
    if category == ANY and "@" not in rest and not rest.startswith("!"):
        return Route(PRIVATE, listen_key=rest)  # legacy /ws/<listenKey>
    return Route(category, streams=tuple(n for n in rest.split("/") if n))


# --- one socket -------------------------------------------------------------------------------

Send = Callable[[dict[str, Any]], Any]


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked WebSocket text frame (RFC 6455 section 5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def direct_protocol(send: Send) -> Any | None:
    """The server protocol behind ``send`` when whole frames may be written to its transport as
    they are: uvicorn's websockets-sansio protocol with no extension negotiated; else None."""
    proto = getattr(send, "__self__", None)
    if proto is None or type(proto).__name__ != "WebSocketsSansIOProtocol":
        return None
    if getattr(getattr(proto, "conn", None), "extensions", None) != []:
        return None  # permessage-deflate (or another extension) rewrites frames: use send
    if not all(hasattr(proto, name) for name in ("transport", "writable", "close_sent", "disconnected")):
        return None
    return proto


class Conn:
    """One client socket: its streams, its bounded outgoing queue and the task that drains it."""

    __slots__ = (
        "hub",
        "send",
        "category",
        "combined",
        "account",
        "listen_key",
        "streams",
        "queue",
        "queued_bytes",
        "wake",
        "closed",
        "task",
        "requests",
        "close_code",
        "direct",
    )

    def __init__(self, hub: StreamHub, send: Send, category: str, combined: bool, account: int | None = None, listen_key: str = "") -> None:
        self.hub = hub
        self.send = send
        self.category = category
        self.combined = combined
        self.account = account
        self.listen_key = listen_key
        self.streams: dict[str, str] = {}  # stream key -> the name the client used
        self.queue: deque[str | None] = deque()  # None: close after what is before it
        self.queued_bytes = 0
        self.wake = asyncio.Event()
        self.closed = False
        self.task: asyncio.Task[None] | None = None
        self.requests: deque[float] = deque()
        self.close_code = _CLOSE_NORMAL
        self.direct = direct_protocol(send)  # write frames straight to its transport (see the module doc)

    def push(self, frame: str, key: str = "") -> None:
        """Send or queue ``frame`` (from the event loop only); a full queue disconnects a slow consumer."""
        if self.closed:
            return
        if key and self.combined:
            frame = '{"stream":' + text(self.streams.get(key, key)) + ',"data":' + frame + "}"
        direct = self.direct
        if direct is not None and not self.queue and direct.writable.is_set():
            if not (direct.close_sent or direct.disconnected or direct.transport.is_closing()):
                direct.transport.write(self.hub.wire(frame))
            return
        config = self.hub.config
        if len(self.queue) >= config.max_queued_frames or self.queued_bytes + len(frame) > config.max_queued_bytes:
            self.hub.slow_consumer(self)
            return
        self.queue.append(frame)
        self.queued_bytes += len(frame)
        self.wake.set()

    def close_after_queued(self, code: int = _CLOSE_NORMAL) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.queue.append(None)
        self.wake.set()
        self.hub._forget(self)

    async def pump(self) -> None:
        queue, send, direct = self.queue, self.send, self.direct
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while queue:
                    frame = queue[0]
                    if frame is None:
                        queue.popleft()
                        await send({"type": "websocket.close", "code": self.close_code})
                        return
                    if direct is None:
                        queue.popleft()
                        self.queued_bytes -= len(frame)
                        await send({"type": "websocket.send", "text": frame})
                        continue
                    await direct.writable.wait()
                    if direct.close_sent or direct.disconnected or direct.transport.is_closing():
                        return
                    if queue and queue[0] is frame:  # still ours to send (not dropped as a slow consumer meanwhile)
                        queue.popleft()
                        self.queued_bytes -= len(frame)
                        direct.transport.write(self.hub.wire(frame))
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away mid-send
            return


class _Coalescer:
    """Diff depth of one book at one period: merges batches, sends one event per period."""

    __slots__ = ("hub", "symbol", "rate_ms", "key", "last_u", "first", "last", "ts_ms", "bids", "asks", "decimals", "timer", "flushed_at")

    def __init__(self, hub: StreamHub, symbol: str, rate_ms: int, last_u: int) -> None:
        self.hub = hub
        self.symbol = symbol
        self.rate_ms = rate_ms
        self.key = f"{symbol}@depth@{rate_ms}ms"
        self.last_u = last_u  # u of the last event of this stream (the next one's pu)
        self.first = 0
        self.last = 0
        self.ts_ms = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.decimals = (0, 0)
        self.timer: asyncio.TimerHandle | None = None
        self.flushed_at = 0.0

    def add(self, change: DepthChange, loop: asyncio.AbstractEventLoop) -> None:
        if change.last <= self.last_u:
            return  # already in what this stream reported (a batch from before the sink joined)
        if not self.first:
            self.first = change.first
        self.last = change.last
        self.ts_ms = change.ts_ms
        self.decimals = (change.price_decimals, change.qty_decimals)
        self.bids.update(change.bids)
        self.asks.update(change.asks)
        if self.timer is None:
            delay = self.flushed_at + self.rate_ms / 1000 - loop.time()
            self.timer = loop.call_later(delay if delay > 0 else 0, self.flush)

    def flush(self) -> None:
        self.timer = None
        loop = self.hub._loop
        self.flushed_at = loop.time() if loop is not None else 0.0
        if not self.first:
            return
        subscribers = self.hub.subs.get(self.key)
        if subscribers:
            pd, qd = self.decimals
            body = {
                "e": "depthUpdate",
                "E": self.hub.clock_ms(),
                "T": self.ts_ms,
                "s": self.symbol,
                "U": self.first,
                "u": self.last,
                "pu": self.last_u,
                "b": [[format_units(p, pd), format_units(q, qd)] for p, q in self.bids.items()],
                "a": [[format_units(p, pd), format_units(q, qd)] for p, q in self.asks.items()],
            }
            frame = text(body)
            for conn in subscribers:
                conn.push(frame, self.key)
        self.last_u = self.last
        self.first = 0
        self.bids = {}
        self.asks = {}


class _Throttle:
    """A snapshot stream (partial depth): the latest frame, at most one per period."""

    __slots__ = ("hub", "key", "rate_ms", "frame", "timer", "sent_at")

    def __init__(self, hub: StreamHub, key: str, rate_ms: int) -> None:
        self.hub = hub
        self.key = key
        self.rate_ms = rate_ms
        self.frame = ""
        self.timer: asyncio.TimerHandle | None = None
        self.sent_at = 0.0

    def offer(self, frame: str, loop: asyncio.AbstractEventLoop) -> None:
        self.frame = frame
        if self.timer is None:
            delay = self.sent_at + self.rate_ms / 1000 - loop.time()
            self.timer = loop.call_later(delay if delay > 0 else 0, self.send)

    def send(self) -> None:
        self.timer = None
        loop = self.hub._loop
        self.sent_at = loop.time() if loop is not None else 0.0
        for conn in self.hub.subs.get(self.key, ()):
            conn.push(self.frame, self.key)


@dataclass(slots=True, kw_only=True)
class ListenKey:
    token: str
    key_id: str
    account: int
    expires_ms: int
    conns: set[Conn] = field(default_factory=set)


class KeyedCall(Protocol):
    """What a listen-key handler needs of a REST call (``rest.Call``)."""

    @property
    def key(self) -> ApiKey | None: ...

    @property
    def account_id(self) -> int: ...


# --- the hub -------------------------------------------------------------------------------------


class StreamHub:
    """One gateway's streams: sockets, subscriptions, listen keys, and the sink of the writer's source."""

    def __init__(self, service: VenueService, config: StreamConfig | None = None, clock_ms: Callable[[], int] | None = None) -> None:
        self.service = service
        self.config = config or StreamConfig()
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.source = source_for(service)
        self.subs: dict[str, set[Conn]] = {}  # stream key -> sockets
        self.streams: dict[str, Stream] = {}  # stream key -> what it is (while it has subscribers)
        self.by_account: dict[int, set[Conn]] = {}
        self.conns: set[Conn] = set()
        self.listen_keys: dict[str, ListenKey] = {}
        self.key_of_api_key: dict[str, str] = {}
        self.symbols: frozenset[str] = frozenset()
        # read by the writer thread (Sink): replaced whole, never mutated
        self.wanted: frozenset[str] = frozenset()
        self.accounts: frozenset[int] = frozenset()
        self.stats = {
            "connections": 0,
            "slow_consumers_disconnected": 0,
            "listen_keys_expired": 0,
            "requests_over_limit": 0,
            "refused_over_ip_limit": 0,
        }
        self.per_ip: dict[str, int] = {}  # open sockets per client address
        self._loop: asyncio.AbstractEventLoop | None = None
        self._initial_u: dict[str, int] | None = None  # set on the writer when the sink is added
        self._coalescers: dict[str, list[_Coalescer]] = {}
        self._throttles: dict[str, _Throttle] = {}
        self._started: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._next_poll: dict[str, float] = {}
        self._last_polled: dict[str, Any] = {}
        self._kline_starts: dict[str, int] = {}
        self._wire_text = ""
        self._wire_bytes = text_frame(b"")

    def wire(self, frame: str) -> bytes:
        """``frame`` as WebSocket wire bytes, built once for all the subscribers it is pushed to."""
        if frame is not self._wire_text:
            self._wire_text = frame
            self._wire_bytes = text_frame(frame.encode())
        return self._wire_bytes

    # --- the writer's side (Sink) ----------------------------------------------------------------

    def deliver(self, published: Published) -> bool:
        loop = self._loop
        if loop is None:
            return True
        try:
            loop.call_soon_threadsafe(self._on_published, published)
        except RuntimeError:  # the loop is closed: this gateway has stopped
            return False
        return True

    def _register(self, ctx: WriterContext) -> None:
        self._initial_u = self.source.add_sink(ctx, self)

    # --- starting (on the event loop) -------------------------------------------------------------

    async def start(self) -> None:
        """Join the writer's stream source and start the periodic tasks (once, on first use)."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._started)

    def _start_soon(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        await self.service.run(self._register)
        self._init_books()
        self._tasks.append(loop.create_task(self._poll_forever()))
        self._tasks.append(loop.create_task(self._housekeeping_forever()))

    def _init_books(self) -> None:
        if self._coalescers or self._initial_u is None:
            return
        for sym, last_u in self._initial_u.items():
            self._coalescers[sym] = [_Coalescer(self, sym, rate, last_u) for rate in DEPTH_RATES_MS]
        self.symbols = frozenset(self._initial_u)

    # --- fan-out (on the event loop) ---------------------------------------------------------------

    def _on_published(self, published: Published) -> None:
        loop = self._loop
        assert loop is not None
        self._init_books()
        for change in published.depth:
            coalescers = self._coalescers.get(change.symbol)
            if coalescers is None:  # a book listed after we joined: it started empty at update id 0
                coalescers = self._coalescers[change.symbol] = [_Coalescer(self, change.symbol, rate, 0) for rate in DEPTH_RATES_MS]
                self.symbols = self.symbols | {change.symbol}
            for coalescer in coalescers:
                coalescer.add(change, loop)
        subs = self.subs
        for key, frame in published.public:
            if "@depth" in key:  # partial depth: throttled per period
                for rate in DEPTH_RATES_MS:
                    throttle = self._throttles.get(f"{key}@{rate}ms")
                    if throttle is not None:
                        throttle.offer(frame, loop)
                continue
            for conn in subs.get(key, ()):
                conn.push(frame, key)
        by_account = self.by_account
        for account, frame in published.private:
            for conn in by_account.get(account, ()):
                conn.push(frame)

    def slow_consumer(self, conn: Conn) -> None:
        """Disconnect a socket that does not keep up: drop its queue and abort its connection."""
        if conn.closed:
            return
        conn.closed = True
        conn.queue.clear()
        conn.queued_bytes = 0
        self.stats["slow_consumers_disconnected"] += 1
        loop = self._loop
        if loop is not None:
            loop.call_soon(self._forget, conn)  # not now: the caller may be iterating a subscriber set
        if conn.task is not None:
            conn.task.cancel()
        transport = getattr(getattr(conn.send, "__self__", None), "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            transport.abort()  # a close frame would wait behind the data the peer is not reading
        elif loop is not None:
            loop.create_task(_close_quietly(conn.send, _CLOSE_POLICY))

    def _forget(self, conn: Conn) -> None:
        """Remove a socket from every table."""
        self.conns.discard(conn)
        changed = False
        for key in list(conn.streams):
            changed |= self._unsubscribe(conn, key)
        if conn.account is not None:
            mine = self.by_account.get(conn.account)
            if mine is not None:
                mine.discard(conn)
                if not mine:
                    del self.by_account[conn.account]
                    changed = True
        lk = self.listen_keys.get(conn.listen_key)
        if lk is not None:
            lk.conns.discard(conn)
        if changed:
            self._publish_interest()

    def _publish_interest(self) -> None:
        wanted: set[str] = set()
        for key, stream in self.streams.items():
            if stream.feed == "pushed":
                wanted.add(stream.source_key or key)
        self.wanted = frozenset(wanted)
        self.accounts = frozenset(self.by_account)
        self.source.refresh()

    def _subscribe(self, conn: Conn, stream: Stream, name: str) -> bool:
        key = stream.key
        if key in conn.streams:
            return False
        conn.streams[key] = name
        subscribers = self.subs.get(key)
        if subscribers is None:
            subscribers = self.subs[key] = set()
            self.streams[key] = stream
            if stream.source_key:
                self._throttles[key] = _Throttle(self, key, stream.rate_ms)
        subscribers.add(conn)
        return len(subscribers) == 1

    def _unsubscribe(self, conn: Conn, key: str) -> bool:
        if conn.streams.pop(key, None) is None:
            return False
        subscribers = self.subs.get(key)
        if subscribers is None:
            return False
        subscribers.discard(conn)
        if subscribers:
            return False
        del self.subs[key]
        del self.streams[key]
        throttle = self._throttles.pop(key, None)
        if throttle is not None and throttle.timer is not None:
            throttle.timer.cancel()
        self._next_poll.pop(key, None)
        self._last_polled.pop(key, None)
        self._kline_starts.pop(key, None)
        return True

    # --- polled streams and housekeeping -------------------------------------------------------------

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("polling the market streams failed")

    async def _poll(self) -> None:
        now = time.monotonic()
        due = [k for k, s in self.streams.items() if s.feed == "polled" and self._next_poll.get(k, 0.0) <= now]
        if not due:
            return
        for key in due:
            self._next_poll[key] = now + self.streams[key].rate_ms / 1000
        starts = {k: self._kline_starts[k] for k in due if k in self._kline_starts}
        bodies = await self.service.run(lambda ctx: market_frames(ctx, due, starts))
        stamp = self.clock_ms()
        for key, body in bodies:
            subscribers = self.subs.get(key)
            if not subscribers:
                continue
            if isinstance(body, dict) and "k" in body:
                self._kline_starts[key] = body["k"]["t"]
            if "markPrice" not in key:  # mark price is sent every period, like Binance's
                if self._last_polled.get(key) == body:
                    continue  # tickers and klines: only when they changed
                self._last_polled[key] = body
            if isinstance(body, list):
                stamped: Any = [dict(item, E=stamp) for item in body]
            else:
                stamped = dict(body, E=stamp)
            frame = text(stamped)
            for conn in subscribers:
                conn.push(frame, key)

    async def _housekeeping_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.housekeeping_interval_s)
            try:
                self.expire_listen_keys()
            except Exception:
                _log.exception("listen-key housekeeping failed")

    def expire_listen_keys(self) -> int:
        """Close the streams of every listen key past its validity; returns how many expired."""
        now = self.clock_ms()
        expired = [lk for lk in self.listen_keys.values() if lk.expires_ms <= now]
        for lk in expired:
            self._drop_listen_key(lk, notify=True)
            self.stats["listen_keys_expired"] += 1
        return len(expired)

    def _drop_listen_key(self, lk: ListenKey, *, notify: bool) -> None:
        self.listen_keys.pop(lk.token, None)
        if self.key_of_api_key.get(lk.key_id) == lk.token:
            del self.key_of_api_key[lk.key_id]
        frame = text({"e": "listenKeyExpired", "E": self.clock_ms(), "listenKey": lk.token})
        for conn in list(lk.conns):
            if notify:
                conn.push(frame)
            conn.close_after_queued()

    # --- listen keys (REST handlers; they run on the event loop) -----------------------------------------

    def listen_key_handlers(self) -> dict[str, Callable[[KeyedCall, object], Any]]:
        """POST / PUT / DELETE /fapi/v1/listenKey (API-key header only, no signature)."""

        def h_create_listen_key(call: KeyedCall, ctx: object) -> Any:
            """Start a user-data stream (or extend and return the live one of this API key)."""
            account, key = call.account_id, call.key
            assert key is not None
            self._start_soon()
            now = self.clock_ms()
            token = self.key_of_api_key.get(key.key_id)
            lk = self.listen_keys.get(token) if token else None
            if lk is None or lk.expires_ms <= now:
                if lk is not None:
                    self._drop_listen_key(lk, notify=True)
                lk = ListenKey(token=secrets.token_hex(32), key_id=key.key_id, account=account, expires_ms=0)
                self.listen_keys[lk.token] = lk
                self.key_of_api_key[key.key_id] = lk.token
            lk.expires_ms = now + self.config.listen_key_validity_ms
            return {"listenKey": lk.token}

        def h_keep_alive_listen_key(call: KeyedCall, ctx: object) -> Any:
            """Extend the validity of this API key's user-data stream by the full period."""
            lk = self._live_key(call)
            lk.expires_ms = self.clock_ms() + self.config.listen_key_validity_ms
            return {"listenKey": lk.token}

        def h_close_listen_key(call: KeyedCall, ctx: object) -> Any:
            """Close this API key's user-data stream."""
            self._drop_listen_key(self._live_key(call), notify=False)
            return {}

        return {"POST": h_create_listen_key, "PUT": h_keep_alive_listen_key, "DELETE": h_close_listen_key}

    def _live_key(self, call: KeyedCall) -> ListenKey:
        account = call.account_id  # staff keys hold no account: refused as on every account endpoint
        key = call.key
        token = self.key_of_api_key.get(key.key_id) if key is not None else None
        lk = self.listen_keys.get(token) if token else None
        if lk is None or lk.account != account or lk.expires_ms <= self.clock_ms():
            raise ApiError(400, NO_SUCH_LISTEN_KEY, "This listenKey does not exist.")
        return lk

    # --- sockets ---------------------------------------------------------------------------------------

    async def serve(self, scope: dict[str, Any], receive: Callable[[], Any], send: Send, route: Route) -> None:
        """One WebSocket connection, from handshake to close."""
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        await self.start()
        lk: ListenKey | None = None
        if route.category == PRIVATE:
            lk = self.listen_keys.get(route.listen_key)
            if lk is None or lk.expires_ms <= self.clock_ms():
                await send({"type": "websocket.close", "code": _CLOSE_POLICY})
                return
        if len(self.conns) >= self.config.max_connections:
            await send({"type": "websocket.close", "code": _CLOSE_TRY_LATER})
            return
        initial: list[tuple[Stream, str]] = []
        for name in route.streams[: self.config.max_streams_per_connection]:
            stream = parse_stream(name, self.symbols)
            if stream is None or not _serves(route.category, stream):
                await send({"type": "websocket.close", "code": _CLOSE_POLICY})
                return
            initial.append((stream, name))
        client = scope.get("client")
        ip = client[0] if client else ""
        if self.per_ip.get(ip, 0) >= self.config.max_connections_per_ip:
            self.stats["refused_over_ip_limit"] += 1
            await send({"type": "websocket.close", "code": _CLOSE_TRY_LATER})
            return
        self.per_ip[ip] = self.per_ip.get(ip, 0) + 1  # held from here (no await before) to the end of the socket
        try:
            await self._serve_accepted(send, receive, route, lk, initial)
        finally:
            left = self.per_ip.get(ip, 1) - 1
            if left > 0:
                self.per_ip[ip] = left
            else:
                self.per_ip.pop(ip, None)

    async def _serve_accepted(
        self, send: Send, receive: Callable[[], Any], route: Route, lk: ListenKey | None, initial: list[tuple[Stream, str]]
    ) -> None:
        await send({"type": "websocket.accept"})
        conn = Conn(self, send, route.category, route.combined, lk.account if lk else None, lk.token if lk else "")
        self.conns.add(conn)
        self.stats["connections"] += 1
        changed = False
        if lk is not None and conn.account is not None:
            lk.conns.add(conn)
            mine = self.by_account.setdefault(conn.account, set())
            changed = not mine
            mine.add(conn)
        for stream, name in initial:
            changed |= self._subscribe(conn, stream, name)
        if changed:
            self._publish_interest()
        conn.task = asyncio.get_running_loop().create_task(conn.pump())
        try:
            while True:
                message = await receive()
                kind = message.get("type")
                if kind == "websocket.disconnect":
                    break
                if kind != "websocket.receive" or conn.closed:
                    continue
                data = message.get("text")
                if data is None:
                    raw = message.get("bytes") or b""
                    data = raw.decode("utf-8", "replace")
                if not self._within_rate(conn) or len(data) > self.config.max_request_bytes:
                    self.stats["requests_over_limit"] += 1
                    conn.close_after_queued(_CLOSE_POLICY)
                    continue
                self._request(conn, data)
        finally:
            if not conn.closed:
                conn.closed = True
                self._forget(conn)
            if conn.task is not None and not conn.task.done():
                conn.task.cancel()

    def _within_rate(self, conn: Conn) -> bool:
        now = time.monotonic()
        stamps = conn.requests
        stamps.append(now)
        while stamps and stamps[0] <= now - 1.0:
            stamps.popleft()
        return len(stamps) <= self.config.max_requests_per_second

    def _request(self, conn: Conn, data: str) -> None:
        try:
            msg = msgspec.json.decode(data)
        except msgspec.DecodeError as error:
            conn.push(_error(_INVALID_JSON, f"Invalid JSON: {error}", None))
            return
        if not isinstance(msg, dict):
            conn.push(_error(_INVALID_REQUEST, "Invalid request: a JSON object with method, params and id is expected", None))
            return
        ident = msg.get("id")
        if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (int, str))):
            conn.push(_error(_INVALID_VALUE, "Invalid value type: expected an unsigned integer or a string for 'id'", None))
            return
        method = msg.get("method")
        params = msg.get("params", [])
        if not isinstance(params, list):
            conn.push(_error(_INVALID_VALUE, "Invalid value type: 'params' must be a list", ident))
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            conn.push(self._subscription(conn, method, params, ident))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.push(text({"result": sorted(conn.streams.values()), "id": ident}))
        elif method == "SET_PROPERTY" and len(params) == 2 and params[0] == "combined" and isinstance(params[1], bool):
            conn.combined = params[1]
            conn.push(text({"result": None, "id": ident}))
        elif method == "GET_PROPERTY" and params == ["combined"]:
            conn.push(text({"result": conn.combined, "id": ident}))
        else:
            conn.push(_error(_INVALID_REQUEST, f"Invalid request: unknown method or property {method!r}", ident))

    def _subscription(self, conn: Conn, method: str, params: list[Any], ident: Any) -> str:
        if conn.category == PRIVATE:
            return _error(_INVALID_REQUEST, "Invalid request: a user-data stream takes no subscriptions", ident)
        wanted: list[tuple[Stream, str]] = []
        for name in params:
            if not isinstance(name, str):
                return _error(_INVALID_VALUE, "Invalid value type: stream names are strings", ident)
            stream = parse_stream(name, self.symbols)
            if stream is None:
                return _error(_INVALID_REQUEST, f"Invalid request: unknown stream {name!r}", ident)
            if not _serves(conn.category, stream):
                return _error(_INVALID_REQUEST, f"Invalid request: stream {name!r} is served on /{stream.category}/ws", ident)
            wanted.append((stream, name))
        changed = False
        if method == "SUBSCRIBE":
            new = {s.key for s, _ in wanted} - set(conn.streams)
            if len(conn.streams) + len(new) > self.config.max_streams_per_connection:
                return _error(_INVALID_REQUEST, f"Invalid request: at most {self.config.max_streams_per_connection} streams per connection", ident)
            for stream, name in wanted:
                changed |= self._subscribe(conn, stream, name)
        else:
            for stream, _ in wanted:
                changed |= self._unsubscribe(conn, stream.key)
        if changed:
            self._publish_interest()
        return text({"result": None, "id": ident})


def _serves(category: str, stream: Stream) -> bool:
    return category == ANY or category == stream.category


def _error(code: int, msg: str, ident: Any) -> str:
    return text({"error": {"code": code, "msg": msg}, "id": ident})


async def _close_quietly(send: Send, code: int) -> None:
    try:
        await asyncio.wait_for(send({"type": "websocket.close", "code": code}), 5.0)
    except Exception:
        return
