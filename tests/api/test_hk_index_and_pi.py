"""Index prints as an auditor can check them (IOSCO P9, P18: every input, every exclusion, and a
print that recomputes bit for bit), and professional-investor status as the PI gate applies it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

from harbour.api.demo import CLIENT_A, FLOW_ACCOUNT, LAPSED_CLIENT, MM_ACCOUNT
from harbour.cli.serve import RunningVenue
from harbour.prices.index import IndexPrint, recompute

from .conftest import public, signed, wait_for


def _prints(venue: RunningVenue, query: str) -> list[dict[str, Any]]:
    status, rows, _ = public(venue, f"/hk/v1/indexPrints?symbol=BTCUSD&{query}")
    assert status == 200
    return list(rows)


def test_every_index_print_states_its_inputs_and_recomputes_bit_for_bit(venue: RunningVenue) -> None:
    rows = wait_for(lambda: len(p := _prints(venue, "limit=5&raw=true")) == 5 and p, "five index prints")

    for row in rows:
        raw = msgspec.convert(row["print"], IndexPrint)
        canonical = json.dumps(row["print"], sort_keys=True, separators=(",", ":")).encode()

        assert row["recomputes"] is True
        assert recompute(raw) == raw
        assert hashlib.blake2b(canonical, digest_size=32).hexdigest() == row["printHash"]
        assert len(row["inputs"]) == len(raw.inputs) > 0
        assert len(row["weights"]) == len(raw.methodology.constituents)
        assert row["value"] == (None if raw.value is None else f"{raw.value // 100}.{raw.value % 100:02d}")
        assert [(x["venue"], x["reason"], x["detail"]) for x in row["exclusions"]] == [(x.input.venue, x.reason.value, x.detail) for x in raw.exclusions]


def test_index_prints_page_by_time_oldest_first_from_a_start(venue: RunningVenue) -> None:
    latest = _prints(venue, "limit=3")
    start = latest[0]["time"]

    from_start = _prints(venue, f"startTime={start}&limit=2")

    assert [r["seq"] for r in from_start] == [r["seq"] for r in latest[:2]]
    assert [r["seq"] for r in latest] == sorted(r["seq"] for r in latest)


def _pi(venue: RunningVenue, label: str, **params: str) -> dict[int, dict[str, Any]]:
    status, body = signed(venue, label, "GET", "/hk/v1/professionalInvestor", params)
    assert status == 200
    return {row["account"]: row for row in body["accounts"]}


def test_a_client_sees_its_own_professional_investor_status_and_expiry(venue: RunningVenue) -> None:
    mine = _pi(venue, "client-a")
    lapsed = _pi(venue, "lapsed-pi-client")

    assert list(mine) == [CLIENT_A]
    assert (mine[CLIENT_A]["status"], mine[CLIENT_A]["canIncreaseExposure"]) == ("VALID", True)
    assert mine[CLIENT_A]["expiryTime"] == mine[CLIENT_A]["reverificationDue"] == mine[CLIENT_A]["history"][-1]["newExpiryTime"]
    assert (lapsed[LAPSED_CLIENT]["status"], lapsed[LAPSED_CLIENT]["canIncreaseExposure"]) == ("EXPIRED", False)


def test_compliance_sees_the_whole_register_and_the_market_maker_is_outside_the_gate(venue: RunningVenue) -> None:
    register = _pi(venue, "compliance")
    one = _pi(venue, "auditor", account=str(LAPSED_CLIENT))

    assert {MM_ACCOUNT, CLIENT_A, LAPSED_CLIENT, FLOW_ACCOUNT} <= set(register)
    assert register[MM_ACCOUNT]["status"] == "NOT_APPLICABLE" and register[MM_ACCOUNT]["expiryTime"] is None
    assert list(one) == [LAPSED_CLIENT]


def test_the_market_maker_cannot_read_a_clients_status(venue: RunningVenue) -> None:
    status, body = signed(venue, "market-maker", "GET", "/hk/v1/professionalInvestor", {"account": str(CLIENT_A)})

    assert (status, body["code"]) == (400, -9012)
