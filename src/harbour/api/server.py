"""Running the gateway: uvicorn on a loopback socket, in the foreground or in a thread.

``ServerThread`` is what tests and embedders use: it binds the socket first (port 0 picks a
free one), starts uvicorn in a daemon thread and returns once it accepts connections.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


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


def _config(app: Any, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", ws="websockets-sansio", timeout_graceful_shutdown=2)


class ServerThread:
    """uvicorn serving ``app`` on a bound socket in a background thread."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.socket = bind(host, port)
        self.host, self.port = self.socket.getsockname()[:2]
        self.server = uvicorn.Server(_config(app, log_level))
        self._thread = threading.Thread(target=self._run, name="harbour-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

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
