"""The venue engine: the single writer of venue state.

``apply(seq, ts_ns, command) -> list[event]`` is the only method that changes state.
It never reads the clock (time comes from the sequencer's stamp), draws no random
numbers and does no I/O, so applying the same journal always yields the same state
and the same events. A business rule broken by a command yields a ``Rejected`` event
and changes nothing; an exception out of ``apply`` is a bug and stops the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harbour.venue import commands as c
from harbour.venue.config import (
    list_asset,
    list_instrument,
    set_deposit_bank_allowlist,
    set_eligible_reference_assets,
    set_funding_parameters,
    set_fx_rate,
    set_instrument_state,
    set_issuer_register,
    set_margin_asset_haircut,
    set_margin_tiers,
    set_mark_parameters,
    set_reference_price,
)
from harbour.venue.config_version import CONFIGURATION_COMMANDS, versioned
from harbour.venue.funding import settle_funding
from harbour.venue.funds import (
    deposit,
    fund_platform_account,
    open_account,
    set_leverage,
    set_margin_mode,
    set_pi_status,
    transfer_isolated_margin,
    withdraw,
)
from harbour.venue.index_feed import publish_index, set_index_methodology
from harbour.venue.margin import cross_equity_and_requirement, unrealised_pnl
from harbour.venue.orders import amend_order, cancel_all_orders, cancel_order, place_order
from harbour.venue.risk_columns import RiskColumns
from harbour.venue.risk_reports import record_stress_report
from harbour.venue.state import VenueState
from harbour.venue.triggers import cancel_trigger_order, place_trigger_order

Handler = Callable[[VenueState, int, int, Any, list[Any]], None]

_HANDLERS: dict[type, Handler] = {
    c.ListAsset: list_asset,
    c.SetIssuerRegister: set_issuer_register,
    c.SetDepositBankAllowlist: set_deposit_bank_allowlist,
    c.SetMarginAssetHaircut: set_margin_asset_haircut,
    c.SetFxRate: set_fx_rate,
    c.SetEligibleReferenceAssets: set_eligible_reference_assets,
    c.ListInstrument: list_instrument,
    c.SetMarginTiers: set_margin_tiers,
    c.SetInstrumentState: set_instrument_state,
    c.SetReferencePrice: set_reference_price,
    c.OpenAccount: open_account,
    c.SetProfessionalInvestorStatus: set_pi_status,
    c.Deposit: deposit,
    c.Withdraw: withdraw,
    c.FundPlatformAccount: fund_platform_account,
    c.PlaceOrder: place_order,
    c.CancelOrder: cancel_order,
    c.CancelAllOrders: cancel_all_orders,
    c.AmendOrder: amend_order,
    c.PlaceTriggerOrder: place_trigger_order,
    c.CancelTriggerOrder: cancel_trigger_order,
    c.SetMarginMode: set_margin_mode,
    c.SetLeverage: set_leverage,
    c.TransferIsolatedMargin: transfer_isolated_margin,
    c.SettleFunding: settle_funding,
    c.SetMarkParameters: set_mark_parameters,
    c.SetFundingParameters: set_funding_parameters,
    c.SetIndexMethodology: set_index_methodology,
    c.PublishIndex: publish_index,
    c.RecordStressReport: record_stress_report,
}
# configuration commands also version the published rulebook (venue.config_version)
_HANDLERS.update({kind: versioned(_HANDLERS[kind]) for kind in CONFIGURATION_COMMANDS})


def handled_command_types() -> frozenset[type]:
    return frozenset(_HANDLERS)


class VenueEngine:
    __slots__ = ("state",)

    def __init__(self, state: VenueState | None = None) -> None:
        self.state = state if state is not None else VenueState()

    # --- the one writer ------------------------------------------------------------

    def apply(self, seq: int, ts_ns: int, command: c.VenueCommand) -> list[Any]:
        out: list[Any] = []
        st = self.state
        _HANDLERS[type(command)](st, seq, ts_ns, command, out)
        if st.risk_columns is not None:  # derived liquidation-scan columns follow the events (venue.risk_columns)
            st.risk_columns.observe(out)
        return out

    # --- state -----------------------------------------------------------------------

    def state_hash(self) -> bytes:
        return self.state.state_hash()

    def snapshot(self) -> bytes:
        return self.state.encode()

    @classmethod
    def restore(cls, data: bytes) -> VenueEngine:
        """The engine of a snapshot, with its derived liquidation-scan columns built now (when a
        mark exists to scan at), so neither the first mark update nor the first funding after a
        restart walks every account (about 4 s and 1.5 s at 10^6 accounts)."""
        state = VenueState.decode(data)
        if any(inst.ref_price for inst in state.instruments.values()):
            state.risk_columns = RiskColumns.build(state, [])
        return cls(state)

    # --- read-only queries (for the CLI, simulator, gateway and tests) ------------------

    def balance(self, account: int | str, asset: str) -> int:
        return self.state.ledger.balance(account, asset)

    def position_qty(self, account: int, instrument: str) -> int:
        acct = self.state.accounts.get(account)
        pos = acct.positions.get(instrument) if acct else None
        return pos.qty if pos else 0

    def unrealised_pnl(self, account: int, instrument: str) -> int:
        acct = self.state.accounts[account]
        pos = acct.positions.get(instrument)
        return unrealised_pnl(pos, self.state.instruments[instrument]) if pos else 0

    def equity_and_requirement(self, account: int) -> tuple[int, int]:
        return cross_equity_and_requirement(self.state, self.state.accounts[account])

    def open_order_ids(self, account: int) -> list[int]:
        acct = self.state.accounts.get(account)
        return sorted(acct.open_orders) if acct else []

    def open_interest(self, instrument: str) -> int:
        return sum(a.positions[instrument].qty for a in self.state.accounts.values() if instrument in a.positions and a.positions[instrument].qty > 0)


class VenueEngineFactory:
    """Makes fresh engines and restores them from snapshots (for the journal)."""

    def new(self) -> VenueEngine:
        return VenueEngine()

    def restore(self, data: bytes) -> VenueEngine:
        return VenueEngine.restore(data)
