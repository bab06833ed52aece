"""A live simulated market for ``harbour serve``: index feeds, the funding clock, an affiliated
market maker and a little client flow, driven by the wall clock.

Each part only produces venue commands through a ``submit`` function the server gives it
(the single writer's), at times the server chooses (``tick(now_ns, state, submit)`` on the
writer thread), and learns what happened only from the events of those commands and of
everyone else's (``observe``). The market maker sees only public data (the mark and the
book's best prices) and its own orders and fills; it never reads another account.

Floats draw price levels and sizes only; every command carries integers on the tick and lot.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from harbour.sim.feeds import DEFAULT_VENUES, SimulatedIndexFeed, default_methodology
from harbour.sim.harness import sim_funding_parameters
from harbour.sim.premium_sampler import PremiumSampler
from harbour.venue.commands import (
    AmendOrder,
    CancelOrder,
    OrderType,
    PlaceOrder,
    SettleFunding,
    Side,
    TimeInForce,
    VenueCommand,
)
from harbour.venue.events import OrderAccepted, OrderAmended, OrderCancelled, Rejected, TradeExecuted
from harbour.venue.state import VenueState

Submit = Callable[[VenueCommand], tuple[int, list[Any]]]

NS_PER_SECOND: Final = 1_000_000_000
_MM_INNER_BPS: Final = 1.5
_MM_STEP_BPS: Final = 2.0
_MM_AMEND_BPS: Final = 1.0
_LEVEL_VALUE_HKD: Final = 150_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveMarketConfig:
    seed: int = 7
    mm_account: int = 1
    flow_account: int = 0  # 0: no simulated client flow
    mm_levels: int = 4
    index_interval_ns: int = NS_PER_SECOND
    mm_interval_ns: int = NS_PER_SECOND
    flow_interval_ns: int = 2 * NS_PER_SECOND
    funding_interval_ns: int = 8 * 3_600 * NS_PER_SECOND  # set on the venue (SetFundingParameters) if not in force
    premium_sample_interval_ns: int = 5 * NS_PER_SECOND


class _Quote:
    __slots__ = ("order_id", "price", "qty")

    def __init__(self, order_id: int, price: int, qty: int) -> None:
        self.order_id = order_id
        self.price = price
        self.qty = qty


class LiveMarket:
    """Feeds, funding, market maker and flow for every listed instrument."""

    def __init__(self, config: LiveMarketConfig, state: VenueState, start_ns: int) -> None:
        self.config = config
        self._rng = random.Random(f"harbour-live:{config.seed}")
        self._feeds: dict[str, SimulatedIndexFeed] = {}
        self._setup: list[VenueCommand] = []
        self._hkd_per: dict[str, float] = {"HKD": 1.0}
        for (base, quote), rate in state.registry.fx_e8.items():
            if quote == "HKD":
                self._hkd_per[base] = rate / 100_000_000
        for sym, inst in sorted(state.instruments.items()):
            start = inst.ref_price or inst.tick
            self._feeds[sym] = SimulatedIndexFeed(
                config.seed * 1_000 + len(self._feeds), DEFAULT_VENUES, start, instrument=sym, start_ns=start_ns, tick=inst.tick
            )
            if sym not in state.index_methodologies:
                self._setup.append(
                    default_methodology(sym, inst.reference, effective_from_ns=start_ns, price_decimals=inst.price_decimals)
                )
            schedule = inst.funding_schedule
            sample = min(config.premium_sample_interval_ns, config.funding_interval_ns)
            if (schedule.interval_ns, schedule.premium_sample_interval_ns) != (config.funding_interval_ns, sample):
                self._setup.append(sim_funding_parameters(sym, inst.settlement_asset, config.funding_interval_ns, sample))
        self._sampler = PremiumSampler(sorted(state.instruments), start_ns=start_ns)
        self._quotes: dict[tuple[str, bool, int], _Quote] = {}
        self._by_order: dict[int, tuple[str, bool, int]] = {}
        self._next_index_ns = start_ns
        self._next_mm_ns = start_ns
        self._next_flow_ns = start_ns + config.flow_interval_ns

    def setup_commands(self) -> list[VenueCommand]:
        """Commands to apply once before the first tick (index methodologies)."""
        out, self._setup = self._setup, []
        return out

    # --- driving --------------------------------------------------------------------------

    def tick(self, now_ns: int, state: VenueState, submit: Submit) -> None:
        """Do what is due at ``now_ns``: index prints, funding, quotes, flow."""
        cfg = self.config
        for command in self.setup_commands():
            submit(command)

        def settle(ts_ns: int, command: SettleFunding) -> None:
            submit(command)

        self._sampler.advance(now_ns, state, settle)
        if now_ns >= self._next_index_ns:
            self._next_index_ns = now_ns + cfg.index_interval_ns
            for feed in self._feeds.values():
                submit(feed.publish(now_ns))
        if now_ns >= self._next_mm_ns:
            self._next_mm_ns = now_ns + cfg.mm_interval_ns
            for sym in sorted(state.instruments):
                self._quote(sym, state, submit)
        if cfg.flow_account and now_ns >= self._next_flow_ns:
            self._next_flow_ns = now_ns + int(cfg.flow_interval_ns * self._rng.uniform(0.5, 1.5))
            self._flow(state, submit)

    def observe(self, seq: int, ts_ns: int, command: object, events: list[Any]) -> None:
        """Follow the market maker's own orders (and nothing of anyone else's)."""
        mm = self.config.mm_account
        for e in events:
            kind = type(e)
            if kind is TradeExecuted:
                if e.maker_account == mm:
                    self._filled(e.maker_order_id, e.qty)
                if e.taker_account == mm:
                    self._filled(e.taker_order_id, e.qty)
            elif kind is OrderCancelled and e.account == mm:
                self._drop(e.order_id)
            elif kind is OrderAmended and e.account == mm:
                slot = self._by_order.get(e.order_id)
                if slot is not None:
                    q = self._quotes[slot]
                    q.price, q.qty = e.new_price, e.new_qty

    # --- the affiliated market maker ---------------------------------------------------------

    def _filled(self, order_id: int, qty: int) -> None:
        slot = self._by_order.get(order_id)
        if slot is None:
            return
        q = self._quotes[slot]
        q.qty -= qty
        if q.qty <= 0:
            self._drop(order_id)

    def _drop(self, order_id: int) -> None:
        slot = self._by_order.pop(order_id, None)
        if slot is not None:
            self._quotes.pop(slot, None)

    def _lots(self, state: VenueState, sym: str) -> int:
        inst = state.instruments[sym]
        lot_value = inst.ref_price * inst.unit_value / 1_000_000 * self._hkd_per.get(inst.settlement_currency, 1.0)
        return max(inst.lot, int(_LEVEL_VALUE_HKD / lot_value) // inst.lot * inst.lot) if lot_value > 0 else inst.lot

    def _quote(self, sym: str, state: VenueState, submit: Submit) -> None:
        inst = state.instruments[sym]
        ref = inst.ref_price
        if ref <= 0 or inst.state.value == "HALTED":
            return
        book = state.books[sym]
        mm = self.config.mm_account
        lots = self._lots(state, sym)
        tick = inst.tick
        amend_gap = ref * _MM_AMEND_BPS / 10_000
        for is_buy in (True, False):
            for level in range(self.config.mm_levels):
                half = (_MM_INNER_BPS + _MM_STEP_BPS * level) / 10_000
                if is_buy:
                    price = max(tick, int(ref * (1 - half)) // tick * tick)
                    best_ask = book.asks.best
                    if best_ask is not None and price >= best_ask:
                        price = best_ask - tick
                else:
                    price = -(-int(ref * (1 + half)) // tick) * tick
                    best_bid = book.bids.best
                    if best_bid is not None and price <= best_bid:
                        price = best_bid + tick
                qty = lots * (2 + level) // 2
                slot = (sym, is_buy, level)
                q = self._quotes.get(slot)
                if q is None:
                    _, events = submit(
                        PlaceOrder(account=mm, instrument=sym, side=Side.BUY if is_buy else Side.SELL, qty=qty, price=price, tif=TimeInForce.POST_ONLY)
                    )
                    for e in events:
                        if type(e) is OrderAccepted and e.account == mm:
                            # a post-only order rests whole or not at all
                            self._quotes[slot] = _Quote(e.order_id, price, qty)
                            self._by_order[e.order_id] = slot
                            break
                elif abs(q.price - price) >= amend_gap or q.qty * 2 < qty:
                    _, events = submit(AmendOrder(account=mm, instrument=sym, order_id=q.order_id, price=price, qty=qty))
                    if events and type(events[0]) is Rejected:
                        submit(CancelOrder(account=mm, instrument=sym, order_id=q.order_id))
                        self._drop(q.order_id)

    # --- simulated client flow ------------------------------------------------------------------

    def _flow(self, state: VenueState, submit: Submit) -> None:
        rng = self._rng
        sym = rng.choice(sorted(state.instruments))
        inst = state.instruments[sym]
        if inst.ref_price <= 0:
            return
        lots = max(inst.lot, self._lots(state, sym) // 10 * rng.randint(1, 5) // inst.lot * inst.lot)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        submit(PlaceOrder(account=self.config.flow_account, instrument=sym, side=side, qty=lots, order_type=OrderType.MARKET, tif=TimeInForce.IOC))
