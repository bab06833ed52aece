"""The simulation harness: a scenario driven through the real sequencer and journal.

Owns the run of one simulated session: commands from a ``Scenario`` go through a
``Sequencer`` into a ``FileJournal`` (group commit: one fsync per ``commit_every``
commands, or sooner once ``commit_interval_ns`` of simulated time has passed since
the last commit), checkpoints every ``checkpoint_every`` commands, snapshots every
``snapshot_every`` commands, the venue invariants every ``check_every`` commands and
at the end, and a summary of what happened.

Funding: the simulated venue's genesis is the default genesis followed by one journaled
``SetFundingParameters`` per instrument (``simulation_genesis``) with the simulator's short
interval (``funding_interval_ns``, 1 minute, so a session of a few minutes settles funding
several times; the 8-hour interest and dampener scaled to it pro rata) and sample cadence
(``premium_sample_interval_ns``). So the interval is venue configuration: the disclosure of
a simulated journal states it, and the engine refuses a settlement at any other. A
``PremiumSampler`` (the price service's funding clock) reads those parameters from the
venue, samples each book's premium on that cadence and, at every interval end, submits
``SettleFunding`` stamped there (the sequencer's clock is held there for that one
command). ``funding_interval_ns=None`` turns funding off (the default genesis's 8-hour
interval stays configured; nothing is sampled or settled).

Journal directory layout (what ``harbour.journal.recover`` expects):
``<dir>/journal.log`` and ``<dir>/snapshots/``. A run overwrites both.

Invariants: the summary is computed only from the events and read-only engine
queries; the run is deterministic (same config, same final state hash), since the
sequencer's clock is the scenario's ``SimClock``. The wall clock is read only to
report elapsed time. The journal is closed with a final checkpoint of the final
state, so a replay checks the very last state too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from harbour.journal import CommandCodec, FileJournal, Sequencer, SnapshotStore
from harbour.kernel.errors import HarbourError
from harbour.sim.clock import NS_PER_MINUTE, NS_PER_MS, NS_PER_SECOND
from harbour.sim.premium_sampler import PremiumSampler
from harbour.sim.scenario import Scenario, ScenarioConfig
from harbour.sim.waterfall import MarketTerms, WaterfallTally
from harbour.venue import VenueEngine, check_all, default_genesis
from harbour.venue.commands import ListInstrument, SetFundingParameters, SettleFunding, VenueCommand
from harbour.venue.events import FundingSettled, OrderAccepted, Rejected, TradeExecuted
from harbour.venue.genesis import default_funding_parameters
from harbour.venue.price_parameters import funding_schedule_problem
from harbour.venue.state import FEE_INCOME

JOURNAL_FILE_NAME: Final = "journal.log"
SNAPSHOT_DIRECTORY_NAME: Final = "snapshots"
_MAX_FINDINGS_KEPT: Final = 20
_IMPACT_NOTIONAL_UNITS: Final = {"USD": 25_000, "HKD": 200_000}  # about USD 25,000 either way

ProgressCallback = Callable[[int, int, int], None]
"""Called as ``progress(elapsed_sim_ns, total_sim_ns, commands_so_far)``."""


class SimulationAborted(HarbourError):
    """The engine raised while applying a command (a bug, not a reject); the run stopped.

    The message names the seq and the command; the journal (closed, committed) holds
    every command up to and including it, so ``harbour replay`` reproduces the failure.
    """


def default_journal_dir(seed: int) -> Path:
    """Where a simulation with this seed journals unless told otherwise."""
    return Path("var") / f"sim-{seed}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HarnessConfig:
    """How a session is journaled and checked."""

    journal_dir: Path
    commit_every: int = 500
    commit_interval_ns: int = 100 * NS_PER_MS
    checkpoint_every: int = 1_000
    snapshot_every: int | None = 5_000
    check_every: int = 1_000
    funding_interval_ns: int | None = NS_PER_MINUTE  # None: no premium sampling, no funding
    premium_sample_interval_ns: int = 5 * NS_PER_SECOND


@dataclass(slots=True, kw_only=True)
class InstrumentStats:
    """Traded volume of one instrument. Notional is in settlement-asset micro-units."""

    instrument: str
    base_asset: str  # what the quantity counts (BTC, ETH)
    settlement_asset: str
    qty_decimals: int
    trades: int = 0
    volume_qty: int = 0
    volume_notional: int = 0
    mm_volume_qty: int = 0  # quantity of trades with the affiliated MM on either side
    mm_maker_qty: int = 0
    mm_taker_qty: int = 0
    open_interest: int = 0
    funding_settlements: int = 0
    funding_paid: int = 0  # settlement-asset micro-units paid by payers over the session
    last_funding_rate_e8: int = 0  # parts per 1e8 per interval; positive: longs pay shorts

    @property
    def mm_share(self) -> float:
        """Share of traded quantity where the affiliated MM was a counterparty."""
        return self.mm_volume_qty / self.volume_qty if self.volume_qty else 0.0


@dataclass(slots=True, kw_only=True)
class SimulationSummary:
    """What one simulated session did, and whether the venue stayed healthy."""

    seed: int
    minutes: float
    shock: str = ""  # the library shock the session ran through ("" for none)
    commands: int = 0
    accepted_orders: int = 0
    rejects: dict[str, int] = field(default_factory=dict)  # "command: REASON" -> count
    trades: int = 0
    instruments: dict[str, InstrumentStats] = field(default_factory=dict)
    fees_collected: dict[str, int] = field(default_factory=dict)  # FEE_INCOME, asset -> micro-units
    invariant_checks_run: int = 0
    invariant_checks_passed: int = 0
    findings: list[str] = field(default_factory=list)
    final_state_hash: str = ""
    journal_path: str = ""
    journal_commits: int = 0
    last_seq: int = 0
    wall_seconds: float = 0.0
    waterfall: WaterfallTally = field(default_factory=lambda: WaterfallTally(markets={}))  # from the events

    @property
    def rejects_total(self) -> int:
        return sum(self.rejects.values())

    @property
    def invariants_ok(self) -> bool:
        return self.invariant_checks_run > 0 and self.invariant_checks_passed == self.invariant_checks_run

    def to_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "minutes": self.minutes,
            "shock": self.shock,
            "commands": self.commands,
            "accepted_orders": self.accepted_orders,
            "rejects": dict(sorted(self.rejects.items())),
            "trades": self.trades,
            "instruments": {
                sym: {
                    "base_asset": s.base_asset,
                    "settlement_asset": s.settlement_asset,
                    "trades": s.trades,
                    "volume_qty": s.volume_qty,
                    "volume_notional": s.volume_notional,
                    "mm_volume_qty": s.mm_volume_qty,
                    "mm_maker_qty": s.mm_maker_qty,
                    "mm_taker_qty": s.mm_taker_qty,
                    "mm_share": round(s.mm_share, 4),
                    "open_interest": s.open_interest,
                    "funding_settlements": s.funding_settlements,
                    "funding_paid": s.funding_paid,
                    "last_funding_rate_e8": s.last_funding_rate_e8,
                }
                for sym, s in self.instruments.items()
            },
            "fees_collected": dict(sorted(self.fees_collected.items())),
            "waterfall": self.waterfall.to_dict(),
            "invariant_checks_run": self.invariant_checks_run,
            "invariant_checks_passed": self.invariant_checks_passed,
            "findings": list(self.findings),
            "final_state_hash": self.final_state_hash,
            "journal_path": self.journal_path,
            "journal_commits": self.journal_commits,
            "last_seq": self.last_seq,
        }


def sim_funding_parameters(instrument: str, settlement_asset: str, interval_ns: int, sample_interval_ns: int) -> SetFundingParameters:
    """The house funding terms for a simulated interval: 8-hour interest and dampener pro rata.

    Raises ValueError on an interval or cadence the venue would refuse (a harness setting error).
    """
    house = default_funding_parameters(instrument, _IMPACT_NOTIONAL_UNITS.get(settlement_asset, 25_000))
    command = SetFundingParameters(
        instrument=instrument,
        interval_ns=interval_ns,
        interest_rate_e8=house.interest_rate_e8 * interval_ns // house.interval_ns,  # house rates are quoted per 8 h
        dampener_e8=house.dampener_e8 * interval_ns // house.interval_ns,
        cap_fraction_bps=house.cap_fraction_bps,
        premium_sample_interval_ns=sample_interval_ns,
        impact_notional=house.impact_notional,
        weighting=house.weighting,
    )
    problem = funding_schedule_problem(command)
    if problem is not None:
        raise ValueError(f"{instrument}: funding parameters refused: {problem[0].name} {problem[1]}")
    return command


def simulation_genesis(cfg: HarnessConfig) -> list[VenueCommand]:
    """The default genesis, then (with funding on) the simulator's funding parameters per instrument."""
    genesis = default_genesis()
    if cfg.funding_interval_ns is None:
        return genesis
    listed = [c for c in genesis if isinstance(c, ListInstrument)]
    return genesis + [
        sim_funding_parameters(c.instrument, c.settlement_asset, cfg.funding_interval_ns, cfg.premium_sample_interval_ns) for c in listed
    ]


class _StampClock:
    """The sequencer's clock: the scenario's, or a held time for a command due at a past grid time."""

    __slots__ = ("clock", "held_ns")

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.held_ns: int | None = None

    def __call__(self) -> int:
        return self.held_ns if self.held_ns is not None else self.clock()


def run_simulation(
    scenario_config: ScenarioConfig,
    harness_config: HarnessConfig,
    progress: ProgressCallback | None = None,
    progress_every: int = 250,
) -> SimulationSummary:
    """Run one session through the sequencer and journal; return its summary.

    An exception out of the engine (a bug, not a reject) stops the run with
    ``SimulationAborted`` after the journal is committed and closed, so the journal
    holds the command that caused it.
    """
    started = time.perf_counter()
    journal_dir = Path(harness_config.journal_dir)
    journal_path = _fresh_journal_dir(journal_dir)
    scenario = Scenario(scenario_config, genesis=simulation_genesis(harness_config))
    clock = scenario.clock
    engine = VenueEngine()
    summary = SimulationSummary(
        seed=scenario_config.seed, minutes=scenario_config.minutes, shock=scenario_config.shock, journal_path=str(journal_path)
    )
    snapshots = SnapshotStore(journal_dir / SNAPSHOT_DIRECTORY_NAME) if harness_config.snapshot_every else None
    journal = FileJournal.open(journal_path)
    try:
        stamp = _StampClock(clock)
        sequencer = Sequencer(
            engine,
            journal,
            CommandCodec(VenueCommand),
            stamp,
            checkpoint_every=harness_config.checkpoint_every,
            snapshot_every=harness_config.snapshot_every,
            snapshots=snapshots,
        )
        _drive(scenario, sequencer, stamp, engine, harness_config, summary, progress, progress_every)
        if journal.has_pending:
            sequencer.commit()
            summary.journal_commits += 1
        _check(engine, sequencer.last_seq, summary)
        final_hash = engine.state_hash()
        if sequencer.last_seq % harness_config.checkpoint_every:
            journal.append_checkpoint(sequencer.last_seq, sequencer.last_ts_ns, final_hash)
            journal.commit()
        summary.final_state_hash = final_hash.hex()
        summary.last_seq = sequencer.last_seq
    finally:
        journal.close()
    _collect_final_state(scenario, engine, summary)
    summary.wall_seconds = time.perf_counter() - started
    if progress is not None:
        progress(scenario_config.duration_ns, scenario_config.duration_ns, summary.commands)
    return summary


def _drive(
    scenario: Scenario,
    sequencer: Sequencer,
    stamp: _StampClock,
    engine: VenueEngine,
    cfg: HarnessConfig,
    summary: SimulationSummary,
    progress: ProgressCallback | None,
    progress_every: int,
) -> None:
    clock = scenario.clock
    total_ns = scenario.config.duration_ns
    submit = sequencer.submit
    observe = scenario.observe
    tally = _EventTally(scenario, summary)
    pending = 0
    last_commit_ns = clock.now_ns
    sampler: PremiumSampler | None = None
    if cfg.funding_interval_ns is not None:
        # the sampler reads each instrument's funding parameters from the venue (set by the genesis)
        sampler = PremiumSampler([m.symbol for m in scenario.markets], start_ns=scenario.config.start_ns)

    def settle(ts_ns: int, command: SettleFunding) -> None:
        # a price-service command: journaled and applied at its interval end; participants do not react to it
        nonlocal pending
        stamp.held_ns = ts_ns
        try:
            seq, events = submit(command)
        except Exception as error:
            raise SimulationAborted(f"engine raised {error!r} on seq {sequencer.last_seq}: {command!r}") from error
        finally:
            stamp.held_ns = None
        tally.add(type(command).__name__, events)
        pending += 1
        if seq % cfg.check_every == 0:
            _check(engine, seq, summary)

    for command in scenario.commands():
        if sampler is not None:
            sampler.advance(clock.now_ns, engine.state, settle)
        try:
            seq, events = submit(command)
        except Exception as error:
            raise SimulationAborted(f"engine raised {error!r} on seq {sequencer.last_seq}: {command!r}") from error
        observe(seq, events)
        tally.add(type(command).__name__, events)
        pending += 1
        if pending >= cfg.commit_every or clock.now_ns - last_commit_ns >= cfg.commit_interval_ns:
            sequencer.commit()
            summary.journal_commits += 1
            pending = 0
            last_commit_ns = clock.now_ns
        if seq % cfg.check_every == 0:
            _check(engine, seq, summary)
        if progress is not None and seq % progress_every == 0:
            progress(min(scenario.elapsed_ns, total_ns), total_ns, summary.commands)
    if sampler is not None:
        sampler.finish(clock.now_ns, engine.state, settle)


class _EventTally:
    """Counts commands, accepted orders, rejects and trades from the event stream, and feeds
    the liquidation and funding figures (``WaterfallTally``)."""

    __slots__ = ("summary", "stats", "unit_values", "waterfall")

    def __init__(self, scenario: Scenario, summary: SimulationSummary) -> None:
        self.summary = summary
        self.unit_values = {m.symbol: m.unit_value for m in scenario.markets}
        for m in scenario.markets:
            summary.instruments[m.symbol] = InstrumentStats(
                instrument=m.symbol, base_asset=m.reference, settlement_asset=m.settlement, qty_decimals=m.qty_decimals
            )
        self.stats = summary.instruments
        self.waterfall = summary.waterfall = WaterfallTally(markets={m.symbol: MarketTerms(m.settlement, m.unit_value) for m in scenario.markets})

    def add(self, command_name: str, events: list[object]) -> None:
        summary = self.summary
        summary.commands += 1
        self.waterfall.add(events)
        for event in events:
            kind = type(event)
            if kind is TradeExecuted:
                self._trade(event)  # type: ignore[arg-type]
            elif kind is OrderAccepted:
                summary.accepted_orders += 1
            elif kind is FundingSettled:
                self._funding(event)  # type: ignore[arg-type]
            elif kind is Rejected:
                key = f"{command_name}: {event.reason}"  # type: ignore[attr-defined]
                summary.rejects[key] = summary.rejects.get(key, 0) + 1

    def _funding(self, f: FundingSettled) -> None:
        s = self.stats[f.instrument]
        s.funding_settlements += 1
        s.funding_paid += f.total_paid
        s.last_funding_rate_e8 = f.rate_e8

    def _trade(self, t: TradeExecuted) -> None:
        self.summary.trades += 1
        s = self.stats[t.instrument]
        s.trades += 1
        s.volume_qty += t.qty
        s.volume_notional += t.price * t.qty * self.unit_values[t.instrument]
        if t.maker_is_affiliated_mm or t.taker_is_affiliated_mm:
            s.mm_volume_qty += t.qty
        if t.maker_is_affiliated_mm:
            s.mm_maker_qty += t.qty
        if t.taker_is_affiliated_mm:
            s.mm_taker_qty += t.qty


def _check(engine: VenueEngine, seq: int, summary: SimulationSummary) -> None:
    """Run every venue invariant once; keep the first findings."""
    findings = check_all(engine.state)
    summary.invariant_checks_run += 1
    if not findings:
        summary.invariant_checks_passed += 1
        return
    for finding in findings:
        if len(summary.findings) < _MAX_FINDINGS_KEPT:
            summary.findings.append(f"after seq {seq}: {finding.check}: {finding.message}")


def _collect_final_state(scenario: Scenario, engine: VenueEngine, summary: SimulationSummary) -> None:
    for sym, stats in summary.instruments.items():
        stats.open_interest = engine.open_interest(sym)
    assets = sorted({m.settlement for m in scenario.markets})
    summary.fees_collected = {asset: engine.balance(FEE_INCOME, asset) for asset in assets}


def _fresh_journal_dir(journal_dir: Path) -> Path:
    """Create the directory, remove a previous run's journal and snapshots; return the journal path."""
    journal_dir.mkdir(parents=True, exist_ok=True)
    journal_path = journal_dir / JOURNAL_FILE_NAME
    journal_path.unlink(missing_ok=True)
    snapshot_dir = journal_dir / SNAPSHOT_DIRECTORY_NAME
    if snapshot_dir.is_dir():
        for old in snapshot_dir.glob("*.snapshot*"):
            old.unlink()
    return journal_path
