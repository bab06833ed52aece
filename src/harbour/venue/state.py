"""All mutable venue state in one place, with its deterministic export.

``to_state()`` turns the whole state into plain builtins in a canonical order; the
snapshot is its msgpack encoding and the state hash is blake2b of those bytes, so a
restored snapshot hashes identically by construction, and replay reproduces it.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import TYPE_CHECKING

import msgspec

from harbour.compliance.margin_assets import MarginAssetRegistry
from harbour.ledger.book import Ledger
from harbour.prices.index import IndexMethodology, IndexPrint
from harbour.prices.mark import BasisSample, MarkParameters
from harbour.venue.accounts import Account
from harbour.venue.book import Order, OrderBook
from harbour.venue.commands import InstrumentState, ListInstrument, MarginTier
from harbour.venue.events import StressReportRecorded
from harbour.venue.instruments import Instrument
from harbour.venue.mark import FundingTerms
from harbour.venue.price_parameters import FundingSchedule
from harbour.venue.trigger_book import PendingTriggers, TriggerOrder

if TYPE_CHECKING:
    from harbour.venue.risk_columns import RiskColumns

# Platform ledger accounts (strings); participants are ints.
EXTERNAL = "EXTERNAL"
FEE_INCOME = "FEE_INCOME"
INSURANCE_FUND = "INSURANCE_FUND"
PLATFORM_CAPITAL = "PLATFORM_CAPITAL"
FX_CONVERSION = "FX_CONVERSION"
DEFICIT = "DEFICIT"
FUNDABLE_PLATFORM_ACCOUNTS = (INSURANCE_FUND, PLATFORM_CAPITAL, DEFICIT)


def isolated_account(account: int, instrument: str) -> str:
    return f"ISO:{account}:{instrument}"


RISK_CURRENCY = "HKD"  # the currency in which cross-margin equity and requirements are summed


class VenueState:
    __slots__ = (
        "registry",
        "instruments",
        "books",
        "accounts",
        "ledger",
        "next_trade_id",
        "retail_spot_assets",
        "iosco_indices",
        "external_in",
        "external_out",
        "order_instrument",
        "index_methodologies",
        "index_prints",
        "last_trade_price",
        "basis_samples",
        "funding_terms",
        "triggers",
        "trigger_trade_cursor",
        "config_version",
        "config_since_seq",
        "stress_report",
        "risk_columns",
    )

    def __init__(self) -> None:
        self.registry = MarginAssetRegistry()
        self.instruments: dict[str, Instrument] = {}
        self.books: dict[str, OrderBook] = {}
        self.accounts: dict[int, Account] = {}
        self.ledger = Ledger()
        self.next_trade_id = 1
        self.retail_spot_assets: frozenset[str] = frozenset()
        self.iosco_indices: frozenset[str] = frozenset()
        # money that entered and left the platform, per asset, counted apart from the ledger
        self.external_in: dict[str, int] = {}
        self.external_out: dict[str, int] = {}
        # order id -> instrument symbol, for every resting order
        self.order_instrument: dict[int, str] = {}
        # instrument -> its index methodology versions, in effective-from order
        self.index_methodologies: dict[str, list[IndexMethodology]] = {}
        # instrument -> its latest index print (carries the last good value for the fallback)
        self.index_prints: dict[str, IndexPrint] = {}
        # mark price inputs (venue.mark): instrument -> last trade price, its bounded window
        # of basis samples, the terms of its last settled funding interval
        self.last_trade_price: dict[str, int] = {}
        self.basis_samples: dict[str, deque[BasisSample]] = {}
        self.funding_terms: dict[str, FundingTerms] = {}
        # pending trigger orders (venue.triggers): instrument -> trigger id -> order, in id
        # order; and per instrument the last trade id whose price the triggers have observed
        self.triggers: dict[str, PendingTriggers] = {}
        self.trigger_trade_cursor: dict[str, int] = {}
        # the published configuration's version (venue.config_version): bumped by every command
        # that changes the rulebook's configuration, with the seq of that change (no time: the
        # state never depends on a configuration command's timestamp; the journal has it)
        self.config_version = 0
        self.config_since_seq = 0
        # the latest venue stress test summary recorded (RecordStressReport), or None
        self.stress_report: StressReportRecorded | None = None
        # DERIVED, not state: the liquidation scan's columns (venue.risk_columns), built on first
        # use and kept current from the engine's events; never exported, never in the hash
        self.risk_columns: RiskColumns | None = None

    def withdrawals_paused(self) -> bool:
        """True while any unresolved deficit exists (a loss no layer has yet covered)."""
        return any(v for v in self.ledger.wallet(DEFICIT).values())

    def to_state(self) -> dict[str, object]:
        books = {}
        for sym in sorted(self.books):
            book = self.books[sym]
            books[sym] = [
                [o.order_id, o.account, int(o.is_buy), o.price, o.qty, int(o.is_mm), int(o.reduce_only), o.client_order_id, o.stp_group]
                for side in (book.bids, book.asks)
                for o in side.orders_in_priority()
            ]
        instruments = {
            sym: {
                "spec": msgspec.to_builtins(i.spec),
                "tiers": msgspec.to_builtins(i.tier_spec),
                "state": i.state.value,
                "ref": i.ref_price,
                "mark": msgspec.to_builtins(i.mark_parameters),
                "funding": msgspec.to_builtins(i.funding_schedule),
            }
            for sym, i in sorted(self.instruments.items())
        }
        return {
            "registry": self.registry.to_state(),
            "instruments": instruments,
            "books": books,
            "accounts": [self.accounts[a].to_state() for a in sorted(self.accounts)],
            "ledger": self.ledger.to_state(),
            "next_trade_id": self.next_trade_id,
            "retail_spot": sorted(self.retail_spot_assets),
            "iosco": sorted(self.iosco_indices),
            "external_in": sorted(self.external_in.items()),
            "external_out": sorted(self.external_out.items()),
            "index": [
                [
                    sym,
                    [msgspec.to_builtins(m) for m in self.index_methodologies.get(sym, [])],
                    msgspec.to_builtins(self.index_prints[sym]) if sym in self.index_prints else None,
                ]
                for sym in sorted(set(self.index_methodologies) | set(self.index_prints))
            ],
            "mark": [
                [
                    sym,
                    self.last_trade_price.get(sym),
                    [[b.ts_ns, b.mid, b.index] for b in self.basis_samples.get(sym, ())],
                    msgspec.to_builtins(self.funding_terms[sym]) if sym in self.funding_terms else None,
                ]
                for sym in sorted(set(self.last_trade_price) | set(self.basis_samples) | set(self.funding_terms))
            ],
            "triggers": [
                [sym, self.trigger_trade_cursor.get(sym, 0), [t.to_state() for _, t in sorted(self.triggers.get(sym, {}).items())]]
                for sym in sorted(set(self.triggers) | set(self.trigger_trade_cursor))
            ],
            "config": [self.config_version, self.config_since_seq],
            "stress": msgspec.to_builtins(self.stress_report) if self.stress_report is not None else None,
        }

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self.to_state())

    def state_hash(self) -> bytes:
        return hashlib.blake2b(self.encode(), digest_size=32).digest()

    @classmethod
    def decode(cls, data: bytes) -> VenueState:
        s = msgspec.msgpack.decode(data)
        st = cls()
        st.registry = MarginAssetRegistry.from_state(s["registry"])
        for sym, i in s["instruments"].items():
            inst = Instrument(msgspec.convert(i["spec"], ListInstrument))
            inst.set_tiers(msgspec.convert(i["tiers"], tuple[MarginTier, ...]))
            inst.state = InstrumentState(i["state"])
            inst.ref_price = i["ref"]
            if "mark" in i:  # snapshots before SetMarkParameters / SetFundingParameters keep the house defaults
                inst.mark_parameters = msgspec.convert(i["mark"], MarkParameters)
                inst.funding_schedule = msgspec.convert(i["funding"], FundingSchedule)
            st.instruments[sym] = inst
            st.books[sym] = OrderBook()
        for sym, rows in s["books"].items():
            book = st.books[sym]
            for oid, acct, buy, price, qty, mm, ro, coid, grp in rows:
                book.rest(Order(oid, acct, bool(buy), price, qty, bool(mm), bool(ro), coid, grp))
                st.order_instrument[oid] = sym
        for a in s["accounts"]:
            acct = Account.from_state(a)
            st.accounts[acct.account_id] = acct
        for oid, sym in st.order_instrument.items():
            st.accounts[st.books[sym].orders[oid].account].open_orders[oid] = sym
        st.ledger = Ledger.from_state(s["ledger"])
        st.next_trade_id = s["next_trade_id"]
        st.retail_spot_assets = frozenset(s["retail_spot"])
        st.iosco_indices = frozenset(s["iosco"])
        st.external_in = dict((k, v) for k, v in s["external_in"])
        st.external_out = dict((k, v) for k, v in s["external_out"])
        for sym, versions, last in s["index"]:
            if versions:
                st.index_methodologies[sym] = [msgspec.convert(m, IndexMethodology) for m in versions]
            if last is not None:
                st.index_prints[sym] = msgspec.convert(last, IndexPrint)
        for sym, trade_price, samples, terms in s["mark"]:
            if trade_price is not None:
                st.last_trade_price[sym] = trade_price
            st.basis_samples[sym] = deque(BasisSample(ts_ns=t, mid=m, index=i) for t, m, i in samples)
            if terms is not None:
                st.funding_terms[sym] = msgspec.convert(terms, FundingTerms)
        for sym, cursor, rows in s.get("triggers", ()):
            if cursor:
                st.trigger_trade_cursor[sym] = cursor
            if rows:
                pending = st.triggers[sym] = PendingTriggers()
                for row in rows:
                    pending.add(TriggerOrder.from_state(sym, row))
        st.config_version, st.config_since_seq = s.get("config", (0, 0))
        stress = s.get("stress")
        if stress is not None:
            st.stress_report = msgspec.convert(stress, StressReportRecorded)
        return st
