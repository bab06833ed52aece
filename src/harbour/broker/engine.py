"""The broker engine: the single writer of broker state.

``apply(seq, ts_ns, command) -> list[event]`` is the only method that changes state. It
never reads the clock (time is the sequencer's stamp), draws no random numbers and does
no I/O, so the same journal always yields the same state and events. A broken business
rule yields a ``Rejected`` event and changes nothing; an exception out of ``apply`` is
a bug and stops the engine. The broker has its own journal stream: ``BrokerEngineFactory``
and ``CommandCodec(BrokerCommand)`` plug it into ``harbour.journal``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harbour.broker import commands as c
from harbour.broker.collateral import (
    buy_virtual_asset,
    deposit_cash,
    deposit_securities,
    deposit_virtual_asset,
    encumber_virtual_asset,
    withdraw_cash,
    withdraw_securities,
    withdraw_virtual_asset,
)
from harbour.broker.config import BrokerConfig
from harbour.broker.credit import change_credit_limit
from harbour.broker.events import MarginFigures, NavFigures
from harbour.broker.interest import accrue_interest
from harbour.broker.limits import record_book_figures, record_limit_exception
from harbour.broker.market import (
    configure,
    mark_security,
    mark_virtual_asset,
    mark_virtual_asset_feeds,
    record_average_daily_volume,
    review_margins,
    set_exchange_session,
    set_security_margin_ratio,
    set_security_suspended,
)
from harbour.broker.onboarding import open_facility, record_suitability, register_account
from harbour.broker.reconciliation import reconcile_custody, resolve_custody_break
from harbour.broker.rejects import render
from harbour.broker.state import BrokerState
from harbour.broker.validation import validate_config
from harbour.broker.valuation import client_figures, client_nav

Handler = Callable[[BrokerState, int, int, Any, list[Any]], None]

_HANDLERS: dict[type, Handler] = {
    c.ConfigureBroker: configure,
    c.SetSecurityMarginRatio: set_security_margin_ratio,
    c.SetSecuritySuspended: set_security_suspended,
    c.MarkSecurity: mark_security,
    c.MarkVirtualAsset: mark_virtual_asset,
    c.MarkVirtualAssetFeeds: mark_virtual_asset_feeds,
    c.SetExchangeSession: set_exchange_session,
    c.RecordAverageDailyVolume: record_average_daily_volume,
    c.AccrueInterest: accrue_interest,
    c.ReviewMargins: review_margins,
    c.RegisterSecuritiesMarginAccount: register_account,
    c.RecordVaSuitability: record_suitability,
    c.OpenVaFacility: open_facility,
    c.DepositCash: deposit_cash,
    c.DepositSecurities: deposit_securities,
    c.DepositVirtualAsset: deposit_virtual_asset,
    c.BuyVirtualAsset: buy_virtual_asset,
    c.WithdrawCash: withdraw_cash,
    c.WithdrawSecurities: withdraw_securities,
    c.WithdrawVirtualAsset: withdraw_virtual_asset,
    c.EncumberVirtualAsset: encumber_virtual_asset,
    c.ChangeCreditLimit: change_credit_limit,
    c.RecordBookFigures: record_book_figures,
    c.RecordLimitException: record_limit_exception,
    c.ReconcileCustody: reconcile_custody,
    c.ResolveCustodyBreak: resolve_custody_break,
}


def handled_command_types() -> frozenset[type]:
    return frozenset(_HANDLERS)


class BrokerEngine:
    __slots__ = ("state",)

    def __init__(self, state: BrokerState | None = None) -> None:
        self.state = state if state is not None else BrokerState()

    def apply(self, seq: int, ts_ns: int, command: c.BrokerCommand) -> list[Any]:
        out: list[Any] = []
        _HANDLERS[type(command)](self.state, seq, ts_ns, command, out)
        return out

    def state_hash(self) -> bytes:
        return self.state.state_hash()

    def snapshot(self) -> bytes:
        return self.state.encode()

    @classmethod
    def restore(cls, data: bytes) -> BrokerEngine:
        return cls(BrokerState.decode(data))

    # --- read-only queries -------------------------------------------------------------

    def figures(self, client: int) -> MarginFigures:
        """The client's margin figures now (house and FRR views)."""
        return client_figures(self.state, client)

    def loan(self, client: int) -> int:
        return self.state.loan(client)

    def nav(self, client: int) -> NavFigures:
        """The client's NAV and stressed NAV now (the credit-assessment basis, K1)."""
        return client_nav(self.state, client)


class BrokerEngineFactory:
    """Makes fresh engines (optionally with a non-default config) and restores snapshots."""

    def __init__(self, config: BrokerConfig | None = None) -> None:
        """Raise ValueError if ``config`` breaks a rule (for example a haircut below 60%)."""
        problem = validate_config(config) if config is not None else None
        if problem is not None:
            raise ValueError(f"invalid broker config: {render(*problem)}")
        self._config = config

    def new(self) -> BrokerEngine:
        return BrokerEngine(BrokerState(self._config))

    def restore(self, data: bytes) -> BrokerEngine:
        return BrokerEngine.restore(data)
