"""Disclosures: what a client reads is the version and content the venue publishes, and what it
acknowledges is recorded (regulation.md (c) 15: "the version each client received and when")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harbour.api.demo import CLIENT_A
from harbour.cli.serve import RunningVenue, start_venue

from .conftest import public, signed

ACK = "/hk/v1/disclosures/acknowledgement"
ACKS = "/hk/v1/disclosures/acknowledgements"


def _current(venue: RunningVenue, fmt: str = "json") -> dict[str, Any]:
    status, body, _ = public(venue, f"/hk/v1/disclosures?format={fmt}")
    assert status == 200
    (doc,) = body["disclosures"]
    return dict(doc)


def _acknowledge(venue: RunningVenue, label: str, doc: dict[str, Any]) -> tuple[int, Any]:
    return signed(venue, label, "POST", ACK, {"version": str(doc["version"]), "contentHash": doc["contentHash"]})


def test_the_published_content_hash_is_the_hash_of_the_rules_a_client_downloads(venue: RunningVenue) -> None:
    doc = _current(venue)
    canonical = json.dumps(doc["content"]["rules"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    assert hashlib.blake2b(canonical, digest_size=32).hexdigest() == doc["contentHash"]
    assert doc["content"]["version"] == doc["version"]
    assert doc["content"]["document_hash"] == doc["documentHash"]


def test_the_markdown_rendering_states_the_same_version_and_hash(venue: RunningVenue) -> None:
    doc = _current(venue, "markdown")

    assert doc["format"] == "markdown"
    assert f"- Version: **{doc['version']}**" in doc["content"]
    assert f"- Content hash: `{doc['contentHash']}`" in doc["content"]


def test_a_client_acknowledges_the_current_disclosure_once_and_it_is_recorded(venue: RunningVenue) -> None:
    doc = _current(venue)

    first = _acknowledge(venue, "client-a", doc)
    again = _acknowledge(venue, "client-a", doc)
    _, mine = signed(venue, "client-a", "GET", ACKS)
    _, staff = signed(venue, "compliance", "GET", ACKS, {"account": str(CLIENT_A)})

    assert first[0] == again[0] == 200
    assert first[1] == again[1]
    assert (first[1]["account"], first[1]["version"], first[1]["contentHash"]) == (CLIENT_A, doc["version"], doc["contentHash"])
    assert mine["accounts"] == [{"account": CLIENT_A, "acknowledgedCurrent": True}]
    assert mine["acknowledgements"].count(first[1]) == 1
    assert staff["acknowledgements"] == mine["acknowledgements"]


def test_an_acknowledgement_of_a_superseded_version_is_refused(venue: RunningVenue) -> None:
    before = _current(venue)
    status, changed = signed(venue, "operator", "POST", "/hk/v1/operator/marginAssetHaircut", {"asset": "HKDX", "haircutBps": "300"})
    try:
        status_ack, refused = _acknowledge(venue, "client-b", before)
        now = _current(venue)
    finally:
        signed(venue, "operator", "POST", "/hk/v1/operator/marginAssetHaircut", {"asset": "HKDX", "haircutBps": str(changed["oldBps"])})

    assert status == 200
    assert now["version"] > before["version"]
    assert (status_ack, refused["code"]) == (400, -9013)
    assert f"version {now['version']}" in refused["msg"] and now["contentHash"] in refused["msg"]


def test_staff_keys_cannot_acknowledge_for_anyone(venue: RunningVenue) -> None:
    doc = _current(venue)

    refusals = {label: _acknowledge(venue, label, doc) for label in ("operator", "compliance", "auditor")}

    assert refusals["operator"][0] == 400 and refusals["operator"][1]["code"] == -9008
    assert all(status == 401 and body["code"] == -2015 for status, body in (refusals["compliance"], refusals["auditor"]))


def test_acknowledgements_survive_a_restart_and_a_fresh_venue_starts_its_own_log(tmp_path: Path) -> None:
    venue = start_venue(tmp_path, port=0, market=False)
    try:
        acked = _acknowledge(venue, "client-a", _current(venue))[1]
    finally:
        venue.stop()
    resumed = start_venue(tmp_path, port=0, market=False, resume=True)
    try:
        after_restart = signed(resumed, "client-a", "GET", ACKS)[1]["acknowledgements"]
    finally:
        resumed.stop()
    fresh = start_venue(tmp_path, port=0, market=False)
    try:
        in_fresh_venue = signed(fresh, "client-a", "GET", ACKS)[1]["acknowledgements"]
    finally:
        fresh.stop()

    assert after_restart == [acked]
    assert in_fresh_venue == []
    assert len(list(tmp_path.glob("disclosure-acknowledgements-*.log"))) == 1  # the fresh venue has acknowledged nothing yet
