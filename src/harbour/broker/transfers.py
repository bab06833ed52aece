"""Posting helpers: every balance change goes through a ledger and is reported as an event.

Owns the one way handlers move money, shares and VA: ``post_main`` for the main
ledger and ``post_custody`` for a client's VA sub-ledger (which decides itself whether
a debit is allowed). Each emits a ``TransferPosted`` with the postings as posted.
"""

from __future__ import annotations

from harbour.broker.custody import DebitAuthority
from harbour.broker.events import TransferPosted
from harbour.broker.state import MAIN_LEDGER, BrokerState


def post_main(st: BrokerState, seq: int, ts: int, kind: str, postings: list[tuple[str, str, int]], reference: str, out: list[object]) -> None:
    """Post a balanced transfer to the main ledger; zero legs are dropped."""
    legs = [p for p in postings if p[2]]
    if not legs:
        return
    transfer_id = st.ledger.post(legs)
    out.append(TransferPosted(seq=seq, ts_ns=ts, ledger=MAIN_LEDGER, transfer_id=transfer_id, kind=kind, postings=tuple(legs), reference=reference))


def open_lot(st: BrokerState, seq: int, ts: int, client: int, asset: str, qty: int, cost_price: int, source: str, out: list[object]) -> int:
    """Credit a new lot to the client's custody sub-ledger; return its lot id."""
    lot_id = st.next_lot_id
    st.next_lot_id += 1
    transfer_id, postings = st.custody[client].credit(lot_id, asset, qty, cost_price, seq, source)
    out.append(TransferPosted(seq=seq, ts_ns=ts, ledger=f"CUSTODY:{client}", transfer_id=transfer_id, kind=source, postings=tuple(postings)))
    return lot_id


def debit_lot(st: BrokerState, seq: int, ts: int, client: int, lot_id: int, qty: int, authority: DebitAuthority, out: list[object]) -> None:
    """Debit a lot on an authorised path (custody refuses anything else by raising)."""
    transfer_id, postings = st.custody[client].debit(lot_id, qty, authority, seq)
    out.append(
        TransferPosted(seq=seq, ts_ns=ts, ledger=f"CUSTODY:{client}", transfer_id=transfer_id, kind=authority.path, postings=tuple(postings), reference=f"lot {lot_id}")
    )
