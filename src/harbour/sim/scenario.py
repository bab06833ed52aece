"""Seeded trading sessions: the venue commands of a realistic simulated day, in order.

Owns the behaviour of the simulated participants:

* the operator: genesis configuration and a reference price per instrument that moves
  along a seeded ``PricePath``;
* one affiliated market maker (``AFFILIATED_MM``, legal entity "Harbour Liquidity
  Ltd"), well funded in USD and HKD, quoting a few levels each side of both books
  around the reference (skewed against its inventory), moving its quotes by amendment
  as the price moves and by cancel/replace after a jump, and cancelling everything at
  the close;
* a few dozen professional-investor clients funded in USD, HKD, HKDX or TDHKD, who
  place GTC, IOC, post-only and market orders, close positions reduce-only, cancel
  and amend, and now and then deposit or withdraw. Two clients' PI status expires
  mid-session (one is renewed later), so the PI gate is exercised.

A ``Scenario`` is a generator with feedback: ``commands()`` yields one command at a
time, and the driver must call ``observe(seq, events)`` with the result of each
command before asking for the next one. Participants react only to what the venue
told them (their events), never to engine internals; randomness comes only from
``random.Random`` streams seeded from the scenario seed, and time only from the
``SimClock``. So a seed fixes the whole session: same seed, same commands, same
final state.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from harbour.kernel.money import MICRO
from harbour.sim.clock import NS_PER_DAY, NS_PER_MINUTE, NS_PER_MS, NS_PER_SECOND, SESSION_START_NS, SimClock
from harbour.sim.feeds import DEFAULT_VENUES, SimulatedIndexFeed, default_methodology
from harbour.sim.price_path import PathParams, PricePath
from harbour.sim.shock import ShockPath, ShockSpec, shock_named
from harbour.sim.tracker import OrderTracker, RestingOrder
from harbour.venue import default_genesis
from harbour.venue.commands import (
    AccountKind,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Deposit,
    FundPlatformAccount,
    ListAsset,
    ListInstrument,
    OpenAccount,
    OrderType,
    PlaceOrder,
    SetFxRate,
    SetProfessionalInvestorStatus,
    SetReferencePrice,
    Side,
    TimeInForce,
    VenueCommand,
    Withdraw,
)
from harbour.venue.events import AutoDeleveraged, LossReported, OrderAccepted, Rejected, TradeExecuted

MM_ACCOUNT = 1
MM_LEGAL_ENTITY = "Harbour Liquidity Ltd"
FIRST_CLIENT_ACCOUNT = 1001
RISK_CURRENCY = "HKD"

CENT = MICRO // 100
_BUY = Side.BUY
_SELL = Side.SELL

# market-maker quoting, in basis points of the reference price
_MM_INNER_BPS = 1.5  # half-spread of the first level
_MM_STEP_BPS = 2.0  # distance between levels
_MM_SKEW_BPS = 4.0  # how far full inventory shifts the quote centre
_MM_AMEND_BPS = 1.0  # a quote further than this from its target is amended
_MM_REPLACE_BPS = 25.0  # ... and further than this, cancelled and replaced
_MM_SWEEP_BPS = 3.0  # client orders this far through the quote centre are taken
_MM_INVENTORY_LIMIT_HKD = 6_000_000.0  # stop quoting the side that would add beyond this
_MM_REACTION_NS = 2 * NS_PER_MS
_MM_DEPOSITS = (("USD", 10_000_000), ("HKD", 80_000_000))  # whole units

_MAX_RESTING_PER_CLIENT = 8
_CLIENT_ASSETS = (("USD", 35), ("HKD", 35), ("HKDX", 15), ("TDHKD", 15))
_INELIGIBLE_ASSET = "HKDY"  # stablecoin of an issuer not on the HKMA register

# base weights of client actions
_ACTIONS = (
    ("limit", 28),
    ("post_only", 8),
    ("ioc", 12),
    ("market", 6),
    ("close", 8),
    ("cancel", 16),
    ("amend", 8),
    ("deposit", 2),
    ("withdraw", 3),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioConfig:
    """Knobs of a simulated session. The seed fixes everything else."""

    seed: int = 7
    minutes: float = 5.0
    clients: int = 40
    client_actions_per_minute: int = 1_200  # the MM and the price feed add roughly 50-80% more
    price_interval_ms: int = 1_000  # reference price updates, per instrument
    mm_levels: int = 4
    mm_heartbeat_ms: int = 5_000  # the MM re-checks its quotes at least this often
    start_ns: int = SESSION_START_NS
    shock: str = ""  # a ``harbour.sim.shock.SHOCKS`` name: prices then come as index prints along that crash

    @property
    def duration_ns(self) -> int:
        return int(self.minutes * NS_PER_MINUTE)


class Market:
    """What participants know about one instrument, and its reference-price path."""

    __slots__ = (
        "symbol",
        "reference",
        "tick",
        "price_decimals",
        "qty_decimals",
        "unit_value",
        "settlement",
        "hkd_per_unit",
        "path",
        "mm_lots",
        "last_quoted_ref",
        "feed",
    )

    def __init__(self, spec: ListInstrument, ref: int, hkd_per_unit: float, path: PricePath, mm_lots: int) -> None:
        self.symbol = spec.instrument
        self.reference = spec.reference
        self.tick = spec.tick
        self.price_decimals = spec.price_decimals
        self.qty_decimals = spec.qty_decimals
        self.unit_value = 10 ** (6 - spec.price_decimals - spec.qty_decimals)
        self.settlement = spec.settlement_asset
        self.hkd_per_unit = hkd_per_unit  # HKD per unit of the settlement currency (sizing only)
        self.path = path
        self.mm_lots = mm_lots
        self.last_quoted_ref = ref
        self.feed: SimulatedIndexFeed | None = None  # with a shock: prices reach the venue as index prints

    def lot_value_hkd(self) -> float:
        """HKD value of one quantity unit at the reference price (for sizing only)."""
        return float(self.path.price * self.unit_value * self.hkd_per_unit / MICRO)

    def floor_tick(self, price: float) -> int:
        return max(self.tick, int(math.floor(price / self.tick)) * self.tick)

    def ceil_tick(self, price: float) -> int:
        return max(self.tick, int(math.ceil(price / self.tick)) * self.tick)


class _Client:
    __slots__ = (
        "account",
        "asset",
        "hkd_per_unit",
        "initial_units",
        "balance_est",
        "cash_hkd",
        "target_leverage",
        "pi_expiry_ns",
        "renew_at_ns",
        "taker_bias",
        "next_coid",
        "buy_probability",
    )

    def __init__(self, account: int, asset: str, hkd_per_unit: float) -> None:
        self.account = account
        self.asset = asset
        self.hkd_per_unit = hkd_per_unit
        self.initial_units = 0
        self.balance_est = 0  # micro-units of the funding asset, deposits less withdrawals
        self.cash_hkd = 0.0  # rough equity estimate: deposits +/- realised PnL and fees
        self.target_leverage = 1.0
        self.pi_expiry_ns = 0
        self.renew_at_ns = 0
        self.taker_bias = 1.0
        self.next_coid = 1
        self.buy_probability = 0.5  # of a new order; a shock positions most clients long


_NEVER = 1 << 62

# heap event kinds
_PRICE = 0
_MM_REFRESH = 1
_CLIENT_ARRIVAL = 2
_PI_RENEW = 3


class Scenario:
    """One seeded session. Iterate ``commands()``; call ``observe`` after each command."""

    def __init__(self, config: ScenarioConfig, clock: SimClock | None = None, genesis: list[VenueCommand] | None = None) -> None:
        """``genesis``: the operator's configuration commands (default: the embedded default genesis)."""
        if config.clients < 1 or config.minutes <= 0 or config.client_actions_per_minute < 1:
            raise ValueError("need at least one client, a positive duration and a positive action rate")
        self.config = config
        self.clock = clock if clock is not None else SimClock(config.start_ns)
        if self.clock.now_ns != config.start_ns:
            raise ValueError("the clock must start at the scenario's start_ns")
        self.tracker = OrderTracker()
        self.shock: ShockSpec | None = shock_named(config.shock) if config.shock else None
        self._shock_rng = random.Random(f"harbour-sim:{config.seed}:shock")
        self._rng = random.Random(f"harbour-sim:{config.seed}:flow")
        self._genesis = list(genesis) if genesis is not None else default_genesis()
        self._hkd_per = _hkd_per_currency(self._genesis)
        self._asset_currency = {c.asset: c.currency for c in self._genesis if isinstance(c, ListAsset)}
        self.markets = self._build_markets()
        self.clients: list[_Client] = []
        self._end_ns = config.start_ns + config.duration_ns
        self._heap: list[tuple[int, int, int, int]] = []
        self._heap_counter = 0
        self._mm_slots: dict[tuple[int, bool, int], int] = {}
        # the one live refresh time per market; heap entries at other times are stale
        self._mm_next_refresh_ns = [_NEVER] * len(self.markets)
        self._client_cum_weights: list[float] = []
        self._market_index = {m.symbol: i for i, m in enumerate(self.markets)}
        self._last_events: list[object] = []

    # --- the driver's side -----------------------------------------------------------

    @property
    def end_ns(self) -> int:
        return self._end_ns

    @property
    def elapsed_ns(self) -> int:
        return self.clock.now_ns - self.config.start_ns

    def observe(self, seq: int, events: list[object]) -> None:
        """Tell the participants what the last command did (call after every command)."""
        self._last_events = events
        self.tracker.observe(events)
        for event in events:
            kind = type(event)
            if kind is TradeExecuted:
                self._on_trade(event)  # type: ignore[arg-type]
            elif kind is AutoDeleveraged:
                self._on_adl(event)  # type: ignore[arg-type]
            elif kind is LossReported:
                self._on_loss(event)  # type: ignore[arg-type]

    def commands(self) -> Iterator[VenueCommand]:
        """Yield the session's commands in order, reacting to what ``observe`` reported."""
        yield from self._setup()
        for i in range(len(self.markets)):
            yield from self._mm_refresh(i)
        self._schedule_initial_events()
        while self._heap:
            at_ns, _, kind, key = heapq.heappop(self._heap)
            if at_ns >= self._end_ns:
                break
            self.clock.advance_to(at_ns)
            if kind == _PRICE:
                yield from self._on_price(key)
            elif kind == _MM_REFRESH:
                if at_ns != self._mm_next_refresh_ns[key]:
                    continue
                self._mm_next_refresh_ns[key] = _NEVER
                yield from self._mm_refresh(key)
                self._schedule_mm_refresh(key, self.config.mm_heartbeat_ms * NS_PER_MS)
            elif kind == _CLIENT_ARRIVAL:
                yield from self._client_action(self._pick_client())
                self._schedule(self._next_arrival_ns(), _CLIENT_ARRIVAL, 0)
            elif kind == _PI_RENEW:
                client = self.clients[key]
                client.pi_expiry_ns = self.clock.now_ns + 365 * NS_PER_DAY
                yield SetProfessionalInvestorStatus(account=client.account, expiry_ns=client.pi_expiry_ns)
        self.clock.advance_to(max(self.clock.now_ns, self._end_ns))
        yield CancelAllOrders(account=MM_ACCOUNT)

    # --- setup ---------------------------------------------------------------------------

    def _build_markets(self) -> list[Market]:
        refs = {c.instrument: c.price for c in self._genesis if isinstance(c, SetReferencePrice)}
        markets = []
        for spec in (c for c in self._genesis if isinstance(c, ListInstrument)):
            ref = refs[spec.instrument]
            rng = random.Random(f"harbour-sim:{self.config.seed}:price:{spec.instrument}")
            vol = 8.0 if spec.reference == "BTC" else 10.0
            params = PathParams(volatility_bps_per_sqrt_minute=vol)
            path: PricePath
            if self.shock is None:
                path = PricePath(spec.instrument, ref, spec.tick, params, rng)
            else:
                path = ShockPath(
                    spec.instrument, ref, spec.tick, params, rng, shock=self.shock, asset=spec.reference, duration_ns=self.config.duration_ns
                )
            hkd_per_unit = self._hkd_per[self._asset_currency[spec.settlement_asset]]
            market = Market(spec, ref, hkd_per_unit, path, 0)
            if self.shock is not None:
                # the participants and the five constituent venues watch the same (shocked) path
                market.feed = SimulatedIndexFeed(
                    self.config.seed, DEFAULT_VENUES, ref, instrument=spec.instrument, start_ns=self.config.start_ns, tick=spec.tick, path=path
                )
            # quote roughly HKD 150k a level, whatever the instrument
            market.mm_lots = max(1, int(150_000 / market.lot_value_hkd()))
            markets.append(market)
        return markets

    def _setup(self) -> Iterator[VenueCommand]:
        cfg = self.config
        rng = self._rng
        yield from self._genesis_commands()
        yield OpenAccount(account=MM_ACCOUNT, kind=AccountKind.AFFILIATED_MM, legal_entity=MM_LEGAL_ENTITY)
        for asset, units in _MM_DEPOSITS:
            yield Deposit(account=MM_ACCOUNT, asset=asset, amount=units * MICRO, reference="mm-funding")
        n = cfg.clients
        expiring = {min(2, n - 1): (0.30, 0.70), min(5, n - 1): (0.55, 0.0)}
        assets = [a for a, _ in _CLIENT_ASSETS]
        asset_weights = [w for _, w in _CLIENT_ASSETS]
        for i in range(n):
            asset = rng.choices(assets, asset_weights)[0]
            client = _Client(FIRST_CLIENT_ACCOUNT + i, asset, self._hkd_per[self._asset_currency[asset]])
            low, high = self.shock.leverage if self.shock is not None else (1.0, 4.0)
            client.target_leverage = rng.uniform(low, high)
            client.taker_bias = rng.uniform(0.4, 2.0)
            if self.shock is not None:
                # drawn from the shock's own stream, so the default session's draws are untouched
                bull = self._shock_rng.random() < self.shock.bull_share
                client.buy_probability = self.shock.bull_buy_probability if bull else 1.0 - self.shock.bull_buy_probability
            if i in expiring:
                expire_at, renew_at = expiring[i]
                client.pi_expiry_ns = cfg.start_ns + int(expire_at * cfg.duration_ns)
                client.renew_at_ns = cfg.start_ns + int(renew_at * cfg.duration_ns) if renew_at else 0
            else:
                client.pi_expiry_ns = cfg.start_ns + rng.randrange(120, 720) * NS_PER_DAY
            self.clients.append(client)
            # activity is skewed: a few clients trade much more than the rest
            total = self._client_cum_weights[-1] if self._client_cum_weights else 0.0
            self._client_cum_weights.append(total + rng.lognormvariate(0.0, 0.9))
            yield OpenAccount(
                account=client.account,
                kind=AccountKind.CLIENT,
                pi_expiry_ns=client.pi_expiry_ns,
                legal_entity=f"Client {i + 1:03d} Ltd",
            )
            units = int(rng.uniform(400_000, 4_000_000) / client.hkd_per_unit) // 100 * 100
            client.initial_units = units
            yield Deposit(account=client.account, asset=asset, amount=units * MICRO, reference="initial")
            if not self._last_rejected():
                client.balance_est = units * MICRO
                client.cash_hkd = units * client.hkd_per_unit

    def _genesis_commands(self) -> Iterator[VenueCommand]:
        """The default genesis; with a shock, its insurance fund and tranche and an index methodology per instrument."""
        shock = self.shock
        if shock is None:
            yield from self._genesis
            return
        layers = {"INSURANCE_FUND": shock.insurance_fund, "PLATFORM_CAPITAL": shock.operator_tranche}
        for command in self._genesis:
            if isinstance(command, FundPlatformAccount) and layers.get(command.target):
                continue
            yield command
        for target, amounts in layers.items():
            for asset, units in amounts:
                yield FundPlatformAccount(target=target, asset=asset, amount=units * MICRO)
        for m in self.markets:
            yield default_methodology(m.symbol, m.reference, effective_from_ns=self.config.start_ns, price_decimals=m.price_decimals)

    def _schedule_initial_events(self) -> None:
        start = self.config.start_ns
        interval = self.config.price_interval_ms * NS_PER_MS
        for i in range(len(self.markets)):
            self._schedule(start + interval * (i + 1) // (len(self.markets) + 1), _PRICE, i)
            self._schedule_mm_refresh(i, self.config.mm_heartbeat_ms * NS_PER_MS)
        for i, client in enumerate(self.clients):
            if client.renew_at_ns:
                self._schedule(client.renew_at_ns, _PI_RENEW, i)
        self._schedule(self._next_arrival_ns(), _CLIENT_ARRIVAL, 0)

    # --- scheduling ----------------------------------------------------------------------

    def _schedule(self, at_ns: int, kind: int, key: int) -> None:
        self._heap_counter += 1
        heapq.heappush(self._heap, (at_ns, self._heap_counter, kind, key))

    def _schedule_mm_refresh(self, market: int, delay_ns: int) -> None:
        """Refresh the MM's quotes in ``delay_ns``, unless a refresh is already due sooner."""
        at_ns = self.clock.now_ns + delay_ns
        if at_ns < self._mm_next_refresh_ns[market]:
            self._mm_next_refresh_ns[market] = at_ns
            self._schedule(at_ns, _MM_REFRESH, market)

    def _next_arrival_ns(self) -> int:
        per_second = self.config.client_actions_per_minute / 60.0
        return self.clock.now_ns + 1 + int(self._rng.expovariate(per_second) * NS_PER_SECOND)

    def _pick_client(self) -> _Client:
        return self._rng.choices(self.clients, cum_weights=self._client_cum_weights)[0]

    # --- feedback helpers ------------------------------------------------------------------

    def _last_rejected(self) -> bool:
        return any(type(e) is Rejected for e in self._last_events)

    def _last_accepted_id(self) -> int:
        for e in self._last_events:
            if type(e) is OrderAccepted:
                return e.order_id
        return 0

    def _on_trade(self, trade: TradeExecuted) -> None:
        m = self.markets[self._market_index[trade.instrument]]
        if trade.maker_is_affiliated_mm or trade.taker_is_affiliated_mm:
            self._schedule_mm_refresh(self._market_index[trade.instrument], _MM_REACTION_NS * 10)
        for account, pnl, fee in (
            (trade.maker_account, trade.maker_realised_pnl, trade.maker_fee),
            (trade.taker_account, trade.taker_realised_pnl, trade.taker_fee),
        ):
            i = account - FIRST_CLIENT_ACCOUNT
            if 0 <= i < len(self.clients):
                self.clients[i].cash_hkd += (pnl - fee) * m.hkd_per_unit / MICRO

    def _on_adl(self, adl: AutoDeleveraged) -> None:
        m = self.markets[self._market_index[adl.instrument]]
        for account, pnl in ((adl.account, adl.account_realised_pnl), (adl.counterparty, adl.counterparty_realised_pnl)):
            i = account - FIRST_CLIENT_ACCOUNT
            if 0 <= i < len(self.clients):
                self.clients[i].cash_hkd += pnl * m.hkd_per_unit / MICRO

    def _on_loss(self, loss: LossReported) -> None:
        # a liquidated client learns what its wallet gave up: the fills' losses reached its
        # equity estimate with their trades; the liquidation fee and the cash balance follow here
        i = loss.account - FIRST_CLIENT_ACCOUNT
        if not 0 <= i < len(self.clients):
            return
        client = self.clients[i]
        for layer, asset, amount in loss.layers:
            if layer == "LIQUIDATION_FEE":
                client.cash_hkd -= amount * self._hkd_per[self._asset_currency[asset]] / MICRO
            elif layer == "DEFAULTER_MARGIN" and asset == client.asset:
                client.balance_est = max(0, client.balance_est - amount)
        client.cash_hkd = max(0.0, client.cash_hkd)

    # --- the reference price -----------------------------------------------------------

    def _on_price(self, i: int) -> Iterator[VenueCommand]:
        m = self.markets[i]
        interval = self.config.price_interval_ms * NS_PER_MS
        before = m.path.price
        if m.feed is not None:
            # the five constituent venues observe the path; the index print moves the mark
            publish = m.feed.publish(self.clock.now_ns)
        else:
            m.path.step(interval)
        jitter = self._rng.randrange(-interval // 10, interval // 10 + 1)
        self._schedule(self.clock.now_ns + interval + jitter, _PRICE, i)
        if m.feed is not None:
            yield publish
        elif m.path.price == before:
            return
        else:
            yield m.path.command()
        self._schedule_mm_refresh(i, _MM_REACTION_NS)

    # --- the affiliated market maker -------------------------------------------------------

    def _mm_refresh(self, i: int) -> Iterator[VenueCommand]:
        """Bring every MM quote of one market to its target: place, amend, or cancel/replace."""
        m = self.markets[i]
        ref = m.path.price
        sym = m.symbol
        inventory_hkd = self.tracker.position(MM_ACCOUNT, sym) * m.lot_value_hkd()
        skew = max(-1.0, min(1.0, inventory_hkd / _MM_INVENTORY_LIMIT_HKD))
        centre = ref * (1.0 - skew * _MM_SKEW_BPS / 10_000.0)
        yield from self._mm_sweep(m, centre, skew)
        # move the side the price moves towards first, so our own quotes never cross
        sides = (False, True) if ref >= m.last_quoted_ref else (True, False)
        m.last_quoted_ref = ref
        amend_gap = ref * _MM_AMEND_BPS / 10_000.0
        replace_gap = ref * _MM_REPLACE_BPS / 10_000.0
        inner_bps, step_bps, size_share = _MM_INNER_BPS, _MM_STEP_BPS, 1.0
        shock = self.shock
        if shock is not None and shock.in_fall_or_after(self.elapsed_ns / self.config.duration_ns):
            # in the crash the market maker quotes wider and smaller: the book thins
            inner_bps, step_bps, size_share = shock.mm_inner_bps, shock.mm_step_bps, shock.mm_size_share
        for is_buy in sides:
            enabled = skew < 1.0 if is_buy else skew > -1.0
            for level in range(self.config.mm_levels):
                key = (i, is_buy, level)
                order = self.tracker.orders.get(self._mm_slots.get(key, 0))
                if not enabled:
                    if order is not None:
                        yield CancelOrder(account=MM_ACCOUNT, instrument=sym, order_id=order.order_id)
                    continue
                half = (inner_bps + step_bps * level) / 10_000.0
                qty = max(1, int(m.mm_lots * (2 + level) // 2 * size_share))
                price = self._mm_price(m, is_buy, centre * (1.0 - half) if is_buy else centre * (1.0 + half))
                if order is not None and abs(order.price - price) >= replace_gap:
                    yield CancelOrder(account=MM_ACCOUNT, instrument=sym, order_id=order.order_id)
                    order = None
                if order is None:
                    yield PlaceOrder(
                        account=MM_ACCOUNT,
                        instrument=sym,
                        side=_BUY if is_buy else _SELL,
                        qty=qty,
                        price=price,
                        tif=TimeInForce.POST_ONLY,
                    )
                    accepted = self._last_accepted_id()
                    if accepted:
                        self._mm_slots[key] = accepted
                elif abs(order.price - price) >= amend_gap or order.qty * 2 < qty:
                    yield AmendOrder(account=MM_ACCOUNT, instrument=sym, order_id=order.order_id, price=price, qty=qty)
                    if self._last_rejected():
                        yield CancelOrder(account=MM_ACCOUNT, instrument=sym, order_id=order.order_id)

    def _mm_sweep(self, m: Market, centre: float, skew: float) -> Iterator[VenueCommand]:
        """Take resting client orders the price has moved through (stale quotes), IOC."""
        edge = centre * _MM_SWEEP_BPS / 10_000.0
        for mm_buys in (False, True):
            if (skew >= 1.0) if mm_buys else (skew <= -1.0):
                continue
            for _ in range(3):
                target = self.tracker.best_order(m.symbol, is_buy=not mm_buys, exclude_account=MM_ACCOUNT)
                if target is None or not (target.price < centre - edge if mm_buys else target.price > centre + edge):
                    break
                yield PlaceOrder(
                    account=MM_ACCOUNT,
                    instrument=m.symbol,
                    side=_BUY if mm_buys else _SELL,
                    qty=min(target.qty, m.mm_lots * 2),
                    price=target.price,
                    tif=TimeInForce.IOC,
                )
                if self._last_rejected():
                    break

    def _mm_price(self, m: Market, is_buy: bool, target: float) -> int:
        """Round a quote away from the reference, then keep it off the opposite touch."""
        if is_buy:
            price = m.floor_tick(target)
            best_ask = self.tracker.best_ask(m.symbol)
            if best_ask is not None and price >= best_ask:
                price = best_ask - m.tick
        else:
            price = m.ceil_tick(target)
            best_bid = self.tracker.best_bid(m.symbol)
            if best_bid is not None and price <= best_bid:
                price = best_bid + m.tick
        return price

    # --- clients ---------------------------------------------------------------------------

    def _client_action(self, c: _Client) -> Iterator[VenueCommand]:
        rng = self._rng
        mine = self.tracker.orders_of(c.account)
        if len(mine) >= _MAX_RESTING_PER_CLIENT:
            yield self._cancel(c, mine)
            return
        if self.clock.now_ns >= c.pi_expiry_ns and rng.random() < 0.7:
            # PI status lapsed: mostly wind down; the rest are attempts the gate refuses
            closing = self._close(c)
            if closing is not None:
                yield closing
                return
        names = [a for a, _ in _ACTIONS]
        weights = [self._action_weight(c, name, w, mine) for name, w in _ACTIONS]
        action = rng.choices(names, weights)[0]
        if action == "cancel":
            yield self._cancel(c, mine)
        elif action == "amend":
            yield self._amend(c, rng.choice(mine))
        elif action == "close":
            closing = self._close(c)
            if closing is not None:
                yield closing
        elif action == "deposit":
            yield from self._deposit(c)
        elif action == "withdraw":
            yield from self._withdraw(c)
        else:
            order = self._new_order(c, action)
            if order is not None:
                yield order
            elif mine:
                yield self._cancel(c, mine)
            else:
                closing = self._close(c)
                if closing is not None:
                    yield closing

    def _action_weight(self, c: _Client, name: str, weight: int, mine: list[RestingOrder]) -> float:
        if name in ("cancel", "amend") and not mine:
            return 0.0
        if name == "close" and not self._has_position(c):
            return 0.0
        if name in ("ioc", "market"):
            return weight * c.taker_bias
        if name in ("limit", "post_only"):
            return weight / c.taker_bias
        return float(weight)

    def _has_position(self, c: _Client) -> bool:
        return any(self.tracker.position(c.account, m.symbol) for m in self.markets)

    def _gross_exposure_hkd(self, c: _Client) -> float:
        total = 0.0
        for m in self.markets:
            total += abs(self.tracker.position(c.account, m.symbol)) * m.lot_value_hkd()
        for order in self.tracker.orders_of(c.account):
            m = self.markets[self._market_index[order.instrument]]
            total += order.qty * order.price * m.unit_value * m.hkd_per_unit / MICRO
        return total

    def _coid(self, c: _Client) -> str:
        if self._rng.random() < 0.3:
            c.next_coid += 1
            return f"c{c.account}-{c.next_coid}"
        return ""

    def _new_order(self, c: _Client, action: str) -> PlaceOrder | None:
        rng = self._rng
        m = self.markets[0 if rng.random() < 0.55 else 1]
        room_hkd = c.target_leverage * c.cash_hkd - self._gross_exposure_hkd(c)
        low, high = self.shock.order_share if self.shock is not None else (0.05, 0.35)
        notional_hkd = min(c.cash_hkd * rng.uniform(low, high), room_hkd)
        lot_hkd = m.lot_value_hkd()
        if notional_hkd < lot_hkd:
            return None
        qty = max(1, int(notional_hkd / lot_hkd))
        is_buy = rng.random() < c.buy_probability
        side = _BUY if is_buy else _SELL
        ref = m.path.price
        if action == "market":
            return PlaceOrder(account=c.account, instrument=m.symbol, side=side, qty=qty, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
        if action == "ioc":
            off = rng.uniform(1.0, 12.0) / 10_000.0
            price = m.ceil_tick(ref * (1 + off)) if is_buy else m.floor_tick(ref * (1 - off))
            return PlaceOrder(account=c.account, instrument=m.symbol, side=side, qty=qty, price=price, tif=TimeInForce.IOC)
        if action == "post_only":
            off = rng.uniform(-1.0, 4.0) / 10_000.0
            tif = TimeInForce.POST_ONLY
        else:
            off = rng.uniform(0.3, 12.0) / 10_000.0
            tif = TimeInForce.GTC
        price = m.floor_tick(ref * (1 - off)) if is_buy else m.ceil_tick(ref * (1 + off))
        return PlaceOrder(
            account=c.account, instrument=m.symbol, side=side, qty=qty, price=price, tif=tif, client_order_id=self._coid(c)
        )

    def _close(self, c: _Client) -> PlaceOrder | None:
        """A reduce-only order against the client's largest position, or None if flat."""
        rng = self._rng
        best: tuple[float, Market, int] | None = None
        for m in self.markets:
            pos = self.tracker.position(c.account, m.symbol)
            if pos and (best is None or abs(pos) * m.lot_value_hkd() > best[0]):
                best = (abs(pos) * m.lot_value_hkd(), m, pos)
        if best is None:
            return None
        _, m, pos = best
        is_buy = pos < 0
        side = _BUY if is_buy else _SELL
        qty = max(1, int(abs(pos) * rng.uniform(0.25, 1.0)))
        ref = m.path.price
        style = rng.random()
        if style < 0.4:
            return PlaceOrder(
                account=c.account,
                instrument=m.symbol,
                side=side,
                qty=qty,
                order_type=OrderType.MARKET,
                tif=TimeInForce.IOC,
                reduce_only=True,
            )
        if style < 0.75:
            off = rng.uniform(2.0, 15.0) / 10_000.0
            price = m.ceil_tick(ref * (1 + off)) if is_buy else m.floor_tick(ref * (1 - off))
            tif = TimeInForce.IOC
        else:
            off = rng.uniform(0.3, 6.0) / 10_000.0
            price = m.floor_tick(ref * (1 - off)) if is_buy else m.ceil_tick(ref * (1 + off))
            tif = TimeInForce.GTC
        return PlaceOrder(
            account=c.account, instrument=m.symbol, side=side, qty=qty, price=price, tif=tif, reduce_only=True, client_order_id=self._coid(c)
        )

    def _cancel(self, c: _Client, mine: list[RestingOrder]) -> CancelOrder:
        rng = self._rng
        if rng.random() < 0.6:
            # the order furthest from the market is the stalest
            def distance(o: RestingOrder) -> float:
                ref = self.markets[self._market_index[o.instrument]].path.price
                return abs(o.price - ref) / ref

            order = max(mine, key=distance)
        else:
            order = rng.choice(mine)
        if order.client_order_id and rng.random() < 0.5:
            return CancelOrder(account=c.account, instrument=order.instrument, client_order_id=order.client_order_id)
        return CancelOrder(account=c.account, instrument=order.instrument, order_id=order.order_id)

    def _amend(self, c: _Client, order: RestingOrder) -> AmendOrder:
        rng = self._rng
        m = self.markets[self._market_index[order.instrument]]
        ref = m.path.price
        off = rng.uniform(0.3, 10.0) / 10_000.0
        price = m.floor_tick(ref * (1 - off)) if order.is_buy else m.ceil_tick(ref * (1 + off))
        qty = order.qty
        if rng.random() < 0.4:
            qty = max(1, int(qty * rng.uniform(0.5, 1.5)))
        if price == order.price and qty == order.qty:
            price += -m.tick if order.is_buy else m.tick
        return AmendOrder(account=c.account, instrument=order.instrument, order_id=order.order_id, price=price, qty=qty)

    def _deposit(self, c: _Client) -> Iterator[VenueCommand]:
        rng = self._rng
        units = max(1, int(c.initial_units * rng.uniform(0.05, 0.3)))
        if rng.random() < 0.08:
            # tries to post a stablecoin whose issuer is not licensed: the venue refuses it
            yield Deposit(account=c.account, asset=_INELIGIBLE_ASSET, amount=units * MICRO, reference="top-up")
            return
        yield Deposit(account=c.account, asset=c.asset, amount=units * MICRO, reference="top-up")
        if not self._last_rejected():
            c.balance_est += units * MICRO
            c.cash_hkd += units * c.hkd_per_unit

    def _withdraw(self, c: _Client) -> Iterator[VenueCommand]:
        rng = self._rng
        # most withdrawals take part of the balance; some try to take nearly all of it,
        # which the venue refuses while positions or orders need that collateral
        share = rng.uniform(0.9, 1.0) if rng.random() < 0.2 else rng.uniform(0.1, 0.5)
        amount = int(c.balance_est * share) // CENT * CENT
        if amount <= 0:
            yield from self._deposit(c)
            return
        yield Withdraw(account=c.account, asset=c.asset, amount=amount, reference="withdrawal")
        if not self._last_rejected():
            c.balance_est -= amount
            c.cash_hkd -= amount * c.hkd_per_unit / MICRO


def _hkd_per_currency(genesis: list[VenueCommand]) -> dict[str, float]:
    """HKD per unit of each currency, from the genesis FX rates (for sizing only)."""
    rates = {RISK_CURRENCY: 1.0}
    for c in genesis:
        if isinstance(c, SetFxRate) and c.quote == RISK_CURRENCY:
            rates[c.base] = c.rate_e8 / 100_000_000
        elif isinstance(c, SetFxRate) and c.base == RISK_CURRENCY:
            rates[c.quote] = 100_000_000 / c.rate_e8
    return rates
