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

from harbour.venue.state import VenueState


def after_mark_change(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """Follow-up of a mark change of ``sym``: mark-price triggers, then the liquidation scan."""


def after_trades(st: VenueState, sym: str, seq: int, ts: int, out: list[object]) -> None:
    """Follow-up of trades in ``sym``: last-price triggers."""
