"""Every reject code the venue can emit, triggered by a command that changes nothing.

Each row arranges a venue and returns the offending command. The test applies it and
checks: exactly one Rejected event with that code, the state hash unchanged, and a
message rendered from the structured detail (every detail value appears in it).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

import harbour.venue
from harbour.kernel.assets import AssetKind
from harbour.kernel.errors import RejectCode
from harbour.venue import rejects
from harbour.venue.commands import (
    AccountKind,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CancelTriggerOrder,
    Deposit,
    ListAsset,
    ListInstrument,
    OpenAccount,
    PlaceOrder,
    PlaceTriggerOrder,
    PublishIndex,
    SetFundingParameters,
    SetFxRate,
    SetInstrumentState,
    SetLeverage,
    SetMarginAssetHaircut,
    SetMarginMode,
    SetMarkParameters,
    SetProfessionalInvestorStatus,
    SetReferencePrice,
    SettleFunding,
    TransferIsolatedMargin,
    TriggerKind,
    Withdraw,
    WorkingType,
)

from venue.helpers import (
    BTC_REF,
    BTCUSD,
    BUY,
    CLOSE_ONLY,
    ETH_REF,
    ETHHKD,
    FOK,
    HALTED,
    MARKET,
    POST_ONLY,
    SELL,
    STEP_NS,
    Venue,
    drive_into_deficit,
    hkd,
    instrument_spec,
    usd,
)

C = RejectCode
Arrange = Callable[[Venue], object]


def _client(v: Venue, account: int = 1) -> int:
    return v.open_client(account, usd=1_000_000, hkd=1_000_000)


def _order(account: int = 1, instrument: str = BTCUSD, qty: int = 1, price: int = BTC_REF, **kw: object) -> PlaceOrder:
    return PlaceOrder(account=account, instrument=instrument, side=kw.pop("side", BUY), qty=qty, price=price, **kw)  # type: ignore[arg-type]


def _resting(v: Venue, price: int = BTC_REF - 100, qty: int = 2) -> int:
    _client(v)
    return v.rest(1, BTCUSD, BUY, qty, price)


def _long(v: Venue, qty: int = 2) -> None:
    _client(v, 1)
    _client(v, 2)
    v.cross(2, 1, BTCUSD, BUY, qty, BTC_REF)


def _odd_lots(v: Venue) -> None:
    _client(v)
    v.ok(instrument_spec(lot=5, min_qty=10, max_qty=1_000))
    v.set_ref("BTCHKD", 74_100_000)


def _isolated_with_nothing(v: Venue) -> PlaceOrder:
    _client(v)
    v.set_isolated(1, ETHHKD)
    return _order(instrument=ETHHKD, qty=1_000, price=ETH_REF)


def _expired(v: Venue) -> PlaceOrder:
    v.open_client(1, usd=1_000_000, pi_expiry_ns=v.ts + 2 * STEP_NS)
    v.ok(SetProfessionalInvestorStatus(account=1, expiry_ns=v.ts))
    return _order()


def _no_pi_status(v: Venue) -> PlaceOrder:
    v.open_client(1, usd=1_000_000, pi_expiry_ns=0)
    return _order()


def _beyond_largest_bracket(v: Venue) -> PlaceOrder:
    v.open_client(1, usd=60_000_000)
    for _ in range(5):
        v.rest(1, BTCUSD, BUY, 100_000, BTC_REF)
    return _order(qty=100_000)


def _deficit(v: Venue) -> Withdraw:
    v.restart(platform_funding=False)  # an empty insurance fund and tranche: the loss beyond margin goes to DEFICIT
    drive_into_deficit(v)
    return Withdraw(account=9, asset="USD", amount=usd(1))


def _amend_no_change(v: Venue) -> AmendOrder:
    order = _resting(v)
    return AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF - 100, qty=2)


def _amend_cross(v: Venue) -> AmendOrder:
    order = _resting(v)
    _client(v, 2)
    v.rest(2, BTCUSD, SELL, 1, BTC_REF)
    return AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF, qty=2)


def _amend_halted(v: Venue) -> AmendOrder:
    order = _resting(v)
    v.set_state(BTCUSD, HALTED)
    return AmendOrder(account=1, instrument=BTCUSD, order_id=order, price=BTC_REF - 100, qty=1)


def _amend_margin(v: Venue) -> AmendOrder:
    v.open_client(1, hkd=1_300)
    order = v.rest(1, ETHHKD, BUY, 1_000, ETH_REF)
    return AmendOrder(account=1, instrument=ETHHKD, order_id=order, price=ETH_REF, qty=1_001)


def _duplicate(v: Venue) -> PlaceOrder:
    _client(v)
    v.rest(1, BTCUSD, BUY, 1, BTC_REF - 10, client_order_id="dup")
    return _order(price=BTC_REF - 20, client_order_id="dup")


def _fok(v: Venue) -> PlaceOrder:
    _client(v, 1)
    _client(v, 2)
    v.rest(2, BTCUSD, SELL, 1, BTC_REF)
    return _order(qty=2, tif=FOK)


def _post_only(v: Venue) -> PlaceOrder:
    _client(v, 1)
    _client(v, 2)
    v.rest(2, BTCUSD, SELL, 1, BTC_REF)
    return _order(tif=POST_ONLY)


def _sgd_listing(v: Venue) -> ListInstrument:
    v.ok(ListAsset(asset="SGD", kind=AssetKind.FIAT, currency="SGD", granularity=10_000))
    return instrument_spec(instrument="BTCSGD", settlement_asset="SGD")


def _free_collateral(v: Venue) -> Withdraw:
    v.open_client(1, hkd=2_000)
    v.rest(1, ETHHKD, BUY, 1_000, ETH_REF)
    return Withdraw(account=1, asset="HKD", amount=hkd(701))


def _isolated_out(v: Venue) -> TransferIsolatedMargin:
    v.open_client(1, hkd=10_000)
    v.set_isolated(1, ETHHKD)
    v.ok(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=1_300_000_000))
    v.rest(1, ETHHKD, BUY, 1_000, ETH_REF - 10)
    return TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=-1)


def _mode_change(v: Venue) -> SetMarginMode:
    _resting(v)
    return SetMarginMode(account=1, instrument=BTCUSD, isolated=True)


def _close_only(v: Venue) -> PlaceOrder:
    _client(v)
    v.set_state(BTCUSD, CLOSE_ONLY)
    return _order()


def _halted(v: Venue) -> PlaceOrder:
    _client(v)
    v.set_state(BTCUSD, HALTED)
    return _order()


def _no_reference(v: Venue) -> PlaceOrder:
    _client(v)
    v.ok(instrument_spec())
    return _order(instrument="BTCHKD", price=74_100_000)


def _under_margined(v: Venue) -> PlaceOrder:
    v.open_client(1, hkd=100)
    return _order(instrument=ETHHKD, qty=1_000, price=ETH_REF)


def _unknown_order_cancel(v: Venue) -> CancelOrder:
    _client(v)
    return CancelOrder(account=1, instrument=BTCUSD, order_id=424242)


def _unknown_order_amend(v: Venue) -> AmendOrder:
    _client(v)
    return AmendOrder(account=1, instrument=BTCUSD, order_id=424242, price=BTC_REF, qty=1)


def _withdraw_more(v: Venue) -> Withdraw:
    v.open_client(1, hkd=10)
    return Withdraw(account=1, asset="HKD", amount=hkd(11))


def _reduce_increase(v: Venue) -> PlaceOrder:
    _long(v)
    return _order(side=SELL, qty=3, reduce_only=True)


def _funding(instrument: str = BTCUSD, rate_e8: int = 10_000, interval_ns: int = 8 * 3_600 * 10**9, mark_price: int = BTC_REF) -> SettleFunding:
    return SettleFunding(instrument=instrument, rate_e8=rate_e8, interval_ns=interval_ns, mark_price=mark_price)


def _funding_parameters(**overrides: object) -> SetFundingParameters:
    """BTCUSD's house funding terms (as genesis sets them), with ``overrides``."""
    fields: dict[str, object] = dict(
        instrument=BTCUSD,
        interval_ns=8 * 3_600 * 10**9,
        interest_rate_e8=10_000,
        dampener_e8=50_000,
        cap_fraction_bps=7_500,
        premium_sample_interval_ns=5 * 10**9,
        impact_notional=usd(25_000),
    )
    fields.update(overrides)
    return SetFundingParameters(**fields)  # type: ignore[arg-type]


def _account(v: Venue) -> None:
    _client(v)


def _trigger(v: Venue, **kw: object) -> PlaceTriggerOrder:
    """A funded client's sell stop on the mark (override any field)."""
    _client(v)
    fields: dict[str, object] = {"qty": 1, "trigger_price": BTC_REF - 1_000, "working_type": WorkingType.MARK}
    fields.update(kw)
    return PlaceTriggerOrder(account=1, instrument=BTCUSD, side=fields.pop("side", SELL), kind=fields.pop("kind", TriggerKind.STOP_MARKET), **fields)  # type: ignore[arg-type]


def _too_many_triggers(v: Venue) -> PlaceTriggerOrder:
    command = _trigger(v)
    for i in range(10):
        v.ok(msgspec.structs.replace(command, trigger_price=BTC_REF - 1_000 - i * 10))
    return command


# (test id, expected code, arrange): arrange sets the venue up and returns the offending command
CASES: list[tuple[str, RejectCode, Arrange]] = [
    ("place-unknown-account", C.UNKNOWN_ACCOUNT, lambda v: _order(account=999)),
    ("deposit-unknown-account", C.UNKNOWN_ACCOUNT, lambda v: Deposit(account=999, asset="HKD", amount=hkd(1))),
    ("cancel-all-unknown-account", C.UNKNOWN_ACCOUNT, lambda v: CancelAllOrders(account=999)),
    ("place-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda v: (_account(v), _order(instrument="DOGEUSD"))[1]),
    ("reference-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda v: SetReferencePrice(instrument="DOGEUSD", price=10)),
    ("state-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda v: SetInstrumentState(instrument="DOGEUSD", state=HALTED)),
    ("deposit-unknown-asset", C.UNKNOWN_ASSET, lambda v: (_account(v), Deposit(account=1, asset="XYZ", amount=1))[1]),
    ("haircut-unknown-asset", C.UNKNOWN_ASSET, lambda v: SetMarginAssetHaircut(asset="XYZ", haircut_bps=10)),
    ("qty-zero", C.QUANTITY_NOT_POSITIVE, lambda v: (_account(v), _order(qty=0))[1]),
    ("price-negative", C.PRICE_NOT_POSITIVE, lambda v: (_account(v), _order(price=-10))[1]),
    ("reference-zero", C.PRICE_NOT_POSITIVE, lambda v: SetReferencePrice(instrument=BTCUSD, price=0)),
    ("price-off-tick", C.PRICE_OFF_TICK, lambda v: (_account(v), _order(price=BTC_REF + 5))[1]),
    ("qty-off-lot", C.QUANTITY_OFF_LOT, lambda v: (_odd_lots(v), _order(instrument="BTCHKD", qty=12, price=74_100_000))[1]),
    ("qty-below-min", C.QUANTITY_BELOW_MINIMUM, lambda v: (_odd_lots(v), _order(instrument="BTCHKD", qty=5, price=74_100_000))[1]),
    ("qty-above-max", C.QUANTITY_ABOVE_MAXIMUM, lambda v: (_account(v), _order(qty=100_001))[1]),
    ("duplicate-client-order-id", C.DUPLICATE_CLIENT_ORDER_ID, _duplicate),
    ("cancel-unknown-order", C.UNKNOWN_ORDER, _unknown_order_cancel),
    ("amend-unknown-order", C.UNKNOWN_ORDER, _unknown_order_amend),
    ("deposit-zero", C.AMOUNT_NOT_POSITIVE, lambda v: (_account(v), Deposit(account=1, asset="HKD", amount=0))[1]),
    ("isolated-transfer-zero", C.AMOUNT_NOT_POSITIVE, lambda v: (_account(v), v.set_isolated(1, ETHHKD), TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=0))[2]),
    ("deposit-past-holdings-ceiling", C.AMOUNT_TOO_LARGE, lambda v: (_account(v), Deposit(account=1, asset="HKD", amount=10**16))[1]),
    ("reference-past-price-ceiling", C.INVALID_PARAMETER, lambda v: SetReferencePrice(instrument=BTCUSD, price=10**13)),
    ("deposit-sub-cent", C.AMOUNT_OFF_GRANULARITY, lambda v: (_account(v), Deposit(account=1, asset="USD", amount=5_000))[1]),
    ("account-exists", C.ACCOUNT_ALREADY_EXISTS, lambda v: (_account(v), OpenAccount(account=1, kind=AccountKind.CLIENT))[1]),
    ("instrument-listed", C.INSTRUMENT_ALREADY_LISTED, lambda v: instrument_spec(instrument=ETHHKD)),
    ("asset-listed", C.ASSET_ALREADY_LISTED, lambda v: ListAsset(asset="HKD", kind=AssetKind.FIAT, currency="HKD")),
    ("listing-bad-tick", C.INVALID_PARAMETER, lambda v: instrument_spec(tick=0)),
    ("asset-bad-haircut", C.INVALID_PARAMETER, lambda v: ListAsset(asset="HKDZ", kind=AssetKind.STABLECOIN, currency="HKD", haircut_bps=10_000)),
    ("fx-zero", C.INVALID_PARAMETER, lambda v: SetFxRate(base="USD", quote="HKD", rate_e8=0)),
    ("haircut-out-of-range", C.INVALID_PARAMETER, lambda v: SetMarginAssetHaircut(asset="HKDX", haircut_bps=10_000)),
    ("limit-without-price", C.PRICE_REQUIRED, lambda v: (_account(v), _order(price=0))[1]),
    ("market-with-price", C.PRICE_NOT_ALLOWED, lambda v: (_account(v), _order(order_type=MARKET))[1]),
    ("amend-no-change", C.AMEND_NO_CHANGE, _amend_no_change),
    ("listing-without-fx", C.FX_RATE_MISSING, _sgd_listing),
    ("place-insufficient-margin", C.INSUFFICIENT_MARGIN, _under_margined),
    ("amend-insufficient-margin", C.INSUFFICIENT_MARGIN, _amend_margin),
    ("withdraw-free-collateral", C.INSUFFICIENT_FREE_COLLATERAL, _free_collateral),
    ("reduce-only-increase", C.REDUCE_ONLY_WOULD_INCREASE, _reduce_increase),
    ("reduce-only-no-position", C.REDUCE_ONLY_NO_POSITION, lambda v: (_account(v), _order(reduce_only=True))[1]),
    ("no-reference-price", C.NO_REFERENCE_PRICE, _no_reference),
    ("price-outside-band", C.PRICE_OUTSIDE_BAND, lambda v: (_account(v), _order(price=BTC_REF * 2))[1]),
    ("margin-mode-exposure", C.MARGIN_MODE_CHANGE_WITH_EXPOSURE, _mode_change),
    ("isolated-order", C.INSUFFICIENT_ISOLATED_MARGIN, _isolated_with_nothing),
    ("leverage-out-of-range", C.LEVERAGE_OUT_OF_RANGE, lambda v: (_client(v), SetLeverage(account=1, instrument=BTCUSD, leverage=21))[1]),
    ("position-beyond-largest-bracket", C.POSITION_LIMIT_EXCEEDED, _beyond_largest_bracket),
    ("isolated-transfer-out", C.INSUFFICIENT_ISOLATED_MARGIN, _isolated_out),
    ("post-only-cross", C.POST_ONLY_WOULD_CROSS, _post_only),
    ("fok-not-fillable", C.FOK_NOT_FILLABLE, _fok),
    ("place-halted", C.INSTRUMENT_HALTED, _halted),
    ("amend-halted", C.INSTRUMENT_HALTED, _amend_halted),
    ("place-close-only", C.INSTRUMENT_CLOSE_ONLY, _close_only),
    ("amend-cross", C.AMEND_WOULD_CROSS, _amend_cross),
    ("withdraw-more-than-balance", C.INSUFFICIENT_BALANCE, _withdraw_more),
    ("withdraw-during-deficit", C.WITHDRAWALS_PAUSED, _deficit),
    ("pi-expired", C.PROFESSIONAL_INVESTOR_STATUS_EXPIRED, _expired),
    ("pi-never-held", C.NOT_PROFESSIONAL_INVESTOR, _no_pi_status),
    ("deposit-unregistered-stablecoin", C.MARGIN_ASSET_NOT_ELIGIBLE, lambda v: (_account(v), Deposit(account=1, asset="HKDY", amount=1))[1]),
    ("deposit-virtual-asset", C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN, lambda v: (_account(v), Deposit(account=1, asset="ETH", amount=1))[1]),
    ("haircut-virtual-asset", C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN, lambda v: SetMarginAssetHaircut(asset="BTC", haircut_bps=6_000)),
    ("listing-ineligible-reference", C.REFERENCE_ASSET_NOT_ELIGIBLE, lambda v: instrument_spec(instrument="SOLHKD", reference="SOL")),
    ("listing-no-approval", C.SFC_APPROVAL_MISSING, lambda v: instrument_spec(sfc_approval_ref="")),
    ("funding-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda v: _funding(instrument="DOGEUSD")),
    ("funding-interval-above-24h", C.INVALID_PARAMETER, lambda v: (_long(v), _funding(interval_ns=24 * 3_600 * 10**9 + 1))[1]),
    ("funding-rate-beyond-bound", C.INVALID_PARAMETER, lambda v: (_long(v), _funding(rate_e8=-(10**8) - 1))[1]),
    ("funding-mark-zero", C.PRICE_NOT_POSITIVE, lambda v: (_long(v), _funding(mark_price=0))[1]),
    ("funding-interval-not-configured", C.FUNDING_INTERVAL_MISMATCH, lambda v: (_long(v), _funding(interval_ns=3_600 * 10**9))[1]),
    ("funding-parameters-interval-above-24h", C.FUNDING_INTERVAL_OUT_OF_RANGE, lambda v: _funding_parameters(interval_ns=25 * 3_600 * 10**9)),
    ("funding-parameters-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda v: _funding_parameters(instrument="DOGEUSD")),
    ("premium-sample-not-dividing-interval", C.PREMIUM_SAMPLE_INTERVAL_INVALID, lambda v: _funding_parameters(premium_sample_interval_ns=7 * 10**9)),
    ("funding-dampener-negative", C.FUNDING_RATE_TERM_OUT_OF_RANGE, lambda v: _funding_parameters(dampener_e8=-1)),
    ("funding-cap-fraction-zero", C.FUNDING_CAP_FRACTION_OUT_OF_RANGE, lambda v: _funding_parameters(cap_fraction_bps=0)),
    ("impact-notional-zero", C.IMPACT_NOTIONAL_OUT_OF_RANGE, lambda v: _funding_parameters(impact_notional=0)),
    ("funding-weighting-malformed", C.MALFORMED_COMMAND, lambda v: _funding_parameters(weighting="CUBIC")),
    ("mark-basis-window-zero", C.MARK_BASIS_WINDOW_OUT_OF_RANGE, lambda v: SetMarkParameters(instrument=BTCUSD, basis_window_ns=0, basis_sample_interval_ns=1)),
    ("mark-basis-sample-beyond-window", C.MARK_BASIS_SAMPLE_INTERVAL_INVALID, lambda v: SetMarkParameters(instrument=BTCUSD, basis_window_ns=10**9, basis_sample_interval_ns=2 * 10**9)),
    ("index-unknown-instrument", C.UNKNOWN_INSTRUMENT, lambda v: PublishIndex(instrument="DOGEUSD", inputs=())),
    ("index-without-methodology", C.INVALID_PARAMETER, lambda v: PublishIndex(instrument=BTCUSD, inputs=())),
    ("trigger-price-negative", C.TRIGGER_PRICE_NOT_POSITIVE, lambda v: _trigger(v, trigger_price=-10)),
    ("trigger-price-off-tick", C.TRIGGER_PRICE_OFF_TICK, lambda v: _trigger(v, trigger_price=BTC_REF - 1_005)),
    ("trigger-price-past-ceiling", C.TRIGGER_PRICE_ABOVE_CEILING, lambda v: _trigger(v, side=BUY, trigger_price=10**12 + 10)),
    ("trigger-would-fire-at-once", C.TRIGGER_WOULD_FIRE_IMMEDIATELY, lambda v: _trigger(v, trigger_price=BTC_REF)),
    ("trigger-price-missing", C.TRIGGER_FIELD_REQUIRED, lambda v: _trigger(v, trigger_price=0)),
    ("trigger-field-not-allowed", C.TRIGGER_FIELD_NOT_ALLOWED, lambda v: _trigger(v, callback_bps=100)),
    ("trailing-callback-out-of-range", C.CALLBACK_OUT_OF_RANGE, lambda v: _trigger(v, kind=TriggerKind.TRAILING_STOP_MARKET, trigger_price=0)),
    ("trigger-on-last-before-any-trade", C.NO_LAST_TRADE_PRICE, lambda v: _trigger(v, working_type=WorkingType.LAST)),
    ("too-many-trigger-orders", C.TOO_MANY_TRIGGER_ORDERS, _too_many_triggers),
    ("cancel-unknown-trigger", C.UNKNOWN_TRIGGER_ORDER, lambda v: (_account(v), CancelTriggerOrder(account=1, instrument=BTCUSD, trigger_id=424242))[1]),
]


@pytest.mark.parametrize(("code", "arrange"), [pytest.param(code, arrange, id=name) for name, code, arrange in CASES])
def test_rejected_command_changes_nothing_and_renders_its_message_from_detail(code: RejectCode, arrange: Arrange) -> None:
    v = Venue()
    command = arrange(v)

    rejected = v.reject(command, code)

    assert rejected.message == rejects.render(code, dict(rejected.detail))
    assert "{" not in rejected.message
    assert all(str(value) in rejected.message for value in rejected.detail.values())


def test_every_reject_code_has_a_message_template() -> None:
    assert rejects.missing_templates() == []


def _codes_emitted_by_venue_source() -> set[RejectCode]:
    """Reject codes named as ``C.X`` or ``RejectCode.X`` in venue modules, templates excluded."""
    root = Path(harbour.venue.__file__).parent
    codes: set[RejectCode] = set()
    for path in sorted(root.glob("*.py")):
        if path.name == "rejects.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("C", "RejectCode"):
                if node.attr in RejectCode.__members__:
                    codes.add(RejectCode[node.attr])
    return codes


def test_reject_table_covers_every_code_the_venue_can_emit() -> None:
    emitted = _codes_emitted_by_venue_source()

    covered = {code for _, code, _ in CASES}

    assert emitted, "found no reject codes in the venue source"
    assert sorted(c.name for c in emitted - covered) == []


def test_reject_codes_are_grouped_in_their_subsystem_ranges() -> None:
    ranges = {1: "request", 2: "margin", 3: "matching", 4: "ledger", 5: "broker", 6: "compliance", 9: "system"}

    misplaced = [c.name for c in RejectCode if not 1000 <= c.value < 10_000 or c.value // 1000 not in ranges]

    assert misplaced == []
