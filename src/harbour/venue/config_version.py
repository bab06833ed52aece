"""The version of the published configuration (the rulebook the disclosure renders).

Owns ``CONFIGURATION_COMMANDS``, ``configuration_fingerprint`` and ``versioned``. The
configuration is what the rulebook promises and only an operator command changes: margin
assets, haircuts, the issuer register and bank allowlist, reference-asset eligibility,
instrument specifications, margin brackets, mark-price and funding parameters and index
methodology versions. Market figures
(marks, FX rates, fund balances, trading state) are not configuration: they move without
changing the rules.

``versioned(handler)`` wraps the handler of a configuration command: when the command
leaves the configuration different from before (a reject, or a command that restates the
same values, does not), ``VenueState.config_version`` goes up by one and the command's seq
is recorded as the new version's effective-from (its time is in the journal; keeping it in
state would make the state depend on a timestamp). The counter is venue state (exported and
restored), so replay and snapshot restore reproduce every version number.

Invariants: deterministic; costs nothing on the trading path (only configuration handlers
are wrapped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from harbour.venue import commands as c
from harbour.venue.state import VenueState

Handler = Callable[[VenueState, int, int, Any, list[Any]], None]

CONFIGURATION_COMMANDS: Final[frozenset[type]] = frozenset(
    {
        c.ListAsset,
        c.SetIssuerRegister,
        c.SetDepositBankAllowlist,
        c.SetMarginAssetHaircut,
        c.SetEligibleReferenceAssets,
        c.ListInstrument,
        c.SetMarginTiers,
        c.SetMarkParameters,
        c.SetFundingParameters,
        c.SetIndexMethodology,
    }
)


def configuration_fingerprint(st: VenueState) -> bytes:
    """Canonical bytes of everything the configuration covers (not a hash: only compared)."""
    reg = st.registry
    return msgspec.msgpack.encode(
        [
            [msgspec.to_builtins(reg.assets[a]) for a in sorted(reg.assets)],
            sorted(reg.issuers),
            sorted(reg.banks),
            reg.register_ref,
            sorted(st.retail_spot_assets),
            sorted(st.iosco_indices),
            [
                [sym, msgspec.to_builtins(i.spec), msgspec.to_builtins(i.tier_spec), msgspec.to_builtins(i.mark_parameters), msgspec.to_builtins(i.funding_schedule)]
                for sym, i in sorted(st.instruments.items())
            ],
            [[sym, [msgspec.to_builtins(m) for m in versions]] for sym, versions in sorted(st.index_methodologies.items())],
        ]
    )


def versioned(handler: Handler) -> Handler:
    """``handler`` that also bumps the configuration version when it changed the configuration."""

    def apply(st: VenueState, seq: int, ts: int, cmd: Any, out: list[Any]) -> None:
        before = configuration_fingerprint(st)
        handler(st, seq, ts, cmd, out)
        if configuration_fingerprint(st) != before:
            st.config_version += 1
            st.config_since_seq = seq

    apply.__name__ = handler.__name__
    apply.__doc__ = handler.__doc__
    return apply
