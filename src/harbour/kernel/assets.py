"""Asset kinds, shared by the venue (margin assets) and the broker (collateral)."""

from __future__ import annotations

from enum import Enum


class AssetKind(str, Enum):
    FIAT = "FIAT"
    STABLECOIN = "STABLECOIN"  # fiat-referenced stablecoin; eligible only while issuer is licensed
    TOKENISED_DEPOSIT = "TOKENISED_DEPOSIT"  # eligible only if the issuing bank is allowlisted
    VIRTUAL_ASSET = "VIRTUAL_ASSET"  # BTC, ETH...: never accepted as perpetual margin
