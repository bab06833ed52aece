"""State export: the same commands give the same events and hash; a snapshot restores
to the same hash and then behaves the same; the state stays exportable."""

from __future__ import annotations

from harbour.venue import VenueEngine, check_all
from harbour.venue.commands import Deposit, SetMarginMode, TransferIsolatedMargin

from venue.helpers import BTC_REF, BTCUSD, BUY, ETH_REF, ETHHKD, IOC, SELL, Venue, hkd


def _busy(v: Venue) -> None:
    """Trades, resting orders of clients and an MM, a client order id, an isolated position."""
    v.open_client(1, usd=100_000, hkd=100_000, hkdx=hkd(5_000))
    v.open_client(2, usd=100_000, hkd=100_000, entity="GROUP-B")
    v.open_mm(9, usd=1_000_000, hkd=1_000_000)
    v.cross(9, 1, BTCUSD, BUY, 7, BTC_REF)
    v.rest(9, BTCUSD, SELL, 5, BTC_REF + 10)
    v.rest(1, BTCUSD, BUY, 3, BTC_REF - 10, client_order_id="keep")
    v.ok(SetMarginMode(account=2, instrument=ETHHKD, isolated=True))
    v.ok(TransferIsolatedMargin(account=2, instrument=ETHHKD, amount=hkd(5_000)))
    v.cross(9, 2, ETHHKD, SELL, 40, ETH_REF)
    v.set_ref(BTCUSD, BTC_REF + 3_000)


def test_same_commands_give_the_same_events_and_state_hash() -> None:
    first, second = Venue(), Venue()

    _busy(first)
    _busy(second)

    assert first.events == second.events
    assert first.hash() == second.hash()


def test_state_hash_differs_when_state_differs(venue: Venue) -> None:
    _busy(venue)
    before = venue.hash()

    venue.deposit(1, "HKD", hkd(1))

    assert venue.hash() != before


def test_snapshot_restores_to_the_same_hash_and_bytes(venue: Venue) -> None:
    _busy(venue)

    snapshot = venue.engine.snapshot()
    restored = VenueEngine.restore(snapshot)

    assert restored.state_hash() == venue.hash()
    assert restored.snapshot() == snapshot
    assert check_all(restored.state) == []


def test_restored_engine_produces_the_same_future_events(venue: Venue) -> None:
    _busy(venue)
    restored = VenueEngine.restore(venue.engine.snapshot())
    futures = [
        ("buy", 2, BTCUSD, 10, BTC_REF + 10),
        ("cancel-coid", 1),
        ("sell", 1, ETHHKD, 10, ETH_REF),
    ]

    original_events, restored_events = [], []
    for step in futures:
        if step[0] == "cancel-coid":
            original_events += venue.cancel(1, BTCUSD, client_order_id="keep")
        else:
            original_events += venue.limit(step[1], step[2], BUY if step[0] == "buy" else SELL, step[3], step[4], tif=IOC)
        seq, ts, command = venue.commands[-1]
        restored_events += restored.apply(seq, ts, command)  # type: ignore[arg-type]

    assert restored_events == original_events
    assert restored.state_hash() == venue.hash()


def test_restored_engine_keeps_client_order_ids_and_isolated_wallets(venue: Venue) -> None:
    _busy(venue)

    restored = VenueEngine.restore(venue.engine.snapshot())

    assert restored.state.accounts[1].client_order_ids == venue.state.accounts[1].client_order_ids
    assert restored.balance("ISO:2:ETHHKD", "HKD") == venue.balance("ISO:2:ETHHKD", "HKD")
    assert restored.open_order_ids(9) == venue.engine.open_order_ids(9)


def test_state_stays_exportable_after_deposits_the_journal_can_carry(venue: Venue) -> None:
    # each amount fits the journal's int64 encoding; the engine must refuse what it cannot hold
    # or keep a state it can still hash and snapshot (two accepted would put EXTERNAL at -2**64 + 2)
    venue.open_client(1)
    largest = 2**63 - 1
    venue.do(Deposit(account=1, asset="HKDX", amount=largest))

    venue.do(Deposit(account=1, asset="HKDX", amount=largest))

    assert len(venue.engine.state_hash()) == 32
    assert VenueEngine.restore(venue.engine.snapshot()).state_hash() == venue.engine.state_hash()
