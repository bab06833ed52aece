"""The operator's actions through the gateway (instrument states, the margin-asset register) and
the venue's own rules they bring into play, each refused with its own code and a clear message.

Every test puts the shared venue back as it found it (the other gateway tests use it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from harbour.cli.serve import RunningVenue

from .conftest import public, signed, wait_for

ETH = "ETHHKD"
STATE = "/hk/v1/operator/instrumentState"


def _set_state(venue: RunningVenue, state: str, reason: str) -> tuple[int, Any]:
    return signed(venue, "operator", "POST", STATE, {"symbol": ETH, "state": state, "reason": reason})


@pytest.fixture()
def eth_open_again(venue: RunningVenue) -> Iterator[None]:
    try:
        yield
    finally:
        _set_state(venue, "OPEN", "end of test")


def _order(venue: RunningVenue, side: str, qty: str, **extra: str) -> tuple[int, Any]:
    return signed(venue, "client-a", "POST", "/fapi/v1/order", {"symbol": ETH, "side": side, "type": "MARKET", "quantity": qty, **extra})


def test_in_close_only_a_client_may_reduce_but_not_open(venue: RunningVenue, eth_open_again: None) -> None:
    wait_for(lambda: public(venue, f"/fapi/v1/depth?symbol={ETH}&limit=5")[1]["asks"], "the market maker's ETH quotes")
    opened = _order(venue, "BUY", "0.010")
    status, change = _set_state(venue, "CLOSE_ONLY", "orderly wind-down drill")

    refused = _order(venue, "BUY", "0.001")
    reduced = _order(venue, "SELL", "0.010", reduceOnly="true")

    assert opened[0] == 200 and opened[1]["status"] == "FILLED"
    assert status == 200
    assert (change["old"], change["new"]) == ("OPEN", "CLOSE_ONLY")
    assert change["reason"].startswith("orderly wind-down drill (operator key ")
    assert refused[0] == 400 and refused[1]["code"] == -9003
    assert refused[1]["msg"].startswith("Instrument is close-only: orders may only reduce positions.")
    assert reduced[0] == 200


def test_a_halted_instrument_refuses_new_orders_with_its_own_code(venue: RunningVenue, eth_open_again: None) -> None:
    _set_state(venue, "HALTED", "index feed outage drill")

    status, body = _order(venue, "BUY", "0.001")
    _, states, _ = public(venue, "/hk/v1/instrumentState")

    assert (status, body["code"]) == (400, -9005)
    assert body["msg"].startswith("Instrument is halted: no new orders or amendments; cancels are accepted.")
    eth = next(i for i in states["instruments"] if i["symbol"] == ETH)
    assert eth["state"] == "HALTED"
    assert eth["changes"][-1]["new"] == "HALTED" and eth["changes"][-1]["reason"].startswith("index feed outage drill")


def test_an_instrument_opens_again_and_its_state_history_keeps_every_change(venue: RunningVenue) -> None:
    _set_state(venue, "HALTED", "halt")
    status, change = _set_state(venue, "OPEN", "resume")
    _, states, _ = public(venue, "/hk/v1/instrumentState?limit=2")

    eth = next(i for i in states["instruments"] if i["symbol"] == ETH)
    assert status == 200
    assert eth["state"] == "OPEN"
    assert [(c["old"], c["new"]) for c in eth["changes"]] == [("OPEN", "HALTED"), ("HALTED", "OPEN")]
    assert eth["changes"][-1]["seq"] == change["seq"]


def test_operator_parameters_are_checked_before_anything_is_journaled(venue: RunningVenue) -> None:
    bad_state = signed(venue, "operator", "POST", STATE, {"symbol": ETH, "state": "PAUSED", "reason": "x"})
    no_reason = signed(venue, "operator", "POST", STATE, {"symbol": ETH, "state": "OPEN"})
    bad_list = signed(venue, "operator", "POST", "/hk/v1/operator/issuerRegister", {"issuers": "ISSUER-A", "registerRef": "x"})

    assert (bad_state[0], bad_state[1]["code"]) == (400, -1130)
    assert (no_reason[0], no_reason[1]["code"]) == (400, -1102)
    assert (bad_list[0], bad_list[1]["code"]) == (400, -1130)


def _asset(venue: RunningVenue, asset: str) -> dict[str, Any]:
    _, register, _ = public(venue, "/hk/v1/marginAssets")
    return dict(next(a for a in register["assets"] if a["asset"] == asset))


def test_a_stablecoin_whose_issuer_leaves_the_hkma_register_stops_counting_as_margin(venue: RunningVenue) -> None:
    path = "/hk/v1/operator/issuerRegister"
    _, before, _ = public(venue, "/hk/v1/marginAssets")
    original = before["issuerRegister"]
    added = signed(venue, "operator", "POST", path, {"issuers": '["ISSUER-A","ISSUER-B"]', "registerRef": "HKMA register 2026-11-22"})
    eligible = _asset(venue, "HKDY")
    removed = signed(venue, "operator", "POST", path, {"issuers": '["ISSUER-A"]', "registerRef": "HKMA register 2026-11-23"})
    ineligible = _asset(venue, "HKDY")
    _, after, _ = public(venue, "/hk/v1/marginAssets")
    signed(venue, "operator", "POST", path, {"issuers": json.dumps(original["issuers"]), "registerRef": original["registerRef"]})

    assert added[0] == removed[0] == 200
    assert added[1]["added"] == ["ISSUER-B"] and removed[1]["removed"] == ["ISSUER-B"]
    assert removed[1]["assetsNowIneligible"] == ["HKDY"]
    assert (eligible["eligible"], ineligible["eligible"]) == (True, False)
    assert ineligible["why"] == "issuer not on the HKMA licensed stablecoin issuer register"
    assert after["issuerRegister"] == {"issuers": ["ISSUER-A"], "registerRef": "HKMA register 2026-11-23"}
    assert [u["type"] for u in after["updates"][-2:]] == ["ISSUER_REGISTER", "ISSUER_REGISTER"]


def test_a_tokenised_deposit_whose_bank_leaves_the_allowlist_stops_counting(venue: RunningVenue) -> None:
    path = "/hk/v1/operator/depositBankAllowlist"

    status, body = signed(venue, "operator", "POST", path, {"banks": "[]"})
    ineligible = _asset(venue, "TDHKD")
    signed(venue, "operator", "POST", path, {"banks": '["BANK-A"]'})

    assert status == 200
    assert body["assetsNowIneligible"] == ["TDHKD"]
    assert ineligible["eligible"] is False and _asset(venue, "TDHKD")["eligible"] is True


def test_a_virtual_asset_is_never_margin_whatever_the_haircut(venue: RunningVenue) -> None:
    status, body = signed(venue, "operator", "POST", "/hk/v1/operator/marginAssetHaircut", {"asset": "BTC", "haircutBps": "5000"})

    assert (status, body["code"]) == (400, -9004)
    assert body["msg"] == "Margin asset is not eligible. virtual asset BTC is not accepted as perpetual margin"


def test_hedge_mode_is_refused_as_not_offered(venue: RunningVenue) -> None:
    status, body = signed(venue, "client-a", "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})

    assert (status, body["code"]) == (400, -9011)
