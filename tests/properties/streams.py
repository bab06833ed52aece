"""Random command streams for the property tests.

Hypothesis draws *intents* (plain tuples) rather than commands: an intent is turned
into a concrete command against the venue's current state when it is applied (prices
relative to the current reference, cancels and amends aimed at orders that really
rest), so most generated commands are meaningful, while some still miss on purpose
(unknown orders, prices past the band, off-tick prices, ineligible assets).

Accounts: clients 1, 2, 3 and the affiliated market maker 9. The setup draws legal
entities so that some clients share an entity with each other or with the MM (STP),
and draws each account's funding from small (margin rejects, losses beyond collateral)
to large.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from harbour.kernel.money import MICRO
from harbour.prices.funding import PremiumWeighting
from harbour.prices.index import Constituent, IndexMethodology, InputKind, PriceInput
from harbour.venue.commands import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CancelTriggerOrder,
    Deposit,
    InstrumentState,
    OrderType,
    PlaceOrder,
    PlaceTriggerOrder,
    PublishIndex,
    SelfTradePrevention,
    SetDepositBankAllowlist,
    SetFundingParameters,
    SetFxRate,
    SetIndexMethodology,
    SetInstrumentState,
    SetIssuerRegister,
    SetMarginAssetHaircut,
    SetMarginMode,
    SetMarkParameters,
    SetProfessionalInvestorStatus,
    SetReferencePrice,
    SettleFunding,
    Side,
    TimeInForce,
    TransferIsolatedMargin,
    TriggerKind,
    Withdraw,
    WorkingType,
)

from venue.helpers import BTCUSD, ETHHKD, FAR_FUTURE, Venue

CLIENTS = (1, 2, 3)
MM = 9
ACCOUNTS = (*CLIENTS, MM)
SYMBOLS = (BTCUSD, ETHHKD)
CENT = MICRO // 100
ASSETS = ("USD", "HKD", "HKDX", "HKDY", "TDHKD", "BTC")


@dataclass(frozen=True)
class Setup:
    entities: tuple[str, str, str]  # legal entities of clients 1, 2, 3
    funding: tuple[int, ...]  # whole HKD-equivalent units per account in ACCOUNTS order
    hkdx_share: int  # percent of each client's funding held as HKDX


def setups() -> st.SearchStrategy[Setup]:
    entity = st.sampled_from(["", "GROUP-A", "MM-AFFILIATE"])
    return st.builds(
        Setup,
        entities=st.tuples(st.sampled_from(["", "GROUP-A"]), entity, entity),
        funding=st.tuples(*[st.sampled_from([2_000, 30_000, 400_000, 5_000_000])] * 3, st.just(50_000_000)),
        hkdx_share=st.sampled_from([0, 0, 50]),
    )


def open_accounts(v: Venue, setup: Setup) -> None:
    for account, entity, units in zip(CLIENTS, setup.entities, setup.funding, strict=False):
        hkdx = units * setup.hkdx_share // 100
        v.open_client(account, usd=(units - hkdx) // 16, hkd=(units - hkdx) // 2, entity=entity, hkdx=hkdx * MICRO)
    v.open_mm(MM, usd=setup.funding[-1] // 8, hkd=setup.funding[-1])


# --- intents -------------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of ``choices`` with the given integer weights (one_of would pick evenly)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(table))).flatmap(lambda i: table[i])


accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from([Side.BUY, Side.SELL])
quantities = weighted((6, st.integers(1, 40)), (2, st.integers(41, 4_000)), (1, st.just(0)))
# ("near", ticks from the reference) or ("edge", ticks from the band edge) or ("raw", off-tick units)
prices = weighted(
    (14, st.tuples(st.just("near"), st.integers(-12, 12))),
    (1, st.tuples(st.just("edge"), st.integers(-2, 2))),
    (1, st.tuples(st.just("raw"), st.integers(1, 9))),
)
tifs = weighted(
    (8, st.just(TimeInForce.GTC)), (2, st.just(TimeInForce.IOC)), (1, st.just(TimeInForce.FOK)), (1, st.just(TimeInForce.POST_ONLY))
)
stps = st.sampled_from(list(SelfTradePrevention))
coids = weighted((6, st.just("")), (1, st.sampled_from(["a", "b"])))
flags = weighted((7, st.just(False)), (1, st.just(True)))
moves_bps = weighted((4, st.integers(-60, 60)), (2, st.integers(-1_500, 1_500)))

limit_intents = st.tuples(st.just("limit"), accounts, symbols, sides, quantities, prices, tifs, flags, stps, coids)
market_intents = st.tuples(st.just("market"), accounts, symbols, sides, quantities, flags, stps)
close_intents = st.one_of(st.tuples(st.just("close"), accounts, symbols), st.tuples(st.just("close"), st.just(0), symbols))
hit_intents = st.tuples(st.just("hit"), accounts, symbols)
lever_intents = st.tuples(st.just("lever"), st.sampled_from(CLIENTS), symbols, sides)
quote_intents = st.tuples(st.just("quote"), symbols, sides, st.integers(0, 6), st.integers(50, 500))
cancel_intents = st.tuples(st.just("cancel"), accounts, symbols, st.integers(0, 50), flags)
cancel_all_intents = st.tuples(st.just("cancel_all"), accounts, st.sampled_from(["", *SYMBOLS]))
amend_intents = st.tuples(st.just("amend"), st.integers(0, 50), prices, st.integers(-10, 10), flags)
reference_intents = st.tuples(st.just("reference"), symbols, moves_bps)
deposit_intents = st.tuples(st.just("deposit"), accounts, st.sampled_from(ASSETS), st.integers(1, 200_000), flags)
withdraw_intents = st.tuples(st.just("withdraw"), accounts, st.sampled_from(ASSETS), st.integers(1, 100), flags)
issuer_intents = st.tuples(st.just("issuers"), st.sets(st.sampled_from(["ISSUER-A", "ISSUER-B"])))
bank_intents = st.tuples(st.just("banks"), st.sets(st.just("BANK-A")))
state_intents = st.tuples(
    st.just("state"),
    symbols,
    weighted((3, st.just(InstrumentState.OPEN)), (2, st.just(InstrumentState.CLOSE_ONLY)), (1, st.just(InstrumentState.HALTED))),
)
pi_intents = st.tuples(st.just("pi"), st.sampled_from(CLIENTS), weighted((2, st.just(False)), (1, st.just(True))))
mode_intents = st.tuples(st.just("mode"), accounts, symbols, st.booleans())
isolated_intents = st.tuples(st.just("isolated"), accounts, symbols, st.integers(-5_000, 20_000))
fx_intents = st.tuples(st.just("fx"), st.integers(770_000_000, 790_000_000))
haircut_intents = st.tuples(st.just("haircut"), st.integers(0, 3_000))
# (rate per 1e8: mostly realistic, sometimes the bound's edge or past it; interval hours: 0 = the configured
# interval, others are refused unless configured (25 always); mark bps from the reference)
funding_intents = st.tuples(
    st.just("funding"),
    symbols,
    weighted(
        (6, st.integers(-30_000, 30_000)),
        (2, st.integers(-10_000_000, 10_000_000)),
        (1, st.sampled_from([0, 100_000_000, -100_000_000, 100_000_001])),
    ),
    weighted((6, st.just(0)), (1, st.sampled_from([1, 4, 8, 24, 25]))),
    moves_bps,
)
# funding parameters: (interval hours, 25 is refused; premium sample seconds, 7 and 0 are refused; interest and
# dampener per 1e8, a negative dampener is refused; cap fraction bps, 0 is refused; impact notional units, 0 is refused)
funding_parameter_intents = st.tuples(
    st.just("funding_parameters"),
    symbols,
    weighted((4, st.sampled_from([1, 4, 8])), (1, st.sampled_from([24, 25]))),
    weighted((4, st.just(5)), (1, st.sampled_from([60, 7, 0]))),
    st.integers(-20_000, 20_000),
    weighted((4, st.sampled_from([0, 50_000])), (1, st.just(-1))),
    weighted((4, st.sampled_from([5_000, 7_500, 10_000])), (1, st.just(0))),
    weighted((4, st.sampled_from([25_000, 200_000])), (1, st.just(0))),
    st.sampled_from(list(PremiumWeighting)),
)
# mark parameters: (basis window seconds, 0 and 25 h are refused; sample seconds, 0 and beyond the window are refused)
mark_parameter_intents = st.tuples(
    st.just("mark_parameters"),
    symbols,
    weighted((4, st.sampled_from([60, 300])), (1, st.sampled_from([0, 90_000]))),
    weighted((4, st.sampled_from([1, 5])), (1, st.sampled_from([0, 600]))),
)

# (live constituent venues of the four, 3 needed; price bps from the reference)
index_intents = st.tuples(st.just("index"), symbols, weighted((4, st.just(4)), (2, st.integers(0, 3))), moves_bps)
# trigger orders: (kind, side, price source, qty, distance of the trigger (or activation) from
# the watched price on its not-yet-reached side: ("ticks", n) near trades, ("bps", n) for mark
# moves, n <= 0 already reached; limit price ticks from the trigger; reduce-only; close-position;
# callback bps (0 and 2000 are refused); client order id)
trigger_distances = weighted(
    (3, st.tuples(st.just("ticks"), st.integers(1, 15))), (3, st.tuples(st.just("bps"), st.integers(1, 30))), (1, st.tuples(st.just("ticks"), st.integers(-2, 0)))
)
trigger_intents = st.tuples(
    st.just("trigger"),
    accounts,
    symbols,
    st.sampled_from(list(TriggerKind)),
    sides,
    weighted((4, st.just(WorkingType.MARK)), (4, st.just(WorkingType.LAST))),
    quantities,
    trigger_distances,
    st.integers(-10, 10),
    st.booleans(),
    flags,
    weighted((6, st.integers(10, 300)), (1, st.sampled_from([0, 2_000]))),
    coids,
)
cancel_trigger_intents = st.tuples(st.just("cancel_trigger"), accounts, symbols, st.integers(0, 50), flags)


def intents() -> st.SearchStrategy[tuple[Any, ...]]:
    """One intent; trading intents are drawn most often."""
    return weighted(
        (30, limit_intents),
        (3, market_intents),
        (5, close_intents),
        (4, quote_intents),
        (3, lever_intents),
        (3, hit_intents),
        (4, cancel_intents),
        (1, cancel_all_intents),
        (5, amend_intents),
        (4, reference_intents),
        (2, deposit_intents),
        (2, withdraw_intents),
        (1, issuer_intents),
        (1, bank_intents),
        (4, state_intents),
        (3, pi_intents),
        (1, mode_intents),
        (1, isolated_intents),
        (1, fx_intents),
        (1, haircut_intents),
        (3, funding_intents),
        (1, funding_parameter_intents),
        (1, mark_parameter_intents),
        (2, index_intents),
        (5, trigger_intents),
        (2, cancel_trigger_intents),
    )


def streams(max_size: int) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Streams of at least a third of ``max_size`` intents (hypothesis otherwise favours short lists)."""
    return st.lists(intents(), min_size=max_size // 3, max_size=max_size)


# --- intent -> command ---------------------------------------------------------------------


def _price(v: Venue, sym: str, spec: tuple[str, int]) -> int:
    inst = v.state.instruments[sym]
    ref, tick = inst.ref_price, inst.tick
    kind, n = spec
    if kind == "near":
        return ref + n * tick
    if kind == "edge":
        band = ref * inst.price_band_bps // 10_000
        edge = (ref + band) // tick * tick if n >= 0 else -((-(ref - band)) // tick) * tick
        return edge + n * tick
    return ref + n


def _resting_orders(v: Venue) -> list[tuple[int, int, str]]:
    """(order id, account, instrument) of every resting order, in id order."""
    rows = [(oid, o.account, sym) for sym, book in v.state.books.items() for oid, o in book.orders.items()]
    return sorted(rows)


def commands_for(v: Venue, intent: tuple[Any, ...]) -> list[object]:
    """The command(s) an intent stands for, given the venue's current state."""
    made = _command_for(v, intent)
    return made if isinstance(made, list) else [made]


def _command_for(v: Venue, intent: tuple[Any, ...]) -> object:
    kind = intent[0]
    if kind == "limit":
        _, acct, sym, side, qty, price, tif, reduce_only, stp, coid = intent
        return PlaceOrder(
            account=acct, instrument=sym, side=side, qty=qty, price=_price(v, sym, price), tif=tif,
            reduce_only=reduce_only, stp=stp, client_order_id=coid and f"{coid}{v.seq % 7}",
        )
    if kind == "market":
        _, acct, sym, side, qty, reduce_only, stp = intent
        return PlaceOrder(account=acct, instrument=sym, side=side, qty=qty, order_type=OrderType.MARKET, reduce_only=reduce_only, stp=stp)
    if kind == "lever":
        # the MM quotes at the reference, then the client lifts it with about all its free
        # collateral: the road to losses beyond collateral once the reference moves against it
        _, acct, sym, side = intent
        inst = v.state.instruments[sym]
        equity, requirement = v.equity_and_requirement(acct)
        rate = v.state.registry.fx_rate_e8(inst.settlement_asset, "HKD") or 1
        lot_margin_hkd = inst.ref_price * inst.unit_value * inst.imr_ppm // 1_000_000 * rate // 100_000_000 + 1
        qty = min(max((equity - requirement) * 9 // 10 // lot_margin_hkd, 1), inst.max_qty)
        other = Side.SELL if side is Side.BUY else Side.BUY
        return [
            PlaceOrder(account=MM, instrument=sym, side=other, qty=qty, price=inst.ref_price),
            PlaceOrder(account=acct, instrument=sym, side=side, qty=qty, price=inst.ref_price, tif=TimeInForce.IOC),
        ]
    if kind == "close":
        # the MM quotes the position at the reference, then the account closes into it;
        # account 0 means the client with the least equity over requirement (realises losses)
        _, acct, sym = intent
        if acct == 0:
            acct = min(CLIENTS, key=lambda a: (v.equity_and_requirement(a)[0] - v.equity_and_requirement(a)[1], a))
            sym = max(SYMBOLS, key=lambda s: (abs(v.position(acct, s)), s))
        inst = v.state.instruments[sym]
        qty = v.position(acct, sym)
        side = Side.SELL if qty > 0 else Side.BUY
        close = PlaceOrder(
            account=acct, instrument=sym, side=side, qty=abs(qty) or 1, price=inst.ref_price, tif=TimeInForce.IOC, reduce_only=True
        )
        if not qty or acct == MM:
            return [close]
        other = Side.BUY if qty > 0 else Side.SELL
        return [PlaceOrder(account=MM, instrument=sym, side=other, qty=abs(qty), price=inst.ref_price), close]
    if kind == "hit":
        # an account reduces its position into whatever rests at the best opposite price
        _, acct, sym = intent
        qty = v.position(acct, sym)
        book = v.state.books[sym]
        best = book.best_bid() if qty > 0 else book.best_ask()
        price = best or v.state.instruments[sym].ref_price
        side = Side.SELL if qty > 0 else Side.BUY
        return PlaceOrder(account=acct, instrument=sym, side=side, qty=abs(qty) or 1, price=price, tif=TimeInForce.IOC)
    if kind == "quote":
        _, sym, side, ticks, qty = intent
        inst = v.state.instruments[sym]
        away = ticks if side is Side.SELL else -ticks
        return PlaceOrder(account=MM, instrument=sym, side=side, qty=qty, price=inst.ref_price + away * inst.tick)
    if kind == "cancel":
        _, acct, sym, pick, by_coid = intent
        mine = [oid for oid, a, s in _resting_orders(v) if a == acct and s == sym]
        order_id = mine[pick % len(mine)] if mine else pick
        if by_coid:
            return CancelOrder(account=acct, instrument=sym, client_order_id=f"a{pick % 7}")
        return CancelOrder(account=acct, instrument=sym, order_id=order_id)
    if kind == "cancel_all":
        _, acct, sym = intent
        return CancelAllOrders(account=acct, instrument=sym)
    if kind == "amend":
        _, pick, price, dq, wrong_owner = intent
        rows = _resting_orders(v)
        if not rows:
            return AmendOrder(account=1, instrument=BTCUSD, order_id=pick, price=_price(v, BTCUSD, price), qty=1)
        oid, acct, sym = rows[pick % len(rows)]
        order = v.state.books[sym].orders[oid]
        owner = ACCOUNTS[(ACCOUNTS.index(acct) + 1) % len(ACCOUNTS)] if wrong_owner else acct
        new_price = order.price if price[0] == "near" and price[1] % 3 == 0 else _price(v, sym, price)
        return AmendOrder(account=owner, instrument=sym, order_id=oid, price=new_price, qty=max(order.qty + dq, 0))
    if kind == "reference":
        _, sym, bps = intent
        inst = v.state.instruments[sym]
        moved = inst.ref_price * (10_000 + bps) // 10_000 // inst.tick * inst.tick
        return SetReferencePrice(instrument=sym, price=max(moved, inst.tick))
    if kind == "deposit":
        _, acct, asset, units, odd = intent
        return Deposit(account=acct, asset=asset, amount=units * CENT + (1 if odd else 0))
    if kind == "withdraw":
        _, acct, asset, percent, odd = intent
        balance = v.balance(acct, asset)
        amount = balance * percent // 100 // CENT * CENT
        return Withdraw(account=acct, asset=asset, amount=amount + (1 if odd else 0) if amount else CENT)
    if kind == "issuers":
        return SetIssuerRegister(issuers=tuple(sorted(intent[1])), register_ref=f"snapshot {v.seq}")
    if kind == "banks":
        return SetDepositBankAllowlist(banks=tuple(sorted(intent[1])))
    if kind == "state":
        _, sym, state = intent
        return SetInstrumentState(instrument=sym, state=state, reason="property test")
    if kind == "pi":
        _, acct, expired = intent
        return SetProfessionalInvestorStatus(account=acct, expiry_ns=v.ts if expired else FAR_FUTURE)
    if kind == "mode":
        _, acct, sym, isolated = intent
        return SetMarginMode(account=acct, instrument=sym, isolated=isolated)
    if kind == "isolated":
        _, acct, sym, units = intent
        return TransferIsolatedMargin(account=acct, instrument=sym, amount=units * CENT)
    if kind == "fx":
        return SetFxRate(base="USD", quote="HKD", rate_e8=intent[1])
    if kind == "haircut":
        return SetMarginAssetHaircut(asset="HKDX", haircut_bps=intent[1])
    if kind == "funding":
        _, sym, rate, hours, bps = intent
        inst = v.state.instruments[sym]
        mark = inst.ref_price * (10_000 + bps) // 10_000
        interval = hours * 3_600 * 10**9 if hours else inst.funding_schedule.interval_ns
        return SettleFunding(instrument=sym, rate_e8=rate, interval_ns=interval, mark_price=mark)
    if kind == "funding_parameters":
        _, sym, hours, sample_s, interest, dampener, cap_bps, impact_units, weighting = intent
        return SetFundingParameters(
            instrument=sym,
            interval_ns=hours * 3_600 * 10**9,
            interest_rate_e8=interest,
            dampener_e8=dampener,
            cap_fraction_bps=cap_bps,
            premium_sample_interval_ns=sample_s * 10**9,
            impact_notional=impact_units * MICRO,
            weighting=weighting,
        )
    if kind == "mark_parameters":
        _, sym, window_s, sample_s = intent
        return SetMarkParameters(instrument=sym, basis_window_ns=window_s * 10**9, basis_sample_interval_ns=sample_s * 10**9)
    if kind == "index":
        # the first index intent of an instrument configures its methodology; later ones publish
        _, sym, live, bps = intent
        inst = v.state.instruments[sym]
        if sym not in v.state.index_methodologies:
            return SetIndexMethodology(
                instrument=sym,
                methodology=IndexMethodology(
                    asset=inst.reference,
                    version=1,
                    effective_from_ns=v.ts,
                    price_decimals=inst.price_decimals,
                    constituents=tuple(Constituent(venue=venue, weight=1 + i) for i, venue in enumerate("ABCD")),
                ),
            )
        price = max(inst.ref_price * (10_000 + bps) // 10_000 // inst.tick * inst.tick, inst.tick)
        inputs = tuple(PriceInput(venue=venue, kind=InputKind.TRADE, price=price, ts_ns=v.ts) for venue in "ABCD"[:live])
        return PublishIndex(instrument=sym, inputs=inputs)
    if kind == "trigger":
        return _trigger_command(v, intent)
    if kind == "cancel_trigger":
        _, acct, sym, pick, by_coid = intent
        if by_coid:
            return CancelTriggerOrder(account=acct, instrument=sym, client_order_id=f"a{pick % 7}")
        mine = sorted(t for t, trig in v.state.triggers.get(sym, {}).items() if trig.account == acct)
        return CancelTriggerOrder(account=acct, instrument=sym, trigger_id=mine[pick % len(mine)] if mine else pick)
    raise AssertionError(f"unknown intent {intent!r}")


def _trigger_command(v: Venue, intent: tuple[Any, ...]) -> PlaceTriggerOrder:
    _, acct, sym, kind, side, working, qty, (unit, n), limit_ticks, reduce_only, close, callback, coid = intent
    inst = v.state.instruments[sym]
    if sym not in v.state.last_trade_price and n % 3:
        working = WorkingType.MARK  # mostly: a LAST trigger before any trade is refused
    watched = inst.ref_price if working is WorkingType.MARK else v.state.last_trade_price.get(sym, inst.ref_price)
    distance = n * inst.tick if unit == "ticks" else max(watched * n // 10_000 // inst.tick, 1) * inst.tick
    trailing = kind is TriggerKind.TRAILING_STOP_MARKET
    # the side of the watched price a trigger has not reached yet: above for a buy stop and a
    # sell take-profit, below for the others; a trailing stop activates above for a sell
    above = side is Side.SELL if trailing else (side is Side.BUY) == (kind in (TriggerKind.STOP_MARKET, TriggerKind.STOP_LIMIT))
    level = max(watched // inst.tick * inst.tick + (distance if above else -distance), inst.tick)
    limit = kind in (TriggerKind.STOP_LIMIT, TriggerKind.TAKE_PROFIT_LIMIT)
    close = close and kind in (TriggerKind.STOP_MARKET, TriggerKind.TAKE_PROFIT_MARKET)
    return PlaceTriggerOrder(
        account=acct,
        instrument=sym,
        side=side,
        kind=kind,
        working_type=working,
        qty=0 if close else qty,
        trigger_price=0 if trailing else level,
        price=level + limit_ticks * inst.tick if limit else 0,
        reduce_only=reduce_only and not close,
        close_position=close,
        callback_bps=callback if trailing else 0,
        activation_price=level if trailing and n % 2 else 0,
        client_order_id=coid and f"{coid}{v.seq % 7}",
    )


def run_stream(setup: Setup, stream: list[tuple[Any, ...]], *, check_rejects: bool = True) -> Venue:
    """Apply a setup and a stream to a fresh venue (the driver checks every step)."""
    v = Venue(check_rejects=check_rejects)
    open_accounts(v, setup)
    for intent in stream:
        for command in commands_for(v, intent):
            v.do(command)
    return v
