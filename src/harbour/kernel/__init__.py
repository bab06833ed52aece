"""Shared kernel: exact money arithmetic, id types, reject codes, clocks."""

from harbour.kernel.errors import InvariantBroken, RejectCode, render_reject
from harbour.kernel.ids import (
    AccountId,
    AssetId,
    ClientOrderId,
    InstrumentId,
    OrderId,
    TradeId,
    TransferId,
)
from harbour.kernel.money import (
    MICRO,
    MONEY_DECIMALS,
    div_round_down,
    div_round_up,
    format_units,
    parse_units,
)

__all__ = [
    "MICRO",
    "MONEY_DECIMALS",
    "AccountId",
    "AssetId",
    "ClientOrderId",
    "InstrumentId",
    "InvariantBroken",
    "OrderId",
    "RejectCode",
    "TradeId",
    "TransferId",
    "div_round_down",
    "div_round_up",
    "format_units",
    "parse_units",
    "render_reject",
]
