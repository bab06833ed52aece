"""Harbour: a deterministic, event-sourced platform for SFC-regulated BTC/ETH perpetuals.

Packages import one way only (checked by tests/test_architecture.py):
kernel <- ledger <- compliance <- venue <- journal <- sim <- cli.
"""
