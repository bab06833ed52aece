"""Compliance rules as pure functions and small registries (no I/O)."""

from harbour.compliance.margin_assets import MarginAsset, MarginAssetRegistry
from harbour.compliance.rules import can_increase_exposure, is_reference_eligible

__all__ = ["MarginAsset", "MarginAssetRegistry", "can_increase_exposure", "is_reference_eligible"]
