"""Pure compliance rules used by the engines.

- Professional-investor gate (regulation.md A3 item 38, A6): only a client whose PI
  status is valid at the command's timestamp may open or increase a perpetual
  position; an expired client may only reduce.
- Reference-asset eligibility (A3 items 25-26): a perpetual may be listed only on a
  VA admitted for retail spot trading on the platform, or on an index flagged as
  IOSCO-compliant.
"""

from __future__ import annotations


def can_increase_exposure(pi_expiry_ns: int, ts_ns: int) -> bool:
    """True while the professional-investor status is valid at ``ts_ns``."""
    return ts_ns < pi_expiry_ns


def is_reference_eligible(reference: str, retail_spot_assets: frozenset[str], iosco_indices: frozenset[str]) -> bool:
    return reference in retail_spot_assets or reference in iosco_indices
