"""What the venue does when a price moves: the one place the follow-up actions are ordered.

- ``after_mark_change``: called after an instrument's mark (its reference price) changes,
  by an index print or an operator's ``SetReferencePrice``. Mark-price trigger orders fire
  first (a client's own stop acts before any forced action), then the liquidation scan runs.
- ``after_trades``: called after a command's matching produced trades (the last price
  moved). Last-price trigger orders fire.

Both run inside the engine's ``apply``, so they are deterministic and replay reproduces
them; every action they take is an event of the command that moved the price.
"""

from __future__ import annotations

from harbour.venue.liquidation import liquidate_after_mark
from harbour.venue.state import VenueState
from harbour.venue.triggers import fire_on_mark, fire_on_trades


def after_mark_change(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """Follow-up of a mark change of ``sym``: mark-price triggers, then the liquidation scan."""
    # 1. the clients' own mark-price stops and take-profits (and the last-price triggers their
    #    fills reach); they fire before any forced action
    fire_on_mark(st, sym, seq, ts, out)
    # 2. the liquidation scan; last-price triggers then see its fills
    trades_before = st.next_trade_id
    liquidate_after_mark(st, sym, seq, ts, out)
    if st.next_trade_id != trades_before:
        fire_on_trades(st, sym, seq, ts, out)


def after_trades(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """Follow-up of trades in ``sym``: last-price triggers."""
    fire_on_trades(st, sym, seq, ts, out)
