"""Long random command streams keep every venue invariant after every step.

The driver (tests/venue/helpers.py) runs ``check_all`` after each command and fails on
any finding; it also checks that a rejected command emitted only its reject and left the
state hash unchanged, and that every TransferPosted is balanced.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given

from harbour.venue import check_all
from harbour.venue.events import AutoDeleveraged, TradeExecuted, TransferPosted

from properties.profile import examples
from properties.streams import Setup, run_stream, setups, streams


@examples(120)
@given(setup=setups(), stream=streams(max_size=90))
def test_random_command_streams_keep_every_invariant_after_every_step(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    v = run_stream(setup, stream)

    assert check_all(v.state) == []


@examples(40)
@given(setup=setups(), stream=streams(max_size=90))
def test_every_ledger_balance_is_reproduced_by_the_transfer_events(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    v = run_stream(setup, stream, check_rejects=False)

    rebuilt: dict[tuple[str, str], int] = {}
    for transfer in v.events_of(TransferPosted):
        for account, asset, amount in transfer.postings:
            key = (str(account), asset)
            rebuilt[key] = rebuilt.get(key, 0) + amount
    ledger = {(str(a), s): x for a, wallet in v.state.ledger.accounts() for s, x in wallet.items() if x}

    assert {k: x for k, x in rebuilt.items() if x} == ledger


@examples(40)
@given(setup=setups(), stream=streams(max_size=90))
def test_positions_are_reproduced_by_the_trade_and_deleveraging_events(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    v = run_stream(setup, stream, check_rejects=False)

    positions: dict[tuple[int, str], int] = {}
    for t in v.events_of(TradeExecuted):
        signed = t.qty if t.taker_side.value == "BUY" else -t.qty
        positions[(t.taker_account, t.instrument)] = positions.get((t.taker_account, t.instrument), 0) + signed
        positions[(t.maker_account, t.instrument)] = positions.get((t.maker_account, t.instrument), 0) - signed
    for d in v.events_of(AutoDeleveraged):  # the counterparty trades counterparty_side, the defaulter the other
        signed = d.qty if d.counterparty_side.value == "BUY" else -d.qty
        positions[(d.counterparty, d.instrument)] = positions.get((d.counterparty, d.instrument), 0) + signed
        positions[(d.account, d.instrument)] = positions.get((d.account, d.instrument), 0) - signed
    engine = {(a.account_id, sym): p.qty for a in v.state.accounts.values() for sym, p in a.positions.items() if p.qty}

    assert {k: q for k, q in positions.items() if q} == engine
