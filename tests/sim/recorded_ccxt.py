"""Real ccxt exchange objects whose HTTP layer answers from recorded JSON, never the network.

A fixture (``fixtures/ccxt_<venue>_<pair>.json``) lists responses by method and URL path.
``recorded_exchange`` builds the real ccxt class, replaces its ``fetch`` (the one method
every REST call of the sync API goes through, after ccxt has built the URL) with a
lookup in the recording, and replaces its ``requests`` session with one that fails the
test if anything reaches it. So ccxt's own market loading and response parsing run on
the recorded bodies. A path listed in ``fail`` raises ``ccxt.NetworkError`` instead (a
venue outage); ``bodies`` overrides a recorded body for one test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt

FIXTURES = Path(__file__).parent / "fixtures"


class _NoNetwork:
    def request(self, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test tried to reach the network: {args!r}")

    @property
    def cookies(self) -> Any:
        return {}


def load_recording(name: str) -> dict[str, Any]:
    recording: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return recording


class RecordedTransport:
    """Answers ccxt's ``fetch(url, method, headers, body)`` from a recording."""

    def __init__(self, recording: Mapping[str, Any], fail: Iterable[str] = (), bodies: Mapping[str, object] | None = None) -> None:
        self.responses = {(r["method"], r["path"]): r["body"] for r in recording["responses"]}
        self.fail = set(fail)
        self.bodies = dict(bodies or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, url: str, method: str = "GET", headers: object = None, body: object = None) -> Any:
        parts = urlsplit(url)
        self.requests.append((method, parts.path, dict(parse_qsl(parts.query))))
        if parts.path in self.fail:
            raise ccxt.NetworkError(f"recorded outage: {method} {parts.path}")
        if parts.path in self.bodies:
            return copy.deepcopy(self.bodies[parts.path])
        key = (method, parts.path)
        if key not in self.responses:
            raise AssertionError(f"no recorded answer for {method} {url}")
        return copy.deepcopy(self.responses[key])

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


def recorded_exchange(
    fixture: str, fail: Iterable[str] = (), bodies: Mapping[str, object] | None = None
) -> tuple[Any, RecordedTransport]:
    """The real ccxt exchange named in ``fixture``, answering from it; and its transport."""
    recording = load_recording(fixture)
    venue = recording["venue"]
    options = {"fetchMarkets": {"types": ["spot"]}} if venue in ("binance", "okx") else {}
    exchange = getattr(ccxt, venue)({"enableRateLimit": False, "options": options})
    transport = RecordedTransport(recording, fail, bodies)
    exchange.fetch = transport
    exchange.session = _NoNetwork()
    return exchange, transport
