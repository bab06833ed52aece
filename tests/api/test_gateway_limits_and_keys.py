"""Request-weight limits with Binance's headers and refusals, request size limits, and Ed25519 keys
(only the public key is stored) used by an unmodified ccxt client."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harbour.api import Gateway, GatewayConfig, Role, Scope, ServerThread
from harbour.api.demo import CLIENT_A
from harbour.cli.serve import RunningVenue

from .conftest import _send, client, public, signed

BTC = "BTC/USD:USD"


@pytest.fixture()
def strict_gateway(venue: RunningVenue) -> Iterator[str]:
    """A second gateway on the same writer with a limit of 5 weight a minute and a still clock."""
    now = venue.service.call(lambda ctx: ctx.now_ns // 1_000_000)
    config = GatewayConfig(clock_ms=lambda: now, ip_weight_per_minute=5, key_weight_per_minute=5, ban_ms=60_000)
    server = ServerThread(Gateway(venue.service, venue.keys, config).app).start()
    try:
        yield server.url
    finally:
        server.stop()


def test_every_answer_reports_the_weight_used_this_minute(venue: RunningVenue, strict_gateway: str) -> None:
    weights = [int(public(venue, "/fapi/v1/ping", strict_gateway)[2]["x-mbx-used-weight-1m"]) for _ in range(3)]

    assert weights == [1, 2, 3]


def test_weight_beyond_the_limit_is_refused_with_429_then_banned_with_418(venue: RunningVenue, strict_gateway: str) -> None:
    statuses = [public(venue, "/fapi/v1/ping", strict_gateway)[:2] for _ in range(7)]

    assert [s for s, _ in statuses] == [200, 200, 200, 200, 200, 429, 418]
    assert statuses[5][1]["code"] == statuses[6][1]["code"] == -1003


def test_ccxt_sees_a_refusal_for_rate_as_ddos_protection(venue: RunningVenue, strict_gateway: str) -> None:
    ex = client(venue, "client-a")
    ex.urls["api"] = {k: (strict_gateway + v[len(venue.url) :] if isinstance(v, str) and v.startswith(venue.url) else v) for k, v in ex.urls["api"].items()}
    for _ in range(5):
        public(venue, "/fapi/v1/ping", strict_gateway)

    with pytest.raises(ccxt.DDoSProtection):
        ex.fetch_time()


def test_a_body_larger_than_the_limit_is_refused(venue: RunningVenue) -> None:
    request = urllib.request.Request(venue.url + "/fapi/v1/order", data=b"a=" + b"x" * 20_000, method="POST")

    status, body = _send(request)

    assert status == 413 and body["code"] == -1101


def test_duplicate_parameters_are_refused(venue: RunningVenue) -> None:
    status, body = public(venue, "/fapi/v1/depth?symbol=BTCUSD&symbol=ETHHKD")[:2]

    assert status == 400 and body["code"] == -1101


def test_a_key_without_the_trade_scope_cannot_trade(venue: RunningVenue) -> None:
    key, secret = venue.keys.issue_hmac(Role.CLIENT, CLIENT_A, (Scope.READ,), label="read-only")
    ex = client(venue, "client-a")
    ex.apiKey, ex.secret = key.key_id, secret
    ex.load_markets()

    balance = ex.fetch_balance()
    with pytest.raises(ccxt.AuthenticationError):
        ex.create_order(BTC, "market", "buy", 0.001)

    assert balance["USD"]["total"] > 0


def test_a_key_bound_to_other_addresses_is_refused(venue: RunningVenue) -> None:
    key, _ = venue.keys.issue_hmac(Role.CLIENT, CLIENT_A, (Scope.READ,), ip_allowlist=("10.9.8.7",), label="elsewhere")
    venue.keys.keys[key.key_id] = key
    status, body = signed(venue, "client-a", "GET", "/fapi/v3/account")
    assert status == 200

    ex = client(venue, "client-a")
    ex.apiKey, ex.secret = key.key_id, venue.keys.hmac_secret(key.key_id)
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()


def _ed25519_pem() -> tuple[str, bytes]:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem, public_raw


def test_an_ed25519_key_signs_for_ccxt_and_only_its_public_half_is_stored(venue: RunningVenue) -> None:
    pem, public_raw = _ed25519_pem()
    key = venue.keys.register_ed25519(Role.CLIENT, CLIENT_A, (Scope.READ, Scope.TRADE), public_raw, label="ed25519")
    ex: Any = client(venue, "client-a")
    ex.apiKey, ex.secret = key.key_id, pem
    ex.load_markets()

    mark = float(ex.fetch_funding_rate(BTC)["markPrice"])
    order = ex.create_order(BTC, "limit", "buy", 0.001, float(ex.price_to_precision(BTC, mark * 0.98)))
    cancelled = ex.cancel_order(order["id"], BTC)

    assert cancelled["status"] == "canceled"
    assert key.public_key == public_raw and "PRIVATE" not in repr(key)


def test_an_ed25519_signature_from_another_private_key_is_refused(venue: RunningVenue) -> None:
    _, public_raw = _ed25519_pem()
    other_pem, _ = _ed25519_pem()
    key = venue.keys.register_ed25519(Role.CLIENT, CLIENT_A, (Scope.READ,), public_raw, label="ed25519-other")
    ex = client(venue, "client-a")
    ex.apiKey, ex.secret = key.key_id, other_pem

    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()


def test_a_forged_forwarded_for_header_neither_passes_an_ip_allowlist_nor_escapes_the_ip_weight(venue: RunningVenue, strict_gateway: str) -> None:
    key, secret = venue.keys.issue_hmac(Role.CLIENT, CLIENT_A, (Scope.READ,), ip_allowlist=("10.9.8.7",), label="forged")
    venue.keys.keys[key.key_id] = key
    ex = client(venue, "client-a")
    ex.apiKey, ex.secret = key.key_id, secret
    ex.headers = {"X-Forwarded-For": "10.9.8.7"}
    forged = urllib.request.Request(strict_gateway + "/fapi/v1/ping", headers={"X-Forwarded-For": "10.1.1.1"})

    weights = []
    for _ in range(2):
        with urllib.request.urlopen(forged, timeout=10) as response:
            weights.append(int(response.headers["x-mbx-used-weight-1m"]))

    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_balance()
    assert weights == [1, 2]  # counted against the loopback caller, whatever the header says
