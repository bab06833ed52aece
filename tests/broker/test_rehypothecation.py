"""No rehypothecation (N1-N3): VA lots leave only by a withdrawal within limits or a forced
sale for the owner's own debt; custody itself refuses everything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.broker.commands import EncumberVirtualAsset, EncumbrancePurpose, WithdrawVirtualAsset
from harbour.broker.custody import FORCED_SALE, WITHDRAWAL, ClientVaCustody, DebitAuthority
from harbour.broker.events import CollateralWithdrawn
from harbour.broker.state import BrokerState
from harbour.kernel.errors import InvariantBroken, PostingRefused, RejectCode
from harbour.ledger.book import EXTERNAL

from .helpers import BTC_100K, Broker, coins, hkd

C = RejectCode


@pytest.mark.parametrize("purpose", list(EncumbrancePurpose), ids=lambda p: p.value)
def test_every_encumbrance_of_a_va_lot_is_refused_and_changes_nothing(purpose: EncumbrancePurpose) -> None:
    b = Broker()
    b.pure_va_client(1)

    b.reject(EncumberVirtualAsset(client=1, lot=1, qty=1, purpose=purpose, beneficiary="2"), C.REHYPOTHECATION_REFUSED)

    assert b.state.custody[1].lot(1).qty == coins(10)  # type: ignore[union-attr]


def test_withdrawal_within_the_85_percent_ceiling_takes_the_oldest_lot_first() -> None:
    b = Broker()
    b.pure_va_client(1)  # lot 1: 10 BTC deposited, lot 2: 4 BTC bought

    out = b.ok(WithdrawVirtualAsset(client=1, asset="BTC", qty=coins(2)))

    [withdrawn] = b.events_of(CollateralWithdrawn, out)
    assert (withdrawn.lot, withdrawn.qty) == (1, coins(2))
    assert withdrawn.figures.ratio_bps is not None and withdrawn.figures.ratio_bps <= 8_500
    assert [m.kind for m in b.state.custody[1].lot(1).movements] == ["DEPOSIT", "WITHDRAWAL"]  # type: ignore[union-attr]


def test_withdrawal_without_a_loan_is_always_within_limits() -> None:
    b = Broker()
    b.mark_va("BTC", BTC_100K)
    b.onboard(1)
    b.deposit_va(1, "BTC", coins(3))

    b.ok(WithdrawVirtualAsset(client=1, asset="BTC", qty=coins(3)))

    assert b.state.custody[1].lots() == []


def _custody_with_lot() -> ClientVaCustody:
    custody = ClientVaCustody(owner=1)
    custody.credit(7, "BTC", coins(1), BTC_100K, seq=1, kind="DEPOSIT")
    return custody


def test_custody_refuses_a_forced_sale_for_another_clients_debt() -> None:
    custody = _custody_with_lot()
    other = DebitAuthority(path=FORCED_SALE, debtor=2, loan=hkd(1))

    assert custody.authorise_debit(7, 1, other) is not None
    with pytest.raises(InvariantBroken):
        custody.debit(7, 1, other, seq=2)
    assert custody.lot(7).qty == coins(1)  # type: ignore[union-attr]


def test_custody_refuses_a_forced_sale_when_the_owner_owes_nothing() -> None:
    custody = _custody_with_lot()

    refused = custody.authorise_debit(7, 1, DebitAuthority(path=FORCED_SALE, debtor=1, loan=0))

    assert refused is not None and refused[0] is C.REHYPOTHECATION_REFUSED


def test_custody_refuses_a_withdrawal_that_breaks_the_ceiling_even_if_a_caller_asks() -> None:
    custody = _custody_with_lot()
    breach = DebitAuthority(path=WITHDRAWAL, debtor=1, loan=hkd(86), margin_value_after=hkd(100), limit_bps=8_500)

    with pytest.raises(InvariantBroken):
        custody.debit(7, 1, breach, seq=2)


def test_custody_refuses_any_other_path_name() -> None:
    custody = _custody_with_lot()

    for path in ("PLEDGE", "LEND", "STAKE", "TRANSFER_TO_HOUSE", "REPO", ""):
        refused = custody.authorise_debit(7, 1, DebitAuthority(path=path, debtor=1, loan=hkd(1)))
        assert refused is not None and refused[0] is C.REHYPOTHECATION_REFUSED


def test_custody_ledger_holds_only_the_clients_own_lots_and_the_outside_world() -> None:
    b = Broker()
    b.pure_va_client(1)
    b.mark_va("BTC", BTC_100K * 20 // 100)  # forced sale of everything

    accounts = {str(account) for account, wallet in b.state.custody[1].ledger.accounts() if any(wallet.values())}

    assert accounts <= {EXTERNAL, "LOT:1", "LOT:2"}
    assert all(m.beneficiary == 1 for lot in b.state.custody[1].all_lots() for m in lot.movements)


# --- N1 in the ledger itself: "rejected by the ledger, not by policy" ---------------------------------


@pytest.mark.parametrize("third_party", ["HOUSE", "PLEDGE:BANK-A", "FUNDING_POOL", "LOT:99", "CASH:1", 2], ids=str)
def test_the_ledger_refuses_a_posting_that_moves_client_va_collateral_to_a_third_party(third_party: str | int) -> None:
    b = Broker()
    b.pure_va_client(1)  # lots 1 (10 BTC deposited) and 2 (4 BTC bought)
    custody = b.state.custody[1]
    before = b.hash()

    with pytest.raises(PostingRefused) as refused:
        custody.ledger.post([("LOT:1", "BTC", -coins(1)), (third_party, "BTC", coins(1))])

    assert refused.value.code is C.REHYPOTHECATION_REFUSED  # the stable code, from the ledger
    assert refused.value.detail["counterparty"] == str(third_party)
    assert b.hash() == before  # refused before anything changed
    assert custody.ledger_balance(1, "BTC") == coins(10)


def test_the_ledger_refuses_a_detour_through_the_omnibus_account_to_a_third_party() -> None:
    b = Broker()
    b.pure_va_client(1)
    before = b.hash()

    with pytest.raises(PostingRefused):  # LOT -> EXTERNAL -> HOUSE in one transfer is still a move to the house
        b.state.custody[1].ledger.post([("LOT:1", "BTC", -coins(1)), (EXTERNAL, "BTC", coins(1)), (EXTERNAL, "BTC", -coins(1)), ("HOUSE", "BTC", coins(1))])

    assert b.hash() == before


def test_every_lot_is_ledger_guarded_from_the_moment_it_opens_and_after_snapshot_restore() -> None:
    b = Broker()
    b.pure_va_client(1)
    restored = BrokerState.decode(b.state.encode())

    for state in (b.state, restored):
        assert all(state.custody[1].ledger_guarded(lot.lot_id) for lot in state.custody[1].all_lots())
        with pytest.raises(PostingRefused):
            state.custody[1].ledger.post([("LOT:2", "BTC", -1), ("HOUSE", "BTC", 1)])
    assert restored.state_hash() == b.hash()


def test_the_two_allowed_paths_still_pass_the_ledger_guard() -> None:
    b = Broker()
    b.pure_va_client(1)

    b.ok(WithdrawVirtualAsset(client=1, asset="BTC", qty=coins(1)))  # path (a): out to the owner through the omnibus account
    b.mark_va("BTC", BTC_100K * 50 // 100)  # path (b): forced sale for the owner's own debt

    kinds = {m.kind for lot in b.state.custody[1].all_lots() for m in lot.movements}
    assert {"WITHDRAWAL", "FORCED_SALE"} <= kinds


@settings(max_examples=60, deadline=None)
@given(
    account=st.one_of(st.text(min_size=1, max_size=12), st.integers(-5, 10**6)),
    qty=st.integers(1, coins(10)),
    lot=st.sampled_from(["LOT:1", "LOT:2"]),
)
def test_no_posting_moves_a_va_lot_to_any_account_but_the_omnibus(account: str | int, qty: int, lot: str) -> None:
    b = Broker()
    b.pure_va_client(1)
    before = b.hash()
    if account == EXTERNAL:
        return  # the omnibus account: the one counterparty of both allowed paths (custody checks the path itself)

    with pytest.raises(PostingRefused):
        b.state.custody[1].ledger.post([(lot, "BTC", -qty), (account, "BTC", qty)])

    assert b.hash() == before
