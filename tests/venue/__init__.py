"""Unit tests of the perpetuals venue, one module per rulebook area."""
