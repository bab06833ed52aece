"""Unit tests of the double-entry ledger."""
