"""Random price paths (random walks with jumps) through a venue of leveraged traders.

Each path: the default genesis with an insurance fund and operator tranche of drawn sizes
(from empty to ample), the index methodology of both instruments, an affiliated market
maker, and a few clients who open leveraged positions (cross or isolated, long or short,
against the market maker or each other). Then steps: the mark moves (an operator's
``SetReferencePrice``, or an index print through ``PublishIndex``), the market maker
re-quotes a ladder of drawn depth (often thin), clients rest orders (some reduce-only),
funding settles at a drawn rate. After every command:

- every venue invariant holds (the ``Venue`` driver: no negative balance, ledger balanced,
  positions net to zero, rejected commands change nothing, ...);
- the waterfall rules of ``properties/waterfall_rules.py`` hold, event by event: a platform
  layer pays only once the party that owed has nothing left, the tranche only once the
  fund is exhausted, the fund and tranche only within the backstop collar and their
  capacity, ADL only when the backstop can pay for no further unit and only against
  opposite positions, each ``LossReported`` in waterfall order with the actual amounts,
  funding zero-sum per interval, every index print and mark recomputing from its record.

Then the whole path is written through the real sequencer into a journal with snapshots,
recovered (snapshot + journal tail), and must hash like the live venue, after liquidations.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import event, example, given
from hypothesis import strategies as st

from harbour.journal import CommandCodec, FileJournal, Sequencer, SnapshotStore, recover
from harbour.kernel.money import MAX_PRICE, MICRO
from harbour.prices.index import InputKind, PriceInput
from harbour.sim.feeds import DEFAULT_VENUES, default_methodology
from harbour.venue import VenueEngineFactory, default_genesis
from harbour.venue.commands import (
    AccountKind,
    CancelAllOrders,
    Deposit,
    FundPlatformAccount,
    OpenAccount,
    PlaceOrder,
    PublishIndex,
    SetMarginMode,
    SetReferencePrice,
    SettleFunding,
    Side,
    TimeInForce,
    TransferIsolatedMargin,
    VenueCommand,
)
from harbour.venue.events import AutoDeleveraged, LiquidationStepped, LiquidationTriggered, LossReported

from properties.profile import examples
from properties.waterfall_rules import WaterfallRules
from venue.helpers import BTC_REF, BTCUSD, ETH_REF, ETHHKD, FAR_FUTURE, STEP_NS, Venue

MM = 9
FIRST_CLIENT = 101
REFERENCE = {BTCUSD: "BTC", ETHHKD: "ETH"}
SETTLES_IN = {BTCUSD: "USD", ETHHKD: "HKD"}
HKD_PER_UNIT_X10 = {"HKD": 10, "HKDX": 10, "TDHKD": 10, "USD": 78}  # for sizing only


@dataclass(frozen=True)
class Client:
    asset: str  # what it deposits
    units: int  # whole units of it
    instrument: str
    long: bool
    leverage: int
    isolated: bool
    against_mm: bool  # else against the client before it


@dataclass(frozen=True)
class Step:
    kind: str  # mark | index (a move) | rest | funding
    instrument: str
    bps: int = 0  # mark / index: the move; rest: distance from the mark
    ladder: tuple[tuple[int, int], ...] | None = None  # a move: the MM first re-quotes (distance bps, lots) a side; None keeps its quotes
    client: int = 0
    buy: bool = False
    lots: int = 0
    reduce_only: bool = False
    rate_e8: int = 0


@dataclass(frozen=True)
class PricePath:
    fund: tuple[int, int]  # (USD, HKD) whole units
    tranche: tuple[int, int]
    clients: tuple[Client, ...]
    steps: tuple[Step, ...]


# --- strategies ----------------------------------------------------------------------------

layer_units = st.sampled_from([0, 50, 2_000, 200_000])
instruments = st.sampled_from([BTCUSD, ETHHKD])


@st.composite
def clients(draw: st.DrawFn) -> Client:
    instrument = draw(instruments)
    isolated = draw(st.booleans()) and draw(st.booleans())
    asset = SETTLES_IN[instrument] if isolated else draw(st.sampled_from(["HKD", "USD", "HKDX", "TDHKD"]))
    return Client(
        asset=asset,
        units=draw(st.integers(1_000, 40_000)),
        instrument=instrument,
        long=draw(st.booleans()),
        leverage=draw(st.integers(2, 19)),
        isolated=isolated,
        against_mm=draw(st.booleans()),
    )


# a walk, a slide (twice as likely), a gap down and a squeeze up, in bps
slides = st.integers(-600, -100)
moves = st.one_of(st.integers(-150, 150), slides, slides, st.integers(-2_500, -600), st.integers(100, 1_500))
# what the market maker quotes before a move: keeps its quotes, pulls them, quotes deep out at the
# collar (what the backstop then meets), or any mix of thin and deep levels near and far
deep_far = st.lists(st.tuples(st.integers(250, 490), st.integers(500, 20_000)), min_size=1, max_size=3)
mixed = st.lists(st.tuples(st.integers(5, 490), st.one_of(st.integers(1, 200), st.integers(1_000, 20_000))), max_size=4)
ladders = st.one_of(st.none(), st.just(()), deep_far.map(tuple), deep_far.map(tuple), mixed.map(tuple))
collar_ladders = st.one_of(st.none(), deep_far.map(tuple), deep_far.map(tuple))


@st.composite
def steps(draw: st.DrawFn, n_clients: int, main: str) -> Step:
    kind = draw(st.sampled_from(["mark", "mark", "mark", "index", "rest", "funding"]))
    instrument = draw(st.sampled_from([main, main, BTCUSD, ETHHKD]))  # mostly where the first client trades
    if kind in ("mark", "index"):
        return Step(kind, instrument, bps=draw(moves), ladder=draw(ladders))
    if kind == "rest":
        return Step(
            kind,
            instrument,
            bps=draw(st.integers(5, 490)),
            client=draw(st.integers(0, n_clients - 1)),
            buy=draw(st.booleans()),
            lots=draw(st.integers(1, 300)),
            reduce_only=draw(st.booleans()),
        )
    return Step(kind, instrument, rate_e8=draw(st.integers(-300_000, 300_000)))


@st.composite
def price_paths(draw: st.DrawFn, min_steps: int = 3, max_steps: int = 14, crash_at_end: bool = False) -> PricePath:
    drawn = draw(st.lists(clients(), min_size=2, max_size=5))
    if crash_at_end:
        # a leveraged long against the market maker, and a crash of its instrument at the end
        first = drawn[0]
        drawn[0] = Client(first.asset, first.units, first.instrument, True, max(5, first.leverage), first.isolated, True)
    path_steps = draw(st.lists(steps(len(drawn), drawn[0].instrument), min_size=min_steps, max_size=max_steps))
    if crash_at_end:
        path_steps.append(Step("mark", drawn[0].instrument, bps=draw(st.integers(-6_000, -3_000))))
    return PricePath(
        fund=(draw(layer_units), draw(layer_units)),
        tranche=(draw(layer_units), draw(layer_units)),
        clients=tuple(drawn),
        steps=tuple(path_steps),
    )


@st.composite
def crashes(draw: st.DrawFn) -> PricePath:
    """A slide in steps through a book the market maker re-quotes deep out at the collar (or leaves),
    over leveraged longs and small platform layers: the paths that reach the backstop, the fund,
    the tranche and ADL."""
    drawn = draw(st.lists(clients(), min_size=2, max_size=5))
    first = drawn[0]
    drawn[0] = Client(first.asset, first.units, first.instrument, True, draw(st.integers(8, 19)), first.isolated, True)
    main = first.instrument
    small = st.sampled_from([0, 50, 500, 2_000])
    rounds = draw(
        st.lists(
            st.one_of(
                st.builds(Step, st.sampled_from(["mark", "mark", "index"]), st.just(main), bps=st.integers(-1_500, -100), ladder=collar_ladders),
                steps(len(drawn), main),
            ),
            min_size=3,
            max_size=10,
        )
    )
    return PricePath(fund=(draw(small), draw(small)), tranche=(draw(small), draw(small)), clients=tuple(drawn), steps=tuple(rounds))


# --- the driver ------------------------------------------------------------------------------


class PathRun:
    """A path applied to a fresh venue, every command checked by the invariants and the waterfall rules."""

    def __init__(self, path: PricePath) -> None:
        v = self.venue = Venue(genesis=False)
        for command in default_genesis():
            if not isinstance(command, FundPlatformAccount):
                v.ok(command)
        for target, (usd, hkd) in (("INSURANCE_FUND", path.fund), ("PLATFORM_CAPITAL", path.tranche)):
            for asset, units in (("USD", usd), ("HKD", hkd)):
                if units:
                    v.ok(FundPlatformAccount(target=target, asset=asset, amount=units * MICRO))
        for sym in (BTCUSD, ETHHKD):
            v.ok(default_methodology(sym, REFERENCE[sym], effective_from_ns=v.ts, price_decimals=2))
        v.open_mm(MM, usd=50_000_000, hkd=400_000_000)
        self.rules = WaterfallRules(v.state, v.events)
        self.clients = [self._open(FIRST_CLIENT + i, c) for i, c in enumerate(path.clients)]
        for s in path.steps:
            self._step(s)

    def do(self, command: object, *, ts: int | None = None) -> list[object]:
        out = self.venue.do(command, ts=ts)
        self.rules.check(out)
        return out

    def mark(self, sym: str) -> int:
        return int(self.venue.state.instruments[sym].ref_price)

    def _open(self, account: int, c: Client) -> int:
        v = self.venue
        amount = c.units * MICRO
        v.open_client(account)
        self.rules.check(v.last)
        self.do(Deposit(account=account, asset=c.asset, amount=amount))
        if c.isolated:
            self.do(SetMarginMode(account=account, instrument=c.instrument, isolated=True))
            self.do(TransferIsolatedMargin(account=account, instrument=c.instrument, amount=amount))
        inst = v.state.instruments[c.instrument]
        value_settlement = c.units * HKD_PER_UNIT_X10[c.asset] // HKD_PER_UNIT_X10[SETTLES_IN[c.instrument]]  # whole units
        lots = value_settlement * MICRO * c.leverage // (inst.ref_price * inst.unit_value)
        if lots <= 0:
            return account
        maker = MM if c.against_mm or account == FIRST_CLIENT else account - 1
        price = self.mark(c.instrument)
        self.do(PlaceOrder(account=maker, instrument=c.instrument, side=Side.SELL if c.long else Side.BUY, qty=lots, price=price))
        self.do(
            PlaceOrder(account=account, instrument=c.instrument, side=Side.BUY if c.long else Side.SELL, qty=lots, price=price, tif=TimeInForce.IOC)
        )
        self.do(CancelAllOrders(account=maker, instrument=c.instrument))
        return account

    def _step(self, s: Step) -> None:
        sym = s.instrument
        inst = self.venue.state.instruments[sym]
        tick = inst.tick
        mark = self.mark(sym)
        if s.kind in ("mark", "index"):
            if s.ladder is not None:
                self._quote(sym, s.ladder)
            target = max(tick, min(MAX_PRICE // tick * tick, mark * (10_000 + s.bps) // 10_000 // tick * tick))
            if s.kind == "mark":
                self.do(SetReferencePrice(instrument=sym, price=target))
                return
            ts = self.venue.ts + STEP_NS
            inputs = tuple(
                PriceInput(venue=venue, kind=InputKind.TRADE, price=target + (i - 2) * tick, ts_ns=ts - 1_000 * (i + 1))
                for i, venue in enumerate(DEFAULT_VENUES)
            )
            self.do(PublishIndex(instrument=sym, inputs=inputs), ts=ts)
        elif s.kind == "rest":
            away = (10_000 - s.bps) if s.buy else (10_000 + s.bps)
            price = max(tick, mark * away // 10_000 // tick * tick)
            self.do(
                PlaceOrder(
                    account=self.clients[s.client],
                    instrument=sym,
                    side=Side.BUY if s.buy else Side.SELL,
                    qty=s.lots,
                    price=price,
                    reduce_only=s.reduce_only,
                )
            )
        else:
            interval = inst.funding_schedule.interval_ns
            self.do(SettleFunding(instrument=sym, rate_e8=s.rate_e8, interval_ns=interval, mark_price=mark))

    def _quote(self, sym: str, ladder: tuple[tuple[int, int], ...]) -> None:
        """The market maker replaces its quotes in ``sym`` by a ladder around the mark (empty: pulls them)."""
        self.do(CancelAllOrders(account=MM, instrument=sym))
        mark = self.mark(sym)
        tick = self.venue.state.instruments[sym].tick
        for bps, lots in ladder:
            bid = max(tick, mark * (10_000 - bps) // 10_000 // tick * tick)
            ask = -(-mark * (10_000 + bps) // 10_000 // tick) * tick
            self.do(PlaceOrder(account=MM, instrument=sym, side=Side.BUY, qty=lots, price=bid))
            self.do(PlaceOrder(account=MM, instrument=sym, side=Side.SELL, qty=lots, price=ask))

    def count(self, kind: type) -> int:
        return len(self.venue.events_of(kind))


def report_reach(run: PathRun) -> None:
    """What the path reached, for ``--hypothesis-show-statistics`` (and which known defects were let through)."""
    tally = run.rules.tally
    for name in ("liquidations", "backstop_fills", "fund_draws", "tranche_draws", "adl_trades", "funding_settlements", "index_prints"):
        event(f"{name}: {'yes' if getattr(tally, name) else 'no'}")
    event(f"deleveraging drew the backstop's committed loss: {'yes' if tally.committed_adl_draws else 'no'}")


def replay_through_journal(run: PathRun, directory: Path) -> bytes:
    """Write the run's commands through the real sequencer (journal, checkpoints, snapshots), then
    recover a venue from the newest snapshot plus the journal tail; return its state hash."""
    commands = run.venue.commands
    codec = CommandCodec(VenueCommand)
    stamp = {"ts": 0}
    journal = FileJournal.open(directory / "journal.log")
    engine = VenueEngineFactory().new()
    sequencer = Sequencer(
        engine,
        journal,
        codec,
        lambda: stamp["ts"],
        checkpoint_every=7,
        snapshot_every=max(1, len(commands) * 2 // 3),
        snapshots=SnapshotStore(directory / "snapshots"),
    )
    try:
        for seq, ts, command in commands:
            stamp["ts"] = ts
            assert sequencer.submit(command)[0] == seq
        sequencer.commit()
    finally:
        journal.close()
    snapshot = SnapshotStore(directory / "snapshots").latest()
    assert snapshot is not None and 0 < snapshot.seq < len(commands)  # recovery starts from it, then the journal tail
    recovered, log, _ = recover(directory, VenueEngineFactory(), codec)
    log.close()
    return recovered.state_hash()


# --- the properties --------------------------------------------------------------------------------


CRASH = PricePath(
    fund=(50, 50),
    tranche=(0, 2_000),
    clients=(
        Client("HKD", 20_000, ETHHKD, True, 15, False, True),  # long 11.538 ETH on 20,000 HKD
        Client("HKD", 40_000, ETHHKD, False, 4, False, True),
        Client("HKD", 30_000, ETHHKD, False, 3, True, True),
    ),
    steps=(
        Step("funding", ETHHKD, rate_e8=100_000),
        Step("mark", ETHHKD, bps=-400),
        # the market maker quotes thin near the mark, deep at the collar; the mark then gaps through the long's bankruptcy price
        Step("mark", ETHHKD, bps=-600, ladder=((300, 60), (480, 12_000))),
    ),
)


@examples(300)
@given(path=price_paths())
@example(path=CRASH)
def test_every_step_of_a_random_price_path_keeps_the_invariants_and_the_waterfall_rules(path: PricePath) -> None:
    run = PathRun(path)  # checks every command as it goes

    assert run.count(LiquidationTriggered) == run.count(LossReported)
    report_reach(run)


def test_the_crash_example_reaches_the_fund_the_tranche_and_adl_under_the_same_checks() -> None:
    run = PathRun(CRASH)
    tally = run.rules.tally

    assert tally.liquidations > 0 and tally.fund_draws > 0 and tally.tranche_draws > 0 and tally.adl_trades > 0
    assert tally.backstop_fills > 0 and tally.funding_settlements > 0


@examples(120)
@given(path=crashes())
def test_slides_through_a_book_quoted_out_at_the_collar_keep_the_waterfall_rules(path: PricePath) -> None:
    run = PathRun(path)

    assert run.count(LiquidationTriggered) == run.count(LossReported)
    report_reach(run)


@examples(12)
@given(path=price_paths(max_steps=8, crash_at_end=True))
def test_recovery_from_snapshot_and_journal_reproduces_the_state_hash_after_liquidations(path: PricePath) -> None:
    run = PathRun(path)
    with tempfile.TemporaryDirectory() as directory:
        recovered_hash = replay_through_journal(run, Path(directory))

    assert run.count(LiquidationTriggered) > 0
    assert recovered_hash == run.venue.hash()


# --- engine defects the rules found (minimal examples; the fixed ones stay as rule tests) -------


def _checked_venue(*, fund_hkd: int = 0, tranche_hkd: int = 0) -> tuple[Venue, WaterfallRules]:
    """The default genesis with HKD-only platform layers of the given sizes (whole HKD), and the rules checker."""
    v = Venue(genesis=False)
    for command in default_genesis():
        if not isinstance(command, FundPlatformAccount):
            v.ok(command)
    for target, units in (("INSURANCE_FUND", fund_hkd), ("PLATFORM_CAPITAL", tranche_hkd)):
        if units:
            v.ok(FundPlatformAccount(target=target, asset="HKD", amount=units * MICRO))
    return v, WaterfallRules(v.state, v.events)


def _run(v: Venue, rules: WaterfallRules, command: object) -> list[object]:
    out = v.ok(command)
    rules.check(out)
    return out


def test_deleveraging_a_cross_defaulter_with_hkd_margin_draws_no_platform_layer() -> None:
    v, rules = _checked_venue()  # empty fund and tranche, no bids: the whole position is deleveraged
    for command in (
        OpenAccount(account=1, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE),
        Deposit(account=1, asset="HKD", amount=13_304 * MICRO),
        OpenAccount(account=9, kind=AccountKind.AFFILIATED_MM, legal_entity="MM"),
        Deposit(account=9, asset="USD", amount=1_000_000 * MICRO),
        PlaceOrder(account=9, instrument=BTCUSD, side=Side.SELL, qty=287, price=BTC_REF),
        PlaceOrder(account=1, instrument=BTCUSD, side=Side.BUY, qty=287, price=BTC_REF, tif=TimeInForce.IOC),  # long 0.287 BTC
    ):
        _run(v, rules, command)

    out = v.do(SetReferencePrice(instrument=BTCUSD, price=9_019_300))  # -5.06%: liquidated, deleveraged against the MM

    assert v.events_of(AutoDeleveraged, out)
    assert v.balance("DEFICIT", "USD") == 0
    rules.check(out)


def test_deleveraging_never_charges_the_counterparty_the_defaulters_other_losses() -> None:
    v, rules = _checked_venue(fund_hkd=50)
    for command in (
        OpenAccount(account=1, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE),
        Deposit(account=1, asset="HKD", amount=17_472 * MICRO),
        OpenAccount(account=2, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE),
        Deposit(account=2, asset="HKD", amount=8_661 * MICRO),
        OpenAccount(account=9, kind=AccountKind.AFFILIATED_MM, legal_entity="MM"),
        Deposit(account=9, asset="USD", amount=1_000_000 * MICRO),
        PlaceOrder(account=9, instrument=BTCUSD, side=Side.SELL, qty=117, price=BTC_REF),
        PlaceOrder(account=1, instrument=BTCUSD, side=Side.BUY, qty=117, price=BTC_REF, tif=TimeInForce.IOC),  # 1 long 0.117 BTC
        PlaceOrder(account=1, instrument=ETHHKD, side=Side.BUY, qty=2_331, price=ETH_REF),
        PlaceOrder(account=2, instrument=ETHHKD, side=Side.SELL, qty=2_331, price=ETH_REF, tif=TimeInForce.IOC),  # 1 long, 2 short 2.331 ETH
    ):
        _run(v, rules, command)

    out = v.do(SetReferencePrice(instrument=BTCUSD, price=6_515_660))  # BTC -31.4%; the ETH mark does not move

    (eth,) = [a for a in v.events_of(AutoDeleveraged, out) if a.instrument == ETHHKD]
    assert eth.counterparty == 2
    assert eth.counterparty_realised_pnl >= 0  # closing a position that is flat at the mark costs it nothing
    assert v.balance("DEFICIT", "HKD") == 0
    rules.check(out)


def test_deleveraging_waits_until_the_backstop_cannot_pay_for_one_more_unit_within_the_collar() -> None:
    v, rules = _checked_venue(tranche_hkd=50)
    for command in (
        OpenAccount(account=1, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE),
        Deposit(account=1, asset="HKDX", amount=29_159 * MICRO),
        OpenAccount(account=9, kind=AccountKind.AFFILIATED_MM, legal_entity="MM"),
        Deposit(account=9, asset="HKD", amount=10_000_000 * MICRO),
        PlaceOrder(account=9, instrument=ETHHKD, side=Side.SELL, qty=15_701, price=ETH_REF),
        PlaceOrder(account=1, instrument=ETHHKD, side=Side.BUY, qty=15_701, price=ETH_REF, tif=TimeInForce.IOC),  # long 15.701 ETH
        SetReferencePrice(instrument=ETHHKD, price=2_496_000),  # -4%: still above maintenance
        PlaceOrder(account=9, instrument=ETHHKD, side=Side.BUY, qty=20_000, price=2_389_160),  # a deep bid, 4.28% below
    ):
        _run(v, rules, command)

    out = v.do(SetReferencePrice(instrument=ETHHKD, price=2_208_000))  # -11.5%: through the bankruptcy price

    (step,) = v.events_of(LiquidationStepped, out)
    assert step.book_qty == 0 and step.adl_qty > 0 and step.backstop_qty + step.adl_qty == 15_701
    per_unit = (step.bankruptcy_price - 2_389_160) * 10  # one unit's loss beyond the bankruptcy price at the bid, micro-HKD
    tranche = 50 * MICRO
    # the backstop sold to the bid as many units as the tranche could pay for, and not one more
    assert step.backstop_qty * per_unit <= tranche < (step.backstop_qty + 1) * per_unit
    # the deleveraging at the same bankruptcy price drew from the tranche what those fills committed, no more
    drawn = tranche - v.balance("PLATFORM_CAPITAL", "HKD")
    assert 0 < drawn <= step.backstop_qty * per_unit
    assert v.balance("DEFICIT", "HKD") == 0
    rules.check(out)


def test_the_backstop_never_counts_the_liquidated_positions_own_gain_twice() -> None:
    """Account 1 (HKD 100,000, cross) is long 1 BTC at 95,000 USD and long 20 ETH at 26,000 HKD.
    BTC rises 2% (a gain of USD 1,900 on the BTC long), then ETH falls 22% (a loss of HKD 114,400):
    the account is below maintenance and its BTC long, the larger maintenance margin, is liquidated
    first. Its bankruptcy price, 96,927 USD (the opening fees left the account a sliver short at
    the mark of 96,900), already counts the BTC gain; the book holds only the MM's bid at 96,000
    USD, 0.927 USD a lot (0.001 BTC) beyond it. The tranche (HKD 50, USD 6.41) pays for 6 lots,
    not the whole 1,000 that counting the BTC gain (USD 1,900) again would have bought with a loss
    of USD 927 beyond the bankruptcy price; the rest is deleveraged, and nothing is booked to
    DEFICIT."""
    v, rules = _checked_venue(tranche_hkd=50)
    for command in (
        OpenAccount(account=1, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE),
        Deposit(account=1, asset="HKD", amount=100_000 * MICRO),
        OpenAccount(account=2, kind=AccountKind.CLIENT, pi_expiry_ns=FAR_FUTURE),
        Deposit(account=2, asset="HKD", amount=1_000_000 * MICRO),
        OpenAccount(account=9, kind=AccountKind.AFFILIATED_MM, legal_entity="MM"),
        Deposit(account=9, asset="USD", amount=1_000_000 * MICRO),
        PlaceOrder(account=9, instrument=BTCUSD, side=Side.SELL, qty=1_000, price=BTC_REF),
        PlaceOrder(account=1, instrument=BTCUSD, side=Side.BUY, qty=1_000, price=BTC_REF, tif=TimeInForce.IOC),  # long 1 BTC
        PlaceOrder(account=2, instrument=ETHHKD, side=Side.SELL, qty=20_000, price=ETH_REF),
        PlaceOrder(account=1, instrument=ETHHKD, side=Side.BUY, qty=20_000, price=ETH_REF, tif=TimeInForce.IOC),  # long 20 ETH
        SetReferencePrice(instrument=BTCUSD, price=9_690_000),  # BTC +2%
        PlaceOrder(account=9, instrument=BTCUSD, side=Side.BUY, qty=2_000, price=9_600_000),  # the only bid
    ):
        _run(v, rules, command)

    out = v.do(SetReferencePrice(instrument=ETHHKD, price=2_028_000))  # ETH -22%

    steps = v.events_of(LiquidationStepped, out)
    assert steps[0].instrument == BTCUSD and steps[0].book_qty == 0
    assert steps[0].bankruptcy_price == 9_692_700
    per_lot = (9_692_700 - 9_600_000) * 10  # 927,000 micro-USD beyond the bankruptcy price
    tranche_usd = 50 * MICRO * 12_820_512 // 10**8  # HKD 50 at 1 HKD = 0.12820512 USD: 6,410,256
    assert steps[0].backstop_qty == tranche_usd // per_lot == 6
    assert steps[0].adl_qty == 1_000 - 6
    assert v.balance("DEFICIT", "USD") == 0 and v.balance("DEFICIT", "HKD") == 0
    rules.check(out)
