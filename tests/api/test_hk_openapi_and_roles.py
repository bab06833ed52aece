"""The published API: every route the gateway serves is in its OpenAPI document, described, with
the key roles it accepts; and the gateway lets through exactly the roles the document names."""

from __future__ import annotations

from typing import Any

import pytest

from harbour.api import Gateway
from harbour.api.errors import own_codes
from harbour.api.hk import routes
from harbour.cli.serve import RunningVenue

from .conftest import public, signed

ROLE_KEYS = {"CLIENT": "client-a", "AFFILIATED_MM": "market-maker", "OPERATOR": "operator", "COMPLIANCE": "compliance", "AUDITOR": "auditor"}
SIGNED_HK = [(r.method, r.path) for r in routes() if r.roles is not None]
PUBLIC_HK = [r.path for r in routes() if r.roles is None and r.method == "GET"]
REFUSALS = {(400, -9008), (401, -2015)}


@pytest.fixture(scope="module")
def document(venue: RunningVenue) -> dict[str, Any]:
    status, body, _ = public(venue, "/openapi.json")
    assert status == 200
    return dict(body)


def test_every_served_route_appears_in_the_openapi_document(venue: RunningVenue, document: dict[str, Any]) -> None:
    gateway = Gateway(venue.service, venue.keys)
    served = gateway.paths
    operations = {(m, p) for p, ops in document["paths"].items() for m in ops}

    assert served - set(document["paths"]) == set()
    assert {(m.lower(), p) for m, p in gateway.table} - operations == set()
    assert ("get", "/openapi.json") in operations


def test_every_operation_is_described_with_its_roles_and_parameters(document: dict[str, Any]) -> None:
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            names = {p["name"] for p in op["parameters"]} | set(op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {}).get("schema", {}).get("properties", {}))

            assert "x-undocumented" not in op, where
            assert op["summary"] and op["description"], where
            assert set(op["x-roles"]) <= set(ROLE_KEYS), where
            assert bool(op["security"]) == bool(op["x-roles"]), where
            if op["security"] and "signature" in op["security"][0]:
                assert {"timestamp", "signature"} <= names, where


def test_the_document_lists_every_harbour_error_code_with_its_meaning(document: dict[str, Any]) -> None:
    listed = {row["code"]: row for row in document["info"]["x-error-codes"]}

    assert sorted(listed) == sorted(code for code, _, _ in own_codes())
    assert set(range(-9013, -9000)) <= set(listed)
    assert all(row["meaning"] for row in listed.values())
    assert "never emitted" in listed[-9007]["meaning"]


@pytest.mark.parametrize(("method", "path"), SIGNED_HK, ids=[f"{m} {p}" for m, p in SIGNED_HK])
def test_each_role_is_let_through_exactly_where_the_document_says(venue: RunningVenue, document: dict[str, Any], method: str, path: str) -> None:
    allowed = set(document["paths"][path][method.lower()]["x-roles"])

    for role, label in ROLE_KEYS.items():
        status, body = signed(venue, label, method, path, {"symbol": "BTCUSD"})  # no other parameter: a write stops at -1102

        refused = (status, body.get("code") if isinstance(body, dict) else None) in REFUSALS
        assert refused == (role not in allowed), f"{role} on {method} {path}: {status} {body}"


@pytest.mark.parametrize("path", PUBLIC_HK)
def test_public_venue_endpoints_name_no_account(venue: RunningVenue, path: str) -> None:
    status, body, _ = public(venue, f"{path}?symbol=BTCUSD")

    assert status == 200
    assert _no_account_values(body)


def _no_account_values(node: Any) -> bool:
    if isinstance(node, dict):
        return all((k not in ("account", "counterparty") or v is None) and _no_account_values(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_no_account_values(item) for item in node)
    return True
