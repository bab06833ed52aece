"""All mutable broker state in one place, with its deterministic export.

Owns ``BrokerState``: the configuration in force, the marginable securities list with
marks and suspensions, the VA marks, the HKEX session flag, clients, each client's VA
custody sub-ledger and the main ledger, the book figures and exceptions register of
the concentration limits (C1-C5), the average daily volumes behind the size multipliers
(C3/C5) and the liquidation capacity (C4), each client's credit-limit audit trail (K1) and
the custody break register of the daily reconciliation (N2/N4).

Main ledger (HKD micro-units and shares), balances signed from the broker's side
(positive = the broker owes the party): ``CASH:<c>`` client cash (>= 0),
``LOAN:<c>`` minus the loan (<= 0), ``BAD_DEBT:<c>`` minus the written-off residual of
that client alone (<= 0), ``SEC:<c>`` securities held for the client (asset
``SEC:<code>``, >= 0), ``INTEREST_INCOME`` the interest the broker has charged (>= 0),
``EXTERNAL`` the outside world (depositors, VATP, HKEX).

``to_state()`` turns everything into plain builtins in a canonical order; the snapshot
is its msgpack encoding and the state hash is blake2b-256 of those bytes, so a
restored snapshot hashes identically by construction and replay reproduces it.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from harbour.broker.clients import Client
from harbour.broker.commands import SmfClientLoan, SmfGroupLoan, SmfSecurityMarginValue
from harbour.broker.config import BrokerConfig
from harbour.broker.custody import ClientVaCustody
from harbour.ledger.book import EXTERNAL as EXTERNAL
from harbour.ledger.book import Ledger

HKD: Final = "HKD"
MAIN_LEDGER: Final = "MAIN"
INTEREST_INCOME: Final = "INTEREST_INCOME"


def cash_account(client: int) -> str:
    return f"CASH:{client}"


def loan_account(client: int) -> str:
    return f"LOAN:{client}"


def bad_debt_account(client: int) -> str:
    return f"BAD_DEBT:{client}"


def securities_account(client: int) -> str:
    return f"SEC:{client}"


def security_asset(security: str) -> str:
    return f"SEC:{security}"


class SecurityRecord(msgspec.Struct, kw_only=True):
    margin_ratio_bps: int
    price: int = 0  # 0 = never marked
    marked_ts_ns: int = 0
    suspended: bool = False
    correlation_group: str = ""  # C5: securities sharing a group name are one correlated group


class AverageDailyVolume(msgspec.Struct, frozen=True, kw_only=True):
    """An instrument's average daily volume on its execution venues (C3/C5 size multiplier, C4 capacity).

    ``qty`` is shares per day for a security and VA units (1e-8 coin) per day for BTC/ETH.
    """

    qty: int
    window_days: int
    source: str
    recorded_ts_ns: int


class VaMark(msgspec.Struct, frozen=True, kw_only=True):
    price: int
    marked_ts_ns: int


class BookFigures(msgspec.Struct, frozen=True, kw_only=True):
    """The broker's capital figures, non-VA margin loan book and SMF extract, as last recorded (C2, C4, C5)."""

    shareholders_funds: int
    capital: int
    securities_margin_loans: int
    recorded_ts_ns: int
    client_loans: tuple[SmfClientLoan, ...] = ()
    group_loans: tuple[SmfGroupLoan, ...] = ()
    security_margin_values: tuple[SmfSecurityMarginValue, ...] = ()

    def smf_client_loan(self, client: int) -> int:
        """C2: the client's margin loans in the SMF books outside this engine (0 if none recorded)."""
        return sum(row.amount for row in self.client_loans if row.client == client)

    def smf_group_loan(self, related_group: str) -> int:
        """C2: loans outside this engine to members of ``related_group`` with no account here."""
        return sum(row.amount for row in self.group_loans if row.related_group == related_group)

    def smf_security_margin_value(self, security: str) -> int:
        """C5: the margin value of ``security`` in the SMF book outside this engine."""
        return sum(row.margin_value for row in self.security_margin_values if row.security == security)

    @property
    def has_smf_extract(self) -> bool:
        return bool(self.client_loans or self.group_loans or self.security_margin_values)


class LimitException(msgspec.Struct, frozen=True, kw_only=True):
    """One exceptions-register entry (C1-C5); kept after expiry as history."""

    exception_id: int
    limit_id: str
    client: int  # 0 = book limit
    justification: str
    approver: str
    recorded_ts_ns: int
    expiry_ns: int
    instrument: str = ""  # C4 liquidity: BTC/ETH; C5: the security or the correlated group


class CreditLimitChange(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a client's credit-limit audit trail (K1)."""

    seq: int
    ts_ns: int
    old_limit: int
    new_limit: int
    reason_code: str
    approver: str
    nav: int = 0  # the client's NAV at the broker when the change was made (HKD micro)
    stressed_nav: int = 0  # the same with BTC/ETH at the stressed value: the credit-assessment basis


class CustodyBreak(msgspec.Struct, kw_only=True):
    """One difference between the custody statement and the books (N2/N4); kept after resolution."""

    break_id: int
    statement_date: str
    client: int
    asset: str
    statement_qty: int
    book_qty: int
    found_ts_ns: int
    resolved: bool = False
    resolution: str = ""
    approver: str = ""
    resolved_ts_ns: int = 0


class BrokerState:
    __slots__ = (
        "config",
        "securities",
        "va_marks",
        "hkex_open",
        "clients",
        "custody",
        "ledger",
        "next_lot_id",
        "book",
        "limit_exceptions",
        "credit_limit_history",
        "custody_breaks",
        "last_reconciled_date",
        "average_daily_volumes",
    )

    def __init__(self, config: BrokerConfig | None = None) -> None:
        self.config = config if config is not None else BrokerConfig()
        self.securities: dict[str, SecurityRecord] = {}
        self.va_marks: dict[str, VaMark] = {}
        self.hkex_open = True
        self.clients: dict[int, Client] = {}
        self.custody: dict[int, ClientVaCustody] = {}
        self.ledger = Ledger()
        self.next_lot_id = 1
        self.book: BookFigures | None = None  # C1-C5 are checked once this is recorded
        self.limit_exceptions: list[LimitException] = []  # the exceptions register, in order
        self.credit_limit_history: dict[int, list[CreditLimitChange]] = {}  # K1 audit trail
        self.custody_breaks: list[CustodyBreak] = []  # N2/N4 break register, by id (id = index + 1)
        self.last_reconciled_date = ""  # statement date of the last custody reconciliation
        self.average_daily_volumes: dict[str, AverageDailyVolume] = {}  # C3/C4/C5, by instrument

    def open_custody_breaks(self) -> list[CustodyBreak]:
        return [b for b in self.custody_breaks if not b.resolved]

    # --- balances read from the ledgers ----------------------------------------------------

    def loan(self, client: int) -> int:
        return -self.ledger.balance(loan_account(client), HKD)

    def cash(self, client: int) -> int:
        return self.ledger.balance(cash_account(client), HKD)

    def bad_debt(self, client: int) -> int:
        return -self.ledger.balance(bad_debt_account(client), HKD)

    def securities_held(self, client: int) -> list[tuple[str, int]]:
        """(security code, shares) held for ``client``, by code."""
        wallet = self.ledger.wallet(securities_account(client))
        return sorted((asset[4:], qty) for asset, qty in wallet.items() if qty)

    def shares(self, client: int, security: str) -> int:
        return self.ledger.balance(securities_account(client), security_asset(security))

    # --- export ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        return {
            "config": msgspec.to_builtins(self.config),
            "securities": [[code, msgspec.to_builtins(rec)] for code, rec in sorted(self.securities.items())],
            "va_marks": [[asset, msgspec.to_builtins(mark)] for asset, mark in sorted(self.va_marks.items())],
            "hkex_open": int(self.hkex_open),
            "clients": [self.clients[c].to_state() for c in sorted(self.clients)],
            "custody": [self.custody[c].to_state() for c in sorted(self.custody)],
            "ledger": self.ledger.to_state(),
            "next_lot_id": self.next_lot_id,
            "book": msgspec.to_builtins(self.book) if self.book is not None else None,
            "limit_exceptions": [msgspec.to_builtins(e) for e in self.limit_exceptions],
            "credit_limit_history": [[c, [msgspec.to_builtins(e) for e in self.credit_limit_history[c]]] for c in sorted(self.credit_limit_history)],
            "custody_breaks": [msgspec.to_builtins(b) for b in self.custody_breaks],
            "last_reconciled_date": self.last_reconciled_date,
            "average_daily_volumes": [[code, msgspec.to_builtins(adv)] for code, adv in sorted(self.average_daily_volumes.items())],
        }

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self.to_state())

    def state_hash(self) -> bytes:
        return hashlib.blake2b(self.encode(), digest_size=32).digest()

    @classmethod
    def decode(cls, data: bytes) -> BrokerState:
        s = msgspec.msgpack.decode(data)
        st = cls(msgspec.convert(s["config"], BrokerConfig))
        st.securities = {code: msgspec.convert(rec, SecurityRecord) for code, rec in s["securities"]}
        st.va_marks = {asset: msgspec.convert(mark, VaMark) for asset, mark in s["va_marks"]}
        st.hkex_open = bool(s["hkex_open"])
        for row in s["clients"]:
            client = Client.from_state(row)
            st.clients[client.client_id] = client
        for row in s["custody"]:
            custody = ClientVaCustody.from_state(row)
            st.custody[custody.owner] = custody
        st.ledger = Ledger.from_state(s["ledger"])
        st.next_lot_id = s["next_lot_id"]
        st.book = msgspec.convert(s["book"], BookFigures) if s["book"] is not None else None
        st.limit_exceptions = [msgspec.convert(e, LimitException) for e in s["limit_exceptions"]]
        st.credit_limit_history = {c: [msgspec.convert(e, CreditLimitChange) for e in rows] for c, rows in s["credit_limit_history"]}
        st.custody_breaks = [msgspec.convert(b, CustodyBreak) for b in s.get("custody_breaks", [])]
        st.last_reconciled_date = s.get("last_reconciled_date", "")
        st.average_daily_volumes = {code: msgspec.convert(adv, AverageDailyVolume) for code, adv in s.get("average_daily_volumes", [])}
        return st
