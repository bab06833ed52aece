"""One-line builders and a test driver for the broker engine.

``Broker`` wraps a ``BrokerEngine``, stamps every command with the next seq and a
timestamp (1 ms apart unless told), and after every step:

- runs ``check_all`` on the state and fails on any finding;
- checks every event carries the command's seq and ts;
- checks every ``TransferPosted`` is balanced per asset;
- checks a rejected command emitted only its reject and left the state hash unchanged.

Units: money is HKD micro-units (``hkd(1)`` = 1 HKD); VA quantities are 1e-8 coin
(``coins(1)`` = 1 BTC); VA prices are HKD micro per coin; security prices HKD micro per
share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harbour.broker import VA_UNITS_PER_COIN, BrokerConfig, BrokerEngine, check_all
from harbour.broker.commands import (
    BuyVirtualAsset,
    DepositCash,
    DepositSecurities,
    DepositVirtualAsset,
    MarkSecurity,
    MarkVirtualAsset,
    OpenVaFacility,
    RecordBookFigures,
    RecordLimitException,
    RecordVaSuitability,
    RegisterSecuritiesMarginAccount,
    SetSecurityMarginRatio,
)
from harbour.broker.events import MarginFigures, Rejected, TransferPosted
from harbour.broker.state import BrokerState
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MICRO

from engine_steps import assert_step_well_formed

T0 = 1_770_768_000_000_000_000  # 2026-02-11T00:00:00Z (Wednesday 08:00 HKT) in ns
STEP_NS = 1_000_000
HOUR_NS = 3_600 * 10**9
BTC_100K = 100_000 * MICRO  # 100,000 HKD per BTC


def hkd(units: int) -> int:
    """Whole HKD in micro-units."""
    return units * MICRO


def coins(units: int) -> int:
    """Whole coins in VA units (1e-8)."""
    return units * VA_UNITS_PER_COIN


class Broker:
    """Test driver: the engine plus auto seq/ts and checks after every step."""

    def __init__(self, config: BrokerConfig | None = None) -> None:
        self.engine = BrokerEngine(BrokerState(config))
        self.seq = 0
        self.ts = T0
        self.commands: list[tuple[int, int, object]] = []
        self.events: list[object] = []
        self.last: list[object] = []

    # --- the one step ---------------------------------------------------------------

    def do(self, cmd: object, *, ts: int | None = None) -> list[object]:
        """Apply one command, then check invariants and the reject rule; return its events."""
        self.seq += 1
        self.ts = ts if ts is not None else self.ts + STEP_NS
        before = self.engine.state_hash()
        out = self.engine.apply(self.seq, self.ts, cmd)  # type: ignore[arg-type]
        self.commands.append((self.seq, self.ts, cmd))
        self.events.extend(out)
        self.last = out
        findings = check_all(self.engine.state)
        assert findings == [], f"invariants broken after {cmd!r}: {findings}"
        assert_step_well_formed(
            cmd,
            out,
            self.seq,
            self.ts,
            rejected_type=Rejected,
            transfer_type=TransferPosted,
            hash_before=before,
            hash_now=self.engine.state_hash,
        )
        return out

    def reject(self, cmd: object, code: RejectCode) -> Rejected:
        """Apply a command that must be rejected with ``code`` and change nothing."""
        before = self.engine.state_hash()
        out = self.do(cmd)
        assert len(out) == 1 and isinstance(out[0], Rejected), f"expected {code.name}, got {out!r}"
        assert out[0].reason == code.name, f"expected {code.name}, got {out[0].reason}: {out[0].message}"
        assert out[0].code == int(code)
        assert self.engine.state_hash() == before
        return out[0]

    def ok(self, cmd: object, *, ts: int | None = None) -> list[object]:
        """Apply a command that must not be rejected."""
        out = self.do(cmd, ts=ts)
        bad = [e for e in out if isinstance(e, Rejected)]
        assert not bad, f"unexpected reject: {bad[0].reason}: {bad[0].message}"
        return out

    # --- builders ----------------------------------------------------------------------

    def onboard(self, client: int, *, credit_limit: int = hkd(5_000_000), suitable: bool = True, facility: bool = True, related_group: str = "") -> int:
        """Register a securities margin client, record suitability and open the VA facility."""
        self.ok(RegisterSecuritiesMarginAccount(client=client, credit_limit=credit_limit, related_group=related_group))
        if suitable:
            self.ok(RecordVaSuitability(client=client, passed=True, reference="SUIT-1"))
        if facility:
            self.ok(OpenVaFacility(client=client))
        return client

    def mark_va(self, asset: str, price: int, *, ts: int | None = None) -> list[object]:
        return self.ok(MarkVirtualAsset(asset=asset, price=price), ts=ts)

    def list_security(self, code: str, margin_ratio_bps: int, price: int) -> None:
        self.ok(SetSecurityMarginRatio(security=code, margin_ratio_bps=margin_ratio_bps))
        self.ok(MarkSecurity(security=code, price=price))

    def mark_security(self, code: str, price: int) -> list[object]:
        return self.ok(MarkSecurity(security=code, price=price))

    def deposit_va(self, client: int, asset: str, qty: int, cost_price: int = BTC_100K) -> list[object]:
        return self.ok(DepositVirtualAsset(client=client, asset=asset, qty=qty, cost_price=cost_price))

    def deposit_shares(self, client: int, code: str, qty: int) -> list[object]:
        return self.ok(DepositSecurities(client=client, security=code, qty=qty))

    def deposit_cash(self, client: int, amount: int) -> list[object]:
        return self.ok(DepositCash(client=client, amount=amount))

    def buy(self, client: int, asset: str, qty: int, price: int) -> list[object]:
        return self.ok(BuyVirtualAsset(client=client, asset=asset, qty=qty, price=price))

    def book_figures(self, *, shareholders_funds: int = hkd(10**9), capital: int = hkd(10**9), securities_margin_loans: int = hkd(10**9)) -> None:
        """Record the book figures (C1-C4 in force from here); the defaults leave C2/C4 slack."""
        self.ok(RecordBookFigures(shareholders_funds=shareholders_funds, capital=capital, securities_margin_loans=securities_margin_loans))

    def waive_single_stock_limit(self, code: str = "0005") -> None:
        """A C5_STOCK register entry for ``code`` (tests of other limits on a book too small for its stock)."""
        self.ok(RecordLimitException(
            limit_id="C5_STOCK", client=0, instrument=code, justification="test book: C5 is tested on its own",
            approver="CRO", expiry_ns=self.ts + 365 * 24 * HOUR_NS,
        ))  # fmt: skip

    def mixed_client(self, client: int = 1, *, related_group: str = "", financed_btc: int = 4) -> int:
        """§2.2 mixed client: 1,000,000 of stock 0005 at 70%, then ``financed_btc`` BTC bought on loan at 100,000."""
        if "0005" not in self.state.securities:
            self.list_security("0005", 7_000, hkd(100))
        self.mark_va("BTC", BTC_100K)
        self.onboard(client, related_group=related_group)
        self.deposit_shares(client, "0005", 10_000)
        if financed_btc:
            self.buy(client, "BTC", coins(financed_btc), BTC_100K)
        return client

    def pure_va_client(self, client: int = 1) -> int:
        """§2.2: BTC worth 1,000,000 deposited, 400,000 borrowed to buy 4 more BTC at 100,000."""
        self.mark_va("BTC", BTC_100K)
        self.onboard(client)
        self.deposit_va(client, "BTC", coins(10))
        self.buy(client, "BTC", coins(4), BTC_100K)
        return client

    # --- reading -------------------------------------------------------------------------

    @property
    def state(self) -> BrokerState:
        return self.engine.state

    def hash(self) -> bytes:
        return self.engine.state_hash()

    def figures(self, client: int) -> MarginFigures:
        return self.engine.figures(client)

    def events_of(self, kind: type, events: Iterable[object] | None = None) -> list[Any]:
        return [e for e in (self.events if events is None else events) if isinstance(e, kind)]
