"""Venue invariants: plain functions returning findings; empty means healthy.

They are run after every step of the property tests, by ``harbour replay`` and by the
simulator. CHECKS lists them in order.
"""

from __future__ import annotations

from collections.abc import Callable

from harbour.ledger.invariants import Finding, check_ledger_balanced
from harbour.venue.state import (
    EXTERNAL,
    FEE_INCOME,
    INSURANCE_FUND,
    PLATFORM_CAPITAL,
    VenueState,
)

_NEVER_NEGATIVE_PLATFORM = (FEE_INCOME, INSURANCE_FUND, PLATFORM_CAPITAL)


def check_balanced(st: VenueState) -> list[Finding]:
    return check_ledger_balanced(st.ledger)


def check_holdings_match_external_flows(st: VenueState) -> list[Finding]:
    """Client-plus-platform holdings per asset equal net external deposits minus withdrawals."""
    holdings: dict[str, int] = {}
    for acct, wallet in st.ledger.accounts():
        if acct == EXTERNAL:
            continue
        for asset, amount in wallet.items():
            holdings[asset] = holdings.get(asset, 0) + amount
    findings = []
    for asset in sorted(set(holdings) | set(st.external_in) | set(st.external_out)):
        net = st.external_in.get(asset, 0) - st.external_out.get(asset, 0)
        if holdings.get(asset, 0) != net:
            findings.append(Finding("holdings_match_external_flows", f"{asset}: holdings {holdings.get(asset, 0)} != net external {net}"))
    return findings


def check_no_negative_participant_balance(st: VenueState) -> list[Finding]:
    """No client, market-maker or isolated wallet, and no fee/insurance/capital account, is negative."""
    findings = []
    for acct, wallet in st.ledger.accounts():
        guarded = isinstance(acct, int) or acct.startswith("ISO:") or acct in _NEVER_NEGATIVE_PLATFORM
        if not guarded:
            continue
        for asset, amount in wallet.items():
            if amount < 0:
                findings.append(Finding("no_negative_balance", f"{acct} holds {amount} {asset}"))
    return findings


def check_positions_net_to_zero(st: VenueState) -> list[Finding]:
    """The sum of all positions per instrument is zero: every trade has two sides."""
    findings = []
    for sym in st.instruments:
        net = sum(a.positions[sym].qty for a in st.accounts.values() if sym in a.positions)
        if net:
            findings.append(Finding("positions_net_to_zero", f"{sym} positions sum to {net}"))
    return findings


def check_clearing_matches_cost_basis(st: VenueState) -> list[Finding]:
    """The operator's clearing account equals minus the open cost basis: it settled every trade."""
    findings = []
    for sym, inst in st.instruments.items():
        cost = sum(a.positions[sym].cost for a in st.accounts.values() if sym in a.positions)
        clearing = st.ledger.balance(inst.clearing_account, inst.settlement_asset)
        if clearing != -cost * inst.unit_value:
            findings.append(Finding("clearing_matches_cost_basis", f"{sym}: clearing {clearing} != {-cost * inst.unit_value}"))
    return findings


def check_open_order_totals(st: VenueState) -> list[Finding]:
    """Each position's open-order totals equal the sum of its resting orders (holds = orders)."""
    expected: dict[tuple[int, str], list[int]] = {}
    findings = []
    for sym, book in st.books.items():
        for oid, order in book.orders.items():
            if order.qty <= 0:
                findings.append(Finding("open_order_totals", f"order {oid} rests with qty {order.qty}"))
            if st.order_instrument.get(oid) != sym or st.accounts[order.account].open_orders.get(oid) != sym:
                findings.append(Finding("open_order_totals", f"order {oid} index out of step"))
            t = expected.setdefault((order.account, sym), [0, 0, 0, 0])
            if order.is_buy:
                t[0] += order.qty
                t[1] += order.qty * order.price
            else:
                t[2] += order.qty
                t[3] += order.qty * order.price
    for acct in st.accounts.values():
        for sym, pos in acct.positions.items():
            want = expected.get((acct.account_id, sym), [0, 0, 0, 0])
            got = [pos.open_buy_qty, pos.open_buy_value, pos.open_sell_qty, pos.open_sell_value]
            if got != want:
                findings.append(Finding("open_order_totals", f"account {acct.account_id} {sym}: totals {got} != orders {want}"))
    if len(st.order_instrument) != sum(len(b.orders) for b in st.books.values()):
        findings.append(Finding("open_order_totals", "order index size differs from books"))
    return findings


def check_book_not_crossed(st: VenueState) -> list[Finding]:
    findings = []
    for sym, book in st.books.items():
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            findings.append(Finding("book_not_crossed", f"{sym}: best bid {bid} >= best ask {ask}"))
    return findings


CHECKS: tuple[Callable[[VenueState], list[Finding]], ...] = (
    check_balanced,
    check_holdings_match_external_flows,
    check_no_negative_participant_balance,
    check_positions_net_to_zero,
    check_clearing_matches_cost_basis,
    check_open_order_totals,
    check_book_not_crossed,
)


def check_all(st: VenueState) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(st))
    return findings
