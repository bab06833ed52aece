"""The margin-asset register: which assets count as perpetual margin, at what value.

Rules (regulation.md A3 item 32, A5 items 53-57):
- fiat (HKD, USD) is eligible;
- a stablecoin is eligible only while its issuer is on the configured snapshot of the
  HKMA licensed-issuer register; once removed it counts zero for new risk from the
  next command on;
- a tokenised deposit is eligible only if its issuing bank is on the allowlist;
- BTC, ETH or any other virtual asset is never eligible.

Valuation: value in a currency = floor(balance x (10000 - haircut_bps) x fx_e8 /
(10000 x 1e8)); the floor favours the platform (collateral is counted low).
"""

from __future__ import annotations

from typing import Any

import msgspec

from harbour.kernel.assets import AssetKind
from harbour.kernel.money import BPS, FX_SCALE

COLLATERAL_DENOMINATOR = BPS * FX_SCALE

_FIAT = AssetKind.FIAT
_STABLECOIN = AssetKind.STABLECOIN
_TOKENISED = AssetKind.TOKENISED_DEPOSIT


class MarginAsset(msgspec.Struct, kw_only=True):
    asset: str
    kind: AssetKind
    currency: str
    issuer: str
    haircut_bps: int
    granularity: int


class MarginAssetRegistry:
    """Assets, issuer register, bank allowlist and FX rates; answers 'what is it worth'."""

    __slots__ = ("assets", "issuers", "banks", "fx_e8", "register_ref", "version", "_factors", "_factors_version")

    def __init__(self) -> None:
        self.assets: dict[str, MarginAsset] = {}
        self.issuers: frozenset[str] = frozenset()
        self.banks: frozenset[str] = frozenset()
        self.fx_e8: dict[tuple[str, str], int] = {}
        self.register_ref = ""
        # bumped on every change that can move a collateral value (cache key)
        self.version = 0
        # (asset, currency) -> (10000 - haircut) x fx_e8, or 0 if not eligible; valid for one version
        self._factors: dict[tuple[str, str], int] = {}
        self._factors_version = -1

    def is_eligible(self, asset: str) -> bool:
        spec = self.assets.get(asset)
        if spec is None:
            return False
        kind = spec.kind
        if kind is _FIAT:
            return True
        if kind is _STABLECOIN:
            return spec.issuer in self.issuers
        if kind is _TOKENISED:
            return spec.issuer in self.banks
        return False

    def fx_rate_e8(self, base: str, quote: str) -> int | None:
        if base == quote:
            return FX_SCALE
        return self.fx_e8.get((base, quote))

    def collateral_factor(self, asset: str, currency: str) -> int:
        """(10000 - haircut_bps) x fx_e8 of ``asset`` into ``currency``; 0 if it is not eligible."""
        if self._factors_version != self.version:
            self._factors.clear()
            self._factors_version = self.version
        key = (asset, currency)
        factor = self._factors.get(key)
        if factor is None:
            factor = 0
            if self.is_eligible(asset):
                spec = self.assets[asset]
                rate = self.fx_rate_e8(spec.currency, currency)
                if rate is not None:
                    factor = (BPS - spec.haircut_bps) * rate
            self._factors[key] = factor
        return factor

    def collateral_value(self, asset: str, balance: int, currency: str) -> int:
        """Value of ``balance`` of ``asset`` as margin in ``currency``, rounded down."""
        if balance <= 0:
            return 0
        return (balance * self.collateral_factor(asset, currency)) // COLLATERAL_DENOMINATOR

    def now_ineligible(self, before: set[str]) -> tuple[str, ...]:
        """Assets eligible in ``before`` that are not eligible now."""
        return tuple(sorted(a for a in before if not self.is_eligible(a)))

    def eligible_assets(self) -> set[str]:
        return {a for a in self.assets if self.is_eligible(a)}

    def to_state(self) -> dict[str, object]:
        return {
            "assets": [msgspec.to_builtins(self.assets[a]) for a in sorted(self.assets)],
            "issuers": sorted(self.issuers),
            "banks": sorted(self.banks),
            "fx": sorted([b, q, r] for (b, q), r in self.fx_e8.items()),
            "register_ref": self.register_ref,
            "version": self.version,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MarginAssetRegistry:
        reg = cls()
        for a in state["assets"]:
            spec = msgspec.convert(a, MarginAsset)
            reg.assets[spec.asset] = spec
        reg.issuers = frozenset(state["issuers"])
        reg.banks = frozenset(state["banks"])
        reg.fx_e8 = {(b, q): r for b, q, r in state["fx"]}
        reg.register_ref = state["register_ref"]
        reg.version = state["version"]
        return reg
