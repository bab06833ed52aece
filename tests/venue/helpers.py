"""One-line builders and a test driver for the venue engine.

``Venue`` wraps a ``VenueEngine`` with the default genesis applied, stamps every
command with the next seq and a timestamp, and after every step:

- runs ``check_all`` on the engine state and fails on any finding;
- checks every emitted event carries the command's seq and ts;
- checks every ``TransferPosted`` is balanced per asset;
- checks a command that was rejected emitted only the reject and left the state hash
  unchanged (a rejected command changes nothing).

Units (default genesis): BTCUSD prices are USD cents (tick 10 = 0.10 USD), quantities
0.001 BTC; ETHHKD prices are HKD cents, quantities 0.001 ETH. Money is micro-units.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MICRO
from harbour.venue import VenueEngine, check_all, default_genesis
from harbour.venue.commands import (
    AccountKind,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Deposit,
    FundPlatformAccount,
    InstrumentState,
    ListInstrument,
    OpenAccount,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    SetInstrumentState,
    SetIssuerRegister,
    SetMarginMode,
    SetMarginTiers,
    SetReferencePrice,
    Side,
    TimeInForce,
    TransferIsolatedMargin,
    Withdraw,
)
from harbour.venue.events import LiquidationTriggered, OrderAccepted, OrderCancelled, Rejected, TradeExecuted, TransferPosted
from harbour.venue.tiers import default_tiers

from engine_steps import assert_step_well_formed

BTCUSD = "BTCUSD"
ETHHKD = "ETHHKD"
BTC_REF = 9_500_000  # 95,000.00 USD in price units (cents)
ETH_REF = 2_600_000  # 26,000.00 HKD
TICK = 10
LOT = 1
BTC_UNIT_VALUE = 10  # micro-USD per price unit x quantity unit

T0 = 1_770_768_000_000_000_000  # 2026-02-11T00:00:00Z in ns
STEP_NS = 1_000_000  # each driver command advances the clock by 1 ms
FAR_FUTURE = T0 + 10 * 365 * 86_400 * 10**9

BUY = Side.BUY
SELL = Side.SELL
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
POST_ONLY = TimeInForce.POST_ONLY
MARKET = OrderType.MARKET
EXPIRE_TAKER = SelfTradePrevention.EXPIRE_TAKER
EXPIRE_MAKER = SelfTradePrevention.EXPIRE_MAKER
EXPIRE_BOTH = SelfTradePrevention.EXPIRE_BOTH
OPEN = InstrumentState.OPEN
CLOSE_ONLY = InstrumentState.CLOSE_ONLY
HALTED = InstrumentState.HALTED


def usd(units: int) -> int:
    """Whole USD (or any money asset) in micro-units."""
    return units * MICRO


hkd = usd


def side_of(side: Side | str) -> Side:
    return side if isinstance(side, Side) else Side(side)


def instrument_spec(**overrides: Any) -> ListInstrument:
    """A sound BTC perpetual settled in HKD; override any field."""
    fields: dict[str, Any] = dict(
        instrument="BTCHKD",
        reference="BTC",
        settlement_asset="HKD",
        price_decimals=2,
        tick=10,
        qty_decimals=3,
        lot=1,
        min_qty=1,
        max_qty=100_000,
        max_leverage=20,
        maker_fee_ppm=200,
        taker_fee_ppm=500,
        price_band_bps=500,
        market_collar_bps=100,
        sfc_approval_ref="SFC-PERP-TEST-0001",
    )
    fields.update(overrides)
    return ListInstrument(**fields)


def posting_sum(events: Iterable[object], account: int | str, asset: str) -> int:
    """Net amount posted to a ledger account in an asset by these events (ids compared as text)."""
    return sum(
        amount
        for e in events
        if isinstance(e, TransferPosted)
        for acct, a, amount in e.postings
        if str(acct) == str(account) and a == asset
    )


class Venue:
    """Test driver: the engine plus auto seq/ts and a check after every step."""

    def __init__(self, *, genesis: bool = True, check_rejects: bool = True, platform_funding: bool = True) -> None:
        self.engine = VenueEngine()
        self.seq = 0
        self.ts = T0
        self.check_rejects = check_rejects
        self.commands: list[tuple[int, int, object]] = []
        self.events: list[object] = []
        self.last: list[object] = []
        if genesis:
            for cmd in default_genesis():
                if not platform_funding and isinstance(cmd, FundPlatformAccount):
                    continue  # an empty insurance fund and operator tranche
                out = self.do(cmd)
                assert not any(isinstance(e, Rejected) for e in out), out

    # --- the one step ---------------------------------------------------------------

    def do(self, cmd: object, *, ts: int | None = None) -> list[object]:
        """Apply one command, then check invariants and the reject rule; return its events."""
        self.seq += 1
        self.ts = ts if ts is not None else self.ts + STEP_NS
        before = self.engine.state_hash() if self.check_rejects else b""
        out = self.engine.apply(self.seq, self.ts, cmd)  # type: ignore[arg-type]
        self.commands.append((self.seq, self.ts, cmd))
        self.events.extend(out)
        self.last = out
        findings = check_all(self.engine.state)
        assert findings == [], f"invariants broken after {cmd!r}: {findings}"
        assert_step_well_formed(
            cmd,
            out,
            self.seq,
            self.ts,
            rejected_type=Rejected,
            transfer_type=TransferPosted,
            hash_before=before if self.check_rejects else None,
            hash_now=self.engine.state_hash,
        )
        return out

    def restart(self, *, platform_funding: bool = True) -> None:
        """Start over on a fresh engine with the default genesis (optionally without the platform funding)."""
        Venue.__init__(self, check_rejects=self.check_rejects, platform_funding=platform_funding)

    def single_bracket(self, instrument: str = BTCUSD, leverage: int = 20) -> None:
        """Replace an instrument's brackets with one unbounded bracket at ``leverage`` (the listing default)."""
        self.ok(SetMarginTiers(instrument=instrument, tiers=default_tiers(leverage)))

    def reject(self, cmd: object, code: RejectCode) -> Rejected:
        """Apply a command that must be rejected with ``code`` and change nothing."""
        before = self.engine.state_hash()
        out = self.do(cmd)
        assert len(out) == 1 and isinstance(out[0], Rejected), f"expected {code.name}, got {out!r}"
        assert out[0].reason == code.name, f"expected {code.name}, got {out[0].reason}: {out[0].message}"
        assert out[0].code == int(code)
        assert self.engine.state_hash() == before
        return out[0]

    def ok(self, cmd: object) -> list[object]:
        """Apply a command that must not be rejected."""
        out = self.do(cmd)
        bad = [e for e in out if isinstance(e, Rejected)]
        assert not bad, f"unexpected reject: {bad[0].reason}: {bad[0].message}"
        return out

    # --- builders ----------------------------------------------------------------------

    def open_client(
        self,
        account: int,
        *,
        usd: int = 0,
        hkd: int = 0,
        entity: str = "",
        pi_expiry_ns: int = FAR_FUTURE,
        **assets: int,
    ) -> int:
        """Open a professional-investor client; deposit whole units of USD/HKD and micro-units of others."""
        self.ok(OpenAccount(account=account, kind=AccountKind.CLIENT, pi_expiry_ns=pi_expiry_ns, legal_entity=entity))
        self._fund(account, usd, hkd, assets)
        return account

    def open_mm(self, account: int, *, usd: int = 0, hkd: int = 0, entity: str = "MM-AFFILIATE", **assets: int) -> int:
        """Open an affiliated market-maker account (whole units of USD/HKD)."""
        self.ok(OpenAccount(account=account, kind=AccountKind.AFFILIATED_MM, legal_entity=entity))
        self._fund(account, usd, hkd, assets)
        return account

    def _fund(self, account: int, usd_units: int, hkd_units: int, assets: dict[str, int]) -> None:
        if usd_units:
            self.deposit(account, "USD", usd_units * MICRO)
        if hkd_units:
            self.deposit(account, "HKD", hkd_units * MICRO)
        for asset, amount in assets.items():
            if amount:
                self.deposit(account, asset.upper(), amount)

    def deposit(self, account: int, asset: str, amount: int) -> list[object]:
        return self.do(Deposit(account=account, asset=asset, amount=amount))

    def withdraw(self, account: int, asset: str, amount: int) -> list[object]:
        return self.do(Withdraw(account=account, asset=asset, amount=amount))

    def limit(self, account: int, instrument: str, side: Side | str, qty: int, price: int, **kw: Any) -> list[object]:
        return self.do(PlaceOrder(account=account, instrument=instrument, side=side_of(side), qty=qty, price=price, **kw))

    def buy(self, account: int, instrument: str, qty: int, price: int, **kw: Any) -> list[object]:
        return self.limit(account, instrument, BUY, qty, price, **kw)

    def sell(self, account: int, instrument: str, qty: int, price: int, **kw: Any) -> list[object]:
        return self.limit(account, instrument, SELL, qty, price, **kw)

    def market(self, account: int, instrument: str, side: Side | str, qty: int, **kw: Any) -> list[object]:
        return self.do(PlaceOrder(account=account, instrument=instrument, side=side_of(side), qty=qty, order_type=MARKET, **kw))

    def rest(self, account: int, instrument: str, side: Side | str, qty: int, price: int, **kw: Any) -> int:
        """Place a GTC limit that must rest untouched; return its order id."""
        out = self.ok(PlaceOrder(account=account, instrument=instrument, side=side_of(side), qty=qty, price=price, **kw))
        assert not any(isinstance(e, TradeExecuted) for e in out), f"expected to rest, traded: {out!r}"
        return self.order_id(out)

    def cancel(self, account: int, instrument: str, order_id: int = 0, client_order_id: str = "") -> list[object]:
        return self.do(CancelOrder(account=account, instrument=instrument, order_id=order_id, client_order_id=client_order_id))

    def cancel_all(self, account: int, instrument: str = "") -> list[object]:
        return self.do(CancelAllOrders(account=account, instrument=instrument))

    def amend(self, account: int, instrument: str, order_id: int, price: int, qty: int) -> list[object]:
        return self.do(AmendOrder(account=account, instrument=instrument, order_id=order_id, price=price, qty=qty))

    def set_ref(self, instrument: str, price: int) -> list[object]:
        return self.ok(SetReferencePrice(instrument=instrument, price=price))

    def set_state(self, instrument: str, state: InstrumentState) -> list[object]:
        return self.ok(SetInstrumentState(instrument=instrument, state=state, reason="test"))

    def set_issuers(self, *issuers: str) -> list[object]:
        return self.ok(SetIssuerRegister(issuers=issuers, register_ref="test snapshot"))

    def set_isolated(self, account: int, instrument: str, isolated: bool = True) -> list[object]:
        return self.ok(SetMarginMode(account=account, instrument=instrument, isolated=isolated))

    def move_isolated(self, account: int, instrument: str, amount: int) -> list[object]:
        return self.do(TransferIsolatedMargin(account=account, instrument=instrument, amount=amount))

    def cross(
        self, maker: int, taker: int, instrument: str, taker_side: Side | str, qty: int, price: int, *, reduce_only: bool = False
    ) -> TradeExecuted:
        """Rest a maker order and hit it fully with a taker (reduce-only if asked); return the single trade."""
        taker_side = side_of(taker_side)
        maker_side = SELL if taker_side is BUY else BUY
        self.rest(maker, instrument, maker_side, qty, price)
        out = self.ok(
            PlaceOrder(account=taker, instrument=instrument, side=taker_side, qty=qty, price=price, tif=IOC, reduce_only=reduce_only)
        )
        trades = self.trades(out)
        assert len(trades) == 1 and trades[0].qty == qty, f"expected one full fill, got {out!r}"
        return trades[0]

    # --- reading -------------------------------------------------------------------------

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.engine.state

    def hash(self) -> bytes:
        return self.engine.state_hash()

    def balance(self, account: int | str, asset: str) -> int:
        return self.engine.balance(account, asset)

    def position(self, account: int, instrument: str) -> int:
        return self.engine.position_qty(account, instrument)

    def equity_and_requirement(self, account: int) -> tuple[int, int]:
        return self.engine.equity_and_requirement(account)

    def events_of(self, kind: type, events: Iterable[object] | None = None) -> list[Any]:
        return [e for e in (self.events if events is None else events) if isinstance(e, kind)]

    def trades(self, events: Iterable[object] | None = None) -> list[TradeExecuted]:
        return self.events_of(TradeExecuted, events)

    def cancels(self, events: Iterable[object] | None = None) -> list[OrderCancelled]:
        return self.events_of(OrderCancelled, events)

    def order_id(self, events: Iterable[object]) -> int:
        accepted = self.events_of(OrderAccepted, events)
        assert len(accepted) == 1, f"expected one OrderAccepted, got {list(events)!r}"
        return accepted[0].order_id

    def book(self, instrument: str) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks) as (order id, price, qty) in matching priority."""
        b = self.engine.state.books[instrument]
        return (
            [(o.order_id, o.price, o.qty) for o in b.bids.orders_in_priority()],
            [(o.order_id, o.price, o.qty) for o in b.asks.orders_in_priority()],
        )


def fills(trades: Iterable[TradeExecuted]) -> list[tuple[int, int, int, int]]:
    """Trades as (maker order id, taker order id, price, qty)."""
    return [(t.maker_order_id, t.taker_order_id, t.price, t.qty) for t in trades]


def lose_beyond_margin(v: Venue, btc: int = 1, client: int = 1, mm: int = 9) -> None:
    """A loss beyond margin without a gap, so without a liquidation: client ``client`` goes long
    ``btc`` BTC at 95,000 USD with 5,000 USD per BTC (4,952.50 left after the 47.50 taker fee),
    the mark falls to 93,000 (margin balance 2,952.50 per BTC, above its 2,325 maintenance),
    and it sells at 89,000, inside the 5% band [88,350, 97,650], reduce-only. It owes the 6,000
    loss and the 44.50 taker fee per BTC, so 1,092.00 USD per BTC is missing, and settlement's
    cover path pays it. Exact for any ``btc``; above 2 BTC the caller sets ``single_bracket``."""
    v.open_client(client, usd=5_000 * btc)
    v.open_mm(mm, usd=50_000_000)
    v.cross(mm, client, BTCUSD, BUY, btc * 1_000, BTC_REF)
    v.set_ref(BTCUSD, 9_300_000)
    assert not v.events_of(LiquidationTriggered, v.last), "the mark move must leave the client above maintenance"
    v.cross(mm, client, BTCUSD, SELL, btc * 1_000, 8_900_000, reduce_only=True)


def drive_into_deficit(v: Venue, client: int = 1, mm: int = 9) -> None:
    """Make a loss no layer can cover, on a venue built with ``platform_funding=False`` (an
    empty insurance fund and operator tranche): ``lose_beyond_margin`` with 1 BTC, so DEFICIT
    books the whole 1,092.00 USD the client cannot pay (6,000 loss + 44.50 fee - 4,952.50)."""
    layers = [(layer, asset) for layer in ("INSURANCE_FUND", "PLATFORM_CAPITAL") for asset in v.state.registry.assets]
    assert not any(v.balance(layer, asset) for layer, asset in layers), "build the venue with platform_funding=False"
    lose_beyond_margin(v, 1, client, mm)
