"""What the /hk/v1 endpoints read about the past: a projection of the venue's event stream.

Like ``readmodel`` (which feeds it from ``ReadModel.observe``, so a restart rebuilds it by
replaying the journal), it is not engine state: not in the state hash, not in snapshots.

Owns, per instrument or venue-wide, in emission order and bounded (oldest dropped first):
index prints (``IndexPublished``, each with its inputs, so it recomputes bit for bit);
liquidations, each from its ``LiquidationTriggered`` through its steps and deleveraging
trades to its ``LossReported`` (the layers of the published waterfall that paid);
funding settlements (``FundingSettled``, with their interval); instrument state changes;
margin-asset register updates; each account's professional-investor status changes.
Running totals of what each waterfall layer paid are kept since genesis (not bounded).

The journal keeps every record for the retention periods (regulation.md A4 item 51, A8);
these windows only bound what the API answers from memory.

Runs only on the writer thread, like the engine: no locks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from harbour.venue.events import (
    AccountOpened,
    AssetListed,
    AutoDeleveraged,
    DepositBankAllowlistUpdated,
    FundingSettled,
    IndexPublished,
    InstrumentStateChanged,
    IssuerRegisterUpdated,
    LiquidationStepped,
    LiquidationTriggered,
    LossReported,
    MarginAssetHaircutSet,
    ProfessionalInvestorStatusSet,
)

MAX_PRINTS_PER_INSTRUMENT: Final = 5_000
MAX_LIQUIDATIONS: Final = 2_000
MAX_FUNDING_PER_INSTRUMENT: Final = 1_000
MAX_STATE_CHANGES: Final = 1_000
MAX_REGISTER_UPDATES: Final = 1_000
MAX_PI_CHANGES_PER_ACCOUNT: Final = 100

RegisterUpdate = AssetListed | IssuerRegisterUpdated | DepositBankAllowlistUpdated | MarginAssetHaircutSet


@dataclass(slots=True, kw_only=True)
class Liquidation:
    """One liquidation of one scope of an account, as its events told it."""

    liquidation_id: str  # "<seq>-<n>": the n-th liquidation of the command at seq (1-based)
    seq: int
    ts_ns: int
    account: int
    scope: str  # the isolated instrument, or "" for the cross part
    currency: str
    margin_balance: int
    maintenance: int
    steps: list[LiquidationStepped] = field(default_factory=list)
    adl: list[AutoDeleveraged] = field(default_factory=list)
    report: LossReported | None = None

    def involves(self, account: int) -> bool:
        return self.account == account or any(a.counterparty == account for a in self.adl)


@dataclass(frozen=True, slots=True, kw_only=True)
class PiChange:
    seq: int
    ts_ns: int
    old_expiry_ns: int
    new_expiry_ns: int


class VenueRecords:
    """The records behind /hk/v1, folded from every command's events in order."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.last_ts_ns = 0
        self.prints: dict[str, deque[IndexPublished]] = {}
        self.liquidations: deque[Liquidation] = deque(maxlen=MAX_LIQUIDATIONS)
        self.layer_totals: dict[tuple[str, str], int] = {}  # (layer, asset) -> paid since genesis
        self.liquidation_count = 0
        self.adl_trade_count = 0
        self.funding: dict[str, deque[FundingSettled]] = {}
        self.state_changes: deque[InstrumentStateChanged] = deque(maxlen=MAX_STATE_CHANGES)
        self.register_updates: deque[RegisterUpdate] = deque(maxlen=MAX_REGISTER_UPDATES)
        self.pi_changes: dict[int, deque[PiChange]] = {}
        self._open: Liquidation | None = None
        self._in_command = 0

    def observe(self, seq: int, ts_ns: int, command: object, events: list[object]) -> None:
        if seq != self.last_seq:
            self._in_command = 0
        self.last_seq, self.last_ts_ns = seq, ts_ns
        for event in events:
            kind = type(event)
            if kind is IndexPublished:
                self._print(event)  # type: ignore[arg-type]
            elif kind is LiquidationTriggered:
                self._triggered(event)  # type: ignore[arg-type]
            elif kind is LiquidationStepped:
                if self._open is not None:
                    self._open.steps.append(event)  # type: ignore[arg-type]
            elif kind is AutoDeleveraged:
                self.adl_trade_count += 1
                if self._open is not None:
                    self._open.adl.append(event)  # type: ignore[arg-type]
            elif kind is LossReported:
                self._reported(event)  # type: ignore[arg-type]
            elif kind is FundingSettled:
                self._funding(event)  # type: ignore[arg-type]
            elif kind is InstrumentStateChanged:
                self.state_changes.append(event)  # type: ignore[arg-type]
            elif kind in (AssetListed, IssuerRegisterUpdated, DepositBankAllowlistUpdated, MarginAssetHaircutSet):
                self.register_updates.append(event)  # type: ignore[arg-type]
            elif kind is AccountOpened:
                self._pi(event.account, PiChange(seq=seq, ts_ns=ts_ns, old_expiry_ns=0, new_expiry_ns=event.pi_expiry_ns))  # type: ignore[attr-defined]
            elif kind is ProfessionalInvestorStatusSet:
                e: ProfessionalInvestorStatusSet = event  # type: ignore[assignment]
                self._pi(e.account, PiChange(seq=seq, ts_ns=ts_ns, old_expiry_ns=e.old_expiry_ns, new_expiry_ns=e.new_expiry_ns))

    def _print(self, e: IndexPublished) -> None:
        rows = self.prints.get(e.instrument)
        if rows is None:
            rows = self.prints[e.instrument] = deque(maxlen=MAX_PRINTS_PER_INSTRUMENT)
        rows.append(e)

    def _funding(self, e: FundingSettled) -> None:
        rows = self.funding.get(e.instrument)
        if rows is None:
            rows = self.funding[e.instrument] = deque(maxlen=MAX_FUNDING_PER_INSTRUMENT)
        rows.append(e)

    def _triggered(self, e: LiquidationTriggered) -> None:
        self._in_command += 1
        self._open = Liquidation(
            liquidation_id=f"{e.seq}-{self._in_command}",
            seq=e.seq,
            ts_ns=e.ts_ns,
            account=e.account,
            scope=e.scope,
            currency=e.currency,
            margin_balance=e.margin_balance,
            maintenance=e.maintenance,
        )

    def _reported(self, e: LossReported) -> None:
        rec = self._open
        if rec is None or rec.account != e.account or rec.scope != e.scope:
            # a report without its trigger (not emitted today): keep it on its own
            self._in_command += 1
            rec = Liquidation(
                liquidation_id=f"{e.seq}-{self._in_command}",
                seq=e.seq,
                ts_ns=e.ts_ns,
                account=e.account,
                scope=e.scope,
                currency="",
                margin_balance=0,
                maintenance=0,
            )
        rec.report = e
        self._open = None
        self.liquidations.append(rec)
        self.liquidation_count += 1
        for layer, asset, amount in e.layers:
            self.layer_totals[(layer, asset)] = self.layer_totals.get((layer, asset), 0) + amount

    def _pi(self, account: int, change: PiChange) -> None:
        rows = self.pi_changes.get(account)
        if rows is None:
            rows = self.pi_changes[account] = deque(maxlen=MAX_PI_CHANGES_PER_ACCOUNT)
        rows.append(change)
