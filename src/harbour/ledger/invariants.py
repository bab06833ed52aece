"""Ledger invariant checks: plain functions that return findings (empty means healthy)."""

from __future__ import annotations

import msgspec

from harbour.ledger.book import Ledger


class Finding(msgspec.Struct, frozen=True):
    check: str
    message: str


def check_ledger_balanced(ledger: Ledger) -> list[Finding]:
    """Every asset sums to zero across all ledger accounts (including EXTERNAL)."""
    totals: dict[str, int] = {}
    for _, wallet in ledger.accounts():
        for asset, amount in wallet.items():
            totals[asset] = totals.get(asset, 0) + amount
    return [
        Finding("ledger_balanced", f"asset {asset} sums to {total}, not 0")
        for asset, total in sorted(totals.items())
        if total != 0
    ]
