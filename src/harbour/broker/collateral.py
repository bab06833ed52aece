"""Collateral and money handlers: deposits, the financed VA purchase, withdrawals, encumbrance.

Owns the commands that move a client's cash, securities and VA lots.

Rules:

* Cash paid in repays the loan first; only the excess is held as cash. So a client
  never holds cash and a loan at once.
* E4: the only way a loan grows is ``BuyVirtualAsset``: the purchase of BTC/ETH is paid
  from cash first and the rest is financed, the financed part going straight to the
  VATP (EXTERNAL), never to the client. M1 is checked on the post-trade figures, then
  the C1-C5 limits (a breach needs an exceptions-register entry); an advance can make
  the credit review due (K1).
* M3: no collateral or cash withdrawal while a call is outstanding.
* K1: one deposit or withdrawal (cash, or collateral at its mark) worth more than the
  configured share of the credit limit (house default 25%) makes the review due.
* N1 (a): a withdrawal must leave R <= the withdrawal ceiling (85%); VA lots are taken
  oldest first, and custody checks the same limit itself before any lot is debited.
* N1: every other use of a VA lot (pledge, lend, stake, house transfer, another
  client's debt) is refused by custody.

Every handler validates everything before it changes anything, then reviews the client.
"""

from __future__ import annotations

from harbour.broker.clients import CAUSE_SECURITIES, Client
from harbour.broker.commands import (
    BuyVirtualAsset,
    DepositCash,
    DepositSecurities,
    DepositVirtualAsset,
    EncumberVirtualAsset,
    WithdrawCash,
    WithdrawSecurities,
    WithdrawVirtualAsset,
)
from harbour.broker.config import ELIGIBLE_VIRTUAL_ASSETS, MAX_CASH, MAX_SHARES_HELD, MAX_VA_PRICE, MAX_VA_UNITS_HELD, VA_UNITS_PER_COIN
from harbour.broker.custody import DEPOSIT, PURCHASE, WITHDRAWAL, DebitAuthority
from harbour.broker.events import CashDeposited, CollateralWithdrawn, LoanAdvanced, LotOpened, VirtualAssetPurchased
from harbour.broker.limits import Breach, applied_events, check_limits
from harbour.broker.margin import check_new_financing, review_client
from harbour.broker.rejects import rejected
from harbour.broker.reviews import TRIGGER_LARGE_DEPOSIT, TRIGGER_LARGE_WITHDRAWAL, on_advance, on_transfer
from harbour.broker.state import EXTERNAL, HKD, BrokerState, LimitException, cash_account, loan_account, securities_account, security_asset
from harbour.broker.transfers import debit_lot, open_lot, post_main
from harbour.broker.valuation import client_figures, price_snapshot, ratio_above, ratio_bps, va_value
from harbour.kernel.errors import InvariantBroken, RejectCode
from harbour.kernel.money import div_round_up

C = RejectCode
Problem = tuple[RejectCode, dict[str, str | int]]


def _positive(field: str, value: int, ceiling: int) -> Problem | None:
    if value <= 0:
        return C.AMOUNT_NOT_POSITIVE, {"field": field, "value": value}
    if value > ceiling:
        return C.AMOUNT_TOO_LARGE, {"field": field, "value": value, "ceiling": ceiling}
    return None


def _reject(out: list[object], seq: int, ts: int, command: str, problem: Problem) -> None:
    code, detail = problem
    out.append(rejected(seq, ts, command, code, **detail))


def _client(st: BrokerState, cid: int) -> tuple[Client | None, Problem | None]:
    client = st.clients.get(cid)
    if client is None:
        return None, (C.UNKNOWN_CLIENT, {"client": cid})
    return client, None


# --- in ----------------------------------------------------------------------------------


def deposit_cash(st: BrokerState, seq: int, ts: int, cmd: DepositCash, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    problem = problem or _positive("amount", cmd.amount, MAX_CASH)
    if problem is None and st.cash(cmd.client) + cmd.amount > MAX_CASH:
        problem = C.AMOUNT_TOO_LARGE, {"field": "cash held", "value": st.cash(cmd.client) + cmd.amount, "ceiling": MAX_CASH}
    if problem or client is None:
        _reject(out, seq, ts, "deposit_cash", problem or (C.UNKNOWN_CLIENT, {"client": cmd.client}))
        return
    repaid = min(cmd.amount, st.loan(cmd.client))
    credited = cmd.amount - repaid
    post_main(st, seq, ts, "CASH_DEPOSIT", [(EXTERNAL, HKD, -cmd.amount), (loan_account(cmd.client), HKD, repaid), (cash_account(cmd.client), HKD, credited)], "", out)
    out.append(CashDeposited(seq=seq, ts_ns=ts, client=cmd.client, amount=cmd.amount, loan_repaid=repaid, cash_credited=credited))
    on_transfer(st, client, cmd.amount, TRIGGER_LARGE_DEPOSIT, seq, ts, out, borrowing=repaid > 0)
    review_client(st, cmd.client, seq, ts, CAUSE_SECURITIES, out)


def deposit_securities(st: BrokerState, seq: int, ts: int, cmd: DepositSecurities, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    if problem is None and cmd.security not in st.securities:
        problem = C.UNKNOWN_SECURITY, {"security": cmd.security}
    problem = problem or _positive("quantity", cmd.qty, MAX_SHARES_HELD - st.shares(cmd.client, cmd.security))
    if problem or client is None:
        _reject(out, seq, ts, "deposit_securities", problem or (C.UNKNOWN_CLIENT, {"client": cmd.client}))
        return
    asset = security_asset(cmd.security)
    post_main(st, seq, ts, "SECURITIES_DEPOSIT", [(EXTERNAL, asset, -cmd.qty), (securities_account(cmd.client), asset, cmd.qty)], cmd.security, out)
    on_transfer(st, client, cmd.qty * st.securities[cmd.security].price, TRIGGER_LARGE_DEPOSIT, seq, ts, out)
    review_client(st, cmd.client, seq, ts, CAUSE_SECURITIES, out)


def deposit_virtual_asset(st: BrokerState, seq: int, ts: int, cmd: DepositVirtualAsset, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    if problem is None and not _is_asset_code(cmd.asset):
        problem = C.INVALID_PARAMETER, {"problem": f"bad asset code {cmd.asset!r}"}
    if problem is None:
        problem = _positive("quantity", cmd.qty, MAX_VA_UNITS_HELD - st.custody[cmd.client].holding(cmd.asset))
    if problem is None and not 0 <= cmd.cost_price <= MAX_VA_PRICE:
        problem = C.INVALID_PARAMETER, {"problem": f"cost price must be in [0, {MAX_VA_PRICE}]"}
    if problem or client is None:
        _reject(out, seq, ts, "deposit_virtual_asset", problem or (C.UNKNOWN_CLIENT, {"client": cmd.client}))
        return
    lot = open_lot(st, seq, ts, cmd.client, cmd.asset, cmd.qty, cmd.cost_price, DEPOSIT, out)
    out.append(LotOpened(seq=seq, ts_ns=ts, client=cmd.client, lot=lot, asset=cmd.asset, qty=cmd.qty, cost_price=cmd.cost_price, source=DEPOSIT))
    on_transfer(st, client, _va_worth(st, cmd.asset, cmd.qty), TRIGGER_LARGE_DEPOSIT, seq, ts, out)
    review_client(st, cmd.client, seq, ts, CAUSE_SECURITIES, out)


def buy_virtual_asset(st: BrokerState, seq: int, ts: int, cmd: BuyVirtualAsset, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    if problem is None and cmd.asset not in ELIGIBLE_VIRTUAL_ASSETS:
        problem = C.VA_NOT_ELIGIBLE, {"asset": cmd.asset}
    if problem is None:
        problem = _positive("quantity", cmd.qty, MAX_VA_UNITS_HELD - st.custody[cmd.client].holding(cmd.asset))
    problem = problem or _positive("price", cmd.price, MAX_VA_PRICE)
    if problem is None and cmd.asset not in st.va_marks:
        problem = C.NO_PRICE, {"instrument": cmd.asset}
    if problem or client is None:
        _reject(out, seq, ts, "buy_virtual_asset", problem or (C.UNKNOWN_CLIENT, {"client": cmd.client}))
        return
    cost = div_round_up(cmd.qty * cmd.price, VA_UNITS_PER_COIN)  # charged: rounds up
    cash_used = min(cost, st.cash(cmd.client))
    financed = cost - cash_used
    after = client_figures(st, cmd.client, {cmd.asset: cmd.qty}, loan_delta=financed, cash_delta=-cash_used)
    used: list[tuple[Breach, LimitException]] = []
    if financed:
        problem = check_new_financing(st, client, after, ts)
        if problem is None:
            problem, used = check_limits(st, client, {cmd.asset: cmd.qty}, financed, ts)
        if problem:
            _reject(out, seq, ts, "buy_virtual_asset", problem)
            return
    post_main(
        st, seq, ts, "VA_PURCHASE",
        [(cash_account(cmd.client), HKD, -cash_used), (loan_account(cmd.client), HKD, -financed), (EXTERNAL, HKD, cost)],
        f"{cmd.asset} purchase settled on the VATP", out,
    )
    lot = open_lot(st, seq, ts, cmd.client, cmd.asset, cmd.qty, cmd.price, PURCHASE, out)
    out.append(LotOpened(seq=seq, ts_ns=ts, client=cmd.client, lot=lot, asset=cmd.asset, qty=cmd.qty, cost_price=cmd.price, source=PURCHASE))
    out.append(
        VirtualAssetPurchased(seq=seq, ts_ns=ts, client=cmd.client, asset=cmd.asset, lot=lot, qty=cmd.qty, price=cmd.price, cost=cost, cash_used=cash_used, financed=financed)
    )
    if financed:
        client.last_advance_seq = seq
        out.append(LoanAdvanced(seq=seq, ts_ns=ts, client=cmd.client, amount=financed, purpose="VA_PURCHASE", figures=after, prices=price_snapshot(st, cmd.client)))
        out.extend(applied_events(seq, ts, cmd.client, used))
        on_advance(st, client, seq, ts, out)
    review_client(st, cmd.client, seq, ts, CAUSE_SECURITIES, out)


# --- out ---------------------------------------------------------------------------------


def withdraw_cash(st: BrokerState, seq: int, ts: int, cmd: WithdrawCash, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    problem = problem or _positive("amount", cmd.amount, MAX_CASH)
    if problem is None and client is not None and client.call is not None:
        problem = C.MARGIN_CALL_OUTSTANDING, {"client": cmd.client}
    if problem is None and st.cash(cmd.client) < cmd.amount:
        problem = C.INSUFFICIENT_CASH, {"client": cmd.client, "cash": st.cash(cmd.client), "amount": cmd.amount}
    if problem:
        _reject(out, seq, ts, "withdraw_cash", problem)
        return
    post_main(st, seq, ts, "CASH_WITHDRAWAL", [(cash_account(cmd.client), HKD, -cmd.amount), (EXTERNAL, HKD, cmd.amount)], "", out)
    if client is not None:
        on_transfer(st, client, cmd.amount, TRIGGER_LARGE_WITHDRAWAL, seq, ts, out)
    review_client(st, cmd.client, seq, ts, CAUSE_SECURITIES, out)


def withdraw_securities(st: BrokerState, seq: int, ts: int, cmd: WithdrawSecurities, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    problem = problem or _positive("quantity", cmd.qty, MAX_SHARES_HELD)
    if problem is None:
        problem = _withdrawal_problem(st, cmd.client, cmd.security, cmd.qty, st.shares(cmd.client, cmd.security))
    if problem or client is None:
        _reject(out, seq, ts, "withdraw_securities", problem or (C.UNKNOWN_CLIENT, {"client": cmd.client}))
        return
    asset = security_asset(cmd.security)
    post_main(st, seq, ts, "SECURITIES_WITHDRAWAL", [(securities_account(cmd.client), asset, -cmd.qty), (EXTERNAL, asset, cmd.qty)], cmd.security, out)
    client.last_collateral_withdrawal_seq = seq
    _withdrawn(st, seq, ts, cmd.client, cmd.security, 0, cmd.qty, out)
    on_transfer(st, client, cmd.qty * st.securities[cmd.security].price if cmd.security in st.securities else 0, TRIGGER_LARGE_WITHDRAWAL, seq, ts, out)


def withdraw_virtual_asset(st: BrokerState, seq: int, ts: int, cmd: WithdrawVirtualAsset, out: list[object]) -> None:
    client, problem = _client(st, cmd.client)
    problem = problem or _positive("quantity", cmd.qty, MAX_VA_UNITS_HELD)
    if problem is None:
        problem = _withdrawal_problem(st, cmd.client, cmd.asset, cmd.qty, st.custody[cmd.client].holding(cmd.asset))
    if problem or client is None:
        _reject(out, seq, ts, "withdraw_virtual_asset", problem or (C.UNKNOWN_CLIENT, {"client": cmd.client}))
        return
    custody = st.custody[cmd.client]
    after = client_figures(st, cmd.client, {cmd.asset: -cmd.qty})
    authority = DebitAuthority(path=WITHDRAWAL, debtor=cmd.client, loan=after.loan, margin_value_after=after.margin_value, limit_bps=st.config.withdrawal_max_ratio_bps)
    plan: list[tuple[int, int]] = []
    remaining = cmd.qty
    for lot in custody.lots():
        if lot.asset == cmd.asset and remaining:
            take = min(remaining, lot.qty)
            plan.append((lot.lot_id, take))
            remaining -= take
    for lot_id, take in plan:  # custody's own check, before any lot moves
        refused = custody.authorise_debit(lot_id, take, authority)
        if refused is not None:
            raise InvariantBroken(f"custody refused a withdrawal the handler allowed: {refused}")
    for lot_id, take in plan:
        debit_lot(st, seq, ts, cmd.client, lot_id, take, authority, out)
        _withdrawn(st, seq, ts, cmd.client, cmd.asset, lot_id, take, out)
    client.last_collateral_withdrawal_seq = seq
    on_transfer(st, client, _va_worth(st, cmd.asset, cmd.qty), TRIGGER_LARGE_WITHDRAWAL, seq, ts, out)


def encumber_virtual_asset(st: BrokerState, seq: int, ts: int, cmd: EncumberVirtualAsset, out: list[object]) -> None:
    _, problem = _client(st, cmd.client)
    problem = problem or _positive("quantity", cmd.qty, MAX_VA_UNITS_HELD)
    if problem is None:
        authority = DebitAuthority(path=cmd.purpose.value, debtor=cmd.client, loan=st.loan(cmd.client))
        problem = st.custody[cmd.client].authorise_debit(cmd.lot, cmd.qty, authority)
        if problem is not None and problem[0] is C.UNKNOWN_LOT:
            problem = C.UNKNOWN_LOT, {"client": cmd.client, "asset": "VA", "lot": cmd.lot}
    if problem is None:
        raise InvariantBroken(f"custody allowed an encumbrance: {cmd!r}")
    _reject(out, seq, ts, "encumber_virtual_asset", problem)


# --- helpers -----------------------------------------------------------------------------


def _withdrawal_problem(st: BrokerState, cid: int, instrument: str, qty: int, held: int) -> Problem | None:
    """M3 and N1 (a): no withdrawal in a call, none beyond what is held, none that lifts R above the ceiling."""
    client = st.clients[cid]
    if client.call is not None:
        return C.MARGIN_CALL_OUTSTANDING, {"client": cid}
    if qty > held:
        return C.INSUFFICIENT_HOLDING, {"client": cid, "held": held, "instrument": instrument, "qty": qty}
    after = client_figures(st, cid, {instrument: -qty})
    limit = st.config.withdrawal_max_ratio_bps
    if ratio_above(after.loan, after.margin_value, limit):
        shown = ratio_bps(after.loan, after.margin_value)
        return C.WITHDRAWAL_WOULD_BREACH_LIMIT, {"ratio_bps": "unbounded" if shown is None else shown, "limit_bps": limit}
    return None


def _withdrawn(st: BrokerState, seq: int, ts: int, cid: int, instrument: str, lot: int, qty: int, out: list[object]) -> None:
    out.append(
        CollateralWithdrawn(seq=seq, ts_ns=ts, client=cid, instrument=instrument, lot=lot, qty=qty, figures=client_figures(st, cid), prices=price_snapshot(st, cid))
    )


def _va_worth(st: BrokerState, asset: str, qty: int) -> int:
    """``qty`` of ``asset`` at its mark (0 if never marked): the K1 large-transfer measure."""
    mark = st.va_marks.get(asset)
    return va_value(qty, mark.price) if mark is not None else 0


def _is_asset_code(code: str) -> bool:
    return 0 < len(code) <= 16 and code.isascii() and code.isalnum() and code.upper() == code
