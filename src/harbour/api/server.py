"""Running the gateway: uvicorn on a loopback socket, in the foreground or in a thread.

``ServerThread`` is what tests and embedders use: it binds the socket first (port 0 picks a
free one), starts uvicorn in a daemon thread and returns once it accepts connections.

Event loop and HTTP parser: uvloop and httptools when importable (pinned dependencies), else
asyncio and h11; the gateway behaves the same on either (tests run on the default). WebSocket
permessage-deflate is declined: compressing every frame for every subscriber costs the server
more CPU than the loopback or LAN bytes it saves (see docs/performance.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import threading
import time
from typing import Any, Final

import uvicorn


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


LOOP: Final = "uvloop" if _importable("uvloop") else "asyncio"
HTTP: Final = "httptools" if _importable("httptools") else "h11"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit it; asyncio sets no TCP_NODELAY on them (proto 0), and Nagle plus
    # delayed ACKs would hold every response ~40 ms
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _config(app: Any, log_level: str, loop: str = LOOP, http: str = HTTP, ws_deflate: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # the peer address is the caller's: uvicorn would otherwise believe X-Forwarded-For from any
        # loopback client, so a local caller could name an allowlisted IP or dodge its IP weight
        proxy_headers=False,
        loop=loop,
        http=http,
        ws="websockets-sansio",
        ws_per_message_deflate=ws_deflate,
        timeout_graceful_shutdown=2,
    )


class ServerThread:
    """uvicorn serving ``app`` on a bound socket in a background thread."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        *,
        loop: str = LOOP,
        http: str = HTTP,
        ws_deflate: bool = False,
    ) -> None:
        self.socket = bind(host, port)
        self.host, self.port = self.socket.getsockname()[:2]
        self.server = uvicorn.Server(_config(app, log_level, loop, http, ws_deflate))
        self._thread = threading.Thread(target=self._run, name="harbour-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            runner.run(self.server.serve(sockets=[self.socket]))

    def start(self, timeout_s: float = 20.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)
        self.socket.close()


def serve_forever(app: Any, host: str, port: int, log_level: str = "warning") -> None:
    """Serve ``app`` in the foreground until interrupted (Ctrl-C)."""
    sock = bind(host, port)
    try:
        uvicorn.Server(_config(app, log_level)).run(sockets=[sock])
    finally:
        sock.close()
