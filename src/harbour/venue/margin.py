"""Pre-trade margin: equity and initial-margin requirement of an account.

Cross margin (default): equity = sum of eligible collateral after haircut and FX into
the risk currency (rounded down) + unrealised PnL of cross positions at the reference
price (converted rounding toward -infinity); requirement = sum over cross instruments of
the initial margin of the worst position reachable with open orders (converted
rounding up). Isolated margin: an instrument's equity is its isolated wallet (in the
settlement asset) plus its unrealised PnL, against that instrument's requirement.

Requirement of one instrument, in settlement micro-units:
  worst = max(|qty + open_buy_qty|, |qty - open_sell_qty|)
  IM    = ceil(worst x ref x unit_value x imr_ppm / 1e6)
        + premium of resting buys above ref and sells below ref (their immediate loss)
All integer; every rounding is in the platform's favour.
"""

from __future__ import annotations

from harbour.kernel.money import PPM
from harbour.venue.accounts import Account, Position
from harbour.venue.instruments import Instrument
from harbour.venue.state import RISK_CURRENCY, VenueState, isolated_account


def instrument_requirement(pos: Position, inst: Instrument) -> int:
    """Initial margin of the worst reachable position, settlement micro-units, rounded up."""
    ref = inst.ref_price
    qty = pos.qty
    long_reach = qty + pos.open_buy_qty
    short_reach = qty - pos.open_sell_qty
    if long_reach < 0:
        long_reach = -long_reach
    if short_reach < 0:
        short_reach = -short_reach
    worst = long_reach if long_reach > short_reach else short_reach
    notional = worst * ref * inst.unit_value
    im = -((-notional * inst.imr_ppm) // PPM)
    premium = 0
    if pos.open_buy_qty:
        p = pos.open_buy_value - pos.open_buy_qty * ref
        if p > 0:
            premium += p
    if pos.open_sell_qty:
        p = pos.open_sell_qty * ref - pos.open_sell_value
        if p > 0:
            premium += p
    return im + premium * inst.unit_value


def unrealised_pnl(pos: Position, inst: Instrument) -> int:
    """Unrealised PnL at the reference price, settlement micro-units (exact)."""
    return (pos.qty * inst.ref_price - pos.cost) * inst.unit_value


def cross_collateral(state: VenueState, account_id: int) -> int:
    """Eligible collateral of the cross wallet, after haircut and FX, risk currency."""
    reg = state.registry
    total = 0
    for asset, balance in state.ledger.wallet(account_id).items():
        if balance > 0:
            total += reg.collateral_value(asset, balance, RISK_CURRENCY)
    return total


def cross_equity_and_requirement(state: VenueState, acct: Account) -> tuple[int, int]:
    """(equity, requirement) of the cross-margin part of an account, risk currency."""
    reg = state.registry
    instruments = state.instruments
    equity = cross_collateral(state, acct.account_id)
    requirement = 0
    for sym, pos in acct.positions.items():
        if pos.isolated:
            continue
        inst = instruments[sym]
        ccy = reg.assets[inst.settlement_asset].currency
        if pos.qty:
            equity += reg.convert_down(unrealised_pnl(pos, inst), ccy, RISK_CURRENCY)
        if pos.qty or pos.open_buy_qty or pos.open_sell_qty:
            requirement += reg.convert_up(instrument_requirement(pos, inst), ccy, RISK_CURRENCY)
    return equity, requirement


def isolated_equity(state: VenueState, acct: Account, sym: str) -> int:
    """Isolated wallet plus unrealised PnL of that position, settlement micro-units."""
    inst = state.instruments[sym]
    wallet = state.ledger.balance(isolated_account(acct.account_id, sym), inst.settlement_asset)
    return wallet + unrealised_pnl(acct.positions[sym], inst)


def free_cross_collateral(state: VenueState, acct: Account) -> int:
    equity, requirement = cross_equity_and_requirement(state, acct)
    return equity - requirement
