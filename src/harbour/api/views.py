"""Response bodies in the Binance USDⓈ-M shapes ccxt reads, built from venue state and the read model.

Pure functions of (state, read model, time); they run on the writer thread. Prices and
quantities are decimal strings in the instrument's precision, money in 6-decimal micro-units
of its asset, ids and millisecond times integers, flags JSON booleans. Every view of an
account takes the account id it is allowed to see (the caller's own, see ``rest``), never a
request parameter.
"""

from __future__ import annotations

from typing import Any, Final

from harbour.api.numbers import rate_e8, ratio, units
from harbour.api.readmodel import MS_PER_MINUTE, Candle, OrderRecord, ReadModel, TriggerRecord
from harbour.kernel.money import BPS, FX_SCALE, MAX_PRICE, MONEY_DECIMALS
from harbour.venue.accounts import Account, Position
from harbour.venue.book import BookSide
from harbour.venue.commands import InstrumentState, TriggerKind
from harbour.venue.instruments import Instrument
from harbour.venue.liquidation import liquidation_price
from harbour.venue.margin import (
    cross_equity_and_requirement,
    instrument_requirement,
    position_maintenance,
    unrealised_pnl,
)
from harbour.venue.state import RISK_CURRENCY, VenueState, isolated_account

NS_PER_MS: Final = 1_000_000
NS_PER_HOUR: Final = 3_600_000_000_000
PERPETUAL_DELIVERY_MS: Final = 4_133_404_800_000  # Binance's "no delivery" date for perpetuals
ORDER_TYPES: Final = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
TIME_IN_FORCE: Final = ("GTC", "IOC", "FOK", "GTX")
MAX_ALGO_ORDERS: Final = 10
RATE_LIMITS: Final = (
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
)
INTERVAL_MS: Final = {
    "1m": MS_PER_MINUTE,
    "3m": 3 * MS_PER_MINUTE,
    "5m": 5 * MS_PER_MINUTE,
    "15m": 15 * MS_PER_MINUTE,
    "30m": 30 * MS_PER_MINUTE,
    "1h": 60 * MS_PER_MINUTE,
    "2h": 120 * MS_PER_MINUTE,
    "4h": 240 * MS_PER_MINUTE,
    "6h": 360 * MS_PER_MINUTE,
    "8h": 480 * MS_PER_MINUTE,
    "12h": 720 * MS_PER_MINUTE,
    "1d": 1_440 * MS_PER_MINUTE,
    "3d": 4_320 * MS_PER_MINUTE,
    "1w": 10_080 * MS_PER_MINUTE,
}
_TRIGGER_TYPE: Final = {
    TriggerKind.STOP_MARKET: "STOP_MARKET",
    TriggerKind.STOP_LIMIT: "STOP",
    TriggerKind.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    TriggerKind.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
    TriggerKind.TRAILING_STOP_MARKET: "TRAILING_STOP_MARKET",
}


def money(value: int) -> str:
    return units(value, MONEY_DECIMALS)


def percent_of_ppm(ppm: int) -> str:
    """A ppm rate as a percentage with 4 decimals (25000 ppm -> "2.5000")."""
    return units(ppm, 4)


def fraction_of_ppm(ppm: int) -> str:
    return units(ppm, 6)


# --- market data ----------------------------------------------------------------------------


def exchange_info(state: VenueState, now_ms: int) -> dict[str, Any]:
    symbols = []
    for sym, inst in sorted(state.instruments.items()):
        pd, qd = inst.price_decimals, inst.qty_decimals
        first = inst.tiers[0]
        band = inst.price_band_bps
        symbols.append(
            {
                "symbol": sym,
                "pair": sym,
                "contractType": "PERPETUAL",
                "deliveryDate": PERPETUAL_DELIVERY_MS,
                "onboardDate": 0,
                "status": "BREAK" if inst.state is InstrumentState.HALTED else "TRADING",
                "tradingState": inst.state.value,  # Harbour: OPEN, CLOSE_ONLY or HALTED
                "maintMarginPercent": percent_of_ppm(first.mmr_ppm),
                "requiredMarginPercent": percent_of_ppm(first.imr_ppm),
                "baseAsset": inst.reference,
                "quoteAsset": inst.settlement_asset,
                "marginAsset": inst.settlement_asset,
                "pricePrecision": pd,
                "quantityPrecision": qd,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "settlePlan": 0,
                "triggerProtect": "0.0500",
                "liquidationFee": "0.005000",
                "marketTakeBound": units(inst.market_collar_bps, 4),
                "maxMoveOrderLimit": 10000,
                "sfcApprovalRef": inst.sfc_approval_ref,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": units(inst.tick, pd), "maxPrice": units(MAX_PRICE // inst.tick * inst.tick, pd), "tickSize": units(inst.tick, pd)},
                    {"filterType": "LOT_SIZE", "minQty": units(inst.min_qty, qd), "maxQty": units(inst.max_qty, qd), "stepSize": units(inst.lot, qd)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": units(inst.min_qty, qd), "maxQty": units(inst.max_qty, qd), "stepSize": units(inst.lot, qd)},
                    {"filterType": "MIN_NOTIONAL", "notional": "0"},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": MAX_ALGO_ORDERS},
                    {
                        "filterType": "PERCENT_PRICE",
                        "multiplierUp": units(BPS + band, 4),
                        "multiplierDown": units(BPS - band, 4),
                        "multiplierDecimal": "4",
                    },
                ],
                "orderTypes": list(ORDER_TYPES),
                "timeInForce": list(TIME_IN_FORCE),
            }
        )
    assets = [
        {"asset": a, "marginAvailable": True, "autoAssetExchange": "0"} for a in sorted(state.registry.eligible_assets())
    ]
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": list(RATE_LIMITS),
        "exchangeFilters": [],
        "assets": assets,
        "symbols": symbols,
    }


def _levels(side: BookSide, limit: int, pd: int, qd: int) -> list[list[str]]:
    out: list[list[str]] = []
    for price in side.prices_best_first():
        qty = sum(o.qty for o in side.levels[price].in_priority())
        if qty > 0:
            out.append([units(price, pd), units(qty, qd)])
            if len(out) >= limit:
                break
    return out


def depth(state: VenueState, reads: ReadModel, inst: Instrument, limit: int, now_ms: int) -> dict[str, Any]:
    book = state.books[inst.symbol]
    pd, qd = inst.price_decimals, inst.qty_decimals
    return {
        "lastUpdateId": reads.book_update.get(inst.symbol, 0),
        "E": now_ms,
        "T": now_ms,
        "bids": _levels(book.bids, limit, pd, qd),
        "asks": _levels(book.asks, limit, pd, qd),
    }


def agg_trades(reads: ReadModel, inst: Instrument, limit: int, start_ms: int | None, end_ms: int | None, from_id: int | None) -> list[dict[str, Any]]:
    pd, qd = inst.price_decimals, inst.qty_decimals
    rows = []
    for t in reads.trades.get(inst.symbol, ()):
        if start_ms is not None and t.time_ms < start_ms:
            continue
        if end_ms is not None and t.time_ms > end_ms:
            continue
        if from_id is not None and t.trade_id < from_id:
            continue
        rows.append({"a": t.trade_id, "p": units(t.price, pd), "q": units(t.qty, qd), "f": t.trade_id, "l": t.trade_id, "T": t.time_ms, "m": t.buyer_is_maker})
    return rows[:limit] if (start_ms is not None or from_id is not None) else rows[-limit:]


def recent_trades(reads: ReadModel, inst: Instrument, limit: int) -> list[dict[str, Any]]:
    pd, qd = inst.price_decimals, inst.qty_decimals
    rows = list(reads.trades.get(inst.symbol, ()))[-limit:]
    return [
        {
            "id": t.trade_id,
            "price": units(t.price, pd),
            "qty": units(t.qty, qd),
            "quoteQty": money(t.price * t.qty * inst.unit_value),
            "time": t.time_ms,
            "isBuyerMaker": t.buyer_is_maker,
        }
        for t in rows
    ]


def klines(reads: ReadModel, kind: str, inst: Instrument, interval: str, limit: int, start_ms: int | None, end_ms: int | None) -> list[list[Any]]:
    """Candles of ``kind`` (trade, mark, index) aggregated from one-minute candles."""
    step = INTERVAL_MS[interval]
    pd, qd = inst.price_decimals, inst.qty_decimals
    series = reads.candles.get((kind, inst.symbol))
    if series is None:
        return []
    buckets: dict[int, Candle] = {}
    order: list[int] = []
    for minute, c in series.minutes.items():
        start = minute - minute % step
        if start_ms is not None and start + step <= start_ms:
            continue
        if end_ms is not None and start > end_ms:
            continue
        b = buckets.get(start)
        if b is None:
            buckets[start] = Candle(c.open, c.high, c.low, c.close, c.volume, c.value, c.count)
            order.append(start)
        else:
            b.high = c.high if c.high > b.high else b.high
            b.low = c.low if c.low < b.low else b.low
            b.close = c.close
            b.volume += c.volume
            b.value += c.value
            b.count += c.count
    starts = order[:limit] if start_ms is not None else order[-limit:]
    rows: list[list[Any]] = []
    for start in starts:
        b = buckets[start]
        rows.append(
            [
                start,
                units(b.open, pd),
                units(b.high, pd),
                units(b.low, pd),
                units(b.close, pd),
                units(b.volume, qd),
                start + step - 1,
                money(b.value * inst.unit_value),
                b.count,
                "0",
                "0",
                "0",
            ]
        )
    return rows


def ticker_24h(state: VenueState, reads: ReadModel, inst: Instrument, now_ms: int) -> dict[str, Any]:
    pd, qd = inst.price_decimals, inst.qty_decimals
    sym = inst.symbol
    since = now_ms - 24 * 60 * MS_PER_MINUTE
    series = reads.candles.get(("trade", sym))
    candles = [c for m, c in series.minutes.items() if m >= since - MS_PER_MINUTE] if series else []
    last = state.last_trade_price.get(sym) or inst.ref_price
    if candles:
        open_, high, low = candles[0].open, max(c.high for c in candles), min(c.low for c in candles)
        volume, value, count = sum(c.volume for c in candles), sum(c.value for c in candles), sum(c.count for c in candles)
    else:
        open_, high, low, volume, value, count = last, last, last, 0, 0, 0
    change = last - open_
    book = state.books[sym]
    bid, ask = book.best_bid(), book.best_ask()
    trades = reads.trades.get(sym)
    return {
        "symbol": sym,
        "priceChange": units(change, pd),
        "priceChangePercent": ratio(change * 100, open_, 0) if open_ else "0",
        "weightedAvgPrice": ratio(value, volume, pd) if volume else units(last, pd),
        "lastPrice": units(last, pd),
        "lastQty": units(trades[-1].qty, qd) if trades else units(0, qd),
        "openPrice": units(open_, pd),
        "highPrice": units(high, pd),
        "lowPrice": units(low, pd),
        "volume": units(volume, qd),
        "quoteVolume": money(value * inst.unit_value),
        "openTime": since,
        "closeTime": now_ms,
        "firstId": trades[0].trade_id if trades else 0,
        "lastId": trades[-1].trade_id if trades else 0,
        "count": count,
        "bidPrice": units(bid, pd) if bid is not None else None,
        "bidQty": _level_qty(book.bids, bid, qd),
        "askPrice": units(ask, pd) if ask is not None else None,
        "askQty": _level_qty(book.asks, ask, qd),
    }


def _level_qty(side: BookSide, price: int | None, qd: int) -> str | None:
    if price is None:
        return None
    return units(sum(o.qty for o in side.levels[price].in_priority()), qd)


def book_ticker(state: VenueState, reads: ReadModel, inst: Instrument, now_ms: int) -> dict[str, Any]:
    book = state.books[inst.symbol]
    pd, qd = inst.price_decimals, inst.qty_decimals
    bid, ask = book.best_bid(), book.best_ask()
    return {
        "symbol": inst.symbol,
        "bidPrice": units(bid or 0, pd),
        "bidQty": _level_qty(book.bids, bid, qd) or units(0, qd),
        "askPrice": units(ask or 0, pd),
        "askQty": _level_qty(book.asks, ask, qd) or units(0, qd),
        "time": now_ms,
        "lastUpdateId": reads.book_update.get(inst.symbol, 0),
    }


def funding_interval_ns(state: VenueState, sym: str) -> int:
    """The instrument's configured funding interval (SetFundingParameters; the house 8 h by default)."""
    return state.instruments[sym].funding_schedule.interval_ns


def premium_index(state: VenueState, reads: ReadModel, inst: Instrument, now_ns: int, interval_ns: int) -> dict[str, Any]:
    pd = inst.price_decimals
    sym = inst.symbol
    terms = state.funding_terms.get(sym)
    rate = terms.rate_e8 if terms is not None else 0
    next_ns = terms.next_funding_ns if terms is not None else (now_ns // interval_ns + 1) * interval_ns
    index = reads.last_index.get(sym, inst.ref_price)
    body: dict[str, Any] = {
        "symbol": sym,
        "markPrice": units(inst.ref_price, pd),
        "indexPrice": units(index, pd),
        "estimatedSettlePrice": units(index, pd),
        "lastFundingRate": rate_e8(rate),
        "interestRate": rate_e8(inst.funding_schedule.interest_rate_e8),
        "nextFundingTime": next_ns // NS_PER_MS,
        "time": now_ns // NS_PER_MS,
        "fundingIntervalSeconds": interval_ns // 1_000_000_000,
    }
    if interval_ns % NS_PER_HOUR == 0:
        body["fundingIntervalHours"] = interval_ns // NS_PER_HOUR
    return body


def funding_history(reads: ReadModel, inst: Instrument, limit: int, start_ms: int | None, end_ms: int | None) -> list[dict[str, Any]]:
    rows = []
    for r in reads.funding.get(inst.symbol, ()):
        if start_ms is not None and r.time_ms < start_ms:
            continue
        if end_ms is not None and r.time_ms > end_ms:
            continue
        rows.append(
            {
                "symbol": r.symbol,
                "fundingRate": rate_e8(r.rate_e8),
                "fundingTime": r.time_ms,
                "markPrice": units(r.mark_price, inst.price_decimals),
                "fundingIntervalSeconds": r.interval_ns // 1_000_000_000,
            }
        )
    return rows[:limit] if start_ms is not None else rows[-limit:]


def leverage_brackets(state: VenueState, symbol: str = "") -> list[dict[str, Any]]:
    out = []
    for sym, inst in sorted(state.instruments.items()):
        if symbol and sym != symbol:
            continue
        brackets = []
        floor = 0
        for i, t in enumerate(inst.tiers, 1):
            brackets.append(
                {
                    "bracket": i,
                    "initialLeverage": t.max_leverage,
                    "notionalCap": t.max_notional // 10**MONEY_DECIMALS,
                    "notionalFloor": floor // 10**MONEY_DECIMALS,
                    "maintMarginRatio": fraction_of_ppm(t.mmr_ppm),
                    "cum": money(t.amount),
                }
            )
            floor = t.max_notional
        out.append({"symbol": sym, "notionalCoef": "1", "brackets": brackets})
    return out


# --- account views ------------------------------------------------------------------------------


def _to_asset(state: VenueState, asset: str, risk_amount: int) -> int:
    """A risk-currency amount as units of ``asset`` at its collateral factor, rounded down (0 if ineligible)."""
    if risk_amount <= 0:
        return 0
    factor = state.registry.collateral_factor(asset, RISK_CURRENCY)
    if not factor:
        return 0
    return risk_amount * BPS * FX_SCALE // factor


def account_assets(state: VenueState, reads: ReadModel, acct: Account, now_ms: int) -> list[dict[str, Any]]:
    """One row per asset the account holds or settles in, as Binance's multi-assets mode."""
    wallet = state.ledger.wallet(acct.account_id)
    per: dict[str, dict[str, int]] = {}

    def row(asset: str) -> dict[str, int]:
        r = per.get(asset)
        if r is None:
            r = per[asset] = {"wallet": 0, "upnl": 0, "im": 0, "pos_im": 0, "order_im": 0, "mm": 0, "iso": 0}
        return r

    for asset, balance in wallet.items():
        row(asset)["wallet"] += balance
    for sym, pos in acct.positions.items():
        inst = state.instruments[sym]
        r = row(inst.settlement_asset)
        lev = acct.leverage.get(sym, 0)
        upnl = unrealised_pnl(pos, inst) if pos.qty else 0
        im = instrument_requirement(pos, inst, lev) if not pos.is_idle() else 0
        pos_im = instrument_requirement(_bare(pos), inst, lev) if pos.qty else 0
        r["upnl"] += upnl
        r["im"] += im
        r["pos_im"] += pos_im
        r["order_im"] += im - pos_im
        r["mm"] += position_maintenance(pos.qty, inst) if pos.qty else 0
        if pos.isolated:
            r["iso"] += state.ledger.balance(isolated_account(acct.account_id, sym), inst.settlement_asset)
    for inst in state.instruments.values():
        row(inst.settlement_asset)
    equity, requirement = cross_equity_and_requirement(state, acct)
    free_risk = equity - requirement
    updated = reads.account_update_ms.get(acct.account_id, now_ms) or now_ms
    out = []
    for asset in sorted(per):
        r = per[asset]
        margin_balance = r["wallet"] + r["upnl"]
        available = _to_asset(state, asset, free_risk)
        cap = r["wallet"] + (r["upnl"] if r["upnl"] < 0 else 0)
        if available > cap:
            available = cap if cap > 0 else 0
        out.append(
            {
                "asset": asset,
                "walletBalance": money(r["wallet"]),
                "unrealizedProfit": money(r["upnl"]),
                "marginBalance": money(margin_balance),
                "maintMargin": money(r["mm"]),
                "initialMargin": money(r["im"]),
                "positionInitialMargin": money(r["pos_im"]),
                "openOrderInitialMargin": money(r["order_im"]),
                "crossWalletBalance": money(r["wallet"]),
                "crossUnPnl": money(r["upnl"]),
                "availableBalance": money(available),
                "maxWithdrawAmount": money(available),
                "isolatedWalletBalance": money(r["iso"]),
                "marginAvailable": state.registry.is_eligible(asset),
                "updateTime": updated,
            }
        )
    return out


def _bare(pos: Position) -> Position:
    """The position without its open orders (for the position's own initial margin)."""
    bare = Position()
    bare.qty, bare.cost, bare.isolated = pos.qty, pos.cost, pos.isolated
    return bare


def account(state: VenueState, reads: ReadModel, acct: Account, now_ms: int) -> dict[str, Any]:
    assets = account_assets(state, reads, acct, now_ms)
    equity, requirement = cross_equity_and_requirement(state, acct)
    return {
        "riskCurrency": RISK_CURRENCY,
        "totalMarginBalance": money(equity),
        "totalInitialMargin": money(requirement),
        "availableBalance": money(max(0, equity - requirement)),
        "maxWithdrawAmount": money(max(0, equity - requirement)),
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": not state.withdrawals_paused(),
        "multiAssetsMargin": True,
        "updateTime": reads.account_update_ms.get(acct.account_id, now_ms) or now_ms,
        "assets": assets,
        "positions": [_position_brief(state, acct, sym) for sym in sorted(acct.positions) if acct.positions[sym].qty],
    }


def _position_brief(state: VenueState, acct: Account, sym: str) -> dict[str, Any]:
    pos = acct.positions[sym]
    inst = state.instruments[sym]
    return {
        "symbol": sym,
        "positionSide": "BOTH",
        "positionAmt": units(pos.qty, inst.qty_decimals),
        "unrealizedProfit": money(unrealised_pnl(pos, inst)),
        "notional": money(pos.qty * inst.ref_price * inst.unit_value),
        "isolatedWallet": money(state.ledger.balance(isolated_account(acct.account_id, sym), inst.settlement_asset)),
        "updateTime": 0,
    }


def balances(state: VenueState, reads: ReadModel, acct: Account, now_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "accountAlias": f"acct{acct.account_id}",
            "asset": r["asset"],
            "balance": r["walletBalance"],
            "crossWalletBalance": r["crossWalletBalance"],
            "crossUnPnl": r["crossUnPnl"],
            "availableBalance": r["availableBalance"],
            "maxWithdrawAmount": r["maxWithdrawAmount"],
            "marginAvailable": r["marginAvailable"],
            "updateTime": r["updateTime"],
        }
        for r in account_assets(state, reads, acct, now_ms)
    ]


def position_risk(state: VenueState, reads: ReadModel, acct: Account, symbol: str, now_ms: int, *, all_symbols: bool) -> list[dict[str, Any]]:
    rows = []
    for sym, inst in sorted(state.instruments.items()):
        if symbol and sym != symbol:
            continue
        pos = acct.positions.get(sym)
        if pos is None and not all_symbols:
            continue
        qty = pos.qty if pos is not None else 0
        if not qty and not all_symbols:
            continue
        pd = inst.price_decimals
        lev = acct.leverage.get(sym, 0)
        iso = pos is not None and pos.isolated
        iso_wallet = state.ledger.balance(isolated_account(acct.account_id, sym), inst.settlement_asset)
        upnl = unrealised_pnl(pos, inst) if pos is not None and qty else 0
        liq = liquidation_price(state, acct.account_id, sym) if qty else None
        pos_im = instrument_requirement(_bare(pos), inst, lev) if pos is not None and qty else 0
        im = instrument_requirement(pos, inst, lev) if pos is not None and not pos.is_idle() else 0
        rows.append(
            {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": units(qty, inst.qty_decimals),
                "entryPrice": ratio(pos.cost, qty, pd) if pos is not None and qty else units(0, pd),
                "breakEvenPrice": ratio(pos.cost, qty, pd) if pos is not None and qty else units(0, pd),
                "markPrice": units(inst.ref_price, pd),
                "unRealizedProfit": money(upnl),
                "liquidationPrice": units(liq, pd) if liq is not None else units(0, pd),
                "isolatedMargin": money(iso_wallet + upnl if iso else 0),
                "isolatedWallet": money(iso_wallet),
                "notional": money(qty * inst.ref_price * inst.unit_value),
                "marginAsset": inst.settlement_asset,
                "initialMargin": money(im),
                "positionInitialMargin": money(pos_im),
                "openOrderInitialMargin": money(im - pos_im),
                "maintMargin": money(position_maintenance(qty, inst) if qty else 0),
                "leverage": str(lev or inst.tiers[0].max_leverage),
                "marginType": "isolated" if iso else "cross",
                "maxNotionalValue": money(inst.tiers[-1].max_notional),
                "adl": 0,
                "bidNotional": "0",
                "askNotional": "0",
                "updateTime": reads.account_update_ms.get(acct.account_id, now_ms) or now_ms,
            }
        )
    return rows


def order(rec: OrderRecord, inst: Instrument) -> dict[str, Any]:
    pd, qd = inst.price_decimals, inst.qty_decimals
    executed = units(rec.executed_qty, qd)
    return {
        "orderId": rec.order_id,
        "symbol": rec.symbol,
        "status": rec.status,
        "clientOrderId": rec.client_order_id,
        "price": units(rec.price, pd),
        "avgPrice": ratio(rec.executed_value, rec.executed_qty, pd) if rec.executed_qty else units(0, pd),
        "origQty": units(rec.orig_qty, qd),
        "executedQty": executed,
        "cumQty": executed,
        "cumQuote": money(rec.executed_value * inst.unit_value),
        "timeInForce": rec.tif,
        "type": rec.type,
        "origType": rec.type,
        "reduceOnly": rec.reduce_only,
        "closePosition": rec.close_position,
        "side": rec.side,
        "positionSide": "BOTH",
        "stopPrice": units(rec.stop_price, pd),
        "workingType": rec.working_type,
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": rec.time_ms,
        "updateTime": rec.update_ms,
    }


def trigger_as_order(rec: TriggerRecord, inst: Instrument) -> dict[str, Any]:
    """A pending trigger order in the order shape (conditional orders placed on /fapi/v1/order)."""
    pd, qd = inst.price_decimals, inst.qty_decimals
    status = {"NEW": "NEW", "CANCELED": "CANCELED", "TRIGGERED": "NEW", "REJECTED": "EXPIRED"}.get(rec.status, rec.status)
    return {
        "orderId": rec.trigger_id,
        "symbol": rec.symbol,
        "status": status,
        "clientOrderId": rec.client_order_id,
        "price": units(rec.price, pd),
        "avgPrice": units(0, pd),
        "origQty": units(rec.qty, qd),
        "executedQty": units(0, qd),
        "cumQty": units(0, qd),
        "cumQuote": money(0),
        "timeInForce": rec.tif,
        "type": _TRIGGER_TYPE[rec.kind],
        "origType": _TRIGGER_TYPE[rec.kind],
        "reduceOnly": rec.reduce_only,
        "closePosition": rec.close_position,
        "side": rec.side,
        "positionSide": "BOTH",
        "stopPrice": units(rec.trigger_price, pd),
        "workingType": rec.working_type,
        "activatePrice": units(rec.activation_price, pd) if rec.activation_price else None,
        "priceRate": units(rec.callback_bps, 2) if rec.callback_bps else None,
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": rec.create_ms,
        "updateTime": rec.update_ms,
    }


def algo_order(rec: TriggerRecord, inst: Instrument) -> dict[str, Any]:
    pd, qd = inst.price_decimals, inst.qty_decimals
    return {
        "algoId": rec.trigger_id,
        "clientAlgoId": rec.client_order_id,
        "algoType": "CONDITIONAL",
        "orderType": _TRIGGER_TYPE[rec.kind],
        "symbol": rec.symbol,
        "side": rec.side,
        "positionSide": "BOTH",
        "timeInForce": rec.tif,
        "quantity": units(rec.qty, qd),
        "algoStatus": rec.status if rec.status != "TRIGGERED" else "FINISHED",
        "triggerPrice": units(rec.trigger_price, pd),
        "price": units(rec.price, pd),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": rec.working_type,
        "priceMatch": "NONE",
        "closePosition": rec.close_position,
        "priceProtect": False,
        "reduceOnly": rec.reduce_only,
        "activatePrice": units(rec.activation_price, pd) if rec.activation_price else None,
        "callbackRate": units(rec.callback_bps, 2) if rec.callback_bps else None,
        "createTime": rec.create_ms,
        "updateTime": rec.update_ms,
        "triggerTime": rec.update_ms if rec.status == "TRIGGERED" else 0,
        "actualOrderId": rec.order_id or None,
        "goodTillDate": 0,
    }


def user_trades(reads: ReadModel, inst: Instrument, account_id: int, limit: int, start_ms: int | None, end_ms: int | None, from_id: int | None, order_id: int | None) -> list[dict[str, Any]]:
    pd, qd = inst.price_decimals, inst.qty_decimals
    rows = []
    for f in reads.fills.get(account_id, ()):
        if f.symbol != inst.symbol:
            continue
        if start_ms is not None and f.time_ms < start_ms:
            continue
        if end_ms is not None and f.time_ms > end_ms:
            continue
        if from_id is not None and f.trade_id < from_id:
            continue
        if order_id is not None and f.order_id != order_id:
            continue
        rows.append(
            {
                "id": f.trade_id,
                "orderId": f.order_id,
                "symbol": f.symbol,
                "side": f.side,
                "buyer": f.side == "BUY",
                "maker": f.maker,
                "price": units(f.price, pd),
                "qty": units(f.qty, qd),
                "quoteQty": money(f.price * f.qty * inst.unit_value),
                "commission": money(f.fee),
                "commissionAsset": inst.settlement_asset,
                "realizedPnl": money(f.realised_pnl),
                "marginAsset": inst.settlement_asset,
                "positionSide": "BOTH",
                "time": f.time_ms,
            }
        )
    return rows[:limit] if (start_ms is not None or from_id is not None) else rows[-limit:]

