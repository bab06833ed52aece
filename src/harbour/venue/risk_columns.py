"""Columnar risk inputs for the liquidation scan: derived state, an int64 lower bound, an exact recheck.

Owns ``RiskColumns``, ``accounts_below_maintenance`` (the scan ``liquidate_after_mark`` walks)
and ``exact_accounts_below_maintenance`` (the plain loop it must equal). Funding reads who holds
a position from the qty columns (``RiskColumns.holders``), which are exact, not a bound: money
then moves by them, so the rule below on changes outside ``apply`` matters doubly.

Derived, not venue state: the columns are not in ``to_state()`` or the snapshot and never
touch the state hash. ``VenueState.risk_columns`` is None until the first scan builds them
from the state (so after a restore they are rebuilt on first use). From then on they follow
the state through the events ``VenueEngine.apply`` passes to ``observe``: every
``TransferPosted`` posting moves the wallet columns, and the accounts named by
``TradeExecuted``, ``AutoDeleveraged``, ``GainRealisedAtMark``, ``MarginModeSet`` and
``AccountOpened`` have their positions re-read at the next scan (``observed_event_types``; the
property tests check that these events reproduce every balance and position). Marks, FX
rates, haircuts and brackets are read from the state at each scan. Code that changes a venue
state other than through ``VenueEngine.apply`` must set ``risk_columns`` to None.

Rows: one per scope, the cross part of every account and each isolated position. Per row, the
wallet per asset and ``base``: the collateral value of the cross wallet in the risk currency
(exactly ``margin.cross_collateral``), or the isolated wallet. Per row and instrument, the
position's qty and cost in that scope, and a lower bound of its term (its margin-balance
contribution minus its maintenance, in the scope's currency) at the instrument's mark P,
linear in P while P keeps the position in one maintenance bracket:

    2^F x term(P) >= alpha x P + 2^F x gamma
    alpha = u x R x (q x 1e6 - |q| x mmr_t) x 2^F / 1e14, rounded down
    gamma = (amount_t - cost x u) x R / 1e8, rounded down, - 2 - ceil(R / 1e8)

u is the unit value, R the FX rate into the risk currency x 1e8 (1e8 for an isolated row or a
risk-currency instrument), mmr_t and amount_t the bracket's rate and maintenance amount
(``tiers.maintenance_margin``). Each rounding of ``margin.py`` (PnL converted down,
maintenance rounded up, then converted up) costs the row at most 1 or R / 1e8. So
2^F x (base + the row's terms) is a lower bound of 2^F x (margin balance - maintenance); a row
whose bound is not negative is not below maintenance. The bound gives up at most P / 2^F per
term (alpha's rounding), a few micro-units.

Per instrument j the columns keep ``cur`` = alpha x mark (the mark of its last scan) and
``negrest`` = -(2^F x (base + every gamma) + the other instruments' ``cur``), so the bound is
``cur - negrest`` and a row is a candidate when ``cur < negrest``. A mark change of j is one
multiply for ``cur``, one subtraction for the change, one per other instrument to move its
``negrest``, and one comparison. Rows whose bracket interval (or overflow interval) no longer
holds the mark get new coefficients first: one comparison finds them, against the upper ends
on a rise and the lower ends on a fall. Rows outside the int64 envelope are
always candidates. Each candidate is rechecked with ``margin.py``'s exact functions in
account order, so the result equals the exact scan; the bound only decides how few accounts
the exact path sees.

int64 envelope (a row outside it is always a candidate): |q| x 2e6 x (1 + u x R x 2^F / 1e14),
|q| x u x P and 2 |cost| x u at most 2^62; (amount - cost x u) x (1 + R / 1e8) at most 2^62;
each wallet at most ``_PART_LIMIT`` / (1 + its collateral factor / 1e12), base and gamma at
most ``_PART_LIMIT``, and |alpha| x P at most ``TERM_LIMIT`` (checked through the row's
interval), so with at most ``MAX_INSTRUMENTS`` instruments no sum leaves int64. Products of
two large factors are split into limbs of 10^k (``limbs.mul_div``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from harbour.kernel.money import FX_SCALE, PPM
from harbour.ledger.book import LedgerAccount
from harbour.venue.accounts import Account
from harbour.venue.events import AccountOpened, AutoDeleveraged, GainRealisedAtMark, MarginModeSet, TradeExecuted, TransferPosted
from harbour.venue.instruments import Instrument
from harbour.venue.limbs import mul_div
from harbour.venue.margin import cross_margin_balance_and_maintenance, isolated_margin_balance_and_maintenance
from harbour.venue.state import RISK_CURRENCY, VenueState, isolated_account
from harbour.venue.tiers import Tier

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

F: Final = 6  # fractional bits of alpha: the bound gives up at most P / 2^F per term
MAX_INSTRUMENTS: Final = 8  # beyond this many instruments the scan is the exact loop
TERM_LIMIT: Final = (1 << 62) // (2 * MAX_INSTRUMENTS + 1)  # |alpha x P|, 2^F x |base|, 2^F x |gamma|

_LIM: Final = 1 << 62
_WIDE: Final = 1 << 62  # the upper end of an interval that always holds
_PART_LIMIT: Final = TERM_LIMIT >> F
_BASE_FLAG: Final = 1  # flag bit 0: the row's wallet is outside the envelope; bit 1 + j: instrument j
_BUILD_READ: Final = 256  # new rows beyond this many read the ledger in one pass

_NO_ROWS: Final[I64] = np.zeros(0, dtype=np.int64)
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)

# what ``observe`` follows: every wallet move, and the events naming an account whose position changed
_AccountEvent = AutoDeleveraged | GainRealisedAtMark | MarginModeSet | AccountOpened
_ACCOUNT_EVENTS: Final = frozenset({AutoDeleveraged, GainRealisedAtMark, MarginModeSet, AccountOpened})
_OBSERVED: Final = frozenset({TransferPosted, TradeExecuted, *_ACCOUNT_EVENTS})


# --- exact integer kernels -----------------------------------------------------------------


def _mul_div_lower(x: I64, f: int, d: int) -> I64:
    """A lower bound of floor(x x f / d^2) for signed x (exact for x >= 0, at most 1 below)."""
    v, _ = mul_div(np.abs(x), f, d)
    return np.where(x < 0, -v - 1, v)


def _int64(values: list[int]) -> I64:
    """An int64 column of ``values``; any beyond +-2^62 (none within the venue's ceilings, D16)
    is clamped there, which puts its row outside the envelope."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array([min(max(v, -_LIM), _LIM) for v in values], dtype=np.int64)


def _tier_arrays(tiers: tuple[Tier, ...]) -> tuple[I64, I64, I64]:
    caps = np.array([t.max_notional for t in tiers], dtype=np.int64)
    mmr = np.array([t.mmr_ppm for t in tiers], dtype=np.int64)
    amounts = np.array([t.amount for t in tiers], dtype=np.int64)
    return caps, mmr, amounts


def term_bounds(q: I64, cost: I64, mark: int, inst: Instrument, rate: int) -> tuple[I64, I64, I64, I64, Mask]:
    """(alpha, gamma, off, hi, outside) of positions ``q`` with ``cost`` in ``inst`` at ``mark``.

    ``rate`` converts the settlement currency into the scope's (FX_SCALE: none). For every
    mark P with off <= P <= hi (the bracket holding the position at ``mark``, and
    |alpha| x P within ``TERM_LIMIT``), the position's term at P, times 2^F, is at least
    alpha x P + gamma x 2^F. Rows ``outside`` the envelope, and rows without a position, get
    zero coefficients and an interval that always holds."""
    u = inst.unit_value
    caps, mmrs, amounts = _tier_arrays(inst.tiers)
    last = caps.shape[0] - 1
    z = (u * rate) << F  # alpha = w x z / 1e14
    zq = z // 10**14
    rq = rate // FX_SCALE
    aq = np.abs(q)
    outside = (aq > _LIM // (2 * PPM * (zq + 1))) | (aq > _LIM // (u * max(mark, 1))) | (np.abs(cost) > (_LIM >> 1) // u)
    if mark < 1:
        outside |= q != 0
    flat = outside | (q == 0)
    q = np.where(flat, 0, q)
    aq = np.where(flat, 0, aq)
    cost = np.where(flat, 0, cost)
    a = aq * u
    safe_a = np.maximum(a, 1)
    t = np.minimum(np.searchsorted(caps, a * max(mark, 1), side="left"), last)
    mmr = mmrs[t]
    off = np.where(t > 0, caps[np.maximum(t - 1, 0)] // safe_a + 1, 0)
    hi = np.where(t < last, caps[t] // safe_a, _WIDE)
    w = np.where(q >= 0, q * (PPM - mmr), q * (PPM + mmr))
    alpha = _mul_div_lower(w, z, 10**7)
    hi = np.minimum(hi, TERM_LIMIT // np.maximum(np.abs(alpha), 1))
    y = amounts[t] - cost * u
    big_y = np.abs(y) > _LIM // (rq + 1)
    y = np.where(big_y, 0, y)
    gamma = _mul_div_lower(y, rate, 10**4) - (2 + -(-rate // FX_SCALE))
    outside |= big_y | (np.abs(gamma) > _PART_LIMIT) | ((hi < mark) & ~flat)
    flat |= outside
    alpha = np.where(flat, 0, alpha)
    gamma = np.where(flat, 0, gamma)
    off = np.where(flat, 0, off)
    hi = np.where(flat, _WIDE, hi)
    return alpha, gamma, off, hi, outside


def collateral_values(balances: I64, factor: int) -> tuple[I64, Mask]:
    """(value, outside): ``MarginAssetRegistry.collateral_value`` of each balance for a
    collateral factor (rounded down; 0 for a balance not above 0), and the rows too large."""
    fq = factor // 10**12
    b = np.maximum(balances, 0)
    outside = b > _PART_LIMIT // (fq + 1)
    value, _ = mul_div(np.where(outside, 0, b), factor, 10**6)
    return value, outside


def observed_event_types() -> frozenset[type]:
    """The event types ``observe`` reads; every other venue event changes no wallet or position."""
    return frozenset(_OBSERVED)


# --- the exact check -----------------------------------------------------------------------


def exact_below_maintenance(st: VenueState, acct: Account, sym: str) -> tuple[str, int, int] | None:
    """(scope, margin balance, maintenance) if the scope of ``acct`` holding ``sym`` is below
    maintenance, else None: the exact rule (``liquidation.scope_balance_and_maintenance``), one scope."""
    pos = acct.positions.get(sym)
    if pos is None or not pos.qty:
        return None
    if pos.isolated:
        balance, maintenance = isolated_margin_balance_and_maintenance(st, acct, sym)
        scope = sym
    else:
        balance, maintenance = cross_margin_balance_and_maintenance(st, acct)
        scope = ""
    return (scope, balance, maintenance) if balance < maintenance else None


def exact_accounts_below_maintenance(st: VenueState, sym: str) -> list[tuple[int, str, int, int]]:
    """The plain scan: every account in id order, checked with the exact functions."""
    found = []
    for account_id in sorted(st.accounts):
        hit = exact_below_maintenance(st, st.accounts[account_id], sym)
        if hit is not None:
            found.append((account_id, *hit))
    return found


# --- observing the events ----------------------------------------------------------------


def _participant(account: LedgerAccount) -> int | None:
    """The account id behind a ledger account (its cross wallet or an isolated wallet)."""
    if isinstance(account, int):
        return account
    if account.startswith("ISO:"):
        return int(account.split(":", 2)[1])
    return None


def touched_accounts(events: Iterable[object]) -> set[int]:
    """Accounts whose wallet or position these events changed."""
    found: set[int] = set()
    for e in events:
        if type(e) is TransferPosted:
            for account, _, _ in e.postings:
                owner = _participant(account)
                if owner is not None:
                    found.add(owner)
        elif type(e) is TradeExecuted:
            found.add(e.maker_account)
            found.add(e.taker_account)
        elif type(e) in _ACCOUNT_EVENTS:
            named = cast(_AccountEvent, e)
            found.add(named.account)
            if type(named) is AutoDeleveraged:
                found.add(named.counterparty)
    return found


# --- the columns -------------------------------------------------------------------------------


class RiskColumns:
    """int64 columns of every scope's risk inputs and of the lower bound of its margin excess."""

    __slots__ = (
        "n",
        "cap",
        "account",
        "iso_of",
        "base",
        "flags",
        "wallets",
        "symbols",
        "index",
        "qty",
        "cost",
        "alpha",
        "gamma",
        "off",
        "hi",
        "cur",
        "spare",
        "negrest",
        "marks",
        "tiers",
        "rates",
        "row_of",
        "iso_accounts",
        "registry_version",
        "factors",
        "dirty",
        "postings",
        "seen_out",
        "seen",
        "any_flagged",
        "mask",
    )

    def __init__(self) -> None:
        self.n = 0
        self.cap = 0
        empty = np.zeros(0, dtype=np.int64)
        self.account: I64 = empty
        self.iso_of: I64 = empty  # instrument index of an isolated row, -1 for a cross row
        self.base: I64 = empty
        self.flags: I64 = empty  # bit 0: wallet outside the envelope; bit 1 + j: instrument j
        self.wallets: dict[str, I64] = {}
        self.symbols: list[str] = []
        self.index: dict[str, int] = {}
        self.qty: list[I64] = []
        self.cost: list[I64] = []
        self.alpha: list[I64] = []
        self.gamma: list[I64] = []
        self.off: list[I64] = []
        self.hi: list[I64] = []
        self.cur: list[I64] = []
        self.spare: list[I64] = []
        self.negrest: list[I64] = []
        self.marks: list[int] = []
        self.tiers: list[tuple[Tier, ...]] = []
        self.rates: list[int] = []
        self.row_of: dict[LedgerAccount, int] = {}  # account id (cross row) or ISO wallet name -> row
        self.iso_accounts: set[int] = set()  # accounts with an isolated row
        self.registry_version = -1
        self.factors: dict[str, int] = {}
        self.dirty: set[int] = set()
        self.postings: list[tuple[LedgerAccount, str, int]] = []
        self.seen_out: list[object] | None = None
        self.seen = 0
        self.any_flagged = False
        self.mask: Mask = np.zeros(0, dtype=np.bool_)

    # --- following the state -------------------------------------------------------------

    @classmethod
    def build(cls, st: VenueState, out: list[object]) -> RiskColumns:
        """Columns of the state as it is now; ``out`` (the current command's events so far) is
        already reflected in the state, so ``observe`` skips it."""
        cols = cls()
        cols.dirty = set(st.accounts)
        cols.seen_out = out
        cols.seen = len(out)
        cols.prepare(st)
        return cols

    def observe(self, out: list[object]) -> None:
        """Take in a command's events (those ``catch_up`` has not): wallet moves and touched positions.

        On every command's events, so it does one dictionary lookup per event and nothing more
        for the events it does not follow."""
        if out is self.seen_out:
            out = out[self.seen :]
            self.seen_out = None
        dirty = self.dirty
        for e in out:
            if type(e) is TransferPosted:
                self.postings.extend(e.postings)
            elif type(e) is TradeExecuted:
                dirty.add(e.maker_account)
                dirty.add(e.taker_account)
            elif type(e) in _ACCOUNT_EVENTS:  # not isinstance: it costs ~100 ns per msgspec class
                named = cast(_AccountEvent, e)
                dirty.add(named.account)
                if type(named) is AutoDeleveraged:
                    dirty.add(named.counterparty)

    def catch_up(self, out: list[object]) -> None:
        """Observe the current command's events so far (mid-command); ``observe`` at the end of
        the command takes only the rest."""
        self.observe(out)
        self.seen_out = out
        self.seen = len(out)

    def prepare(self, st: VenueState) -> None:
        """Bring every column up to the state: instruments and registry, wallet moves, touched
        positions, then each instrument's terms at its current mark."""
        recoefficient = self._sync_instruments(st)
        rebase_all = self._sync_registry(st, recoefficient)
        moved = self._apply_postings()
        changed, new_rows = self._refresh_positions(st)
        every = np.arange(self.n, dtype=np.int64) if rebase_all or recoefficient else _NO_ROWS
        wallets_moved = self._distinct([moved, new_rows])
        self._rebase(st, every if rebase_all else wallets_moved)
        for j in recoefficient:
            changed[j] = np.flatnonzero(self.qty[j][: self.n])
        for j, rows in changed.items():
            self._coefficients(j, rows, st.instruments[self.symbols[j]], self.marks[j])
            self.cur[j][rows] = self.alpha[j][rows] * self.marks[j]
        self._rest(every if every.shape[0] else self._distinct([wallets_moved, *changed.values()]))
        for j, sym in enumerate(self.symbols):
            mark = st.instruments[sym].ref_price
            if mark != self.marks[j]:
                self._reterm(j, st.instruments[sym], mark)

    def _sync_instruments(self, st: VenueState) -> set[int]:
        """Columns for newly listed instruments; the instruments whose brackets changed."""
        changed: set[int] = set()
        for sym in sorted(st.instruments):
            if sym not in self.index:
                self.index[sym] = len(self.symbols)
                self.symbols.append(sym)
                inst = st.instruments[sym]
                for cols in (self.qty, self.cost, self.alpha, self.gamma, self.off, self.cur, self.spare, self.negrest):
                    cols.append(np.zeros(self.cap, dtype=np.int64))
                self.hi.append(np.full(self.cap, _WIDE, dtype=np.int64))
                self.marks.append(inst.ref_price)
                self.tiers.append(inst.tiers)
                self.rates.append(_rate(st, inst))
                changed.add(len(self.symbols) - 1)  # the other instruments' rests count its columns
        for j, sym in enumerate(self.symbols):
            inst = st.instruments[sym]
            if inst.tiers is not self.tiers[j]:
                self.tiers[j] = inst.tiers
                changed.add(j)
        return changed

    def _sync_registry(self, st: VenueState, recoefficient: set[int]) -> bool:
        """Collateral factors and FX rates after a registry change; True if every base changes."""
        reg = st.registry
        if reg.version == self.registry_version:
            return False
        self.registry_version = reg.version
        self.factors = {asset: reg.collateral_factor(asset, RISK_CURRENCY) for asset in reg.assets}
        for j, sym in enumerate(self.symbols):
            rate = _rate(st, st.instruments[sym])
            if rate != self.rates[j]:
                self.rates[j] = rate
                recoefficient.add(j)
        return True

    def _apply_postings(self) -> I64:
        """Move the wallet columns by the postings seen since the last scan; the rows moved
        (with repeats)."""
        postings = self.postings
        if not postings:
            return _NO_ROWS
        self.postings = []
        holders = list(map(_FIRST, postings))
        assets = list(map(_SECOND, postings))
        count = len(holders)
        rows = np.fromiter(map(self.row_of.get, holders, repeat(-1, count)), dtype=np.int64, count=count)
        kept = rows >= 0
        if not kept.any():
            return _NO_ROWS
        code_of = {asset: code for code, asset in enumerate(set(assets))}
        codes = np.fromiter(map(code_of.__getitem__, assets), dtype=np.int64, count=count)
        amount_arr = _int64(list(map(_THIRD, postings)))
        for asset, code in code_of.items():
            picked = kept & (codes == code)
            if picked.any():
                np.add.at(self._wallet(asset), rows[picked], amount_arr[picked])
        return rows[kept]

    def _wallet(self, asset: str) -> I64:
        col = self.wallets.get(asset)
        if col is None:
            col = self.wallets[asset] = np.zeros(self.cap, dtype=np.int64)
        return col

    def _grow(self, need: int) -> None:
        cap = max(1024, self.cap)
        while cap < need:
            cap *= 2
        if cap == self.cap:
            return
        n = self.n

        def grown(col: I64, fill: int = 0) -> I64:
            new = np.full(cap, fill, dtype=np.int64)
            new[:n] = col[:n]
            return new

        self.account = grown(self.account)
        self.iso_of = grown(self.iso_of, -1)
        self.base = grown(self.base)
        self.flags = grown(self.flags)
        self.wallets = {a: grown(c) for a, c in self.wallets.items()}
        for cols in (self.qty, self.cost, self.alpha, self.gamma, self.off, self.cur, self.spare, self.negrest):
            cols[:] = [grown(c) for c in cols]
        self.hi[:] = [grown(c, _WIDE) for c in self.hi]
        self.mask = np.zeros(cap, dtype=np.bool_)
        self.cap = cap

    def _refresh_positions(self, st: VenueState) -> tuple[dict[int, I64], I64]:
        """Re-read the positions of the touched accounts, adding rows for new accounts and new
        isolated positions. Returns the rows whose position changed, per instrument, and the new rows."""
        dirty = self.dirty
        if not dirty:
            return {}, _NO_ROWS
        self.dirty = set()
        index = self.index
        row_of = self.row_of
        iso_accounts = self.iso_accounts
        accounts = st.accounts
        width = len(self.symbols)
        rows: list[list[int]] = [[] for _ in range(width)]
        qtys: list[list[int]] = [[] for _ in range(width)]
        costs: list[list[int]] = [[] for _ in range(width)]
        new_keys: list[LedgerAccount] = []
        new_accounts: list[int] = []
        new_iso: list[int] = []
        top = self.n
        for account_id in sorted(dirty):
            acct = accounts.get(account_id)
            if acct is None:
                continue
            r = row_of.get(account_id)
            if r is None:
                r = row_of[account_id] = top
                top += 1
                new_keys.append(account_id)
                new_accounts.append(account_id)
                new_iso.append(-1)
            for sym, pos in acct.positions.items():
                j = index[sym]
                if pos.isolated:
                    name = isolated_account(account_id, sym)
                    ir = row_of.get(name)
                    if ir is None:
                        ir = row_of[name] = top
                        top += 1
                        new_keys.append(name)
                        new_accounts.append(account_id)
                        new_iso.append(j)
                        iso_accounts.add(account_id)
                    rows[j] += (ir, r)
                    qtys[j] += (pos.qty, 0)
                    costs[j] += (pos.cost, 0)
                    continue
                rows[j].append(r)
                qtys[j].append(pos.qty)
                costs[j].append(pos.cost)
                if account_id in iso_accounts:
                    ir = row_of.get(isolated_account(account_id, sym))
                    if ir is not None:
                        rows[j].append(ir)
                        qtys[j].append(0)
                        costs[j].append(0)
        new_rows = list(range(self.n, top))
        if new_rows:
            self._grow(top)
            at = np.array(new_rows, dtype=np.int64)
            self.account[at] = np.array(new_accounts, dtype=np.int64)
            self.iso_of[at] = np.array(new_iso, dtype=np.int64)
            self.n = top
            self._read_wallets(st, list(zip(new_keys, new_rows, strict=True)))
        changed: dict[int, I64] = {}
        for j in range(width):
            if rows[j]:
                at = np.array(rows[j], dtype=np.int64)
                self.qty[j][at] = _int64(qtys[j])
                self.cost[j][at] = _int64(costs[j])
                changed[j] = at
        return changed, np.array(new_rows, dtype=np.int64)

    def _read_wallets(self, st: VenueState, new_rows: list[tuple[LedgerAccount, int]]) -> None:
        """Fill the wallet columns of new rows from the ledger."""
        ledger = st.ledger
        found: dict[str, tuple[list[int], list[int]]] = {}
        if len(new_rows) > _BUILD_READ:
            wanted = dict(new_rows)
            for key, wallet in ledger.accounts():
                r = wanted.get(key)
                if r is not None:
                    for asset, amount in wallet.items():
                        at, amounts = found.setdefault(asset, ([], []))
                        at.append(r)
                        amounts.append(amount)
        else:
            assets = sorted(set(st.registry.assets) | set(self.wallets))
            for key, r in new_rows:
                for asset in assets:
                    amount = ledger.balance(key, asset)
                    if amount:
                        at, amounts = found.setdefault(asset, ([], []))
                        at.append(r)
                        amounts.append(amount)
        for asset, (at, amounts) in found.items():
            self._wallet(asset)[np.array(at, dtype=np.int64)] = _int64(amounts)

    def _distinct(self, parts: list[I64]) -> I64:
        """The distinct rows of ``parts``, ascending."""
        rows = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if rows.shape[0] * 16 < self.n:
            return np.unique(rows)
        seen = np.zeros(self.n, dtype=np.bool_)
        seen[rows] = True
        return np.flatnonzero(seen)

    def _rebase(self, st: VenueState, rows: I64) -> None:
        """Recompute the base (cross collateral value, or isolated wallet) of ``rows``."""
        if not rows.shape[0]:
            return
        iso = self.iso_of[rows]
        cross = iso < 0
        base = np.zeros(rows.shape[0], dtype=np.int64)
        outside = np.zeros(rows.shape[0], dtype=np.bool_)
        for asset, col in self.wallets.items():
            factor = self.factors.get(asset, 0)
            if factor:
                value, big = collateral_values(col[rows], factor)
                base += np.where(cross, value, 0)
                outside |= big & cross
        for j, sym in enumerate(self.symbols):
            mine = iso == j
            if mine.any():
                base = np.where(mine, self._wallet(st.instruments[sym].settlement_asset)[rows], base)
        outside |= np.abs(base) > _PART_LIMIT
        self.base[rows] = np.where(outside, 0, base)
        self._set_flag(rows, 1, outside)

    def _set_flag(self, rows: I64, bit: int, on: Mask) -> None:
        old = self.flags[rows]
        new = np.where(on, old | bit, old & ~bit)
        if not np.array_equal(old, new):
            self.flags[rows] = new
            self.any_flagged = bool(self.flags[: self.n].any())

    def _coefficients(self, j: int, rows: I64, inst: Instrument, mark: int) -> None:
        """New bound coefficients and interval of instrument ``j`` for ``rows``, for the bracket at ``mark``."""
        if not rows.shape[0]:
            return
        iso = self.iso_of[rows] >= 0
        q = self.qty[j][rows]
        c = self.cost[j][rows]
        rate = self.rates[j]
        alpha, gamma, off, hi, outside = term_bounds(q, c, mark, inst, FX_SCALE if iso.all() else rate)
        if rate != FX_SCALE and iso.any() and not iso.all():
            ia, ig, io, ih, iout = term_bounds(q[iso], c[iso], mark, inst, FX_SCALE)
            alpha[iso], gamma[iso], off[iso], hi[iso], outside[iso] = ia, ig, io, ih, iout
        if rate == 0:  # no FX rate into the risk currency: the exact path decides
            outside |= (q != 0) & ~iso
        self.alpha[j][rows] = alpha
        self.gamma[j][rows] = gamma
        self.off[j][rows] = off
        self.hi[j][rows] = hi
        self._set_flag(rows, 2 << j, outside)

    def _rest(self, rows: I64) -> None:
        """Recompute every instrument's ``negrest`` of ``rows`` from the components."""
        if not rows.shape[0]:
            return
        fixed = self.base[rows].copy()
        for gamma in self.gamma:
            fixed += gamma[rows]
        fixed <<= F
        curs = [cur[rows] for cur in self.cur]
        every = sum(curs, np.zeros(rows.shape[0], dtype=np.int64))
        for j, negrest in enumerate(self.negrest):
            negrest[rows] = curs[j] - every - fixed

    def _reterm(self, j: int, inst: Instrument, mark: int) -> None:
        """Instrument ``j``'s terms at a new mark, and the other instruments' rests."""
        n = self.n
        # the rows whose interval the move left: a rise can only pass an upper end, a fall a lower one
        if mark > self.marks[j]:
            bad = np.less(self.hi[j][:n], mark, out=self.mask[:n])
        else:
            bad = np.greater(self.off[j][:n], mark, out=self.mask[:n])
        moved = np.flatnonzero(bad) if bad.any() else None
        if moved is not None:
            self._coefficients(j, moved, inst, mark)
        new = np.multiply(self.alpha[j][:n], mark, out=self.spare[j][:n])
        delta = np.subtract(new, self.cur[j][:n], out=self.cur[j][:n])
        for k, negrest in enumerate(self.negrest):
            if k != j:
                negrest[:n] -= delta
        self.cur[j], self.spare[j] = self.spare[j], self.cur[j]
        self.marks[j] = mark
        if moved is not None:
            self._rest(moved)

    # --- funding ----------------------------------------------------------------------------

    def holders(self, st: VenueState, sym: str, out: list[object]) -> tuple[I64, I64, Mask] | None:
        """(accounts ascending, qtys, isolated flags) of every non-zero position in ``sym``,
        exactly as the state holds them now; None when the columns cannot say (``sym`` has no
        column yet, a qty is at the int64 envelope's clamp, or the state has accounts the
        columns never saw, which only code writing the state outside ``apply`` can cause).

        Without ``prepare`` (no wallet or bound work): a qty column is exact for every account
        not touched since the last scan; the touched ones (``dirty``, once ``out``, the current
        command's events so far, is taken in) are read from the state instead."""
        self.catch_up(out)
        j = self.index.get(sym)
        if j is None:
            return None
        n = self.n
        dirty = self.dirty
        row_of = self.row_of
        opened = sum(1 for a in dirty if a not in row_of and a in st.accounts)
        if int(np.count_nonzero(self.iso_of[:n] < 0)) + opened != len(st.accounts):
            return None  # accounts this object never saw: state written outside apply (a bug; see the module doc)
        qty = self.qty[j][:n]
        nonzero = qty != 0
        if dirty:
            stale = [r for a in dirty for r in (row_of.get(a), row_of.get(isolated_account(a, sym))) if r is not None]
            nonzero[np.array(stale, dtype=np.int64)] = False
        rows = np.flatnonzero(nonzero)
        q = qty[rows]
        if q.shape[0] and max(int(q.max()), -int(q.min())) >= _LIM:
            return None
        accounts = self.account[rows]
        isolated = self.iso_of[rows] >= 0
        if accounts.shape[0] > 1 and not bool((accounts[1:] > accounts[:-1]).all()):
            order = np.argsort(accounts, kind="stable")
            accounts, q, isolated = accounts[order], q[order], isolated[order]
        fresh = []
        for account_id in sorted(dirty):
            acct = st.accounts.get(account_id)
            pos = acct.positions.get(sym) if acct is not None else None
            if pos is not None and pos.qty:
                if abs(pos.qty) >= _LIM:
                    return None
                fresh.append((account_id, pos.qty, pos.isolated))
        if fresh:
            at = np.searchsorted(accounts, np.array([f[0] for f in fresh], dtype=np.int64))
            accounts = np.insert(accounts, at, [f[0] for f in fresh])
            q = np.insert(q, at, [f[1] for f in fresh])
            isolated = np.insert(isolated, at, [f[2] for f in fresh])
        return accounts, q, isolated

    # --- the scan ---------------------------------------------------------------------------

    def candidates(self, sym: str) -> list[int]:
        """Accounts (ascending) whose scope holding ``sym`` may be below maintenance."""
        n = self.n
        j = self.index[sym]
        rows = np.flatnonzero(np.less(self.cur[j][:n], self.negrest[j][:n], out=self.mask[:n]))
        if self.any_flagged:
            rows = np.union1d(rows, np.flatnonzero(self.flags[:n]))
        rows = rows[self.qty[j][rows] != 0]
        return sorted(set(self.account[rows].tolist()))


def _rate(st: VenueState, inst: Instrument) -> int:
    """The FX rate (x 1e8) of the instrument's settlement currency into the risk currency (0: none)."""
    ccy = inst.settlement_currency
    if ccy == RISK_CURRENCY:
        return FX_SCALE
    return st.registry.fx_e8.get((ccy, RISK_CURRENCY), 0)


def columns_for(st: VenueState, out: list[object]) -> RiskColumns:
    """The state's risk columns, built on first use, up to date with the state."""
    cols = st.risk_columns
    if cols is None:
        cols = st.risk_columns = RiskColumns.build(st, out)
    else:
        cols.catch_up(out)
        cols.prepare(st)
    return cols


def accounts_below_maintenance(st: VenueState, sym: str, out: list[object]) -> Iterator[tuple[int, str, int, int]]:
    """(account, scope, margin balance, maintenance) of each account whose scope holding ``sym``
    is below maintenance, in account order, exactly as ``exact_accounts_below_maintenance``
    would find them walking the accounts while the caller liquidates each one it yields.

    ``out`` is the current command's event list. After each yield the events the caller
    appended are read: an account with a higher id that they touched is checked exactly at
    its turn, as the plain loop would, even if the vector pass did not flag it."""
    if len(st.instruments) > MAX_INSTRUMENTS:
        yield from _walk(st, sym, out, sorted(st.accounts))
        return
    cols = columns_for(st, out)
    yield from _walk(st, sym, out, cols.candidates(sym))


def _walk(st: VenueState, sym: str, out: list[object], todo: list[int]) -> Iterator[tuple[int, str, int, int]]:
    heapq.heapify(todo)
    last = 0
    accounts = st.accounts
    while todo:
        account_id = heapq.heappop(todo)
        if account_id <= last:
            continue
        last = account_id
        hit = exact_below_maintenance(st, accounts[account_id], sym)
        if hit is None:
            continue
        mark = len(out)
        yield (account_id, *hit)
        for other in touched_accounts(out[mark:]):
            if other > last and other in accounts:
                heapq.heappush(todo, other)
