"""Scenario tables: venue rules written as plain text a risk officer can review.

A scenario file is a list of lines; ``#`` starts a comment. Numbers are written as
people write them (``95000.10``, ``1.500``) and parsed exactly with the instrument's
or money's decimals, never through floats.

    given client 1 with 100000 USD            (add "pi-expired" for a lapsed PI status,
    given mm 2 with 1000000 USD                 "entity NAME" for an STP group)
    given reference BTCUSD 95000.00
    when 3 buys 1.500 BTCUSD at 95000.10      (options: ioc fok post-only reduce-only
    when 3 sells 0.200 BTCUSD at market         market, stp expire-taker|expire-maker|expire-both)
    when 1 cancels its last order
    when 1 deposits 100 USD / when 1 withdraws 100 USD
    when reference BTCUSD 90000.00
    when issuers are ISSUER-B                 (or "none")
    when BTCUSD is close-only|halted|open
    then trade 1.000 at 95000.10 maker 1      (all trades of the last command, in order)
    then no trades
    then accepted / then rejected INSUFFICIENT_MARGIN
    then cancelled IOC_REMAINDER 0.500
    then position 3 BTCUSD is 1.500
    then balance 3 USD is 99952.499500        (account id or platform account name)
    then withdrawals are paused|allowed
    then liquidated 1 / then no liquidation   (accounts whose liquidation the last command triggered)
    then deleveraged 1.000 at 90019.00 against 2   (one auto-deleveraging close of the last command)

Each step runs through the test driver, so every invariant is checked after it.
"""

from __future__ import annotations

from pathlib import Path

from harbour.kernel.money import MONEY_DECIMALS, parse_units
from harbour.venue.commands import (
    AccountKind,
    CancelOrder,
    Deposit,
    InstrumentState,
    OpenAccount,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    SetInstrumentState,
    SetIssuerRegister,
    SetReferencePrice,
    Side,
    TimeInForce,
    Withdraw,
)
from harbour.venue.events import AutoDeleveraged, LiquidationTriggered, OrderAccepted, OrderCancelled, Rejected, TradeExecuted

from venue.helpers import FAR_FUTURE, T0, Venue

_TIF = {"ioc": TimeInForce.IOC, "fok": TimeInForce.FOK, "post-only": TimeInForce.POST_ONLY}
_STP = {"expire-taker": SelfTradePrevention.EXPIRE_TAKER, "expire-maker": SelfTradePrevention.EXPIRE_MAKER, "expire-both": SelfTradePrevention.EXPIRE_BOTH}
_STATE = {"close-only": InstrumentState.CLOSE_ONLY, "halted": InstrumentState.HALTED, "open": InstrumentState.OPEN}


class ScenarioFailed(AssertionError):
    pass


class Scenario:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.venue = Venue(check_rejects=True)
        self.last: list[object] = []
        self.expected_trades: list[tuple[int, int, int]] | None = None
        self.last_order: dict[int, int] = {}

    # --- numbers --------------------------------------------------------------------

    def _price(self, symbol: str, text: str) -> int:
        return parse_units(text, self.venue.state.instruments[symbol].price_decimals)

    def _qty(self, symbol: str, text: str) -> int:
        return parse_units(text, self.venue.state.instruments[symbol].qty_decimals)

    @staticmethod
    def _money(text: str) -> int:
        return parse_units(text.replace(",", ""), MONEY_DECIMALS)

    # --- running --------------------------------------------------------------------

    def run(self) -> None:
        for number, raw in enumerate(self.path.read_text().splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            try:
                if words[0] != "then":
                    self._check_trades()
                getattr(self, "_" + words[0])(words[1:])
            except ScenarioFailed as failure:
                raise ScenarioFailed(f"{self.path.name}:{number}: {line}\n  {failure}") from None
        self._check_trades()

    def _do(self, command: object) -> None:
        self.last = self.venue.do(command)
        for event in self.last:
            if isinstance(event, OrderAccepted):
                self.last_order[event.account] = event.order_id

    def _given(self, w: list[str]) -> None:
        if w[0] in ("client", "mm"):
            account = int(w[1])
            kind = AccountKind.CLIENT if w[0] == "client" else AccountKind.AFFILIATED_MM
            entity = w[w.index("entity") + 1] if "entity" in w else ""
            expiry = T0 - 1 if "pi-expired" in w else FAR_FUTURE
            self._do(OpenAccount(account=account, kind=kind, pi_expiry_ns=expiry, legal_entity=entity))
            if "with" in w:
                i = w.index("with")
                self._do(Deposit(account=account, asset=w[i + 2], amount=self._money(w[i + 1])))
        elif w[0] == "reference":
            self._do(SetReferencePrice(instrument=w[1], price=self._price(w[1], w[2])))
        else:
            raise ScenarioFailed(f"unknown given: {w}")

    def _when(self, w: list[str]) -> None:
        self.expected_trades = None
        if w[0] == "reference":
            self._do(SetReferencePrice(instrument=w[1], price=self._price(w[1], w[2])))
        elif w[0] == "issuers":
            issuers = () if w[-1] == "none" else tuple(w[2:])
            self._do(SetIssuerRegister(issuers=issuers))
        elif len(w) == 3 and w[1] == "is":
            self._do(SetInstrumentState(instrument=w[0], state=_STATE[w[2]]))
        elif w[1] in ("buys", "sells"):
            self._order(int(w[0]), w[1] == "buys", w[2:])
        elif w[1] == "cancels":
            account = int(w[0])
            symbol = self.venue.state.order_instrument.get(self.last_order.get(account, 0), "BTCUSD")
            self._do(CancelOrder(account=account, instrument=symbol, order_id=self.last_order.get(account, 0)))
        elif w[1] in ("deposits", "withdraws"):
            kind = Deposit if w[1] == "deposits" else Withdraw
            self._do(kind(account=int(w[0]), asset=w[3], amount=self._money(w[2])))
        else:
            raise ScenarioFailed(f"unknown when: {w}")

    def _order(self, account: int, is_buy: bool, w: list[str]) -> None:
        qty_text, symbol = w[0], w[1]
        opts = w[2:]
        kw: dict[str, object] = {}
        if opts[:2] == ["at", "market"]:
            kw["order_type"] = OrderType.MARKET
            opts = opts[2:]
        else:
            kw["price"] = self._price(symbol, opts[1])
            opts = opts[2:]
        for i, opt in enumerate(opts):
            if opt in _TIF:
                kw["tif"] = _TIF[opt]
            elif opt == "reduce-only":
                kw["reduce_only"] = True
            elif opt == "stp":
                kw["stp"] = _STP[opts[i + 1]]
        side = Side.BUY if is_buy else Side.SELL
        self._do(PlaceOrder(account=account, instrument=symbol, side=side, qty=self._qty(symbol, qty_text), **kw))  # type: ignore[arg-type]

    # --- expectations -------------------------------------------------------------------

    def _then(self, w: list[str]) -> None:
        v = self.venue
        if w[0] == "trade":
            symbol = next(e.instrument for e in self.last if isinstance(e, (OrderAccepted, TradeExecuted)))
            trade = (self._qty(symbol, w[1]), self._price(symbol, w[3]), int(w[5]))
            self.expected_trades = (self.expected_trades or []) + [trade]
        elif w[:2] == ["no", "trades"]:
            self.expected_trades = []
        elif w[0] == "accepted":
            self._expect(any(isinstance(e, OrderAccepted) for e in self.last), f"not accepted: {self._rejects()}")
        elif w[0] == "rejected":
            self._expect(self._rejects() == [w[1]], f"expected reject {w[1]}, got {self._rejects() or 'no reject'}")
        elif w[0] == "cancelled":
            cancels = [e for e in self.last if isinstance(e, OrderCancelled)]
            symbol = cancels[0].instrument if cancels else "BTCUSD"
            want = (w[1], self._qty(symbol, w[2]))
            got = [(e.reason, e.remaining_qty) for e in cancels]
            self._expect(want in got, f"expected cancel {want}, got {got}")
        elif w[0] == "position":
            want = self._qty(w[2], w[4])
            got = v.position(int(w[1]), w[2])
            self._expect(got == want, f"position {got} != {want}")
        elif w[0] == "balance":
            account: int | str = int(w[1]) if w[1].isdigit() else w[1]
            want, got = self._money(w[4]), v.balance(account, w[2])
            self._expect(got == want, f"balance {got} != {want} micro-units")
        elif w[0] == "liquidated" or w[:2] == ["no", "liquidation"]:
            want_accounts = [int(a) for a in w[1:]] if w[0] == "liquidated" else []
            got_accounts = [e.account for e in self.last if isinstance(e, LiquidationTriggered)]
            self._expect(got_accounts == want_accounts, f"liquidated {got_accounts} != expected {want_accounts}")
        elif w[0] == "deleveraged":
            adl = [e for e in self.last if isinstance(e, AutoDeleveraged)]
            symbol = adl[0].instrument if adl else "BTCUSD"
            want_adl = (self._qty(symbol, w[1]), self._price(symbol, w[3]), int(w[5]))
            got_adl = [(e.qty, e.price, e.counterparty) for e in adl]
            self._expect(want_adl in got_adl, f"expected deleveraging {want_adl}, got {got_adl}")
        elif w[:2] == ["withdrawals", "are"]:
            paused = v.state.withdrawals_paused()
            self._expect(paused == (w[2] == "paused"), f"withdrawals paused is {paused}")
        else:
            raise ScenarioFailed(f"unknown then: {w}")

    def _rejects(self) -> list[str]:
        return [e.reason for e in self.last if isinstance(e, Rejected)]

    def _check_trades(self) -> None:
        if self.expected_trades is None:
            return
        got = [(e.qty, e.price, e.maker_account) for e in self.last if isinstance(e, TradeExecuted)]
        want, self.expected_trades = self.expected_trades, None
        self._expect(got == want, f"trades {got} != expected {want}")

    @staticmethod
    def _expect(ok: bool, message: str) -> None:
        if not ok:
            raise ScenarioFailed(message)
