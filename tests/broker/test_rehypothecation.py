"""No rehypothecation (N1-N3): VA lots leave only by a withdrawal within limits or a forced
sale for the owner's own debt; custody itself refuses everything else."""

from __future__ import annotations

import pytest

from harbour.broker.commands import EncumberVirtualAsset, EncumbrancePurpose, WithdrawVirtualAsset
from harbour.broker.custody import FORCED_SALE, WITHDRAWAL, ClientVaCustody, DebitAuthority
from harbour.broker.events import CollateralWithdrawn
from harbour.kernel.errors import InvariantBroken, RejectCode
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
