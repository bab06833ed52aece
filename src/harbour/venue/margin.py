"""Pre-trade margin: equity and initial-margin requirement of an account.

Cross margin (default): equity = sum of eligible collateral after haircut and FX into
the risk currency (rounded down) + unrealised PnL of cross positions at the reference
price (converted rounding toward -infinity); requirement = sum over cross instruments of
the initial margin of the worst position reachable with open orders (converted
rounding up). Isolated margin: an instrument's equity is its isolated wallet (in the
settlement asset) plus its unrealised PnL, against that instrument's requirement.

Requirement of one instrument, in settlement micro-units:
  worst = max(|qty + open_buy_qty|, |qty - open_sell_qty|)
  IM    = initial_margin(brackets, worst x ref x unit_value, account leverage)   (tiers.py)
        + premium of resting buys above ref and sells below ref (their immediate loss)
Maintenance margin (MM) counts the position alone at the mark (tiers.maintenance_margin);
an account whose margin balance (equity with every unrealised PnL counted) is below its
MM is liquidated (liquidation.py).
All integer; every rounding is in the platform's favour.
"""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import FX_SCALE
from harbour.venue.accounts import Account, Position
from harbour.venue.instruments import Instrument
from harbour.venue.state import RISK_CURRENCY, VenueState, isolated_account
from harbour.venue.tiers import initial_margin, maintenance_margin


def worst_notional(qty: int, open_buy_qty: int, open_sell_qty: int, inst: Instrument) -> int:
    """Notional at the reference price of the largest position reachable with the open orders."""
    long_reach = qty + open_buy_qty
    short_reach = qty - open_sell_qty
    if long_reach < 0:
        long_reach = -long_reach
    if short_reach < 0:
        short_reach = -short_reach
    worst = long_reach if long_reach > short_reach else short_reach
    return worst * inst.ref_price * inst.unit_value


def requirement_of(
    qty: int, open_buy_qty: int, open_buy_value: int, open_sell_qty: int, open_sell_value: int, inst: Instrument, leverage: int
) -> int:
    """Initial margin of the worst reachable position, settlement micro-units, rounded up.

    ``leverage`` is the account's choice on the instrument (0: the bracket's maximum)."""
    ref = inst.ref_price
    im = initial_margin(inst.tiers, worst_notional(qty, open_buy_qty, open_sell_qty, inst), leverage)
    premium = 0
    if open_buy_qty:
        p = open_buy_value - open_buy_qty * ref
        if p > 0:
            premium += p
    if open_sell_qty:
        p = open_sell_qty * ref - open_sell_value
        if p > 0:
            premium += p
    return im + premium * inst.unit_value


def instrument_requirement(pos: Position, inst: Instrument, leverage: int) -> int:
    """Initial margin of a position with its open orders, settlement micro-units, rounded up."""
    return requirement_of(pos.qty, pos.open_buy_qty, pos.open_buy_value, pos.open_sell_qty, pos.open_sell_value, inst, leverage)


def position_maintenance(qty: int, inst: Instrument) -> int:
    """Maintenance margin of a position at the mark, settlement micro-units, rounded up."""
    if qty < 0:
        qty = -qty
    return maintenance_margin(inst.tiers, qty * inst.ref_price * inst.unit_value)


def unrealised_pnl(pos: Position, inst: Instrument) -> int:
    """Unrealised PnL at the reference price, settlement micro-units (exact)."""
    return (pos.qty * inst.ref_price - pos.cost) * inst.unit_value


def cross_collateral(state: VenueState, acct: Account) -> int:
    """Eligible collateral of the cross wallet, after haircut and FX, risk currency (rounded down per asset)."""
    value = state.registry.collateral_value
    total = 0
    for asset, balance in state.ledger.wallet(acct.account_id).items():
        total += value(asset, balance, RISK_CURRENCY)
    return total


def cross_equity_and_requirement(
    state: VenueState,
    acct: Account,
    override_symbol: str = "",
    override_requirement: int = 0,
    *,
    count_unrealised_gains: bool = True,
) -> tuple[int, int]:
    """(equity, requirement) of the cross-margin part of an account, risk currency.

    With ``override_symbol``, that instrument's requirement (settlement micro-units) is
    taken as ``override_requirement`` instead of being computed, also when the account has
    no position in it yet: the pre-trade check asks "what if this order were added". With ``count_unrealised_gains=False`` (for
    withdrawals) a position's unrealised gain counts zero while its loss still counts:
    cash may not be paid out against profit that is not yet realised. Unrealised PnL
    converts rounding toward -infinity and requirements round up, both in the
    platform's favour.
    """
    equity = cross_collateral(state, acct)
    requirement = 0
    instruments = state.instruments
    leverage = acct.leverage
    fx = state.registry.fx_e8
    for sym, pos in acct.positions.items():
        if pos.isolated:
            continue
        qty = pos.qty
        if sym == override_symbol:
            req = override_requirement
        elif not (qty or pos.open_buy_qty or pos.open_sell_qty):
            continue
        else:
            req = requirement_of(
                qty, pos.open_buy_qty, pos.open_buy_value, pos.open_sell_qty, pos.open_sell_value, instruments[sym], leverage.get(sym, 0)
            )
        inst = instruments[sym]
        upnl = (qty * inst.ref_price - pos.cost) * inst.unit_value if qty else 0
        if upnl > 0 and not count_unrealised_gains:
            upnl = 0
        ccy = inst.settlement_currency
        if ccy == RISK_CURRENCY:
            requirement += req
            equity += upnl
        else:
            rate = fx[(ccy, RISK_CURRENCY)]
            requirement += -((-req * rate) // FX_SCALE)
            equity += (upnl * rate) // FX_SCALE
    if override_symbol and override_symbol not in acct.positions:
        ccy = instruments[override_symbol].settlement_currency
        rate = FX_SCALE if ccy == RISK_CURRENCY else fx[(ccy, RISK_CURRENCY)]
        requirement += -((-override_requirement * rate) // FX_SCALE)
    return equity, requirement


def isolated_equity(state: VenueState, acct: Account, sym: str, *, count_unrealised_gains: bool = True) -> int:
    """Isolated wallet plus unrealised PnL of that position, settlement micro-units."""
    inst = state.instruments[sym]
    wallet = state.ledger.balance(isolated_account(acct.account_id, sym), inst.settlement_asset)
    upnl = unrealised_pnl(acct.positions[sym], inst)
    if upnl > 0 and not count_unrealised_gains:
        upnl = 0
    return wallet + upnl


def cross_margin_balance_and_maintenance(state: VenueState, acct: Account) -> tuple[int, int]:
    """(margin balance, maintenance margin) of the cross part of an account, risk currency.

    Margin balance = eligible collateral + every cross position's unrealised PnL at the
    mark (gains count); maintenance = the sum of the cross positions' maintenance margins.
    Conversions round balance down and maintenance up (the platform's favour).
    """
    balance = cross_collateral(state, acct)
    maintenance = 0
    instruments = state.instruments
    for sym, pos in acct.positions.items():
        qty = pos.qty
        if pos.isolated or not qty:
            continue
        inst = instruments[sym]
        balance += to_risk(state, inst, (qty * inst.ref_price - pos.cost) * inst.unit_value, down=True)
        maintenance += to_risk(state, inst, position_maintenance(qty, inst))
    return balance, maintenance


def to_risk(state: VenueState, inst: Instrument, amount: int, *, down: bool = False) -> int:
    """Settlement micro-units of ``inst`` into the risk currency, rounded up (or down with
    ``down``): requirements round up and balances down, in the platform's favour. The
    pre-trade check (``cross_equity_and_requirement``) inlines the same rounding: it is the
    order hot path."""
    ccy = inst.settlement_currency
    if ccy == RISK_CURRENCY:
        return amount
    rate = state.registry.fx_e8[(ccy, RISK_CURRENCY)]
    return (amount * rate) // FX_SCALE if down else -((-amount * rate) // FX_SCALE)


def from_risk(state: VenueState, inst: Instrument, amount: int) -> int:
    """Risk-currency micro-units into settlement micro-units of ``inst``, rounded down."""
    ccy = inst.settlement_currency
    if ccy == RISK_CURRENCY:
        return amount
    rate = state.registry.fx_e8[(ccy, RISK_CURRENCY)]
    return (amount * FX_SCALE) // rate


def isolated_margin_balance_and_maintenance(state: VenueState, acct: Account, sym: str) -> tuple[int, int]:
    """(margin balance, maintenance margin) of an isolated position, settlement micro-units."""
    pos = acct.positions[sym]
    return isolated_equity(state, acct, sym), position_maintenance(pos.qty, state.instruments[sym])


def raised_requirement_problem(
    state: VenueState, acct: Account, inst: Instrument, pos: Position, after: int
) -> tuple[RejectCode, dict[str, str | int]] | None:
    """Can the position's scope carry an instrument requirement raised to ``after``?

    Isolated: the isolated equity must cover ``after``; cross: the account's whole cross
    requirement, with this instrument's taken as ``after``, must fit within cross equity."""
    if pos.isolated:
        equity = isolated_equity(state, acct, inst.symbol)
        if after > equity:
            return RejectCode.INSUFFICIENT_ISOLATED_MARGIN, {"required": after, "available": equity}
        return None
    equity, required = cross_equity_and_requirement(state, acct, inst.symbol, after)
    if required > equity:
        return RejectCode.INSUFFICIENT_MARGIN, {"required": required, "available": equity, "currency": RISK_CURRENCY}
    return None
