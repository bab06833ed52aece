"""What a session's liquidations and funding cost, tallied from the venue's events alone.

Owns ``WaterfallTally``: fed every event of a session in order, it adds up the
liquidations (``LiquidationTriggered`` .. ``LossReported``), the fills and deleveraging
trades that closed them, the layers of the published waterfall as each ``LossReported``
states them, the ADL counterparties, every posting to ``DEFICIT`` and the funding
settlements. It reads nothing but events, so anyone holding the journal can recompute
every figure by replaying it (``tests/cli`` does).

Conventions: money is integer micro-units of the asset named with it; quantities are
instrument quantity units (lots); notional is price x qty x unit value in the
instrument's settlement asset. A liquidation's fills are the ``TradeExecuted`` events
between its ``LiquidationTriggered`` and its ``LossReported`` (the engine emits nothing
else's trades in between).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harbour.venue.events import (
    AutoDeleveraged,
    FundingSettled,
    LiquidationStepped,
    LiquidationTriggered,
    LossReported,
    TradeExecuted,
    TransferPosted,
)
from harbour.venue.state import DEFICIT

_FEE_ROW = "LIQUIDATION_FEE"


def _add(into: dict[str, int], key: str, amount: int) -> None:
    into[key] = into.get(key, 0) + amount


@dataclass(frozen=True, slots=True)
class MarketTerms:
    """What the tally needs to know of an instrument."""

    settlement_asset: str
    unit_value: int  # settlement micro-units per price unit x quantity unit


@dataclass(slots=True, kw_only=True)
class WaterfallTally:
    """Liquidation, loss-waterfall and funding figures of a session, from its events."""

    markets: dict[str, MarketTerms]
    liquidations: int = 0  # LiquidationTriggered: a scope of an account fell below maintenance
    accounts_liquidated: set[int] = field(default_factory=set)
    steps: int = 0
    closed_qty: dict[str, int] = field(default_factory=dict)  # instrument -> |qty| closed
    closed_notional: dict[str, int] = field(default_factory=dict)  # instrument -> fills and ADL at their prices
    book_qty: dict[str, int] = field(default_factory=dict)  # ... no worse than the bankruptcy price
    backstop_qty: dict[str, int] = field(default_factory=dict)  # ... beyond it, paid by the fund / tranche
    adl_qty: dict[str, int] = field(default_factory=dict)  # ... deleveraged
    layers: dict[str, dict[str, int]] = field(default_factory=dict)  # LossReported row -> asset -> amount
    adl_trades: int = 0
    adl_counterparties: dict[int, int] = field(default_factory=dict)  # account -> qty taken over
    deficit_postings: dict[str, int] = field(default_factory=dict)  # asset -> signed sum posted to DEFICIT
    funding_settlements: int = 0
    funding_paid: dict[str, int] = field(default_factory=dict)  # settlement asset -> total paid by payers
    funding_received: dict[str, int] = field(default_factory=dict)
    funding_residue: dict[str, int] = field(default_factory=dict)  # to the insurance fund
    funding_shortfall: dict[str, int] = field(default_factory=dict)  # covered by the platform layers
    _open: int | None = None  # the account whose liquidation is under way

    def add(self, events: list[object]) -> None:
        """Take the events of one command, in emission order."""
        for event in events:
            kind = type(event)
            if kind is TransferPosted:
                self._transfer(event)  # type: ignore[arg-type]
            elif kind is TradeExecuted:
                if self._open is not None:
                    self._fill(event)  # type: ignore[arg-type]
            elif kind is LiquidationTriggered:
                self.liquidations += 1
                self._open = event.account  # type: ignore[attr-defined]
                self.accounts_liquidated.add(event.account)  # type: ignore[attr-defined]
            elif kind is LiquidationStepped:
                self._step(event)  # type: ignore[arg-type]
            elif kind is AutoDeleveraged:
                self._adl(event)  # type: ignore[arg-type]
            elif kind is LossReported:
                self._loss(event)  # type: ignore[arg-type]
            elif kind is FundingSettled:
                self._funding(event)  # type: ignore[arg-type]

    # --- figures ---------------------------------------------------------------------

    def layer(self, name: str) -> dict[str, int]:
        """Asset -> amount of one ``LossReported`` row kind (e.g. INSURANCE_FUND), summed."""
        return dict(sorted(self.layers.get(name, {}).items()))

    @property
    def liquidation_fees(self) -> dict[str, int]:
        """The liquidation fees paid to the insurance fund (income, not a draw)."""
        return self.layer(_FEE_ROW)

    @property
    def deficit(self) -> dict[str, int]:
        """DEFICIT outstanding at the end, per asset (a positive amount is a loss no layer covered)."""
        return {asset: -amount for asset, amount in sorted(self.deficit_postings.items()) if amount}

    def to_dict(self) -> dict[str, object]:
        def ordered(d: dict[str, int]) -> dict[str, int]:
            return dict(sorted(d.items()))

        return {
            "liquidations": self.liquidations,
            "accounts_liquidated": len(self.accounts_liquidated),
            "steps": self.steps,
            "closed_qty": ordered(self.closed_qty),
            "closed_notional": ordered(self.closed_notional),
            "book_qty": ordered(self.book_qty),
            "backstop_qty": ordered(self.backstop_qty),
            "adl_qty": ordered(self.adl_qty),
            "liquidation_fees_to_insurance_fund": self.liquidation_fees,
            "defaulter_margin": self.layer("DEFAULTER_MARGIN"),
            "defaulter_gains_realised": self.layer("DEFAULTER_GAINS"),
            "insurance_fund_paid": self.layer("INSURANCE_FUND"),
            "operator_tranche_paid": self.layer("OPERATOR_TRANCHE"),
            "deficit_in_liquidations": self.layer("DEFICIT"),
            "layers": {name: self.layer(name) for name in sorted(self.layers)},
            "adl_trades": self.adl_trades,
            "adl_counterparties": {str(a): q for a, q in sorted(self.adl_counterparties.items())},
            "deficit_outstanding": self.deficit,
            "funding": {
                "settlements": self.funding_settlements,
                "paid": ordered(self.funding_paid),
                "received": ordered(self.funding_received),
                "residue_to_insurance_fund": ordered(self.funding_residue),
                "shortfall_covered": ordered(self.funding_shortfall),
            },
        }

    # --- events --------------------------------------------------------------------------

    def _transfer(self, t: TransferPosted) -> None:
        for account, asset, amount in t.postings:
            if account == DEFICIT:
                _add(self.deficit_postings, asset, amount)

    def _fill(self, t: TradeExecuted) -> None:
        m = self.markets[t.instrument]
        _add(self.closed_notional, t.instrument, t.price * t.qty * m.unit_value)

    def _step(self, s: LiquidationStepped) -> None:
        self.steps += 1
        _add(self.book_qty, s.instrument, s.book_qty)
        _add(self.backstop_qty, s.instrument, s.backstop_qty)
        _add(self.adl_qty, s.instrument, s.adl_qty)

    def _adl(self, a: AutoDeleveraged) -> None:
        m = self.markets[a.instrument]
        self.adl_trades += 1
        self.adl_counterparties[a.counterparty] = self.adl_counterparties.get(a.counterparty, 0) + a.qty
        _add(self.closed_notional, a.instrument, a.price * a.qty * m.unit_value)

    def _loss(self, r: LossReported) -> None:
        self._open = None
        for sym, qty in r.closed:
            _add(self.closed_qty, sym, qty if qty > 0 else -qty)
        for name, asset, amount in r.layers:
            _add(self.layers.setdefault(name, {}), asset, amount)

    def _funding(self, f: FundingSettled) -> None:
        asset = self.markets[f.instrument].settlement_asset
        self.funding_settlements += 1
        _add(self.funding_paid, asset, f.total_paid)
        _add(self.funding_received, asset, f.total_received)
        _add(self.funding_residue, asset, f.residue)
        _add(self.funding_shortfall, asset, f.shortfall_covered)
