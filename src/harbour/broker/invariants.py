"""Broker invariants: plain functions returning findings; empty means healthy.

Run after every step of the broker tests (and, later, after a replay and in the
simulator). ``CHECKS`` lists them in order.
"""

from __future__ import annotations

from collections.abc import Callable

from harbour.broker.clients import CALL
from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS
from harbour.broker.custody import CREDIT_KINDS, FORCED_SALE, WITHDRAWAL, lot_account
from harbour.broker.state import EXTERNAL, BrokerState
from harbour.ledger.book import Ledger
from harbour.ledger.invariants import Finding, check_ledger_balanced

_SIGN_BY_PREFIX = {"CASH:": 1, "SEC:": 1, "LOAN:": -1, "BAD_DEBT:": -1, "INTEREST_INCOME:": 1}


def check_balanced(st: BrokerState) -> list[Finding]:
    """The main ledger and every custody sub-ledger balance to zero per asset."""
    findings = check_ledger_balanced(st.ledger)
    for owner, custody in sorted(st.custody.items()):
        findings += [Finding(f.check, f"custody {owner}: {f.message}") for f in check_ledger_balanced(custody.ledger)]
    return findings


def check_balance_signs(st: BrokerState) -> list[Finding]:
    """Cash and securities are never negative; loans and bad debts never below zero (L >= 0)."""
    findings = []
    for account, wallet in _accounts(st.ledger):
        if account == EXTERNAL:
            continue
        prefix = account.split(":", 1)[0] + ":"
        sign = _SIGN_BY_PREFIX.get(prefix)
        if sign is None:
            findings.append(Finding("balance_signs", f"unexpected main-ledger account {account}"))
            continue
        for asset, amount in wallet.items():
            if amount * sign < 0:
                findings.append(Finding("balance_signs", f"{account} holds {amount} {asset}"))
    return findings


def check_cash_and_loan_exclusive(st: BrokerState) -> list[Finding]:
    """A margin account has one balance: a client never holds cash and owes a loan at once."""
    return [
        Finding("cash_and_loan_exclusive", f"client {cid} holds cash {st.cash(cid)} and owes {st.loan(cid)}")
        for cid in sorted(st.clients)
        if st.cash(cid) > 0 and st.loan(cid) > 0
    ]


def check_lots_only_left_by_allowed_paths(st: BrokerState) -> list[Finding]:
    """N1: every lot is non-rehypothecable, ledger = quantity = history, debits only by the two paths."""
    findings = []
    for owner, custody in sorted(st.custody.items()):
        lot_accounts = {lot_account(lot.lot_id) for lot in custody.all_lots()}
        for account, wallet in _accounts(custody.ledger):
            if account != EXTERNAL and account not in lot_accounts:
                findings.append(Finding("lots_allowed_paths", f"custody {owner} has a foreign account {account} {wallet}"))
        for lot in custody.all_lots():
            where = f"client {owner} lot {lot.lot_id}"
            if lot.rehypothecable:
                findings.append(Finding("lots_allowed_paths", f"{where} is marked rehypothecable"))
            if not custody.ledger_guarded(lot.lot_id):
                findings.append(Finding("lots_allowed_paths", f"{where} is not debit-restricted to EXTERNAL in its ledger"))
            history = sum(m.qty for m in lot.movements)
            ledger = custody.ledger_balance(lot.lot_id, lot.asset)
            if not lot.qty == history == ledger or lot.qty < 0:
                findings.append(Finding("lots_allowed_paths", f"{where}: qty {lot.qty}, history {history}, ledger {ledger}"))
            for m in lot.movements:
                credit_ok = m.qty > 0 and m.kind in CREDIT_KINDS
                debit_ok = m.qty < 0 and m.kind in (WITHDRAWAL, FORCED_SALE) and m.beneficiary == owner
                if not (credit_ok or debit_ok):
                    findings.append(Finding("lots_allowed_paths", f"{where}: movement {m.kind} {m.qty} for {m.beneficiary}"))
    return findings


def check_calls_stop_advances(st: BrokerState) -> list[Finding]:
    """M3: a client in call received no advance and withdrew no collateral since the call."""
    findings = []
    for cid, client in sorted(st.clients.items()):
        if (client.status == CALL) != (client.call is not None):
            findings.append(Finding("calls_stop_advances", f"client {cid} status {client.status} vs call {client.call}"))
        if client.call is None:
            continue
        if client.last_advance_seq >= client.call.issued_seq:
            findings.append(Finding("calls_stop_advances", f"client {cid} advanced at seq {client.last_advance_seq} in a call from {client.call.issued_seq}"))
        if client.last_collateral_withdrawal_seq >= client.call.issued_seq:
            findings.append(Finding("calls_stop_advances", f"client {cid} withdrew at seq {client.last_collateral_withdrawal_seq} in a call"))
    return findings


def check_financing_only_for_eligible(st: BrokerState) -> list[Finding]:
    """E1/E2: a loan only for a client with an open facility; VA lots of BTC/ETH financed only."""
    findings = []
    for cid, client in sorted(st.clients.items()):
        if st.loan(cid) > 0 and not client.facility_open:
            findings.append(Finding("financing_only_for_eligible", f"client {cid} owes {st.loan(cid)} without a facility"))
        for lot in st.custody[cid].all_lots():
            purchased = any(m.kind == "PURCHASE" for m in lot.movements)
            if purchased and lot.asset not in ELIGIBLE_VIRTUAL_ASSETS:
                findings.append(Finding("financing_only_for_eligible", f"client {cid} bought {lot.asset} through the broker"))
    return findings


def check_credit_limit_audit_trail(st: BrokerState) -> list[Finding]:
    """K1: every client's limit is the last entry of its audit trail; every C-limit exception is approved."""
    findings = []
    for cid, client in sorted(st.clients.items()):
        trail = st.credit_limit_history.get(cid, [])
        if not trail or trail[-1].new_limit != client.credit_limit or any(not e.approver for e in trail):
            findings.append(Finding("credit_limit_audit_trail", f"client {cid} limit {client.credit_limit} vs trail {trail[-1:]}"))
    for entry in st.limit_exceptions:
        if not entry.approver.strip() or not entry.justification.strip():
            findings.append(Finding("credit_limit_audit_trail", f"exception {entry.exception_id} lacks approver or justification"))
    return findings


def check_custody_break_register(st: BrokerState) -> list[Finding]:
    """N2/N4: break ids run 1..n in order, at most one open break per (client, asset), closed ones say how."""
    findings = []
    open_keys: set[tuple[int, str]] = set()
    for index, brk in enumerate(st.custody_breaks, start=1):
        if brk.break_id != index or brk.statement_qty == brk.book_qty:
            findings.append(Finding("custody_break_register", f"break {brk.break_id} at position {index}: {brk.statement_qty} vs {brk.book_qty}"))
        if brk.resolved:
            if not brk.resolution.strip() or brk.resolved_ts_ns < brk.found_ts_ns:
                findings.append(Finding("custody_break_register", f"break {brk.break_id} closed without a resolution or before it was found"))
        elif (brk.client, brk.asset) in open_keys:
            findings.append(Finding("custody_break_register", f"two open breaks for client {brk.client} {brk.asset}"))
        else:
            open_keys.add((brk.client, brk.asset))
    return findings


def _accounts(ledger: Ledger) -> list[tuple[str, dict[str, int]]]:
    return sorted((str(account), wallet) for account, wallet in ledger.accounts() if any(wallet.values()))


CHECKS: tuple[Callable[[BrokerState], list[Finding]], ...] = (
    check_balanced,
    check_balance_signs,
    check_cash_and_loan_exclusive,
    check_lots_only_left_by_allowed_paths,
    check_calls_stop_advances,
    check_financing_only_for_eligible,
    check_credit_limit_audit_trail,
    check_custody_break_register,
)


def check_all(st: BrokerState) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(st))
    return findings
