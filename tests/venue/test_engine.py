"""The engine's dispatch covers its whole command vocabulary."""

from __future__ import annotations

import typing

from harbour.venue.commands import VenueCommand
from harbour.venue.engine import handled_command_types


def test_every_venue_command_has_exactly_one_handler() -> None:
    assert handled_command_types() == frozenset(typing.get_args(VenueCommand))
