"""Live index inputs: the configured spot venues polled through ccxt, as ``PublishIndex`` commands.

Owns ``LiveVenue`` (one constituent: its methodology name, its ccxt exchange id and
unified symbol), ``CcxtIndexFeed`` (one poll of every venue -> one ``PublishIndex``) and
``price_units`` (a ccxt price -> an integer in the instrument's price unit, exactly).

Per venue and poll, in the order of the index methodology's input hierarchy:

1. TRADE: the latest trade of ``fetch_trades`` (latest timestamp; on a tie the later
   one in ccxt's time-ordered list), stamped with the trade's own time.
2. FIRM_QUOTE: the mid of the best bid and best ask of ``fetch_order_book``, stamped with
   the book's time when the venue gives one, otherwise the time we received it. When the
   book call fails or a side is empty, the bid and ask of ``fetch_ticker`` stand in
   (stamped with the ticker's time, else the receive time). A crossed or locked top of
   book (bid >= ask) is not a firm quote and is not sent.

Both inputs are sent (trades first): the index engine picks the highest-ranked kind and
records the other as SUPERSEDED, so the print shows what each venue offered. The ticker's
``last`` is never sent as a trade: the ticker does not say when that trade happened.

Timestamps: ccxt gives milliseconds; inputs carry nanoseconds. A venue time later than
the moment we received the answer (the venue's clock is ahead of ours) is stamped at the
receive time, since we cannot have observed a price before it reached us; so an input is
never dated after the print that carries it. The print time is the clock after the last
venue answered.

Staleness is the methodology's: a venue whose calls fail this poll keeps sending its
last observation with its original time (as the simulated feed does during an outage),
so the index gives it zero weight as STALE once it is older than the staleness limit,
and the print records why. The failure itself is reported in ``LivePoll.problems``.

Exact prices (the decision): ccxt's unified fields are floats (and order-book levels are
floats whatever ``Exchange.number`` says; switching ``number`` to ``Decimal`` breaks
ccxt's own market parsing for some venues, e.g. Kraken). Venues send decimal strings,
ccxt converts each with ``float(text)``, and for any decimal of at most 15 significant
digits ``repr`` of that float gives back the same decimal (IEEE 754 double: DBL_DIG is
15). So a float is converted as ``Decimal(repr(value))``, never with float arithmetic,
and one with more than 15 significant digits is refused as not exactly known. The
decimal then scales to the price unit; a venue quoting finer than the unit (or a mid
that falls between two units) rounds to the nearest unit, half up; that is the only
rounding. Strings, ``Decimal`` and ``int`` are taken as they are.

Nothing here reads the wall clock (the clock is injected) and nothing opens a network
connection except the ccxt exchange objects themselves, which tests replace with
recorded answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

import ccxt  # type: ignore[import-untyped]

from harbour.prices.index import InputKind, PriceInput
from harbour.venue.commands import PublishIndex

NS_PER_MS: Final = 1_000_000
MAX_EXACT_DIGITS: Final = 15
"""Significant digits a float is known to carry exactly from the decimal it was parsed from."""

DEFAULT_TRADES_LIMIT: Final = 50
DEFAULT_BOOK_DEPTH: Final = 5


class PriceNotExact(ValueError):
    """A price that cannot be turned into price units exactly (not finite, not positive, too many digits)."""


def decimal_of(value: object) -> Decimal:
    """The exact decimal a ccxt number stands for (floats through ``repr``; see the module doc)."""
    if isinstance(value, bool):
        raise PriceNotExact(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PriceNotExact(f"not finite: {value!r}")
        number = Decimal(repr(value))
        digits = len(number.normalize().as_tuple().digits)
        if digits > MAX_EXACT_DIGITS:
            raise PriceNotExact(f"{value!r} has {digits} significant digits; more than {MAX_EXACT_DIGITS} are not exactly known")
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise PriceNotExact(f"not a decimal: {value!r}") from None
    else:
        raise PriceNotExact(f"not a number: {value!r}")
    if not number.is_finite():
        raise PriceNotExact(f"not finite: {value!r}")
    return number


def price_units(value: object, price_decimals: int) -> int:
    """``value`` in units of 10**-price_decimals, exact when representable, else nearest (half up).

    Raises ``PriceNotExact`` for anything that is not a finite positive number known exactly.
    """
    scaled = decimal_of(value).scaleb(price_decimals)
    units = int(scaled.to_integral_value(rounding=ROUND_HALF_UP))
    if units <= 0:
        raise PriceNotExact(f"price {value!r} is not positive in units of 1e-{price_decimals}")
    return units


def mid_units(bid: object, ask: object, price_decimals: int) -> int:
    """The mid of ``bid`` and ``ask`` in price units, computed exactly, rounded once (half up)."""
    return price_units((decimal_of(bid) + decimal_of(ask)) / 2, price_decimals)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveVenue:
    """One constituent venue: its name in the methodology, its ccxt exchange id and symbol."""

    venue: str  # the constituent's name in the index methodology
    symbol: str  # ccxt unified symbol, e.g. "BTC/USDT"
    exchange_id: str = ""  # ccxt exchange class; empty: the same as ``venue``
    trades_limit: int = DEFAULT_TRADES_LIMIT
    book_depth: int = DEFAULT_BOOK_DEPTH

    def __post_init__(self) -> None:
        if not self.venue or not self.symbol:
            raise ValueError("a live venue needs a name and a symbol")
        if self.trades_limit < 1 or self.book_depth < 1:
            raise ValueError("trades_limit and book_depth must be at least 1")

    @property
    def ccxt_id(self) -> str:
        return self.exchange_id or self.venue


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueProblem:
    """A call that gave no usable input this poll, and why (for the operator, not the index)."""

    venue: str
    call: str  # fetch_trades, fetch_order_book, fetch_ticker, or the parsing step
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LivePoll:
    """One poll: the command to journal at ``ts_ns`` and the problems met."""

    ts_ns: int
    command: PublishIndex
    problems: tuple[VenueProblem, ...]


def make_exchange(exchange_id: str, config: Mapping[str, object] | None = None) -> Any:
    """A ccxt exchange object (sync API) for ``exchange_id``, rate limiting on by default."""
    cls = getattr(ccxt, exchange_id, None)
    if cls is None or not isinstance(cls, type):
        raise ValueError(f"ccxt has no exchange {exchange_id!r}")
    return cls({"enableRateLimit": True, **(config or {})})


class CcxtIndexFeed:
    """Polls the constituent venues through ccxt and emits one ``PublishIndex`` per poll.

    ``exchanges`` maps a venue name to a ready ccxt exchange object (tests pass objects
    whose HTTP layer replays recorded answers); venues not in it get
    ``make_exchange(venue.ccxt_id, exchange_config)``. ``clock`` returns nanoseconds.
    """

    __slots__ = ("instrument", "price_decimals", "venues", "clock", "_exchanges", "_last")

    def __init__(
        self,
        instrument: str,
        price_decimals: int,
        venues: Sequence[LiveVenue],
        *,
        clock: Callable[[], int],
        exchanges: Mapping[str, Any] | None = None,
        exchange_config: Mapping[str, object] | None = None,
    ) -> None:
        names = [v.venue for v in venues]
        if not names or len(set(names)) != len(names):
            raise ValueError("venues must name at least one venue, each once")
        if not 0 <= price_decimals <= 12:
            raise ValueError("price_decimals must be 0..12")
        self.instrument = instrument
        self.price_decimals = price_decimals
        self.venues = tuple(venues)
        self.clock = clock
        given = dict(exchanges or {})
        self._exchanges = {v.venue: given[v.venue] if v.venue in given else make_exchange(v.ccxt_id, exchange_config) for v in venues}
        self._last: dict[tuple[str, InputKind], PriceInput] = {}

    def poll(self) -> LivePoll:
        """Ask every venue once; return the command (trades first, then firm quotes) and problems."""
        problems: list[VenueProblem] = []
        trades: list[PriceInput] = []
        quotes: list[PriceInput] = []
        for venue in self.venues:
            exchange = self._exchanges[venue.venue]
            for kind, fresh in ((InputKind.TRADE, self._trade(venue, exchange, problems)), (InputKind.FIRM_QUOTE, self._quote(venue, exchange, problems))):
                if fresh is not None:
                    self._last[(venue.venue, kind)] = fresh
                kept = self._last.get((venue.venue, kind))
                if kept is not None:
                    (trades if kind is InputKind.TRADE else quotes).append(kept)
        ts_ns = self.clock()
        return LivePoll(
            ts_ns=ts_ns,
            command=PublishIndex(instrument=self.instrument, inputs=tuple(trades + quotes)),
            problems=tuple(problems),
        )

    # --- one venue --------------------------------------------------------------------------

    def _observed_ns(self, venue_ms: object, received_ns: int) -> int:
        if isinstance(venue_ms, int) and not isinstance(venue_ms, bool) and venue_ms >= 0:
            return min(venue_ms * NS_PER_MS, received_ns)
        return received_ns

    def _trade(self, venue: LiveVenue, exchange: Any, problems: list[VenueProblem]) -> PriceInput | None:
        try:
            answer = exchange.fetch_trades(venue.symbol, limit=venue.trades_limit)
        except ccxt.BaseError as error:
            problems.append(VenueProblem(venue=venue.venue, call="fetch_trades", message=f"{type(error).__name__}: {error}"))
            return None
        received = self.clock()
        dated = [t for t in answer if isinstance(t.get("timestamp"), int) and t.get("price") is not None]
        if not dated:
            problems.append(VenueProblem(venue=venue.venue, call="fetch_trades", message="no dated trade in the answer"))
            return None
        latest = max(enumerate(dated), key=lambda pair: (pair[1]["timestamp"], pair[0]))[1]
        try:
            price = price_units(latest["price"], self.price_decimals)
        except PriceNotExact as error:
            problems.append(VenueProblem(venue=venue.venue, call="fetch_trades", message=str(error)))
            return None
        return PriceInput(venue=venue.venue, kind=InputKind.TRADE, price=price, ts_ns=self._observed_ns(latest["timestamp"], received))

    def _quote(self, venue: LiveVenue, exchange: Any, problems: list[VenueProblem]) -> PriceInput | None:
        try:
            book = exchange.fetch_order_book(venue.symbol, limit=venue.book_depth)
            received = self.clock()
            bids, asks = book.get("bids") or [], book.get("asks") or []
            if bids and asks:
                return self._firm_quote(venue, bids[0][0], asks[0][0], book.get("timestamp"), received, "fetch_order_book", problems)
            problems.append(VenueProblem(venue=venue.venue, call="fetch_order_book", message="a side of the book is empty"))
        except ccxt.BaseError as error:
            problems.append(VenueProblem(venue=venue.venue, call="fetch_order_book", message=f"{type(error).__name__}: {error}"))
        try:
            ticker = exchange.fetch_ticker(venue.symbol)
        except ccxt.BaseError as error:
            problems.append(VenueProblem(venue=venue.venue, call="fetch_ticker", message=f"{type(error).__name__}: {error}"))
            return None
        received = self.clock()
        if ticker.get("bid") is None or ticker.get("ask") is None:
            problems.append(VenueProblem(venue=venue.venue, call="fetch_ticker", message="the ticker has no bid and ask"))
            return None
        return self._firm_quote(venue, ticker["bid"], ticker["ask"], ticker.get("timestamp"), received, "fetch_ticker", problems)

    def _firm_quote(
        self, venue: LiveVenue, bid: object, ask: object, venue_ms: object, received: int, call: str, problems: list[VenueProblem]
    ) -> PriceInput | None:
        try:
            if decimal_of(bid) >= decimal_of(ask):
                problems.append(VenueProblem(venue=venue.venue, call=call, message=f"crossed or locked top of book: bid {bid} ask {ask}"))
                return None
            price = mid_units(bid, ask, self.price_decimals)
        except PriceNotExact as error:
            problems.append(VenueProblem(venue=venue.venue, call=call, message=str(error)))
            return None
        return PriceInput(venue=venue.venue, kind=InputKind.FIRM_QUOTE, price=price, ts_ns=self._observed_ns(venue_ms, received))
