"""Double-entry ledger shared by the venue and the broker."""

from harbour.ledger.book import Ledger, LedgerAccount
from harbour.ledger.invariants import Finding, check_ledger_balanced

__all__ = ["Finding", "Ledger", "LedgerAccount", "check_ledger_balanced"]
