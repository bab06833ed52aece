"""One real venue for the gateway tests: ``harbour serve``'s composition on a free loopback port.

The server runs the live simulated market (index feeds, a 2-second funding clock, the
affiliated market maker and client flow), so every ccxt call meets a moving market, as a
client would. Clients are built from the published "connect with ccxt" snippet, unchanged
except for the import line (``ccxt`` / ``ccxt.async_support`` / ``ccxt.pro``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harbour.cli.serve import RunningVenue, start_venue

FUNDING_INTERVAL_S = 2
WAIT_S = 20.0  # bound on any wait for the market (a settlement, a fill); never asserted on


@pytest.fixture(scope="session")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVenue]:
    running = start_venue(Path(tmp_path_factory.mktemp("serve")), port=0, funding_interval_s=FUNDING_INTERVAL_S, premium_sample_s=1)
    try:
        yield running
    finally:
        running.stop()


def client(venue: RunningVenue, label: str, module: str = "ccxt") -> Any:
    """A ccxt ``binanceusdm`` built by the published snippet, for the demo key ``label``."""
    source = venue.snippet(label)
    if module != "ccxt.pro":
        source = source.replace("import ccxt.pro as ccxtpro", f"import {module} as ccxtpro")
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    return namespace["ex"]


def wait_for(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy (bounded; the market moves by itself)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def credential(venue: RunningVenue, label: str) -> tuple[str, str]:
    cred = next(c for c in venue.credentials if c.label == label)
    return cred.api_key, cred.secret


def signed(venue: RunningVenue, label: str, method: str, path: str, params: dict[str, str] | None = None, url: str = "") -> tuple[int, Any]:
    """A raw signed request (HMAC over the exact query or form body, as Binance specifies)."""
    key, secret = credential(venue, label)
    fields = dict(params or {})
    fields["timestamp"] = str(int(time.time() * 1000))
    fields["recvWindow"] = "10000"
    payload = urllib.parse.urlencode(fields)
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    payload += "&signature=" + signature
    target = (url or venue.url) + path
    data = None
    if method in ("POST", "PUT"):
        data = payload.encode()
    else:
        target += "?" + payload
    request = urllib.request.Request(target, data=data, method=method, headers={"X-MBX-APIKEY": key})
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    return _send(request)


def public(venue: RunningVenue, path: str, url: str = "") -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request((url or venue.url) + path)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), {k.lower(): v for k, v in error.headers.items()}


def _send(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
