"""Liquidation and the published loss waterfall.

On every mark change of an instrument, every account with a position in it is checked:
the cross part of an account is liquidated when its margin balance (collateral after
haircut plus every cross position's unrealised PnL at the mark) is below the sum of its
positions' maintenance margins; an isolated position when its wallet plus unrealised
PnL is below its maintenance margin (``margin.py``, ``tiers.py``). Accounts are taken
in account-id order. For each:

1. its open orders and pending trigger orders in the scope are cancelled;
2. the position with the largest maintenance margin is reduced by one step: down to the
   cap of the next lower bracket, or closed in the first bracket. The step is sent as an
   IOC order into the book, never worse than the bankruptcy price, and pays the
   liquidation fee (``LIQUIDATION_FEE_PPM`` of the filled notional, at most what the
   wallet holds in the settlement asset) to the insurance fund instead of a taker fee;
3. what the book cannot absorb at the bankruptcy price is unwound in the book beyond it,
   within the collar ``BACKSTOP_COLLAR_BPS`` of the mark, as far as the defaulter's own
   cross gains, then the insurance fund, then the operator's tranche can pay the loss
   beyond the bankruptcy price. This is priced once, at the bankruptcy price after the book
   part, one fill walk deep: the layers commit to the loss beyond that price;
4. the rest is auto-deleveraged at that same bankruptcy price against opposite positions,
   ranked by profit ratio x effective leverage (``adl_queue``), highest first. The
   defaulter's wallet has paid the backstop fills in full, so it now lacks exactly the
   committed loss, which the settlement draws from the layers in order.

Steps repeat until the scope is back above maintenance or flat. Every step is an event,
and each liquidation ends with a ``LossReported`` naming the layers that paid.

The bankruptcy price of a position is the price at which the scope's margin balance
would be zero, counting the other positions' unrealised losses but not their gains,
rounded to the tick in the defaulter's favour. Beyond it, the defaulter's own gains on
its other cross positions pay before any platform layer: trade settlement realises them
at the mark (``settlement.pay``), so a defaulter never draws on the fund while it keeps
a profitable position. Only accounts with a position can be deleveraged, and
no participant balance goes negative (``settlement.pay``).
"""

from __future__ import annotations

from fractions import Fraction

from harbour.kernel.money import BPS, FX_SCALE, MAX_PRICE, PPM
from harbour.ledger.book import LedgerAccount
from harbour.venue.accounts import Account, Position
from harbour.venue.book import Order
from harbour.venue.commands import SelfTradePrevention, Side
from harbour.venue.events import (
    AutoDeleveraged,
    GainRealisedAtMark,
    LiquidationStepped,
    LiquidationTriggered,
    LossReported,
    TradeExecuted,
    TransferPosted,
)
from harbour.venue.instruments import Instrument
from harbour.venue.margin import (
    cross_margin_balance_and_maintenance,
    from_risk,
    isolated_margin_balance_and_maintenance,
    position_maintenance,
    to_risk,
)
from harbour.venue.matching import add_open, cancel_resting, match, release_open
from harbour.venue.risk_columns import accounts_below_maintenance
from harbour.venue.settlement import GainsApplied, Postings, gains_payable, layers_payable, pay, payable, report_gains, settle_nets
from harbour.venue.state import DEFICIT, INSURANCE_FUND, PLATFORM_CAPITAL, RISK_CURRENCY, VenueState, isolated_account
from harbour.venue.triggers import cancel_account_triggers

LIQUIDATION_FEE_PPM = 5_000  # 0.5% of the notional liquidated in the book, to the insurance fund
BACKSTOP_COLLAR_BPS = 500  # the fund and tranche unwind no further than 5% beyond the mark
WATERFALL = ("DEFAULTER_MARGIN", "INSURANCE_FUND", "OPERATOR_TRANCHE", "AUTO_DELEVERAGING")

_BUY = Side.BUY
_SELL = Side.SELL
_EXPIRE_MAKER = SelfTradePrevention.EXPIRE_MAKER
_LAYERS = ((INSURANCE_FUND, "INSURANCE_FUND"), (PLATFORM_CAPITAL, "OPERATOR_TRANCHE"), (DEFICIT, "DEFICIT"))


# --- the check ------------------------------------------------------------------------


def scope_balance_and_maintenance(st: VenueState, acct: Account, scope: str) -> tuple[int, int]:
    """(margin balance, maintenance) of a scope: an isolated instrument, or "" for cross."""
    if scope:
        return isolated_margin_balance_and_maintenance(st, acct, scope)
    return cross_margin_balance_and_maintenance(st, acct)


def liquidate_after_mark(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """Check every account with a position in ``sym`` (the columnar scan, ``risk_columns``,
    exact and in account-id order) and liquidate those below maintenance."""
    for account_id, scope, balance, maintenance in accounts_below_maintenance(st, sym, out):
        acct = st.accounts[account_id]
        currency = st.instruments[scope].settlement_currency if scope else RISK_CURRENCY
        out.append(
            LiquidationTriggered(
                seq=seq, ts_ns=ts, account=account_id, scope=scope, margin_balance=balance, maintenance=maintenance, currency=currency
            )
        )
        liquidate(st, acct, scope, seq, ts, out)


# --- the procedure ----------------------------------------------------------------------


def liquidate(st: VenueState, acct: Account, scope: str, seq: int, ts: int, out: list[object]) -> None:
    """Run the liquidation of one scope of ``acct`` and report the layers that paid."""
    first = len(out)
    watched = _watched_balances(st, acct, scope)
    fees: dict[str, int] = {}
    closed: dict[str, int] = {}
    adl: list[tuple[int, int, int]] = []
    for order_id, sym in sorted(acct.open_orders.items()):
        pos = acct.positions[sym]
        if (sym == scope) if scope else not pos.isolated:
            book = st.books[sym]
            cancel_resting(st, sym, book, book.orders[order_id], "LIQUIDATION", seq, ts, out)
    for sym in sorted(acct.positions):
        if (sym == scope) if scope else not acct.positions[sym].isolated:
            cancel_account_triggers(st, acct.account_id, sym, "LIQUIDATION", seq, ts, out)
    steps_left = sum(len(st.instruments[s].tiers) + 1 for s in acct.positions)
    while steps_left:
        steps_left -= 1
        balance, maintenance = scope_balance_and_maintenance(st, acct, scope)
        if balance >= maintenance:
            break
        target = _position_to_reduce(st, acct, scope)
        if target is None:
            break
        _step(st, acct, scope, st.instruments[target], acct.positions[target], seq, ts, out, fees, closed, adl)
    out.append(
        LossReported(
            seq=seq,
            ts_ns=ts,
            account=acct.account_id,
            scope=scope,
            closed=tuple(sorted(closed.items())),
            layers=_layers_paid(st, acct, scope, watched, fees, out[first:]),
            adl=tuple(adl),
        )
    )


def _position_to_reduce(st: VenueState, acct: Account, scope: str) -> str | None:
    """The scope's position with the largest maintenance margin (risk currency), ties by symbol."""
    if scope:
        return scope if acct.positions[scope].qty else None
    best: tuple[int, str] | None = None
    for sym in sorted(acct.positions):
        pos = acct.positions[sym]
        if pos.isolated or not pos.qty:
            continue
        inst = st.instruments[sym]
        mm = to_risk(st, inst, position_maintenance(pos.qty, inst))
        if best is None or mm > best[0]:
            best = (mm, sym)
    return None if best is None else best[1]


def step_qty(pos: Position, inst: Instrument) -> int:
    """The quantity one step liquidates: down to the next lower bracket's cap, or all."""
    size = pos.qty if pos.qty > 0 else -pos.qty
    unit = inst.ref_price * inst.unit_value
    notional = size * unit
    tiers = inst.tiers
    for i, tier in enumerate(tiers):
        if notional <= tier.max_notional or i == len(tiers) - 1:
            if i == 0 or unit <= 0:
                return size
            target = tiers[i - 1].max_notional // unit // inst.lot * inst.lot
            return size - target if target < size else size
    return size


def bankruptcy_price(st: VenueState, acct: Account, scope: str, inst: Instrument, pos: Position) -> int:
    """The price at which the scope could pay no more for this position, the tick rounded in
    the defaulter's favour: what its wallet can pay in the settlement asset (converted
    exactly as settlement converts, ``settlement.payable``), less the other cross
    positions' unrealised losses; their gains are not counted."""
    mark = inst.ref_price
    uv = inst.unit_value
    asset = inst.settlement_asset
    own = (pos.qty * mark - pos.cost) * uv
    if scope:
        equity = payable(st, isolated_account(acct.account_id, scope), False, asset) + own
    else:
        equity = payable(st, acct.account_id, True, asset) + own
        for sym, other in acct.positions.items():
            if other is pos or other.isolated or not other.qty:
                continue
            oi = st.instruments[sym]
            upnl = (other.qty * oi.ref_price - other.cost) * oi.unit_value
            if upnl < 0:
                equity += _loss_in(st, oi, inst, upnl)
    size = pos.qty if pos.qty > 0 else -pos.qty
    tick = inst.tick
    if pos.qty > 0:
        # mark - equity / (size x uv), rounded up: the long sells no lower
        price = -((equity - mark * size * uv) // (size * uv))
        price = -(-price // tick) * tick
    else:
        price = (mark * size * uv + equity) // (size * uv)
        price = price // tick * tick
    if price < tick:
        return tick
    return price if price <= MAX_PRICE else MAX_PRICE // tick * tick


def _loss_in(st: VenueState, source: Instrument, target: Instrument, loss: int) -> int:
    """A (negative) amount in ``source``'s settlement asset, in ``target``'s, rounded toward
    minus infinity (a loss converts to no less than it is)."""
    if source.settlement_asset == target.settlement_asset:
        return loss
    reg = st.registry
    rate = reg.fx_rate_e8(source.settlement_currency, target.settlement_currency)
    if rate is None:
        return from_risk(st, target, to_risk(st, source, loss, down=True)) - 1
    return (loss * rate) // FX_SCALE


def _adl_price(inst: Instrument, bp: int, other: Position) -> int:
    """The price at which a counterparty is deleveraged: the defaulter's bankruptcy price,
    but never worse for the counterparty than both the mark and its own entry price. So a
    profitable position gives up at most its profit and a position without profit closes
    at the mark; what the defaulter still cannot pay goes to the cover path."""
    mark = inst.ref_price
    if other.qty < 0:  # a short buys back from a defaulting long: no higher than this
        entry = other.cost // other.qty  # floor of the average entry
        bound = entry if entry > mark else mark
        return bp if bp < bound else bound
    entry = -(-other.cost // other.qty)  # a long sells to a defaulting short: no lower than this
    bound = entry if entry < mark else mark
    return bp if bp > bound else bound


def _step(
    st: VenueState,
    acct: Account,
    scope: str,
    inst: Instrument,
    pos: Position,
    seq: int,
    ts: int,
    out: list[object],
    fees: dict[str, int],
    closed: dict[str, int],
    adl: list[tuple[int, int, int]],
) -> None:
    sym = inst.symbol
    is_buy = pos.qty < 0
    qty = step_qty(pos, inst)
    start_qty = pos.qty
    bp = bankruptcy_price(st, acct, scope, inst, pos)
    # 1. the book, no worse than the bankruptcy price
    book_qty, notional = _ioc(st, acct, inst, pos, is_buy, qty, bp, seq, ts, out)
    fee = _charge_fee(st, acct, scope, inst, notional, seq, ts, out)
    if fee:
        fees[inst.settlement_asset] = fees.get(inst.settlement_asset, 0) + fee
    # 2./3. beyond it, within the collar, as far as the defaulter's gains, the insurance fund and
    # then the tranche can pay: priced once, at the bankruptcy price after the book part, so the
    # loss each fill leaves beyond that price is what those layers committed to pay
    rest = qty - book_qty
    backstop_qty = 0
    if rest and pos.qty:
        bp = bankruptcy_price(st, acct, scope, inst, pos)
        limit = _backstop_limit(inst, is_buy)
        affordable = _affordable_qty(st, acct, scope, inst, is_buy, rest, bp, limit)
        if affordable:
            backstop_qty, _ = _ioc(st, acct, inst, pos, is_buy, affordable, limit, seq, ts, out)
            rest -= backstop_qty
    # 4. auto-deleveraging at that same bankruptcy price, bounded per counterparty (``_adl_price``):
    # the defaulter's wallet has paid the backstop's fills in full, so what it lacks at the
    # deleveraging settlement is the committed loss beyond the bankruptcy price, drawn from the
    # layers that priced it
    adl_qty = 0
    if rest and pos.qty:
        adl_qty = _deleverage(st, acct, inst, pos, rest, bp, seq, ts, out, adl)
    closed[sym] = closed.get(sym, 0) + (start_qty - pos.qty)
    out.append(
        LiquidationStepped(
            seq=seq,
            ts_ns=ts,
            account=acct.account_id,
            instrument=sym,
            side=_BUY if is_buy else _SELL,
            qty=qty,
            mark=inst.ref_price,
            bankruptcy_price=bp,
            book_qty=book_qty,
            backstop_qty=backstop_qty,
            adl_qty=adl_qty,
            liquidation_fee=fee,
        )
    )


def _ioc(
    st: VenueState, acct: Account, inst: Instrument, pos: Position, is_buy: bool, qty: int, limit: int, seq: int, ts: int, out: list[object]
) -> tuple[int, int]:
    """Send a reduce-only liquidation IOC (no taker fee); return (filled qty, filled price x qty)."""
    sym = inst.symbol
    book = st.books[sym]
    order = Order(0, acct.account_id, is_buy, limit, qty, acct.is_mm, True, "liquidation", acct.stp_group)
    add_open(pos, order, qty)
    first = len(out)
    match(st, inst, book, order, acct, pos, _EXPIRE_MAKER, seq, ts, out, 0)
    filled = qty - order.qty
    value = sum(e.price * e.qty for e in out[first:] if isinstance(e, TradeExecuted))
    if order.qty:
        release_open(pos, order, order.qty)
        order.qty = 0
    return filled, value


def _charge_fee(st: VenueState, acct: Account, scope: str, inst: Instrument, value: int, seq: int, ts: int, out: list[object]) -> int:
    """Charge the liquidation fee on ``value`` (price x qty filled), at most what the scope's
    wallet can pay (cross: converting its other margin assets, as settlement does)."""
    if not value:
        return 0
    asset = inst.settlement_asset
    wallet: LedgerAccount = isolated_account(acct.account_id, scope) if scope else acct.account_id
    fee = -((-value * inst.unit_value * LIQUIDATION_FEE_PPM) // PPM)
    cap = payable(st, wallet, not scope, asset)
    if fee > cap:
        fee = cap
    if fee:
        postings: Postings = []
        gains: GainsApplied = []
        fee -= pay(st, wallet, not scope, asset, fee, postings, gains)
        postings.append((INSURANCE_FUND, asset, fee))
        transfer_id = st.ledger.post(postings)
        out.append(
            TransferPosted(
                seq=seq, ts_ns=ts, transfer_id=transfer_id, kind="LIQUIDATION_FEE", postings=tuple(postings), reference=f"liquidation:{acct.account_id}"
            )
        )
        report_gains(st, gains, transfer_id, seq, ts, out)
    return fee


def _backstop_limit(inst: Instrument, is_buy: bool) -> int:
    mark = inst.ref_price
    reach = mark * BACKSTOP_COLLAR_BPS // BPS
    tick = inst.tick
    if is_buy:
        return (mark + reach) // tick * tick
    low = -(-(mark - reach) // tick) * tick
    return low if low > 0 else tick


def _affordable_qty(st: VenueState, acct: Account, scope: str, inst: Instrument, is_buy: bool, want: int, bp: int, limit: int) -> int:
    """How much can be unwound between the bankruptcy price and ``limit`` with the loss beyond
    the bankruptcy price (price distance x qty x unit value) within what pays it, in the
    settlement asset: the defaulter's unrealised gains on its other cross positions (this
    position's own gain is already in its bankruptcy price), then the fund and tranche."""
    capacity = layers_payable(st, inst.settlement_asset)
    if not scope:
        capacity += gains_payable(st, acct.account_id, inst.settlement_asset, excluding=inst.symbol)
    stp_group = acct.stp_group
    side = st.books[inst.symbol].asks if is_buy else st.books[inst.symbol].bids
    uv = inst.unit_value
    total = 0
    for price in side.prices_best_first():
        if (price > limit) if is_buy else (price < limit):
            break
        level = side.levels[price]
        per_unit = ((price - bp) if is_buy else (bp - price)) * uv
        if per_unit < 0:
            per_unit = 0
        for queue in (level.clients, level.mms):
            for maker in queue.values():
                if maker.stp_group == stp_group:
                    continue
                q = maker.qty if maker.qty < want - total else want - total
                if per_unit:
                    q = min(q, capacity // per_unit)
                    capacity -= q * per_unit
                total += q
                if total >= want or (per_unit and capacity < per_unit):
                    return total
    return total


# --- auto-deleveraging --------------------------------------------------------------------


def adl_queue(st: VenueState, sym: str, side_long: bool) -> list[tuple[int, Fraction]]:
    """The published ADL queue of the ``side_long`` positions in ``sym``: (account, score),
    highest score first, ties by account id.

    score = profit ratio x effective leverage, where profit ratio = max(0, unrealised PnL)
    / entry notional and effective leverage = notional at the mark / margin balance of the
    position's scope (risk currency for cross, settlement for isolated); an exact fraction.
    """
    inst = st.instruments[sym]
    uv = inst.unit_value
    rows: list[tuple[int, Fraction]] = []
    for account_id, acct in st.accounts.items():
        pos = acct.positions.get(sym)
        if pos is None or not pos.qty or (pos.qty > 0) != side_long:
            continue
        upnl = (pos.qty * inst.ref_price - pos.cost) * uv
        size = pos.qty if pos.qty > 0 else -pos.qty
        entry = abs(pos.cost) * uv
        notional = size * inst.ref_price * uv
        if pos.isolated:
            balance, _ = isolated_margin_balance_and_maintenance(st, acct, sym)
        else:
            balance, _ = cross_margin_balance_and_maintenance(st, acct)
            notional = to_risk(st, inst, notional)
        score = Fraction(max(0, upnl) * notional, max(1, entry) * max(1, balance))
        rows.append((account_id, score))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows


def _deleverage(
    st: VenueState,
    acct: Account,
    inst: Instrument,
    pos: Position,
    qty: int,
    bp: int,
    seq: int,
    ts: int,
    out: list[object],
    adl: list[tuple[int, int, int]],
) -> int:
    """Close ``qty`` of ``pos`` against the ADL queue at the bankruptcy price ``bp`` (bounded
    per counterparty by ``_adl_price``); return the quantity closed."""
    done = 0
    for rank, (counterparty, score) in enumerate(adl_queue(st, inst.symbol, pos.qty < 0), 1):
        if done == qty or not pos.qty:
            break
        other = st.accounts[counterparty].positions[inst.symbol]
        size = other.qty if other.qty > 0 else -other.qty
        left = qty - done
        take = size if size < left else left
        price = _adl_price(inst, bp, other)
        _settle_adl(st, acct, pos, st.accounts[counterparty], other, inst, take, price, rank, score, seq, ts, out)
        adl.append((counterparty, take, price))
        done += take
    return done


def _settle_adl(
    st: VenueState,
    acct: Account,
    pos: Position,
    other_acct: Account,
    other: Position,
    inst: Instrument,
    qty: int,
    price: int,
    rank: int,
    score: Fraction,
    seq: int,
    ts: int,
    out: list[object],
) -> None:
    """One deleveraging trade: both positions reduce by ``qty`` at ``price``, no fees."""
    uv = inst.unit_value
    sym = inst.symbol
    asset = inst.settlement_asset
    defaulter_buys = pos.qty < 0
    pnl = pos.apply_fill(defaulter_buys, qty, price) * uv
    other_pnl = other.apply_fill(not defaulter_buys, qty, price) * uv
    pos.realised += pnl
    other.realised += other_pnl
    postings: Postings = []
    gains: GainsApplied = []
    settle_nets(st, sym, asset, ((acct.account_id, pos.isolated, pnl), (other_acct.account_id, other.isolated, other_pnl)), postings, gains)
    if pnl + other_pnl:
        postings.append((inst.clearing_account, asset, -(pnl + other_pnl)))
    trade_id = st.next_trade_id
    st.next_trade_id = trade_id + 1
    out.append(
        AutoDeleveraged(
            seq=seq,
            ts_ns=ts,
            trade_id=trade_id,
            instrument=sym,
            price=price,
            qty=qty,
            account=acct.account_id,
            counterparty=other_acct.account_id,
            counterparty_side=_SELL if defaulter_buys else _BUY,
            rank=rank,
            score=f"{score.numerator}/{score.denominator}",
            account_realised_pnl=pnl,
            counterparty_realised_pnl=other_pnl,
        )
    )
    if postings:
        transfer_id = st.ledger.post(postings)
        out.append(
            TransferPosted(seq=seq, ts_ns=ts, transfer_id=transfer_id, kind="AUTO_DELEVERAGING", postings=tuple(postings), reference=f"adl:{trade_id}")
        )
        report_gains(st, gains, transfer_id, seq, ts, out)


# --- the report -----------------------------------------------------------------------------


def _watched_balances(st: VenueState, acct: Account, scope: str) -> dict[tuple[LedgerAccount, str], int]:
    wallet: LedgerAccount = isolated_account(acct.account_id, scope) if scope else acct.account_id
    seen: dict[tuple[LedgerAccount, str], int] = {}
    for holder in (wallet, INSURANCE_FUND, PLATFORM_CAPITAL, DEFICIT):
        for asset in st.registry.assets:
            seen[(holder, asset)] = st.ledger.balance(holder, asset)
    return seen


def _layers_paid(
    st: VenueState, acct: Account, scope: str, before: dict[tuple[LedgerAccount, str], int], fees: dict[str, int], events: list[object]
) -> tuple[tuple[str, str, int], ...]:
    """(layer, asset, amount) in waterfall order, from the balance changes of the liquidation.

    The defaulter's margin counts only what it gave (a wallet can also gain, from a
    deleveraging close above its entry), then the unrealised gains it gave up at the mark
    (``GainRealisedAtMark``); the fund's draw is net of the fee it received."""
    wallet: LedgerAccount = isolated_account(acct.account_id, scope) if scope else acct.account_id
    rows: list[tuple[str, str, int]] = []
    for asset in sorted(st.registry.assets):
        given = before[(wallet, asset)] - st.ledger.balance(wallet, asset)
        if given > 0:
            rows.append(("DEFAULTER_MARGIN", asset, given))
    gains: dict[str, int] = {}
    for e in events:
        if isinstance(e, GainRealisedAtMark) and e.account == acct.account_id:
            asset = st.instruments[e.instrument].settlement_asset
            gains[asset] = gains.get(asset, 0) + e.gain
    for asset in sorted(gains):
        rows.append(("DEFAULTER_GAINS", asset, gains[asset]))
    for asset in sorted(fees):
        rows.append(("LIQUIDATION_FEE", asset, fees[asset]))
    for holder, layer in _LAYERS:
        for asset in sorted(st.registry.assets):
            drawn = before[(holder, asset)] - st.ledger.balance(holder, asset) + (fees.get(asset, 0) if holder == INSURANCE_FUND else 0)
            if drawn > 0:
                rows.append((layer, asset, drawn))
    return tuple(rows)


def liquidation_price(st: VenueState, account_id: int, sym: str) -> int | None:
    """The mark at which this position's scope would be liquidated, other marks unchanged:
    the highest tick price (long) or lowest (short) at which the engine's own check fires.
    None if no price on the tick grid up to the price ceiling would liquidate it.

    Found by bisection over the very predicate the scan uses, so it is the number the
    engine acts on; the check is monotonic in the mark (maintenance rates are below 100%).
    """
    acct = st.accounts[account_id]
    pos = acct.positions.get(sym)
    if pos is None or not pos.qty:
        return None
    inst = st.instruments[sym]
    scope = sym if pos.isolated else ""
    tick = inst.tick
    saved = inst.ref_price

    def fires(price: int) -> bool:
        inst.ref_price = price
        balance, maintenance = scope_balance_and_maintenance(st, acct, scope)
        return balance < maintenance

    try:
        low, high = 1, MAX_PRICE // tick  # in ticks
        if pos.qty > 0:
            if not fires(low * tick):
                return None
            while low < high:  # highest tick that fires
                mid = (low + high + 1) // 2
                if fires(mid * tick):
                    low = mid
                else:
                    high = mid - 1
            return low * tick
        if not fires(high * tick):
            return None
        while low < high:  # lowest tick that fires
            mid = (low + high) // 2
            if fires(mid * tick):
                high = mid
            else:
                low = mid + 1
        return low * tick
    finally:
        inst.ref_price = saved
