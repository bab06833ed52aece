"""N2/N4: a daily reconciliation against the external custody statement (a file) reports
every break, blocks new financing while any break is open, and a clean reconciliation or
an approved resolution closes the break."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.broker import BrokerEngineFactory
from harbour.broker.commands import BuyVirtualAsset, CustodyHolding, ReconcileCustody, ResolveCustodyBreak, ReviewMargins
from harbour.broker.custody_statement import parse_custody_statement
from harbour.broker.events import CustodyBreakFound, CustodyBreakResolved, CustodyReconciled, LoanAdvanced
from harbour.broker.invariants import check_custody_break_register
from harbour.broker.reconciliation import CLEAN_RECONCILIATION
from harbour.broker.state import CustodyBreak
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, Broker, coins, hkd

C = RejectCode


def _statement_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "custody-2026-02-11.csv"
    path.write_text(body)
    return path


def _reconcile(b: Broker, path: Path, date: str = "2026-02-11") -> list[object]:
    return b.ok(ReconcileCustody(statement_date=date, holdings=parse_custody_statement(path.read_text())))


def _book_with_two_clients() -> Broker:
    b = Broker()
    b.pure_va_client(1)  # 14 BTC (lots of 10 + 4), loan 400,000
    b.onboard(2)
    b.deposit_va(2, "ETH", coins(3) // 2, cost_price=hkd(10_000))
    return b


def test_the_custody_statement_file_parses_into_exact_holdings(tmp_path: Path) -> None:
    path = _statement_file(tmp_path, "# custodian: VATP omnibus\nclient,asset,qty\n1,BTC,14\n\n2, ETH ,1.50000000\n3,BTC,0.00000001\n")

    assert parse_custody_statement(path.read_text()) == (
        CustodyHolding(client=1, asset="BTC", qty=coins(14)),
        CustodyHolding(client=2, asset="ETH", qty=coins(3) // 2),
        CustodyHolding(client=3, asset="BTC", qty=1),
    )


@pytest.mark.parametrize(
    "body",
    [
        "client,asset,quantity\n1,BTC,1\n",
        "",
        "client,asset,qty\n1,BTC\n",
        "client,asset,qty\n0,BTC,1\n",
        "client,asset,qty\nx,BTC,1\n",
        "client,asset,qty\n1,,1\n",
        "client,asset,qty\n1,BTC,-1\n",
        "client,asset,qty\n1,BTC,0.000000001\n",
        "client,asset,qty\n1,BTC,abc\n",
        "client,asset,qty\n1,BTC,NaN\n",
    ],
)
def test_a_malformed_custody_statement_is_refused_at_the_edge(body: str) -> None:
    with pytest.raises(ValueError):
        parse_custody_statement(body)


def test_a_statement_that_matches_the_books_reports_no_break(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    path = _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n")

    out = _reconcile(b, path)

    assert b.events_of(CustodyBreakFound, out) == []
    [summary] = b.events_of(CustodyReconciled, out)
    assert (summary.rows, summary.breaks_found, summary.open_breaks) == (2, 0, 0)
    assert b.state.last_reconciled_date == "2026-02-11"
    b.buy(1, "BTC", coins(1), BTC_100K)  # new financing goes ahead


def test_every_difference_is_a_break_recorded_in_state(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    path = _statement_file(tmp_path, "client,asset,qty\n1,BTC,13.5\n7,BTC,2\n")  # 2's ETH missing, 7 unknown

    out = _reconcile(b, path)

    found = [(e.break_id, e.client, e.asset, e.statement_qty, e.book_qty) for e in b.events_of(CustodyBreakFound, out)]
    assert found == [
        (1, 1, "BTC", coins(27) // 2, coins(14)),
        (2, 2, "ETH", 0, coins(3) // 2),
        (3, 7, "BTC", coins(2), 0),
    ]
    assert [(brk.break_id, brk.resolved) for brk in b.state.custody_breaks] == [(1, False), (2, False), (3, False)]
    assert b.events_of(CustodyReconciled, out)[0].open_breaks == 3


def test_an_open_custody_break_blocks_new_financing_and_changes_nothing(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.4\n"))  # break on client 2 only
    loan_before = b.state.loan(1)

    rejected = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.CUSTODY_BREAK_OPEN)

    assert rejected.detail == {"client": 1, "open_breaks": 1, "break_id": 1}
    assert b.state.loan(1) == loan_before


def test_an_open_custody_break_still_lets_a_client_pay_cash_for_a_purchase(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    b.deposit_cash(2, hkd(200_000))
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n"))

    out = b.buy(2, "BTC", coins(1), BTC_100K)

    assert b.events_of(LoanAdvanced, out) == []


def test_a_clean_reconciliation_closes_the_open_breaks_and_financing_resumes(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,13\n2,ETH,1.5\n"))
    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.CUSTODY_BREAK_OPEN)

    out = _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n"), date="2026-02-12")

    [closed] = b.events_of(CustodyBreakResolved, out)
    assert (closed.break_id, closed.resolution, closed.approver) == (1, CLEAN_RECONCILIATION, "")
    assert b.state.open_custody_breaks() == []
    b.buy(1, "BTC", coins(1), BTC_100K)


def test_a_break_still_open_on_the_next_statement_is_not_reported_twice(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    path = _statement_file(tmp_path, "client,asset,qty\n1,BTC,13\n2,ETH,1.5\n")
    _reconcile(b, path)

    out = _reconcile(b, path, date="2026-02-12")

    assert b.events_of(CustodyBreakFound, out) == [] and b.events_of(CustodyBreakResolved, out) == []
    assert len(b.state.custody_breaks) == 1


def test_a_break_with_new_figures_supersedes_the_old_one(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,13\n2,ETH,1.5\n"))

    out = _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,12\n2,ETH,1.5\n"), date="2026-02-12")

    [closed] = b.events_of(CustodyBreakResolved, out)
    [found] = b.events_of(CustodyBreakFound, out)
    assert (closed.break_id, closed.resolution) == (1, "SUPERSEDED_BY_2")
    assert (found.break_id, found.statement_qty) == (2, coins(12))
    assert [brk.break_id for brk in b.state.open_custody_breaks()] == [2]


def test_an_approved_resolution_closes_a_break(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,13\n2,ETH,1.5\n"))
    b.reject(ResolveCustodyBreak(break_id=1, resolution="custodian restated", approver=" "), C.APPROVER_REQUIRED)
    b.reject(ResolveCustodyBreak(break_id=1, resolution="", approver="head-of-ops"), C.INVALID_PARAMETER)

    out = b.ok(ResolveCustodyBreak(break_id=1, resolution="custodian restated", approver="head-of-ops"))

    [closed] = b.events_of(CustodyBreakResolved, out)
    assert (closed.resolution, closed.approver) == ("custodian restated", "head-of-ops")
    b.reject(ResolveCustodyBreak(break_id=1, resolution="again", approver="head-of-ops"), C.NO_OPEN_CUSTODY_BREAK)
    b.buy(1, "BTC", coins(1), BTC_100K)


def test_bad_statements_are_rejected_and_change_nothing() -> None:
    b = _book_with_two_clients()
    row = CustodyHolding(client=1, asset="BTC", qty=coins(14))

    b.reject(ReconcileCustody(statement_date="11/02/2026", holdings=(row,)), C.INVALID_PARAMETER)
    b.reject(ReconcileCustody(statement_date="2026-02-11", holdings=(row, row)), C.INVALID_PARAMETER)
    b.reject(ReconcileCustody(statement_date="2026-02-11", holdings=(CustodyHolding(client=1, asset="BTC", qty=-1),)), C.INVALID_PARAMETER)
    b.reject(ReconcileCustody(statement_date="2026-02-11", holdings=(CustodyHolding(client=1, asset="BTC", qty=10**14),)), C.AMOUNT_TOO_LARGE)


def test_open_breaks_survive_snapshot_restore_and_keep_blocking(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,13\n2,ETH,1.5\n"))

    restored = BrokerEngineFactory().restore(b.engine.snapshot())

    assert restored.state_hash() == b.hash()
    [out] = restored.apply(b.seq + 1, b.ts + 1, BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K))
    assert out.reason == "CUSTODY_BREAK_OPEN"  # type: ignore[attr-defined]


def test_the_break_register_invariant_finds_two_open_breaks_for_one_holding() -> None:
    b = Broker()
    brk = CustodyBreak(break_id=1, statement_date="2026-02-11", client=1, asset="BTC", statement_qty=1, book_qty=0, found_ts_ns=1)
    other = CustodyBreak(break_id=2, statement_date="2026-02-11", client=1, asset="BTC", statement_qty=2, book_qty=0, found_ts_ns=1)
    b.state.custody_breaks = [brk, other]

    assert [f.check for f in check_custody_break_register(b.state)] == ["custody_break_register"]


# --- N2: a missing daily statement blocks new financing like a break (D27 closed) -------------------------------

DAY = 24 * 3_600 * 10**9


def test_a_missing_daily_custody_statement_blocks_new_financing_and_changes_nothing(tmp_path: Path) -> None:
    b = _book_with_two_clients()  # 2026-02-11 08:00 HKT
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n"), date="2026-02-10")
    b.do(ReviewMargins(), ts=b.ts + 2 * DAY)  # 2026-02-13 HKT: the statements of the 11th and 12th never came
    loan_before = b.state.loan(1)

    rejected = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.CUSTODY_STATEMENT_MISSING)

    assert rejected.detail == {"client": 1, "last_statement": "2026-02-10", "max_age_days": 2, "today": "2026-02-13"}
    assert b.state.loan(1) == loan_before


def test_yesterdays_statement_still_in_transit_does_not_block_financing(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n"), date="2026-02-10")
    b.do(ReviewMargins(), ts=b.ts + DAY)  # 2026-02-12 08:00 HKT: the statement of the 11th may still arrive today

    out = b.buy(1, "BTC", coins(1), BTC_100K)

    assert len(b.events_of(LoanAdvanced, out)) == 1


def test_the_next_clean_statement_lifts_the_missing_statement_block(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n"), date="2026-02-08")
    b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.CUSTODY_STATEMENT_MISSING)

    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n"), date="2026-02-10")

    assert len(b.events_of(LoanAdvanced, b.buy(1, "BTC", coins(1), BTC_100K))) == 1


def test_a_missing_statement_does_not_block_withdrawals_or_cash_purchases(tmp_path: Path) -> None:
    b = _book_with_two_clients()
    _reconcile(b, _statement_file(tmp_path, "client,asset,qty\n1,BTC,14\n2,ETH,1.5\n"), date="2026-02-01")
    b.deposit_cash(2, hkd(200_000))

    out = b.buy(2, "BTC", coins(1), BTC_100K)

    assert b.events_of(LoanAdvanced, out) == []
