"""The columnar liquidation scan finds exactly the accounts the account-by-account scan finds.

The columns (``venue.risk_columns``) are derived state: a lower bound of every scope's margin
balance minus maintenance, kept current from the engine's events and rechecked exactly for
every account it flags. These rules hold:

- after any command stream and at any mark, the scan's answer equals the exact scan's,
  account by account and in account order;
- the bound never exceeds the exact margin excess of a scope (so no account below
  maintenance is missed), and the columns mirror every wallet and position;
- rows too large for int64 go to the exact path;
- the columns are not state: building them never changes the state hash, and a state
  restored from its snapshot scans the same as the live one; an engine restored from a
  snapshot builds them at once;
- an account that a liquidation touched is checked at its turn, as the plain loop would.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any

import msgspec
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from harbour.kernel.money import FX_SCALE
from harbour.venue import VenueEngine, VenueState, events
from harbour.venue.events import TransferPosted, VenueEvent
from harbour.venue.limbs import fits, mul_div
from harbour.venue.margin import cross_margin_balance_and_maintenance, isolated_margin_balance_and_maintenance
from harbour.venue.risk_columns import (
    F,
    accounts_below_maintenance,
    collateral_values,
    columns_for,
    exact_accounts_below_maintenance,
    observed_event_types,
    term_bounds,
)
from harbour.venue.state import EXTERNAL, RISK_CURRENCY
from harbour.venue.tiers import maintenance_margin

from properties.profile import examples
from properties.streams import Setup, commands_for, open_accounts, setups, streams
from venue.helpers import BTC_REF, BTCUSD, BUY, ETH_REF, ETHHKD, Venue, hkd

SYMBOLS = (BTCUSD, ETHHKD)
marks = st.lists(st.tuples(st.sampled_from(SYMBOLS), st.integers(-2_500, 2_500)), min_size=1, max_size=6)


@cache
def genesis_state() -> VenueState:
    return Venue().state


def scan(state: VenueState, sym: str) -> list[tuple[int, str, int, int]]:
    return list(accounts_below_maintenance(state, sym, []))


def at_mark(state: VenueState, sym: str, bps: int) -> int:
    inst = state.instruments[sym]
    return max(inst.ref_price * (10_000 + bps) // 10_000 // inst.tick * inst.tick, inst.tick)


def scans_at(state: VenueState, moves: list[tuple[str, int]]) -> list[tuple[list[Any], list[Any]]]:
    """(column scan, exact scan) at each mark move, each mark set on the instrument in turn."""
    found = []
    for sym, bps in moves:
        state.instruments[sym].ref_price = at_mark(state, sym, bps)
        found.append((scan(state, sym), exact_accounts_below_maintenance(state, sym)))
    return found


def exact_excess(state: VenueState, key: int | str) -> int | None:
    """Exact margin balance minus maintenance of a row's scope (None: an isolated row whose
    position went back to cross)."""
    if isinstance(key, int):
        balance, maintenance = cross_margin_balance_and_maintenance(state, state.accounts[key])
    else:
        _, account, sym = key.split(":")
        acct = state.accounts[int(account)]
        if not acct.positions[sym].isolated:
            return None
        balance, maintenance = isolated_margin_balance_and_maintenance(state, acct, sym)
    return balance - maintenance


def assert_columns_follow_the_state(state: VenueState) -> None:
    """Every row mirrors its wallets and positions, and its bound is at most its exact excess."""
    cols = columns_for(state, [])
    for key, r in cols.row_of.items():
        for asset, column in cols.wallets.items():
            assert int(column[r]) == state.ledger.balance(key, asset), (key, asset)
        account = key if isinstance(key, int) else int(key.split(":")[1])
        for j, sym in enumerate(cols.symbols):
            pos = state.accounts[account].positions.get(sym)
            mine = pos is not None and (pos.isolated == isinstance(key, str)) and (isinstance(key, int) or key.endswith(":" + sym))
            assert int(cols.qty[j][r]) == (pos.qty if mine and pos is not None else 0), (key, sym)
            assert int(cols.cost[j][r]) == (pos.cost if mine and pos is not None else 0), (key, sym)
        bounds = {int(cols.cur[j][r] - cols.negrest[j][r]) for j in range(len(cols.symbols))}
        assert len(bounds) == 1, "every instrument's rest must describe the same bound"
        excess = exact_excess(state, key)
        if excess is not None and not cols.flags[r]:
            assert bounds.pop() <= excess << F, (key, excess)


# --- the scan equals the exact scan ---------------------------------------------------------


@examples(60)
@given(setup=setups(), stream=streams(max_size=60), moves=marks, rebracket_at=st.integers(0, 60))
def test_after_any_command_stream_and_mark_the_column_scan_finds_exactly_the_exact_scans_accounts(
    setup: Setup, stream: list[tuple[Any, ...]], moves: list[tuple[str, int]], rebracket_at: int
) -> None:
    v = Venue(check_rejects=False)
    open_accounts(v, setup)
    columns_for(v.state, [])  # from here the columns follow the engine's events
    for i, intent in enumerate(stream):
        if i == rebracket_at:
            v.single_bracket(BTCUSD, 20)
        for command in commands_for(v, intent):
            v.do(command)
        assert_columns_follow_the_state(v.state)

    for by_columns, exact in scans_at(v.state, moves):
        assert by_columns == exact
    assert_columns_follow_the_state(v.state)


@examples(30)
@given(setup=setups(), stream=streams(max_size=60), moves=marks)
def test_a_state_restored_from_its_snapshot_scans_the_same_as_the_live_state(
    setup: Setup, stream: list[tuple[Any, ...]], moves: list[tuple[str, int]]
) -> None:
    v = Venue(check_rejects=False)
    open_accounts(v, setup)
    columns_for(v.state, [])
    for intent in stream:
        for command in commands_for(v, intent):
            v.do(command)
    restored = VenueState.decode(v.state.encode())

    assert restored.risk_columns is None and restored.state_hash() == v.hash()
    assert scans_at(restored, moves) == scans_at(v.state, moves)
    assert v.state.risk_columns is not None and restored.risk_columns is not None
    assert restored.state_hash() == v.hash()  # the same marks were set on both


@examples(20)
@given(setup=setups(), stream=streams(max_size=40), moves=marks)
def test_an_engine_restored_from_a_snapshot_has_its_columns_built_and_following_the_state(
    setup: Setup, stream: list[tuple[Any, ...]], moves: list[tuple[str, int]]
) -> None:
    v = Venue(check_rejects=False)
    open_accounts(v, setup)
    for intent in stream:
        for command in commands_for(v, intent):
            v.do(command)

    engine = VenueEngine.restore(v.state.encode())

    assert engine.state.risk_columns is not None, "the first mark update after a restart must not build them"
    assert engine.state_hash() == v.hash()
    assert_columns_follow_the_state(engine.state)
    for by_columns, exact in scans_at(engine.state, moves):
        assert by_columns == exact


def test_building_and_using_the_columns_never_changes_the_state_hash(venue: Venue) -> None:
    venue.open_client(1, usd=10_000)
    venue.open_mm(9, usd=10_000_000)
    venue.cross(9, 1, BTCUSD, BUY, 1_000, BTC_REF)
    before = venue.hash()

    scan(venue.state, BTCUSD)
    venue.state.instruments[BTCUSD].ref_price = BTC_REF

    assert venue.state.risk_columns is not None
    assert venue.hash() == before
    assert "risk_columns" not in venue.state.to_state()


# --- the bound -------------------------------------------------------------------------------


def exact_term(q: int, cost: int, mark: int, state: VenueState, sym: str, rate: int) -> int:
    """margin.py's contribution of one position to margin balance minus maintenance, in the scope's currency."""
    inst = state.instruments[sym]
    upnl = (q * mark - cost) * inst.unit_value
    mm = maintenance_margin(inst.tiers, abs(q) * mark * inst.unit_value)
    return (upnl * rate) // FX_SCALE + ((-mm * rate) // FX_SCALE)


@examples(300)
@given(
    sym=st.sampled_from(SYMBOLS),
    q=st.one_of(st.integers(-100_000, 100_000), st.integers(-(10**13), 10**13)),
    entry_bps=st.integers(-3_000, 3_000),
    mark_bps=st.integers(-9_000, 30_000),
    move_bps=st.integers(-5_000, 5_000),
    rate=st.sampled_from([FX_SCALE, 780_000_000, 123_456_789, 10**16]),
)
def test_the_linear_bound_of_a_position_never_exceeds_its_exact_term_within_its_interval(
    sym: str, q: int, entry_bps: int, mark_bps: int, move_bps: int, rate: int
) -> None:
    state = genesis_state()
    ref = state.instruments[sym].ref_price
    cost = q * (ref * (10_000 + entry_bps) // 10_000)
    mark = max(ref * (10_000 + mark_bps) // 10_000, 1)
    alpha, gamma, off, hi, outside = term_bounds(np.array([q]), np.array([cost]), mark, state.instruments[sym], rate)
    a, g, low, high = int(alpha[0]), int(gamma[0]), int(off[0]), int(hi[0])
    if outside[0] or q == 0:
        assert (a, g) == (0, 0)
        return
    assert low <= mark <= high
    for price in {mark, low, high, mark * (10_000 + move_bps) // 10_000}:
        if 1 <= price <= 10**12 and low <= price <= high:
            assert a * price + (g << F) <= exact_term(q, cost, price, state, sym, rate) << F


@examples(300)
@given(b=st.integers(0, 2**62), f=st.one_of(st.integers(0, 8 * 10**12), st.integers(0, 10**24)), d=st.sampled_from([10**4, 10**6, 10**7]))
def test_the_limb_split_product_is_the_exact_quotient_and_remainder(b: int, f: int, d: int) -> None:
    b = min(b, fits(f, d))
    quotient, remainder = mul_div(np.array([b]), f, d)

    assert (int(quotient[0]), int(remainder[0])) == divmod(b * f, d * d)


@examples(200)
@given(balance=st.integers(-(10**12), 10**17), asset=st.sampled_from(["USD", "HKD", "HKDX", "TDHKD", "BTC"]))
def test_column_collateral_values_equal_the_registry_value(balance: int, asset: str) -> None:
    registry = genesis_state().registry
    value, outside = collateral_values(np.array([balance]), registry.collateral_factor(asset, RISK_CURRENCY))
    if not outside[0]:
        assert int(value[0]) == registry.collateral_value(asset, balance, RISK_CURRENCY)


# --- rows too large for int64 ----------------------------------------------------------------


def test_positions_and_wallets_beyond_the_int64_envelope_are_rechecked_exactly(venue: Venue) -> None:
    venue.open_client(1, usd=10_000)
    venue.open_client(2, hkd=10_000)
    venue.open_client(3, usd=10_000)
    venue.open_mm(9, usd=10_000_000, hkd=80_000_000)
    venue.cross(9, 1, BTCUSD, BUY, 1_000, BTC_REF)
    venue.cross(9, 2, ETHHKD, BUY, 1_000, ETH_REF)
    venue.cross(9, 3, BTCUSD, BUY, 1_000, BTC_REF)
    state = venue.state
    # outside the engine: a position of 10^13 BTC (beyond every int64 product) and a wallet
    # of 10^18 micro-units; so the columns are rebuilt, as after any change not made by the engine
    huge = state.accounts[1].positions[BTCUSD]
    huge.qty, huge.cost = 10**16, 10**16 * BTC_REF
    state.ledger.post([(EXTERNAL, "HKD", -(10**18)), (2, "HKD", 10**18)])
    state.risk_columns = None

    cols = columns_for(state, [])
    assert cols.flags[cols.row_of[1]] and cols.flags[cols.row_of[2]] and not cols.flags[cols.row_of[3]]
    for sym in SYMBOLS:
        for bps in (-2_000, -300, 0, 300):
            state.instruments[sym].ref_price = at_mark(state, sym, bps)
            assert scan(state, sym) == exact_accounts_below_maintenance(state, sym)
            assert 1 in cols.candidates(BTCUSD)


# --- the walk ---------------------------------------------------------------------------------


def test_an_account_a_liquidation_touches_is_checked_at_its_turn_even_if_the_columns_did_not_flag_it(venue: Venue) -> None:
    for client in (1, 2, 3):
        venue.open_client(client, hkd=2_000)
    venue.open_mm(9, hkd=10_000_000)
    for client in (1, 2, 3):
        venue.cross(9, client, ETHHKD, BUY, 1_000, ETH_REF)
    state = venue.state
    state.instruments[ETHHKD].ref_price = 2_460_000  # client 1 is 587 HKD against 615; 2 and 3 are the same
    state.ledger.post([(EXTERNAL, "HKD", -hkd(200)), (2, "HKD", hkd(100)), (3, "HKD", hkd(100))])  # 687 HKD each: safe
    state.risk_columns = None
    out: list[object] = []
    walk = accounts_below_maintenance(state, ETHHKD, out)

    first = next(walk)
    # the "liquidation" of client 1 takes 90 HKD from client 3 (a higher id, not flagged)
    postings = ((3, "HKD", -hkd(90)), (EXTERNAL, "HKD", hkd(90)))
    state.ledger.post(postings)
    out.append(TransferPosted(seq=0, ts_ns=0, transfer_id=0, kind="TEST", postings=postings))
    rest = list(walk)

    assert first[0] == 1
    assert [row[0] for row in rest] == [3]
    assert rest[0][1:] == ("", hkd(2_000 - 13 + 100 - 90 - 1_400), hkd(615))


# --- what the columns follow ------------------------------------------------------------------

# venue events that change no wallet and no position (a TransferPosted carries every wallet
# move; trades, deleveraging, gains realised at the mark and margin mode changes every position)
NO_WALLET_OR_POSITION = {
    "Rejected",
    "AssetListed",
    "IssuerRegisterUpdated",
    "DepositBankAllowlistUpdated",
    "MarginAssetHaircutSet",
    "FxRateSet",
    "EligibleReferenceAssetsSet",
    "InstrumentListed",
    "InstrumentStateChanged",
    "MarginTiersSet",
    "LeverageSet",
    "ReferencePriceSet",
    "ProfessionalInvestorStatusSet",
    "OrderAccepted",
    "OrderCancelled",
    "OrderAmended",
    "TriggerOrderAccepted",
    "TrailingStopMoved",
    "TriggerOrderTriggered",
    "TriggerOrderCancelled",
    "FundingSettled",
    "MarkParametersSet",
    "FundingParametersSet",
    "IndexMethodologySet",
    "IndexPublished",
    "MarkPriceSet",
    "StressReportRecorded",
    "LiquidationTriggered",
    "LiquidationStepped",
    "LossReported",
}


def venue_event_types() -> set[str]:
    """Every event struct the venue defines."""
    return {
        name
        for name, obj in vars(events).items()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__module__ == events.__name__ and not name.startswith("_")
    } | {t.__name__ for t in typing.get_args(VenueEvent)}


def test_every_venue_event_is_either_followed_by_the_columns_or_changes_no_wallet_or_position() -> None:
    every = venue_event_types()
    followed = {t.__name__ for t in observed_event_types()}

    assert followed <= every
    assert every - followed == NO_WALLET_OR_POSITION, "classify the new event here and, if it moves money or a position, in risk_columns"



def test_the_venue_event_union_names_every_event_the_engine_defines() -> None:
    defined = {
        name
        for name, obj in vars(events).items()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__module__ == events.__name__ and not name.startswith("_")
    }
    assert {t.__name__ for t in typing.get_args(VenueEvent)} == defined
