"""Client records: eligibility facts (E1) and the margin state machine's per-client state.

Owns ``Client`` (mutable, private to the engine) and ``CallRecord``. Balances are not
here: cash, loan, bad debt and securities live in the main ledger, VA lots in the
client's custody sub-ledger.

Invariants:

* ``facility_open`` implies the client had a securities margin account with a credit
  limit above zero and a passed VA suitability record when the facility opened (E1).
* ``status`` is CALL exactly when ``call`` is set; while it is set no advance and no
  collateral withdrawal happened: ``last_advance_seq`` and
  ``last_collateral_withdrawal_seq`` are both below ``call.issued_seq`` (M3).
"""

from __future__ import annotations

from typing import Final

import msgspec

NORMAL: Final = "NORMAL"
WARNING: Final = "WARNING"
CALL: Final = "CALL"

CAUSE_SECURITIES: Final = "SECURITIES"
CAUSE_VIRTUAL_ASSET: Final = "VIRTUAL_ASSET"


class CallRecord(msgspec.Struct, frozen=True, kw_only=True):
    issued_seq: int
    issued_ts_ns: int
    deadline_ns: int
    cause: str
    shortfall: int


class Client:
    __slots__ = (
        "client_id",
        "credit_limit",
        "va_suitable",
        "suitability_reference",
        "facility_open",
        "status",
        "call",
        "last_advance_seq",
        "last_collateral_withdrawal_seq",
        "related_group",
        "review_due_ns",
        "review_trigger",
        "last_call_ts_ns",
    )

    def __init__(self, client_id: int, credit_limit: int) -> None:
        self.client_id = client_id
        self.credit_limit = credit_limit
        self.va_suitable = False
        self.suitability_reference = ""
        self.facility_open = False
        self.status = NORMAL
        self.call: CallRecord | None = None
        self.last_advance_seq = 0
        self.last_collateral_withdrawal_seq = 0
        self.related_group = ""  # C2
        self.review_due_ns = 0  # K1: next credit-limit review
        self.review_trigger = ""  # K1: the trigger that made the review due early, "" if none
        self.last_call_ts_ns = -1  # K1: time of the last margin call, -1 if none

    def to_state(self) -> list[object]:
        return [
            self.client_id,
            self.credit_limit,
            int(self.va_suitable),
            self.suitability_reference,
            int(self.facility_open),
            self.status,
            msgspec.to_builtins(self.call) if self.call is not None else None,
            self.last_advance_seq,
            self.last_collateral_withdrawal_seq,
            self.related_group,
            self.review_due_ns,
            self.review_trigger,
            self.last_call_ts_ns,
        ]

    @classmethod
    def from_state(cls, row: list[object]) -> Client:
        client_id, credit_limit, suitable, reference, facility, status, call, advance, withdrawal, group, due, trigger, last_call = row
        client = cls(int(client_id), int(credit_limit))  # type: ignore[call-overload]
        client.va_suitable = bool(suitable)
        client.suitability_reference = str(reference)
        client.facility_open = bool(facility)
        client.status = str(status)
        client.call = msgspec.convert(call, CallRecord) if call is not None else None
        client.last_advance_seq = int(advance)  # type: ignore[call-overload]
        client.last_collateral_withdrawal_seq = int(withdrawal)  # type: ignore[call-overload]
        client.related_group = str(group)
        client.review_due_ns = int(due)  # type: ignore[call-overload]
        client.review_trigger = str(trigger)
        client.last_call_ts_ns = int(last_call)  # type: ignore[call-overload]
        return client
