"""Client onboarding and eligibility handlers (E1).

Owns: registering a client's existing securities margin account with its credit limit,
recording the VA-dealing suitability outcome, and opening a VA financing facility.

Rule E1: a facility opens only for a client that already has a securities margin
account at the broker, a current credit limit above zero and a passed VA suitability
record. Each failure has its own reject code and changes nothing.
"""

from __future__ import annotations

from harbour.broker.clients import Client
from harbour.broker.commands import OpenVaFacility, RecordVaSuitability, RegisterSecuritiesMarginAccount
from harbour.broker.config import MAX_CASH
from harbour.broker.credit import record_onboarding_limit
from harbour.broker.custody import ClientVaCustody
from harbour.broker.events import SecuritiesMarginAccountRegistered, VaFacilityOpened, VaSuitabilityRecorded
from harbour.broker.rejects import rejected
from harbour.broker.state import BrokerState
from harbour.kernel.errors import RejectCode

C = RejectCode


def register_account(st: BrokerState, seq: int, ts: int, cmd: RegisterSecuritiesMarginAccount, out: list[object]) -> None:
    name = "register_securities_margin_account"
    if cmd.client <= 0:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="client id must be positive"))
    elif cmd.client in st.clients:
        out.append(rejected(seq, ts, name, C.CLIENT_ALREADY_EXISTS, client=cmd.client))
    elif cmd.credit_limit < 0:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="credit limit must not be negative"))
    elif cmd.credit_limit > MAX_CASH:
        out.append(rejected(seq, ts, name, C.AMOUNT_TOO_LARGE, field="credit limit", value=cmd.credit_limit, ceiling=MAX_CASH))
    elif len(cmd.related_group) > 64:
        out.append(rejected(seq, ts, name, C.INVALID_PARAMETER, problem="related group name is longer than 64 characters"))
    else:
        client = Client(cmd.client, cmd.credit_limit)
        client.related_group = cmd.related_group
        st.clients[cmd.client] = client
        st.custody[cmd.client] = ClientVaCustody(cmd.client)
        record_onboarding_limit(st, client, seq, ts)
        out.append(SecuritiesMarginAccountRegistered(seq=seq, ts_ns=ts, client=cmd.client, credit_limit=cmd.credit_limit, related_group=cmd.related_group))


def record_suitability(st: BrokerState, seq: int, ts: int, cmd: RecordVaSuitability, out: list[object]) -> None:
    client = st.clients.get(cmd.client)
    if client is None:
        out.append(rejected(seq, ts, "record_va_suitability", C.UNKNOWN_CLIENT, client=cmd.client))
        return
    client.va_suitable = cmd.passed
    client.suitability_reference = cmd.reference
    out.append(VaSuitabilityRecorded(seq=seq, ts_ns=ts, client=cmd.client, passed=cmd.passed, reference=cmd.reference))


def open_facility(st: BrokerState, seq: int, ts: int, cmd: OpenVaFacility, out: list[object]) -> None:
    name = "open_va_facility"
    client = st.clients.get(cmd.client)
    if client is None:
        out.append(rejected(seq, ts, name, C.NO_SECURITIES_MARGIN_ACCOUNT, client=cmd.client))
    elif client.credit_limit <= 0:
        out.append(rejected(seq, ts, name, C.NO_CREDIT_LIMIT, client=cmd.client))
    elif not client.va_suitable:
        out.append(rejected(seq, ts, name, C.NO_VA_SUITABILITY, client=cmd.client))
    elif client.facility_open:
        out.append(rejected(seq, ts, name, C.FACILITY_ALREADY_OPEN, client=cmd.client))
    else:
        client.facility_open = True
        out.append(VaFacilityOpened(seq=seq, ts_ns=ts, client=cmd.client, credit_limit=client.credit_limit))
