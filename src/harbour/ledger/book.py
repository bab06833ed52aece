"""The double-entry ledger: the only place a balance changes.

Owns: balances per (ledger account, asset), in integer micro-units.
Invariant: every transfer's postings sum to zero per asset, so the sum of all
balances per asset is always zero (the EXTERNAL account mirrors the outside world:
its balance is minus the net money that came in).

Ledger accounts are ints (participant accounts, by AccountId) or strings (platform
and internal accounts such as ``FEE_INCOME``, ``CLEARING:BTCUSD``, ``ISO:7:BTCUSD``).
The ledger does not decide who may go negative: callers check balances before
posting; the invariant checks in ``invariants.py`` and the engine's own checks say
which accounts must never be negative.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from harbour.kernel.errors import InvariantBroken

LedgerAccount = int | str

EXTERNAL = "EXTERNAL"


class Ledger:
    __slots__ = ("_balances", "_next_transfer_id")

    def __init__(self) -> None:
        self._balances: dict[LedgerAccount, dict[str, int]] = {}
        self._next_transfer_id = 1

    # --- reading ---------------------------------------------------------------

    def balance(self, account: LedgerAccount, asset: str) -> int:
        wallet = self._balances.get(account)
        if wallet is None:
            return 0
        return wallet.get(asset, 0)

    def wallet(self, account: LedgerAccount) -> dict[str, int]:
        """Return the live wallet of an account (read-only by convention)."""
        wallet = self._balances.get(account)
        if wallet is None:
            wallet = self._balances[account] = {}
        return wallet

    def balances_of(self, accounts: Sequence[LedgerAccount], asset: str) -> list[int]:
        """``balance(account, asset)`` of each account, in order (one call for many accounts)."""
        balances = self._balances
        empty: dict[str, int] = {}
        return [balances.get(account, empty).get(asset, 0) for account in accounts]

    def accounts(self) -> Iterator[tuple[LedgerAccount, dict[str, int]]]:
        return iter(self._balances.items())

    @property
    def next_transfer_id(self) -> int:
        return self._next_transfer_id

    # --- writing ---------------------------------------------------------------

    def post(self, postings: Sequence[tuple[LedgerAccount, str, int]]) -> int:
        """Apply a balanced set of postings atomically and return its transfer id.

        Raises InvariantBroken (a bug, not a reject) if the postings do not sum to
        zero per asset, after undoing them: callers compute each amount once and post
        it both ways. Checking and applying happen in one pass over the postings.
        """
        balances = self._balances
        first_asset = postings[0][1] if postings else ""
        single_asset = True
        total = 0
        for account, asset, amount in postings:
            wallet = balances.get(account)
            if wallet is None:
                wallet = balances[account] = {}
            wallet[asset] = wallet.get(asset, 0) + amount
            total += amount
            if asset != first_asset:
                single_asset = False
        if total or not single_asset:
            net: dict[str, int] = {}
            for _, asset, amount in postings:
                net[asset] = net.get(asset, 0) + amount
            unbalanced = [(asset, t) for asset, t in net.items() if t]
            if unbalanced:
                for account, asset, amount in postings:
                    balances[account][asset] -= amount
                raise InvariantBroken(f"unbalanced transfer: {unbalanced}")
        transfer_id = self._next_transfer_id
        self._next_transfer_id = transfer_id + 1
        return transfer_id

    # --- state -------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        return {
            "next_transfer_id": self._next_transfer_id,
            "balances": [
                [str(acct), type(acct).__name__, sorted((a, v) for a, v in wallet.items() if v)]
                for acct, wallet in sorted(self._balances.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0])))
                if any(wallet.values())
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ledger:
        ledger = cls()
        ledger._next_transfer_id = int(state["next_transfer_id"])
        for acct_text, type_name, items in state["balances"]:
            acct: LedgerAccount = int(acct_text) if type_name == "int" else acct_text
            ledger._balances[acct] = {asset: int(v) for asset, v in items}
        return ledger
