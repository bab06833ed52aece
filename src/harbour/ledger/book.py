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

Bulk transfers (``post_legs``): one transfer's many legs in one asset come as two columns
(accounts, amounts), so 10^6 legs need no tuple each; on request the ledger leaves out the
debits a balance does not cover and asks the caller how to pay them, reading and writing each
wallet in one visit (venue funding settlement).

Restricted accounts (``restrict_debits``): an owner may declare that an account's
holdings may only ever leave to named counterparty accounts. The ledger then refuses,
before changing anything, every transfer that debits the account and credits that asset
to any other account (``PostingRefused`` with the owner's stable reject code). The
ledger knows nothing of why; the restrictions are part of its exported state. The broker
uses it for VA collateral lots (N1: no re-pledging, enforced by the ledger itself). Every
method that writes balances calls ``check_restrictions`` first when any restriction exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, count, repeat
from typing import Any

from harbour.kernel.errors import InvariantBroken, PostingRefused, RejectCode

LedgerAccount = int | str

EXTERNAL = "EXTERNAL"


class Ledger:
    __slots__ = ("_balances", "_next_transfer_id", "_restricted")

    def __init__(self) -> None:
        self._balances: dict[LedgerAccount, dict[str, int]] = {}
        self._next_transfer_id = 1
        self._restricted: dict[LedgerAccount, tuple[frozenset[LedgerAccount], RejectCode]] = {}

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

    def debit_restriction(self, account: LedgerAccount) -> tuple[frozenset[LedgerAccount], RejectCode] | None:
        """The counterparties ``account``'s holdings may leave to and the refusal code, or None if unrestricted."""
        return self._restricted.get(account)

    # --- restrictions ----------------------------------------------------------

    def restrict_debits(self, account: LedgerAccount, counterparties: Iterable[LedgerAccount], code: RejectCode) -> None:
        """From now on a transfer that debits ``account`` may credit that asset only to ``counterparties``.

        Any other such transfer is refused by ``post`` before it changes anything, with
        ``PostingRefused(code)``. A restriction is never lifted; restricting again replaces it.
        """
        self._restricted[account] = (frozenset(counterparties), code)

    def check_restrictions(self, postings: Sequence[tuple[LedgerAccount, str, int]]) -> None:
        """Raise ``PostingRefused`` if ``postings`` debit a restricted account to a counterparty it does not allow."""
        restricted = self._restricted
        for account, asset, amount in postings:
            if amount < 0 and account in restricted:
                allowed, code = restricted[account]
                for other, other_asset, other_amount in postings:
                    if other_amount > 0 and other_asset == asset and other not in allowed:
                        raise PostingRefused(code, {"account": str(account), "asset": asset, "counterparty": str(other), "qty": other_amount})

    # --- writing ---------------------------------------------------------------

    def post(self, postings: Sequence[tuple[LedgerAccount, str, int]]) -> int:
        """Apply a balanced set of postings atomically and return its transfer id.

        Raises InvariantBroken (a bug, not a reject) if the postings do not sum to
        zero per asset, after undoing them: callers compute each amount once and post
        it both ways. Checking and applying happen in one pass over the postings.
        A transfer breaking a debit restriction raises PostingRefused before any change.
        """
        if self._restricted:
            self.check_restrictions(postings)
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

    def post_legs(
        self,
        asset: str,
        accounts: Sequence[LedgerAccount],
        amounts: Sequence[int],
        postings: Sequence[tuple[LedgerAccount, str, int]] = (),
        cover: Callable[[list[int]], Sequence[tuple[LedgerAccount, str, int]]] | None = None,
    ) -> int:
        """Apply one balanced transfer whose legs in ``asset`` come as two columns; return its id.

        Leg i moves ``amounts[i]`` of ``asset`` into ``accounts[i]`` (out of it when negative);
        ``postings`` are further postings in any asset. Without ``cover`` this is
        ``post([*zip(accounts, repeat(asset), amounts), *postings])``, without a tuple per leg.

        With ``cover``, a debit leg that its account's balance of ``asset`` does not cover is
        left out, and ``cover`` is called once with the indices of the legs left out
        (ascending); the postings it returns replace them in the transfer. Each account is
        read and written in one visit, so ``cover`` runs with the other legs applied: it must
        not depend on those accounts' balances of ``asset``.

        As ``post``: InvariantBroken if the transfer is not zero-sum per asset, after undoing
        all of it (an exception out of ``cover`` undoes the legs too). With debit restrictions
        in force, legs are read first, ``cover`` runs before anything is applied and ``post``
        applies the whole transfer.
        """
        if len(accounts) != len(amounts):
            raise ValueError(f"post_legs: {len(accounts)} accounts but {len(amounts)} amounts")
        if self._restricted:
            held = self.balances_of(accounts, asset)
            left = [i for i, (b, x) in enumerate(zip(held, amounts, strict=True)) if x < 0 and b < -x] if cover is not None else []
            extra = [*cover(left)] if cover is not None else []
            kept = [True] * len(accounts)
            for i in left:
                kept[i] = False
            return self.post([*compress(zip(accounts, repeat(asset), amounts), kept), *extra, *postings])
        balances = self._balances
        get = balances.get
        left_out: list[int] = []
        if cover is None:
            for account, amount in zip(accounts, amounts, strict=True):
                wallet = get(account)
                if wallet is None:
                    wallet = balances[account] = {}
                wallet[asset] = wallet.get(asset, 0) + amount
        else:
            for i, account, amount in zip(count(), accounts, amounts):
                wallet = get(account)
                if wallet is None:
                    wallet = balances[account] = {}
                before = wallet.get(asset, 0)
                if amount < 0 and before < -amount:
                    left_out.append(i)
                else:
                    wallet[asset] = before + amount

        def undo_legs() -> None:
            kept = [True] * len(accounts)
            for i in left_out:
                kept[i] = False
            for account, amount in compress(zip(accounts, amounts, strict=True), kept):
                balances[account][asset] -= amount

        net = {asset: sum(amounts) - sum(amounts[i] for i in left_out)}
        try:
            extra = [*cover(left_out), *postings] if cover is not None else list(postings)
        except BaseException:
            undo_legs()
            raise
        for account, other, amount in extra:
            wallet = get(account)
            if wallet is None:
                wallet = balances[account] = {}
            wallet[other] = wallet.get(other, 0) + amount
            net[other] = net.get(other, 0) + amount
        unbalanced = [(a, t) for a, t in net.items() if t]
        if unbalanced:
            for account, other, amount in extra:
                balances[account][other] -= amount
            undo_legs()
            raise InvariantBroken(f"unbalanced transfer: {unbalanced}")
        transfer_id = self._next_transfer_id
        self._next_transfer_id = transfer_id + 1
        return transfer_id

    # --- state -------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        state: dict[str, object] = {
            "next_transfer_id": self._next_transfer_id,
            "balances": [
                [str(acct), type(acct).__name__, sorted((a, v) for a, v in wallet.items() if v)]
                for acct, wallet in sorted(self._balances.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0])))
                if any(wallet.values())
            ],
        }
        if self._restricted:  # only ledgers with restrictions carry the key: other ledgers' state (and hash) is unchanged
            state["restricted"] = [
                [str(acct), type(acct).__name__, sorted([str(o), type(o).__name__] for o in allowed), int(code)]
                for acct, (allowed, code) in sorted(self._restricted.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0])))
            ]
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ledger:
        ledger = cls()
        ledger._next_transfer_id = int(state["next_transfer_id"])
        for acct_text, type_name, items in state["balances"]:
            acct: LedgerAccount = int(acct_text) if type_name == "int" else acct_text
            ledger._balances[acct] = {asset: int(v) for asset, v in items}
        for acct_text, type_name, allowed, code in state.get("restricted", ()):
            acct = int(acct_text) if type_name == "int" else acct_text
            ledger._restricted[acct] = (frozenset(int(o) if t == "int" else o for o, t in allowed), RejectCode(code))
        return ledger
