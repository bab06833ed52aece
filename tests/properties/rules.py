"""Trading rules checked on the events of each step of a random stream.

``RuleWatch`` records what it needs before a command (positions, instrument states,
account kinds and PI expiries) and then reads the command's events trade by trade,
returning the broken rules as short texts tagged with the rule's name:

- ``stp``: no trade between accounts of one legal entity;
- ``post_only``: a post-only order never takes liquidity;
- ``halted``: nothing trades on a halted instrument;
- ``price``: a trade happens at the maker's price, within the taker's limit;
- ``fees``: fees are ceil(notional x rate) for the instrument's rates;
- ``reduce_only``: a reduce-only order never increases or flips its account's position;
- ``fok``: a fill-or-kill order fills all of its quantity or none;
- ``close_only``: while an instrument is CLOSE_ONLY no fill increases any position in it;
- ``pi_gate``: no fill increases a client's position once its PI status has expired.
"""

from __future__ import annotations

from typing import Any

from harbour.venue.commands import AccountKind, InstrumentState, PlaceOrder, TimeInForce
from harbour.venue.events import AutoDeleveraged, OrderAccepted, OrderAmended, TradeExecuted

from venue.helpers import STEP_NS, Venue


def _grows(before: int, after: int) -> bool:
    return abs(after) > abs(before) or before * after < 0


class RuleWatch:
    def __init__(self) -> None:
        # order id -> [account, is_buy, price, reduce_only, tif]
        self.orders: dict[int, list[Any]] = {}
        self.last_trade_id = 0

    def step(self, v: Venue, command: object) -> list[str]:
        """Apply ``command`` through the driver and return the rules its events broke."""
        st = v.state
        positions = {(a.account_id, sym): p.qty for a in st.accounts.values() for sym, p in a.positions.items()}
        states = {sym: inst.state for sym, inst in st.instruments.items()}
        groups = {a.account_id: a.legal_entity or f"acct:{a.account_id}" for a in st.accounts.values()}
        expired = {
            a.account_id for a in st.accounts.values() if a.kind is AccountKind.CLIENT and a.pi_expiry_ns <= v.ts + STEP_NS
        }
        events = v.do(command)
        broken: list[str] = []
        taker_fills: dict[int, int] = {}
        for e in events:
            if isinstance(e, OrderAccepted):
                self.orders[e.order_id] = [e.account, e.side.value == "BUY", e.price, e.reduce_only, e.tif]
            elif isinstance(e, OrderAmended):
                self.orders[e.order_id][2] = e.new_price
            elif isinstance(e, TradeExecuted):
                broken += self._trade(v, e, positions, states, groups, expired)
                taker_fills[e.taker_order_id] = taker_fills.get(e.taker_order_id, 0) + e.qty
            elif isinstance(e, AutoDeleveraged):
                # a deleveraging trade takes the next trade id; both positions reduce by qty at
                # the bankruptcy price (no order, no fee)
                if e.trade_id != self.last_trade_id + 1 and self.last_trade_id:
                    broken.append(f"trade_ids: {e.trade_id} follows {self.last_trade_id}")
                self.last_trade_id = e.trade_id
                buys = e.counterparty_side.value == "BUY"
                for account, signed in ((e.counterparty, e.qty if buys else -e.qty), (e.account, -e.qty if buys else e.qty)):
                    before = positions.get((account, e.instrument), 0)
                    positions[(account, e.instrument)] = before + signed
                    if _grows(before, before + signed):
                        broken.append(f"adl: account {account} {e.instrument} grew {before} -> {before + signed}")
        if isinstance(command, PlaceOrder) and command.tif is TimeInForce.FOK:
            filled = taker_fills.get(v.seq, 0)
            if filled not in (0, command.qty):
                broken.append(f"fok: order {v.seq} filled {filled} of {command.qty}")
        return broken

    def _trade(
        self,
        v: Venue,
        t: TradeExecuted,
        positions: dict[tuple[int, str], int],
        states: dict[str, InstrumentState],
        groups: dict[int, str],
        expired: set[int],
    ) -> list[str]:
        broken = []
        sym = t.instrument
        inst = v.state.instruments[sym]
        maker = self.orders[t.maker_order_id]
        liquidation = t.taker_order_id == 0  # a liquidation IOC: reduce-only, no taker fee, limit = bankruptcy price
        taker = self.orders[t.taker_order_id] if not liquidation else [t.taker_account, t.taker_side.value == "BUY", t.price, True, None]
        if t.trade_id != self.last_trade_id + 1 and self.last_trade_id:
            broken.append(f"trade_ids: {t.trade_id} follows {self.last_trade_id}")
        self.last_trade_id = t.trade_id
        if groups[t.maker_account] == groups[t.taker_account]:
            broken.append(f"stp: trade {t.trade_id} between {t.maker_account} and {t.taker_account}")
        if taker[4] is TimeInForce.POST_ONLY:
            broken.append(f"post_only: order {t.taker_order_id} took liquidity")
        if states[sym] is InstrumentState.HALTED:
            broken.append(f"halted: trade {t.trade_id} on halted {sym}")
        if t.price != maker[2] or (t.price > taker[2] if taker[1] else t.price < taker[2]):
            broken.append(f"price: trade {t.trade_id} at {t.price}, maker {maker[2]}, taker limit {taker[2]}")
        notional = t.price * t.qty * inst.unit_value
        taker_rate = 0 if liquidation else inst.taker_fee_ppm
        fees = (-((-notional * taker_rate) // 1_000_000), -((-notional * inst.maker_fee_ppm) // 1_000_000))
        if inst.maker_fee_ppm >= 0 and (t.taker_fee, t.maker_fee) != fees:
            broken.append(f"fees: trade {t.trade_id} charged {(t.taker_fee, t.maker_fee)}, expected {fees}")
        buy = t.taker_side.value == "BUY"
        for account, order, signed in ((t.taker_account, taker, t.qty if buy else -t.qty), (t.maker_account, maker, -t.qty if buy else t.qty)):
            before = positions.get((account, sym), 0)
            after = positions[(account, sym)] = before + signed
            if not _grows(before, after):
                continue
            if order[3]:
                broken.append(f"reduce_only: account {account} {sym} {before} -> {after} by reduce-only order")
            if states[sym] is InstrumentState.CLOSE_ONLY:
                broken.append(f"close_only: account {account} {sym} {before} -> {after} while close-only")
            if account in expired:
                broken.append(f"pi_gate: expired client {account} {sym} {before} -> {after}")
        return broken
