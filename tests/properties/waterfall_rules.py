"""The published loss waterfall, checked event by event against a shadow of the venue.

``Shadow`` rebuilds, from the events alone, what the rules speak about at any point inside
a command: ledger balances (``TransferPosted``), positions with their cost basis
(``TradeExecuted``, ``AutoDeleveraged``, ``GainRealisedAtMark``), the resting orders
(``OrderAccepted``/``Amended``/``Cancelled`` and fills), marks and margin modes. Between
commands it must equal the engine (``assert_matches``), so it is a faithful view.

``WaterfallRules.check(events)`` walks one command's events and asserts, where each rule
bites (the engine's own rules, ``venue/settlement.py`` and ``venue/liquidation.py``):

1. Exhaustion before a platform layer, per ledger transfer (trade settlement, ADL, funding):
   the insurance fund, the operator tranche or DEFICIT is debited only if some participant
   who paid in that transfer has nothing left to pay with: no balance of the settlement
   asset, no other asset worth a micro-unit when converted (cross; at the FX rate, less the
   haircut when no longer eligible; virtual assets never convert), and (cross, client or MM)
   no unrealised gain at the mark on any cross position. The tranche is debited only if the
   fund is exhausted (nothing of the asset, nothing convertible), DEFICIT only if both are.
2. Within a liquidation: the fund and tranche pay only in the settlement of a liquidation
   fill at a price within the backstop collar (``BACKSTOP_COLLAR_BPS`` of the mark, on the
   tick as ``_backstop_limit`` rounds it), or in a deleveraging trade at the bankruptcy price
   for no more than the loss the step's backstop fills committed beyond that price (the
   defaulter's wallet paid those fills in full, so it lacks exactly that at the deleveraging
   settlement); DEFICIT is never debited there (the backstop stops at the layers' capacity
   and ADL takes the rest), but for FX rounding: a defaulter paying in another asset gives
   whole micro-units rounded up, up to one micro-unit of the source asset per conversion more
   than the bankruptcy price foresaw, and only that may reach the layers, or DEFICIT when
   they are empty. Only a deleveraging trade bounded at the counterparty's mark or
   entry (``adl_at_its_bound``) may draw further: the defaulter was insolvent beyond it.
3. ADL starts only when the backstop cannot pay for one more unit: at a step's first
   ``AutoDeleveraged`` the best remaining opposite order within the collar (other than the
   defaulter's own legal entity's) is absent, or its loss beyond the step's bankruptcy price
   for one quantity unit exceeds what may still pay it: the defaulter's unrealised gains on its
   other cross positions and the fund's and tranche's holdings, valued as the engine values them (``_affordable_qty``:
   converted exactly as settlement would convert them) when the backstop was priced, less the
   loss beyond that price its fills already committed.
4. Every ADL counterparty held, just before, a position on the other side at least as large
   as what it takes over, and is not the defaulter; an ADL transfer moves no other
   participant's money.
5. Each ``LossReported`` lists its rows in waterfall order, each amount the liquidation's
   actual balance change (the defaulter's wallets' net giving, the gains it gave up at the
   mark, the fees, the fund's draw net of the fees it took, the tranche's and DEFICIT's draws).
6. Funding: rows are the accounts with a position, each paying ``funding_payment`` at the
   command's mark and rate; payers = receivers + residue (rows sum to the residue), and
   without a shortfall the residue is what the fund receives in the transfer.
7. No participant wallet is ever negative, even between two transfers of one command.
8. Every index print recomputes bit for bit from its own record; every mark is the median
   of its three recorded inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harbour.kernel.assets import AssetKind
from harbour.kernel.money import BPS, FX_SCALE
from harbour.prices.funding import funding_payment
from harbour.prices.index import recompute
from harbour.venue.commands import Side
from harbour.venue.events import (
    AccountOpened,
    AutoDeleveraged,
    FundingSettled,
    GainRealisedAtMark,
    IndexPublished,
    LiquidationStepped,
    LiquidationTriggered,
    LossReported,
    MarginModeSet,
    MarkPriceSet,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    ReferencePriceSet,
    TradeExecuted,
    TransferPosted,
)
from harbour.venue.liquidation import BACKSTOP_COLLAR_BPS
from harbour.venue.state import DEFICIT, FX_CONVERSION, INSURANCE_FUND, PLATFORM_CAPITAL, VenueState, isolated_account

LAYER_ORDER = ("DEFAULTER_MARGIN", "DEFAULTER_GAINS", "LIQUIDATION_FEE", "INSURANCE_FUND", "OPERATOR_TRANCHE", "DEFICIT")
PLATFORM_LAYERS = (INSURANCE_FUND, PLATFORM_CAPITAL, DEFICIT)
_SETTLING_KINDS = ("TRADE_SETTLEMENT", "AUTO_DELEVERAGING", "FUNDING")
_BUY = Side.BUY


def is_participant(account: int | str) -> bool:
    return isinstance(account, int) or account.startswith("ISO:")


@dataclass(slots=True)
class Resting:
    account: int
    instrument: str
    is_buy: bool
    price: int
    qty: int


@dataclass(slots=True)
class Shadow:
    """The venue as its events describe it (see the module docstring)."""

    state: VenueState  # read only for static terms: instruments' tick and unit value, the FX and asset register
    balances: dict[tuple[int | str, str], int] = field(default_factory=dict)
    positions: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # (account, instrument) -> [qty, cost]
    isolated: dict[tuple[int, str], bool] = field(default_factory=dict)
    orders: dict[int, Resting] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)
    entity: dict[int, str] = field(default_factory=dict)  # account -> STP group

    # --- reading -----------------------------------------------------------------------

    def balance(self, account: int | str, asset: str) -> int:
        return self.balances.get((account, asset), 0)

    def qty(self, account: int, sym: str) -> int:
        return self.positions.get((account, sym), [0, 0])[0]

    def holdings(self, account: int | str) -> dict[str, int]:
        return {asset: amount for (acct, asset), amount in self.balances.items() if acct == account and amount}

    def wallet_of(self, account: int, sym: str) -> int | str:
        return isolated_account(account, sym) if self.isolated.get((account, sym)) else account

    def assert_matches(self, st: VenueState) -> None:
        """The shadow equals the engine between commands (balances, positions, resting orders, marks)."""
        ledger = {(a, s): x for a, wallet in st.ledger.accounts() for s, x in wallet.items() if x}
        assert {k: x for k, x in self.balances.items() if x} == ledger
        engine_positions = {(a.account_id, sym): [p.qty, p.cost] for a in st.accounts.values() for sym, p in a.positions.items() if p.qty}
        assert {k: p for k, p in self.positions.items() if p[0]} == engine_positions
        resting = {o.order_id: (o.account, sym, o.is_buy, o.price, o.qty) for sym, b in st.books.items() for o in b.orders.values()}
        assert {i: (o.account, o.instrument, o.is_buy, o.price, o.qty) for i, o in self.orders.items()} == resting
        assert self.marks == {sym: inst.ref_price for sym, inst in st.instruments.items() if sym in self.marks}

    # --- applying -----------------------------------------------------------------------

    def apply(self, e: object) -> None:
        kind = type(e)
        if kind is TransferPosted:
            for account, asset, amount in e.postings:  # type: ignore[attr-defined]
                self.balances[(account, asset)] = self.balances.get((account, asset), 0) + amount
        elif isinstance(e, TradeExecuted):
            self._trade(e)
        elif isinstance(e, AutoDeleveraged):
            self._adl(e)
        elif kind is GainRealisedAtMark:
            pos = self.positions[(e.account, e.instrument)]  # type: ignore[attr-defined]
            uv = self.state.instruments[e.instrument].unit_value  # type: ignore[attr-defined]
            assert (e.cost_after - pos[1]) * uv == e.gain, e  # type: ignore[attr-defined]
            pos[1] = e.cost_after  # type: ignore[attr-defined]
        elif kind is OrderAccepted:
            self.orders[e.order_id] = Resting(e.account, e.instrument, e.side is _BUY, e.price, e.qty)  # type: ignore[attr-defined]
        elif kind is OrderAmended:
            order = self.orders[e.order_id]  # type: ignore[attr-defined]
            order.price, order.qty = e.new_price, e.new_qty  # type: ignore[attr-defined]
        elif kind is OrderCancelled:
            self.orders.pop(e.order_id, None)  # type: ignore[attr-defined]
        elif kind is ReferencePriceSet:
            self.marks[e.instrument] = e.price  # type: ignore[attr-defined]
        elif kind is MarginModeSet:
            self.isolated[(e.account, e.instrument)] = e.isolated  # type: ignore[attr-defined]
        elif kind is AccountOpened:
            self.entity[e.account] = e.legal_entity or f"acct:{e.account}"  # type: ignore[attr-defined]

    def _fill(self, account: int, sym: str, is_buy: bool, qty: int, price: int, pnl: int) -> None:
        uv = self.state.instruments[sym].unit_value
        assert pnl % uv == 0
        pos = self.positions.setdefault((account, sym), [0, 0])
        signed = qty if is_buy else -qty
        pos[0] += signed
        pos[1] = pos[1] + signed * price + pnl // uv if pos[0] else 0

    def _trade(self, t: TradeExecuted) -> None:
        self._fill(t.taker_account, t.instrument, t.taker_side is _BUY, t.qty, t.price, t.taker_realised_pnl)
        self._fill(t.maker_account, t.instrument, t.taker_side is not _BUY, t.qty, t.price, t.maker_realised_pnl)
        for order_id in (t.maker_order_id, t.taker_order_id):
            order = self.orders.get(order_id)
            if order is not None:
                order.qty -= t.qty
                if order.qty == 0:
                    del self.orders[order_id]

    def _adl(self, a: AutoDeleveraged) -> None:
        counterparty_buys = a.counterparty_side is _BUY
        self._fill(a.counterparty, a.instrument, counterparty_buys, a.qty, a.price, a.counterparty_realised_pnl)
        self._fill(a.account, a.instrument, not counterparty_buys, a.qty, a.price, a.account_realised_pnl)

    # --- the engine's valuations, on the shadow ------------------------------------------

    def convertible_value(self, wallet: int | str, asset: str) -> int:
        """What ``settlement._convert`` could still get in ``asset`` from the wallet's other assets."""
        reg = self.state.registry
        target = reg.assets[asset].currency
        total = 0
        for other, bal in self.holdings(wallet).items():
            spec = reg.assets[other]
            if other == asset or bal <= 0 or spec.kind is AssetKind.VIRTUAL_ASSET:
                continue
            rate = reg.fx_rate_e8(spec.currency, target)
            if rate is None:
                continue
            keep = BPS if reg.is_eligible(other) else BPS - spec.haircut_bps
            total += bal * rate * keep // (FX_SCALE * BPS)
        return total

    def cross_gains(self, account: int, asset: str) -> list[tuple[str, int]]:
        """The account's cross positions with an unrealised gain at the mark that could pay ``asset``."""
        reg = self.state.registry
        out = []
        for (acct, sym), (qty, cost) in self.positions.items():
            if acct != account or not qty or self.isolated.get((acct, sym)):
                continue
            inst = self.state.instruments[sym]
            headroom = qty * self.marks[sym] - cost
            if headroom > 0 and reg.fx_rate_e8(reg.assets[inst.settlement_asset].currency, reg.assets[asset].currency) is not None:
                out.append((sym, headroom))
        return out

    def exhausted(self, wallet: int | str, asset: str) -> bool:
        """A payer has nothing left that pays before a platform layer (``settlement.pay``)."""
        if self.balance(wallet, asset) > 0:
            return False
        if isinstance(wallet, str):  # an isolated wallet pays from the settlement asset only
            return True
        return self.convertible_value(wallet, asset) == 0 and not self.cross_gains(wallet, asset)

    def layer_exhausted(self, layer: str, asset: str) -> bool:
        """A platform layer has nothing of ``asset`` and nothing it could convert into it (``cover_shortfall``)."""
        return self.balance(layer, asset) <= 0 and self.convertible_value(layer, asset) == 0

    def backstop_capacity(self, account: int, cross: bool, asset: str, liquidated: str) -> int:
        """What may pay a loss beyond the bankruptcy price, valued as ``liquidation._affordable_qty``
        does: the fund's and tranche's holdings as ``cover_shortfall`` converts them, and (cross) the
        account's unrealised gains at the mark on its other positions than ``liquidated`` (whose
        gain the bankruptcy price already counts), as ``settlement._realise_gains`` converts them."""
        total = sum(max(0, self.balance(layer, asset)) + self.convertible_value(layer, asset) for layer in (INSURANCE_FUND, PLATFORM_CAPITAL))
        if cross:
            reg = self.state.registry
            target = reg.assets[asset].currency
            for sym, headroom in self.cross_gains(account, asset):
                if sym == liquidated:
                    continue
                inst = self.state.instruments[sym]
                gain = headroom * inst.unit_value
                if inst.settlement_asset == asset:
                    total += gain
                else:
                    rate = reg.fx_rate_e8(reg.assets[inst.settlement_asset].currency, target)
                    assert rate is not None  # cross_gains names only positions that can pay in asset
                    total += gain * rate // FX_SCALE
        return total

    def collar_limit(self, sym: str, is_buy: bool) -> int:
        """``liquidation._backstop_limit``: the furthest price the backstop may reach from the mark."""
        mark = self.marks[sym]
        tick = self.state.instruments[sym].tick
        reach = mark * BACKSTOP_COLLAR_BPS // BPS
        if is_buy:
            return (mark + reach) // tick * tick
        low = -(-(mark - reach) // tick) * tick
        return low if low > 0 else tick


def adl_at_its_bound(a: AutoDeleveraged, mark: int, unit_value: int) -> bool:
    """``liquidation._adl_price``: a counterparty is deleveraged at the defaulter's bankruptcy
    price but never worse for it than both the mark and its own entry price; so when the
    defaulter was already insolvent, the counterparty closes at the mark or at its entry
    (realising no loss, up to the entry's rounding to a whole price unit) and what the
    defaulter cannot pay goes to the cover path. True when this trade was so bounded."""
    return a.price == mark or 0 <= a.counterparty_realised_pnl <= a.qty * unit_value


@dataclass(slots=True)
class _Liquidation:
    account: int
    scope: str
    before: dict[tuple[int | str, str], int]
    fees: dict[str, int] = field(default_factory=dict)
    gains: dict[str, int] = field(default_factory=dict)  # the defaulter's unrealised gains realised at the mark
    step_adl: int = 0  # ADL quantity seen in the current step
    step_fills: list[tuple[int, int, int]] = field(default_factory=list)  # (price, qty, backstop capacity just before) of the step's fills
    step_first_adl: tuple[int | None, int] | None = None  # at the step's first ADL: (best order within the collar, capacity)
    step_adl_draws: list[int] = field(default_factory=list)  # value drawn from platform layers by unbounded ADL transfers
    step_adl_conversions: int = 0  # layer postings in another asset among those draws (one unit of rounding each)
    step_fx_slivers: int = 0  # what the defaulter's conversions in the step may have given beyond their value

    def next_step(self) -> None:
        self.step_adl, self.step_first_adl, self.step_adl_conversions, self.step_fx_slivers = 0, None, 0, 0
        self.step_fills.clear()
        self.step_adl_draws.clear()


@dataclass(slots=True)
class Tally:
    """What the checked paths exercised (to show the rules were not checked vacuously)."""

    liquidations: int = 0
    book_fills: int = 0
    backstop_fills: int = 0
    fund_draws: int = 0
    tranche_draws: int = 0
    adl_trades: int = 0
    funding_settlements: int = 0
    index_prints: int = 0
    bounded_adl_draws: int = 0  # ADL transfers of an insolvent defaulter, bounded at the mark or entry, that drew the cover path
    committed_adl_draws: int = 0  # ADL transfers that drew the loss a step's backstop fills committed beyond the bankruptcy price


class WaterfallRules:
    """Checks one command's events at a time against the rules (module docstring)."""

    def __init__(self, state: VenueState, history: list[object]) -> None:
        self.sh = Shadow(state)
        self.tally = Tally()
        for e in history:
            self.sh.apply(e)
        self.sh.assert_matches(state)

    def check(self, events: list[object]) -> None:
        sh = self.sh
        liq: _Liquidation | None = None
        context: tuple[str, object] | None = None  # what the next TransferPosted settles
        pending: TransferPosted | None = None
        pending_context: tuple[str, object] | None = None
        pending_liq: _Liquidation | None = None
        for e in events:
            if pending is not None and not (isinstance(e, GainRealisedAtMark) and e.transfer_id == pending.transfer_id):
                self._transfer(pending, pending_context, pending_liq)
                pending = None
            if isinstance(e, LiquidationTriggered):
                assert liq is None
                liq = _Liquidation(e.account, e.scope, dict(sh.balances))
                self.tally.liquidations += 1
            elif isinstance(e, TradeExecuted):
                if liq is not None:
                    assert e.taker_account == liq.account and e.taker_order_id == 0, "only the liquidation's own order trades in a liquidation"
                    self.tally.book_fills += 1
                    liq.step_fills.append((e.price, e.qty, self._capacity(liq, e.instrument)))
                context = ("trade", e)
            elif isinstance(e, AutoDeleveraged):
                assert liq is not None and e.account == liq.account
                if liq.step_first_adl is None:
                    liq.step_first_adl = (self._best_within_collar(e, liq), self._capacity(liq, e.instrument))
                self._adl_counterparty_held_the_other_side(e)
                liq.step_adl += e.qty
                self.tally.adl_trades += 1
                context = ("adl", e)
            elif isinstance(e, LiquidationStepped):
                assert liq is not None and e.account == liq.account
                assert e.adl_qty == liq.step_adl, "the step reports the quantity deleveraged"
                assert e.book_qty + e.backstop_qty + e.adl_qty <= e.qty
                if e.liquidation_fee:
                    asset = sh.state.instruments[e.instrument].settlement_asset
                    liq.fees[asset] = liq.fees.get(asset, 0) + e.liquidation_fee
                self._step_rules(e, liq)
                liq.next_step()
            elif isinstance(e, LossReported):
                assert liq is not None and e.account == liq.account and e.scope == liq.scope
                self._loss_report_is_the_waterfall_in_order(e, liq)
                liq = None
            elif isinstance(e, FundingSettled):
                self._funding_rows(e)
                context = ("funding", e)
            elif isinstance(e, IndexPublished):
                assert recompute(e.print) == e.print, "an index print recomputes bit for bit from its record"
                self.tally.index_prints += 1
            elif isinstance(e, GainRealisedAtMark):
                if liq is not None and e.account == liq.account:
                    asset = sh.state.instruments[e.instrument].settlement_asset
                    liq.gains[asset] = liq.gains.get(asset, 0) + e.gain
            elif isinstance(e, MarkPriceSet):
                assert e.mark == sorted((e.p1, e.p2, e.last_trade if e.last_trade is not None else e.index))[1]
            sh.apply(e)
            if isinstance(e, TransferPosted):
                pending, pending_context, pending_liq = e, context, liq
                if liq is not None:
                    liq.step_fx_slivers += self._fx_slivers(e, liq)
        if pending is not None:
            self._transfer(pending, pending_context, pending_liq)
        assert liq is None, "every liquidation ends with its LossReported"
        sh.assert_matches(sh.state)

    # --- rules ---------------------------------------------------------------------------

    def _transfer(self, t: TransferPosted, context: tuple[str, object] | None, liq: _Liquidation | None) -> None:
        sh = self.sh
        for account, asset, _ in t.postings:
            if is_participant(account):
                assert sh.balance(account, asset) >= 0, f"{account} negative in {asset} after transfer {t.transfer_id}"
        debited = {layer for layer, _, amount in t.postings if layer in PLATFORM_LAYERS and amount < 0}
        if t.kind == "FUNDING":
            self._funding_transfer(t, context)
        if not debited:
            return
        assert t.kind in _SETTLING_KINDS, f"a {t.kind} transfer debited {debited}"
        assert context is not None
        sym = context[1].instrument  # type: ignore[attr-defined]
        asset = sh.state.instruments[sym].settlement_asset
        owers = self._owers(context)
        assert any(sh.exhausted(w, asset) for w in owers), f"transfer {t.transfer_id} drew {debited} while every party that owed could still pay"
        if PLATFORM_CAPITAL in debited or DEFICIT in debited:
            assert sh.layer_exhausted(INSURANCE_FUND, asset), f"transfer {t.transfer_id} went past an insurance fund that could still pay"
        if DEFICIT in debited:
            assert sh.layer_exhausted(PLATFORM_CAPITAL, asset), f"transfer {t.transfer_id} booked DEFICIT while the tranche could still pay"
        if PLATFORM_CAPITAL in debited:
            self.tally.tranche_draws += 1
        if INSURANCE_FUND in debited:
            self.tally.fund_draws += 1
        if liq is None:
            return
        if isinstance(context[1], AutoDeleveraged):
            adl = context[1]
            uv = sh.state.instruments[sym].unit_value
            if adl_at_its_bound(adl, sh.marks[sym], uv):
                self.tally.bounded_adl_draws += 1
                return
            # at the bankruptcy price: only the loss the step's backstop fills committed (checked at the step's end),
            # and DEFICIT at most the FX rounding the defaulter's own conversions gave away (see ``_fx_slivers``)
            deficit = -sum(amount for layer, _, amount in t.postings if layer == DEFICIT)
            assert deficit <= liq.step_fx_slivers, f"deleveraging trade {adl.trade_id} at the bankruptcy price booked DEFICIT {deficit}"
            liq.step_adl_draws.append(self._drawn_value(t, asset))
            liq.step_adl_conversions += sum(1 for layer, held, amount in t.postings if layer in PLATFORM_LAYERS and amount < 0 and held != asset)
            self.tally.committed_adl_draws += 1
            return
        assert DEFICIT not in debited, "a liquidation never books DEFICIT: the backstop stops at the layers' capacity"
        assert context[0] == "trade", f"{context[0]} drew {debited}: deleveraging at the bankruptcy price needs no platform layer"
        trade = context[1]
        assert isinstance(trade, TradeExecuted)
        selling = trade.taker_side is not _BUY
        limit = sh.collar_limit(sym, not selling)
        assert trade.price >= limit if selling else trade.price <= limit, f"the fund paid for a fill at {trade.price}, beyond the collar {limit}"

    def _owers(self, context: tuple[str, object]) -> list[int | str]:
        """The wallets that owed money in the transfer settling ``context`` (a wallet that had
        nothing to give posts nothing, so the postings alone do not name it)."""
        e = context[1]
        sh = self.sh
        parties: tuple[tuple[int, int], ...]
        if isinstance(e, TradeExecuted):
            parties = ((e.taker_account, e.taker_realised_pnl - e.taker_fee), (e.maker_account, e.maker_realised_pnl - e.maker_fee))
        elif isinstance(e, AutoDeleveraged):
            parties = ((e.account, e.account_realised_pnl), (e.counterparty, e.counterparty_realised_pnl))
        else:
            assert isinstance(e, FundingSettled)
            parties = tuple((account, -payment) for account, _, payment in e.accounts)
        sym = e.instrument
        return [sh.wallet_of(account, sym) for account, net in parties if net < 0]

    def _capacity(self, liq: _Liquidation, sym: str) -> int:
        return self.sh.backstop_capacity(liq.account, not liq.scope, self.sh.state.instruments[sym].settlement_asset, sym)

    def _best_within_collar(self, a: AutoDeleveraged, liq: _Liquidation) -> int | None:
        """The best opposite order within the collar, other than the defaulter's legal entity's."""
        sh = self.sh
        sym = a.instrument
        defaulter_buys = a.counterparty_side is not _BUY
        limit = sh.collar_limit(sym, defaulter_buys)
        group = sh.entity[liq.account]
        prices = [
            o.price
            for o in sh.orders.values()
            if o.instrument == sym
            and o.is_buy is not defaulter_buys
            and sh.entity[o.account] != group
            and (o.price <= limit if defaulter_buys else o.price >= limit)
        ]
        if not prices:
            return None
        return min(prices) if defaulter_buys else max(prices)

    def _drawn_value(self, t: TransferPosted, asset: str) -> int:
        """What the platform layers' debits in ``t`` are worth in ``asset`` (other assets at the FX rate)."""
        reg = self.sh.state.registry
        target = reg.assets[asset].currency
        value = 0
        for layer, held, amount in t.postings:
            if layer not in PLATFORM_LAYERS or amount >= 0:
                continue
            if held == asset:
                value -= amount
            else:
                rate = reg.fx_rate_e8(reg.assets[held].currency, target)
                assert rate is not None, f"a layer paid {asset} from {held}, which has no rate into it"
                value += -amount * rate // FX_SCALE
        return value

    def _fx_slivers(self, t: TransferPosted, liq: _Liquidation) -> int:
        """The most the defaulter's conversions in ``t`` gave beyond what they paid: a wallet pays
        in another asset by giving whole micro-units, rounded up (``settlement._convert``), so each
        conversion may give up to one micro-unit of the source asset more than it needed, which the
        bankruptcy price (valued at ``settlement.payable``) did not foresee. Counted in the target
        asset, rounded up."""
        wallet: int | str = isolated_account(liq.account, liq.scope) if liq.scope else liq.account
        given = {asset for account, asset, amount in t.postings if account == wallet and amount < 0}
        received = {asset for account, asset, amount in t.postings if account == FX_CONVERSION and amount > 0}
        targets = {asset for account, asset, amount in t.postings if account == FX_CONVERSION and amount < 0}
        reg = self.sh.state.registry
        total = 0
        for source in given & received:
            for target in targets:
                rate = reg.fx_rate_e8(reg.assets[source].currency, reg.assets[target].currency)
                if rate is not None:
                    total += -(-rate // FX_SCALE)
        return total

    def _step_rules(self, e: LiquidationStepped, liq: _Liquidation) -> None:
        """Rules 2 and 3 at the step's end, once its bankruptcy price is known."""
        uv = self.sh.state.instruments[e.instrument].unit_value
        defaulter_buys = e.side is _BUY
        bp = e.bankruptcy_price

        def beyond(price: int) -> int:
            return max(0, (price - bp) if defaulter_buys else (bp - price)) * uv

        committed = 0
        priced_at: int | None = None  # the capacity when the backstop was priced: just before its first fill
        book_left = e.book_qty  # the step's first fills are its book part, priced into the bankruptcy price
        for price, qty, capacity in liq.step_fills:
            if book_left:
                book_left -= qty
                assert book_left >= 0, "a fill straddles the book part and the backstop"
                continue
            if priced_at is None:
                priced_at = capacity
            committed += beyond(price) * qty
            self.tally.backstop_fills += 1
        drawn = sum(liq.step_adl_draws)
        assert drawn <= committed + liq.step_adl_conversions + liq.step_fx_slivers, (
            f"deleveraging at the bankruptcy price {bp} drew {drawn} from the platform layers, beyond the {committed} "
            "the step's backstop fills committed"
        )
        if liq.step_first_adl is None:
            return
        best, capacity_at_adl = liq.step_first_adl
        if best is None:
            return  # nothing left in the book within the collar
        left = (capacity_at_adl if priced_at is None else priced_at) - committed
        assert beyond(best) > left, (
            f"ADL of {e.instrument} at {bp} while an order at {best} within the collar costs {beyond(best)} a unit "
            f"and the gains, fund and tranche could still pay {left}"
        )

    def _adl_counterparty_held_the_other_side(self, a: AutoDeleveraged) -> None:
        held = self.sh.qty(a.counterparty, a.instrument)
        assert a.counterparty != a.account
        assert held != 0, f"ADL took {a.qty} from account {a.counterparty}, which had no position"
        counterparty_was_long = held > 0
        assert counterparty_was_long == (a.counterparty_side is not _BUY), "the counterparty closes its own position"
        assert abs(held) >= a.qty, "ADL never opens or flips a counterparty's position"
        assert (self.sh.qty(a.account, a.instrument) > 0) != counterparty_was_long

    def _loss_report_is_the_waterfall_in_order(self, r: LossReported, liq: _Liquidation) -> None:
        sh = self.sh
        names = [layer for layer, _, _ in r.layers]
        assert names == sorted(names, key=LAYER_ORDER.index), f"layers out of waterfall order: {names}"
        wallet = isolated_account(r.account, r.scope) if r.scope else r.account
        assets = sorted(sh.state.registry.assets)
        expected: list[tuple[str, str, int]] = []
        for asset in assets:
            given = liq.before.get((wallet, asset), 0) - sh.balance(wallet, asset)
            if given > 0:
                expected.append(("DEFAULTER_MARGIN", asset, given))
        for asset in sorted(liq.gains):
            expected.append(("DEFAULTER_GAINS", asset, liq.gains[asset]))
        for asset in sorted(liq.fees):
            expected.append(("LIQUIDATION_FEE", asset, liq.fees[asset]))
        for holder, layer in ((INSURANCE_FUND, "INSURANCE_FUND"), (PLATFORM_CAPITAL, "OPERATOR_TRANCHE"), (DEFICIT, "DEFICIT")):
            for asset in assets:
                drawn = liq.before.get((holder, asset), 0) - sh.balance(holder, asset) + (liq.fees.get(asset, 0) if holder == INSURANCE_FUND else 0)
                if drawn > 0:
                    expected.append((layer, asset, drawn))
        assert list(r.layers) == expected, f"reported {r.layers}, the balances moved {expected}"

    def _funding_rows(self, f: FundingSettled) -> None:
        sh = self.sh
        uv = sh.state.instruments[f.instrument].unit_value
        holders = sorted((acct, p[0]) for (acct, sym), p in sh.positions.items() if sym == f.instrument and p[0])
        assert [(acct, qty) for acct, qty, _ in f.accounts] == holders, "funding rows are exactly the accounts with a position"
        for _, qty, payment in f.accounts:
            assert payment == funding_payment(qty, abs(qty) * f.mark_price * uv, f.rate_e8)
        assert f.total_paid == sum(p for _, _, p in f.accounts if p > 0)
        assert f.total_received == -sum(p for _, _, p in f.accounts if p < 0)
        assert f.total_paid == f.total_received + f.residue, "payers = receivers + residue"
        assert sum(p for _, _, p in f.accounts) == f.residue >= 0
        self.tally.funding_settlements += 1

    def _funding_transfer(self, t: TransferPosted, context: tuple[str, object] | None) -> None:
        assert context is not None and context[0] == "funding"
        f = context[1]
        assert isinstance(f, FundingSettled)
        asset = self.sh.state.instruments[f.instrument].settlement_asset
        for account, _, payment in f.accounts:
            if payment < 0:  # each receiver is credited in full
                wallet = self.sh.wallet_of(account, f.instrument)
                assert sum(x for a, s, x in t.postings if a == wallet and s == asset) == -payment
        if not f.shortfall_covered:
            assert sum(x for a, s, x in t.postings if a == INSURANCE_FUND and s == asset) == f.residue
            assert not any(a in (PLATFORM_CAPITAL, DEFICIT) for a, _, _ in t.postings)
