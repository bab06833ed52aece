"""Id types. Each id is its own type (zero cost at run time, checked by mypy).

Text forms: AccountId and OrderId are decimal integers; InstrumentId is the symbol
(``BTCUSD``); AssetId is the asset code (``HKD``). Ids the core assigns are derived
from the journal sequence (OrderId = seq of the PlaceOrder command) or from counters
held in engine state, never from uuid4 or random, so replay reproduces them.
"""

from __future__ import annotations

from typing import NewType

AccountId = NewType("AccountId", int)
OrderId = NewType("OrderId", int)
TradeId = NewType("TradeId", int)
TransferId = NewType("TransferId", int)
InstrumentId = NewType("InstrumentId", str)
AssetId = NewType("AssetId", str)
ClientOrderId = NewType("ClientOrderId", str)
