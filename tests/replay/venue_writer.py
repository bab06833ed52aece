"""Run the venue through the real sequencer and journal until killed.

Usage: python venue_writer.py DIRECTORY SEED
Prints "ACK <seq>" after each group commit returns: those commands are acknowledged.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from harbour.journal import CommandCodec, Sequencer, SnapshotStore, recover
from harbour.kernel.money import MICRO
from harbour.venue import VenueEngineFactory, default_genesis
from harbour.venue.commands import (
    AccountKind,
    CancelOrder,
    Deposit,
    OpenAccount,
    PlaceOrder,
    SetReferencePrice,
    Side,
    TimeInForce,
    VenueCommand,
)


def commands(seed: int) -> list[VenueCommand]:
    rng = random.Random(seed)
    out: list[VenueCommand] = list(default_genesis())
    accounts = list(range(1, 21))
    for a in accounts:
        out.append(OpenAccount(account=a, kind=AccountKind.CLIENT, pi_expiry_ns=2**62))
        out.append(Deposit(account=a, asset="USD", amount=1_000_000 * MICRO))
    mid = 9_500_000
    for _i in range(200_000):
        r = rng.random()
        if r < 0.02:
            mid += rng.choice((-100, 100))
            out.append(SetReferencePrice(instrument="BTCUSD", price=mid))
        elif r < 0.65:
            buy = rng.random() < 0.5
            price = mid - rng.randint(1, 30) * 10 if buy else mid + rng.randint(1, 30) * 10
            out.append(
                PlaceOrder(
                    account=rng.choice(accounts), instrument="BTCUSD", side=Side.BUY if buy else Side.SELL, qty=rng.randint(1, 20), price=price
                )
            )
        elif r < 0.85:
            out.append(CancelOrder(account=rng.choice(accounts), instrument="BTCUSD", order_id=max(1, len(out) - rng.randint(1, 200))))
        else:
            buy = rng.random() < 0.5
            out.append(
                PlaceOrder(
                    account=rng.choice(accounts),
                    instrument="BTCUSD",
                    side=Side.BUY if buy else Side.SELL,
                    qty=rng.randint(1, 40),
                    price=mid + 300 if buy else mid - 300,
                    tif=TimeInForce.IOC,
                )
            )
    return out


def main() -> None:
    directory, seed = Path(sys.argv[1]), int(sys.argv[2])
    codec = CommandCodec(VenueCommand)
    engine, journal, last_seq = recover(directory, VenueEngineFactory(), codec)
    ticks = iter(range(1_000_000_000, 10**18, 1_000))
    sequencer = Sequencer(
        engine,
        journal,
        codec,
        lambda: next(ticks),
        checkpoint_every=100,
        snapshot_every=2_000,
        snapshots=SnapshotStore(directory / "snapshots"),
    )
    stream = commands(seed)[last_seq:]
    for start in range(0, len(stream), 25):
        for command in stream[start : start + 25]:
            sequencer.submit(command)
        sequencer.commit()
        print(f"ACK {sequencer.last_seq}", flush=True)


if __name__ == "__main__":
    main()
