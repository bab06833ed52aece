"""Many legs in one asset as one transfer (``Ledger.post_legs``): the same transfer as ``post``.

Rules:
- legs given as two columns (accounts, amounts) and further postings move the balances exactly as
  ``post`` of the same postings does, under one transfer id;
- a transfer that is not zero-sum per asset is refused (InvariantBroken) and leaves every balance
  and the next transfer id as they were;
- with a cover, a debit that its account's balance does not cover is left out (never taken below
  zero by the leg), the cover is told which, in order, and its postings complete the transfer;
- a debit restriction is enforced exactly as ``post`` enforces it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harbour.kernel.errors import InvariantBroken, PostingRefused, RejectCode
from harbour.ledger.book import EXTERNAL, Ledger, LedgerAccount

from properties.profile import examples

Posting = tuple[LedgerAccount, str, int]
ACCOUNTS: list[LedgerAccount] = [1, 2, 3, 4, "ISO:5:BTCUSD", "POOL"]


def funded() -> Ledger:
    ledger = Ledger()
    ledger.post([(1, "USD", 50), (2, "USD", 5), (3, "HKD", 70), ("ISO:5:BTCUSD", "USD", 20), (EXTERNAL, "USD", -75), (EXTERNAL, "HKD", -70)])
    return ledger


def balances(ledger: Ledger) -> dict[str, object]:
    return ledger.to_state()


legs = st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(-60, 60)), max_size=12)


def balanced(legs: list[tuple[LedgerAccount, int]]) -> list[tuple[LedgerAccount, int]]:
    """The legs plus one to EXTERNAL that makes them zero-sum."""
    return [*legs, (EXTERNAL, -sum(amount for _, amount in legs))]


@examples(200)
@given(legs=legs, other=st.integers(0, 30))
def test_legs_as_columns_move_the_balances_as_post_does(legs: list[tuple[LedgerAccount, int]], other: int) -> None:
    rows = balanced(legs)
    postings: list[Posting] = [(3, "HKD", -other), ("POOL", "HKD", other)]
    by_legs, by_post = funded(), funded()

    first = by_legs.post_legs("USD", [a for a, _ in rows], [x for _, x in rows], postings)
    second = by_post.post([*((a, "USD", x) for a, x in rows), *postings])

    assert first == second
    assert balances(by_legs) == balances(by_post)
    assert by_legs.next_transfer_id == by_post.next_transfer_id


@examples(200)
@given(legs=legs)
def test_an_unbalanced_transfer_is_refused_and_changes_nothing(legs: list[tuple[LedgerAccount, int]]) -> None:
    ledger = funded()
    before, next_id = balances(ledger), ledger.next_transfer_id
    rows = [*balanced(legs), (EXTERNAL, 1)]

    with pytest.raises(InvariantBroken, match="unbalanced"):
        ledger.post_legs("USD", [a for a, _ in rows], [x for _, x in rows], cover=lambda left: [])

    assert balances(ledger) == before
    assert ledger.next_transfer_id == next_id


def test_a_debit_the_balance_cannot_cover_is_left_to_the_cover_which_completes_the_transfer() -> None:
    ledger = funded()
    told: list[list[int]] = []

    def cover(left_out: list[int]) -> list[Posting]:
        told.append(left_out)
        # account 2 pays the 5 it holds, the pool the other 3
        return [(2, "USD", -5), ("POOL", "USD", -3)]

    ledger.post_legs("USD", [1, 2, 4, "ISO:5:BTCUSD"], [-10, -8, 3, 15], [("POOL", "HKD", 1), (3, "HKD", -1)], cover)

    assert told == [[1]]  # leg 1 (account 2 owes 8, holds 5) is left out
    assert [ledger.balance(a, "USD") for a in (1, 2, 4, "ISO:5:BTCUSD", "POOL")] == [40, 0, 3, 35, -3]
    assert [ledger.balance(a, "HKD") for a in ("POOL", 3)] == [1, 69]


def test_every_uncovered_debit_is_left_out_in_order_and_a_covered_one_is_not() -> None:
    ledger = funded()
    told: list[list[int]] = []

    def cover(left_out: list[int]) -> list[Posting]:
        told.append(left_out)
        return [(EXTERNAL, "USD", -22)]  # in place of the two debits left out (1 + 21)

    ledger.post_legs("USD", [3, 1, "ISO:5:BTCUSD", 4, 2], [-1, -50, -21, 72, 0], [], cover)

    assert told == [[0, 2]]  # 3 holds no USD; the isolated wallet holds 20 of 21; 1 holds exactly 50
    assert [ledger.balance(a, "USD") for a in (3, 1, "ISO:5:BTCUSD", 4, 2)] == [0, 0, 20, 72, 5]


def test_a_refused_transfer_with_a_cover_undoes_the_legs_it_applied() -> None:
    ledger = funded()
    before, next_id = balances(ledger), ledger.next_transfer_id

    with pytest.raises(InvariantBroken):
        ledger.post_legs("USD", [1, 2, 4], [-10, -8, 18], cover=lambda left: [(2, "USD", 5)])  # not zero-sum

    assert balances(ledger) == before
    assert ledger.next_transfer_id == next_id


def test_accounts_and_amounts_must_pair_up() -> None:
    with pytest.raises(ValueError, match="amounts"):
        funded().post_legs("USD", [1, 2], [0])


def test_a_restricted_account_cannot_be_debited_to_a_counterparty_it_does_not_allow() -> None:
    ledger = funded()
    ledger.restrict_debits(1, (EXTERNAL,), RejectCode.REHYPOTHECATION_REFUSED)
    before = balances(ledger)

    with pytest.raises(PostingRefused):
        ledger.post_legs("USD", [1, 4], [-10, 10])
    assert balances(ledger) == before

    ledger.post_legs("USD", [1, EXTERNAL], [-10, 10])
    assert ledger.balance(1, "USD") == 40


def test_with_restrictions_in_force_the_cover_sees_no_leg_applied() -> None:
    ledger = funded()
    ledger.restrict_debits(3, (EXTERNAL,), RejectCode.REHYPOTHECATION_REFUSED)
    seen: list[int] = []

    def cover(left_out: list[int]) -> list[Posting]:
        seen.append(ledger.balance(1, "USD"))
        return [(EXTERNAL, "USD", -8)]

    ledger.post_legs("USD", [1, 2, 4], [-10, -8, 18], cover=cover)

    assert seen == [50]  # account 1's debit not yet applied
    assert [ledger.balance(a, "USD") for a in (1, 2, 4)] == [40, 5, 18]


def test_no_leg_is_one_empty_transfer_as_post_would_make() -> None:
    ledger = funded()
    before = ledger.next_transfer_id

    assert ledger.post_legs("USD", [], [], cover=lambda left: []) == before
    assert ledger.next_transfer_id == before + 1


def test_a_cover_that_fails_leaves_every_balance_as_it_was() -> None:
    ledger = funded()
    before, next_id = balances(ledger), ledger.next_transfer_id

    def cover(left_out: list[int]) -> list[Posting]:
        raise RuntimeError("no way to pay")

    with pytest.raises(RuntimeError):
        ledger.post_legs("USD", [1, 2, 4], [-10, -8, 18], cover=cover)

    assert balances(ledger) == before
    assert ledger.next_transfer_id == next_id
