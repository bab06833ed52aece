"""Fixtures for the venue unit tests."""

from __future__ import annotations

import pytest

from venue.helpers import Venue


@pytest.fixture
def venue() -> Venue:
    """A venue with the default genesis applied (BTCUSD and ETHHKD open, reference prices set)."""
    return Venue()
