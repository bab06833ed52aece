"""The ``harbour`` command line: run a simulated session, replay a journal.

Owns presentation only: parsing options, progress display and the summary tables.
The work is done by ``harbour.sim`` (simulate) and ``harbour.journal`` (replay).

Exit codes: 0 healthy; 1 an invariant failed or a replay checkpoint mismatched;
2 the journal could not be read (corrupt, locked, missing) or the engine raised.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Final

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from harbour.broker import VA_UNITS_PER_COIN, BrokerConfig
from harbour.cli.serve import serve as serve_command
from harbour.journal import CommandCodec, Sequencer, recover
from harbour.journal import replay as replay_journal
from harbour.kernel.errors import HarbourError
from harbour.kernel.money import MICRO, format_units
from harbour.sim.broker_report import (
    MET_BY_CLIENT,
    MET_BY_FORCED_SALE,
    MET_BY_MARKET,
    build_reports,
    call_outcomes,
    configuration_summary,
    default_report_dir,
    iso,
    run_for_report,
    write_reports,
)
from harbour.sim.broker_scenario import BrokerSimConfig, BrokerSimResult, load_broker_config, run_broker_simulation
from harbour.sim.clock import NS_PER_SECOND, SESSION_START_NS
from harbour.sim.harness import (
    JOURNAL_FILE_NAME,
    HarnessConfig,
    InstrumentStats,
    SimulationSummary,
    default_journal_dir,
    run_simulation,
)
from harbour.sim.scenario import ScenarioConfig
from harbour.sim.shock import SHOCKS
from harbour.sim.venue_stress import ALL_SCENARIOS, DEFAULT_SCENARIOS, ScenarioResult, VenueStressReport, run_venue_stress
from harbour.venue import VenueEngine, VenueEngineFactory, check_all, default_genesis
from harbour.venue.commands import VenueCommand
from harbour.venue.disclosure import build_disclosure
from harbour.venue.events import Rejected

EXIT_OK: Final = 0
EXIT_UNHEALTHY: Final = 1
EXIT_ERROR: Final = 2

app = typer.Typer(
    name="harbour",
    help="Harbour: a deterministic, event-sourced venue for HK-regulated BTC/ETH perpetuals.",
    no_args_is_help=True,
    add_completion=False,
)
# Reports written to a file or a pipe are read whole, not in an 80-column terminal: wide enough
# for the stress and broker tables unwrapped (COLUMNS, when set, still wins).
console = Console(highlight=False, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200)
broker_app = typer.Typer(name="broker", help="The VA margin-financing broker: simulate a seeded book through a VA crash; print its compliance reports.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")
app.command(name="serve")(serve_command)


@app.callback()
def main() -> None:
    """Harbour venue tools."""


# --- simulate ----------------------------------------------------------------------


@app.command()
def simulate(
    seed: Annotated[int, typer.Option(help="Seed of the session: the same seed gives the same final state.")] = 7,
    minutes: Annotated[float, typer.Option(min=0.01, help="Simulated minutes of trading.")] = 5.0,
    journal_dir: Annotated[
        Path | None, typer.Option("--journal-dir", help="Where to journal (overwritten). Default: var/sim-<seed>/.")
    ] = None,
    clients: Annotated[int, typer.Option(min=1, help="Number of professional-investor clients.")] = 40,
    rate: Annotated[int, typer.Option(min=1, help="Client actions per simulated minute (the MM and the price feed add more).")] = 1_200,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Journal a state-hash checkpoint every N commands.")] = 1_000,
    check_every: Annotated[int, typer.Option(min=1, help="Run every venue invariant every N commands.")] = 1_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
    shock: Annotated[
        str, typer.Option(help=f"Run the session through a library crash, prices as index prints: {', '.join(sorted(SHOCKS))}.")
    ] = "",
) -> None:
    """Run a seeded trading session through the sequencer and journal, then summarise it."""
    if shock and shock not in SHOCKS:
        console.print(f"[bold red]unknown shock {shock!r}[/]; known: {', '.join(sorted(SHOCKS))}")
        raise typer.Exit(EXIT_ERROR)
    scenario_config = ScenarioConfig(seed=seed, minutes=minutes, clients=clients, client_actions_per_minute=rate, shock=shock)
    harness_config = HarnessConfig(
        journal_dir=journal_dir if journal_dir is not None else default_journal_dir(seed),
        checkpoint_every=checkpoint_every,
        check_every=check_every,
    )
    total_s = scenario_config.duration_ns // NS_PER_SECOND
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]simulating[/] seed {task.fields[seed]}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TextColumn("[cyan]{task.fields[commands]:,}[/] commands"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
        disable=as_json,
    )
    with progress:
        task = progress.add_task("sim", total=total_s, seed=seed, clock=_sim_clock(0, total_s), commands=0)

        def report(elapsed_ns: int, total_ns: int, commands: int) -> None:
            done = elapsed_ns // NS_PER_SECOND
            progress.update(task, completed=done, clock=_sim_clock(done, total_s), commands=commands)

        try:
            summary = run_simulation(scenario_config, harness_config, progress=report)
        except HarbourError as error:
            progress.stop()
            console.print(f"[bold red]simulation stopped:[/] {error}")
            raise typer.Exit(EXIT_ERROR) from error
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary)
    raise typer.Exit(EXIT_OK if summary.invariants_ok else EXIT_UNHEALTHY)


def _sim_clock(done_s: int, total_s: int) -> str:
    return f"{done_s // 60:02d}:{done_s % 60:02d} / {total_s // 60:02d}:{total_s % 60:02d} sim"


def _print_summary(s: SimulationSummary) -> None:
    session = Table(title=f"Harbour simulation: seed {s.seed}, {s.minutes:g} simulated minutes", show_header=False, title_justify="left")
    session.add_column("metric", style="bold")
    session.add_column("value", justify="right")
    session.add_row("commands", f"{s.commands:,}")
    session.add_row("commands / simulated minute", f"{s.commands / s.minutes:,.0f}")
    session.add_row("accepted orders", f"{s.accepted_orders:,}")
    session.add_row("rejects", f"{s.rejects_total:,}")
    session.add_row("trades", f"{s.trades:,}")
    for asset, amount in s.fees_collected.items():
        session.add_row(f"fees collected ({asset})", _money(amount))
    session.add_row("journal commits (fsync)", f"{s.journal_commits:,}")
    checks_style = "green" if s.invariants_ok else "bold red"
    session.add_row("invariant checks passed", f"[{checks_style}]{s.invariant_checks_passed} / {s.invariant_checks_run}[/]")
    session.add_row("journal", s.journal_path)
    session.add_row("wall time", f"{s.wall_seconds:.2f} s ({s.commands / s.wall_seconds:,.0f} commands/s)" if s.wall_seconds else "-")
    console.print(session)

    markets = Table(title="Instruments", title_justify="left")
    markets.add_column("")
    instruments = list(s.instruments.values())
    for m in instruments:
        markets.add_column(m.instrument, justify="right")

    def qty(m: InstrumentStats, q: int) -> str:
        whole, _, frac = format_units(q, m.qty_decimals).partition(".")
        grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
        return f"{grouped} {m.base_asset}"

    rows: list[tuple[str, list[str]]] = [
        ("trades", [f"{m.trades:,}" for m in instruments]),
        ("volume", [qty(m, m.volume_qty) for m in instruments]),
        ("notional", [f"{_money(m.volume_notional, 2)} {m.settlement_asset}" for m in instruments]),
        ("affiliated-MM share of volume", [f"{m.mm_share:.1%}" for m in instruments]),
        ("  MM as maker", [qty(m, m.mm_maker_qty) for m in instruments]),
        ("  MM as taker", [qty(m, m.mm_taker_qty) for m in instruments]),
        ("open interest", [qty(m, m.open_interest) for m in instruments]),
        ("funding settlements", [f"{m.funding_settlements:,}" for m in instruments]),
        ("funding paid", [f"{_money(m.funding_paid, 2)} {m.settlement_asset}" for m in instruments]),
        ("last funding rate", [f"{format_units(m.last_funding_rate_e8, 6)}%" for m in instruments]),
    ]
    for label, cells in rows:
        markets.add_row(label, *cells)
    console.print(markets)

    if s.shock or s.waterfall.liquidations:
        _print_waterfall(s)

    if s.rejects:
        rejects = Table(title="Rejects by reason", title_justify="left")
        rejects.add_column("command")
        rejects.add_column("reason")
        rejects.add_column("count", justify="right")
        for key, count in sorted(s.rejects.items(), key=lambda kv: (-kv[1], kv[0])):
            command, _, reason = key.partition(": ")
            rejects.add_row(command, reason, f"{count:,}")
        console.print(rejects)

    console.print(f"final state hash [bold]{s.final_state_hash}[/]", soft_wrap=True)
    if s.findings:
        console.print("[bold red]invariant findings:[/]")
        for finding in s.findings:
            console.print(f"  {finding}")
    else:
        console.print(f"[green]all {s.invariant_checks_run} invariant checks passed[/]")


def _print_waterfall(s: SimulationSummary) -> None:
    """Liquidations, the loss waterfall layer by layer, ADL and funding, all from the session's events."""
    w = s.waterfall
    title = f"Shock {s.shock}: liquidations and the loss waterfall" if s.shock else "Liquidations and the loss waterfall"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")

    def amounts(by_asset: dict[str, int], decimals: int = 2) -> str:
        return ", ".join(f"{asset} {_money(amount, decimals)}" for asset, amount in sorted(by_asset.items()) if amount) or "0"

    table.add_row("liquidations (accounts)", f"{w.liquidations:,} ({len(w.accounts_liquidated):,})")
    table.add_row("liquidation steps", f"{w.steps:,}")
    for sym in sorted(w.closed_qty):
        asset = w.markets[sym].settlement_asset
        table.add_row(
            f"  {sym} closed: book / backstop / ADL (lots)",
            f"{w.book_qty.get(sym, 0):,} / {w.backstop_qty.get(sym, 0):,} / {w.adl_qty.get(sym, 0):,}",
        )
        table.add_row(f"  {sym} notional closed", f"{asset} {_money(w.closed_notional.get(sym, 0), 2)}")
    table.add_row("liquidation fees to the insurance fund", amounts(w.liquidation_fees))
    table.add_row("paid by defaulters' margin", amounts(w.layer("DEFAULTER_MARGIN")))
    table.add_row("paid by defaulters' other gains (at the mark)", amounts(w.layer("DEFAULTER_GAINS")))
    table.add_row("paid by the insurance fund", amounts(w.layer("INSURANCE_FUND")))
    table.add_row("paid by the operator tranche", amounts(w.layer("OPERATOR_TRANCHE")))
    table.add_row("ADL trades", f"{w.adl_trades:,}")
    counterparties = ", ".join(f"{account} ({qty:,})" for account, qty in sorted(w.adl_counterparties.items()))
    table.add_row("ADL counterparties (lots taken over)", counterparties or "-")
    table.add_row("deficit in liquidations", amounts(w.layer("DEFICIT")))
    table.add_row("deficit outstanding (DEFICIT)", amounts(w.deficit))
    table.add_row("funding settlements", f"{w.funding_settlements:,}")
    table.add_row("  funding paid / received", f"{amounts(w.funding_paid)} / {amounts(w.funding_received)}")
    table.add_row("  funding residue to the fund / shortfall covered", f"{amounts(w.funding_residue, 6)} / {amounts(w.funding_shortfall)}")
    console.print(table)


def _money(micro_units: int, decimals: int = 6) -> str:
    """Format micro-units with thousands separators; with fewer decimals, truncate (display only)."""
    sign = "-" if micro_units < 0 else ""
    whole, frac = divmod(abs(micro_units), MICRO)
    if decimals <= 0:
        return f"{sign}{whole:,}"
    digits = f"{frac:06d}"[:decimals]
    return f"{sign}{whole:,}.{digits}"


# --- replay ------------------------------------------------------------------------------


class _RecordingFactory(VenueEngineFactory):
    """A venue engine factory that remembers the engines it made (to check them after)."""

    def __init__(self) -> None:
        self.made: list[VenueEngine] = []

    def new(self) -> VenueEngine:
        engine = super().new()
        self.made.append(engine)
        return engine


@app.command()
def replay(
    path: Annotated[Path, typer.Argument(help="A journal file, or a directory holding journal.log.")],
    check_invariants: Annotated[bool, typer.Option(help="Also run every venue invariant on the replayed state.")] = True,
) -> None:
    """Replay a journal into a fresh venue, checking every checkpoint's state hash."""
    journal_path = path / JOURNAL_FILE_NAME if path.is_dir() else path
    if not journal_path.is_file():
        console.print(f"[bold red]no journal at {journal_path}[/]")
        raise typer.Exit(EXIT_ERROR)
    factory = _RecordingFactory()
    try:
        with console.status(f"replaying {journal_path}"):
            report = replay_journal(journal_path, factory, CommandCodec(VenueCommand))
    except HarbourError as error:
        console.print(f"[bold red]replay failed:[/] {error}")
        raise typer.Exit(EXIT_ERROR) from error

    matched = report.checkpoints_checked - len(report.mismatched_seqs)
    table = Table(title=f"Replay of {journal_path}", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("commands applied", f"{report.commands_applied:,}")
    table.add_row("last seq", f"{report.last_seq:,}")
    table.add_row("checkpoints checked", f"{report.checkpoints_checked:,}")
    table.add_row("checkpoints matched", f"{matched:,}")
    if report.torn_tail_truncated:
        table.add_row("torn tail", "[yellow]truncated (never acknowledged)[/]")
    console.print(table)
    console.print(f"final state hash [bold]{report.final_state_hash}[/]", soft_wrap=True)

    healthy = report.is_consistent
    if healthy:
        console.print("[green]all checkpoints matched[/]")
    else:
        shown = ", ".join(str(seq) for seq in report.mismatched_seqs[:20])
        more = " ..." if len(report.mismatched_seqs) > 20 else ""
        console.print(f"[bold red]{len(report.mismatched_seqs)} checkpoint(s) mismatched at seq {shown}{more}[/]")
    if check_invariants and factory.made:
        findings = check_all(factory.made[-1].state)
        if findings:
            healthy = False
            console.print(f"[bold red]{len(findings)} invariant finding(s) on the replayed state:[/]")
            for finding in findings[:20]:
                console.print(f"  {finding.check}: {finding.message}")
        else:
            console.print("[green]all invariants hold on the replayed state[/]")
    raise typer.Exit(EXIT_OK if healthy else EXIT_UNHEALTHY)


# --- broker ---------------------------------------------------------------------------------

_BROKER_CONFIG_HELP = ("Risk configuration, a JSON object of BrokerConfig fields (e.g. {\"single_stock_max_bps\": 1500}); "
                       "fields left out keep the house defaults pending risk-committee sign-off.")


def _broker_config(path: Path | None, command: str) -> BrokerConfig | None:
    """The risk configuration of ``--config FILE``, or None (house defaults); exits with EXIT_ERROR if unreadable or refused."""
    if path is None:
        return None
    try:
        return load_broker_config(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"{command}: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None



@broker_app.command("simulate")
def broker_simulate(
    seed: Annotated[int, typer.Option(help="Seed of the book and the crash path: the same seed gives the same result.")] = 7,
    clients: Annotated[int, typer.Option(min=1, help="Number of margin clients in the book.")] = 40,
    hours: Annotated[int, typer.Option(min=1, help="Simulated hours of the VA crash path.")] = 72,
    capital: Annotated[int, typer.Option(min=0, help="Excess liquid capital, whole HKD (the S3/S4 comparison line).")] = 3_000_000,
    slippage_bps: Annotated[int, typer.Option(min=0, max=5_000, help="Liquidation slippage in the stress run, bps.")] = 200,
    show: Annotated[int, typer.Option(min=0, help="Rows shown per event table.")] = 15,
    broker_config: Annotated[Path | None, typer.Option("--config", help=_BROKER_CONFIG_HELP)] = None,
) -> None:
    """Run a seeded book through the broker engine and a VA crash; print warnings, calls, sales and the stress table."""
    config = BrokerSimConfig(seed=seed, clients=clients, hours=hours, excess_liquid_capital=capital * MICRO, slippage_bps=slippage_bps,
                             broker_config=_broker_config(broker_config, "broker simulate"))
    with console.status(f"simulating broker book, seed {seed}"):
        result = run_broker_simulation(config)
    _print_broker(result, show)
    raise typer.Exit(EXIT_OK if not result.findings else EXIT_UNHEALTHY)


@broker_app.command("report")
def broker_report(
    seed: Annotated[int, typer.Option(help="Seed of the simulated book: the same seed gives identical reports.")] = 7,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the Markdown and CSV files here. Default: Markdown to stdout, CSV to var/broker-report-<seed>/."),
    ] = None,
    clients: Annotated[int, typer.Option(min=1, help="Number of margin clients in the book.")] = 40,
    hours: Annotated[int, typer.Option(min=1, help="Simulated hours of the VA crash path.")] = 72,
    capital: Annotated[int, typer.Option(min=0, help="Excess liquid capital, whole HKD (stress line; capital if no book figures).")] = 3_000_000,
    slippage_bps: Annotated[int, typer.Option(min=0, max=5_000, help="Liquidation slippage in the stress run, bps.")] = 200,
    custody_statement: Annotated[
        Path | None,
        typer.Option("--custody-statement", help="External custody statement (CSV client,asset,qty) to reconcile the final book against (N2)."),
    ] = None,
    statement_date: Annotated[str, typer.Option(help="Date of the custody statement, YYYY-MM-DD (default: the as-of HKT date).")] = "",
    broker_config: Annotated[Path | None, typer.Option("--config", help=_BROKER_CONFIG_HELP)] = None,
) -> None:
    """Run the seeded broker simulation and write the compliance reports of regulation.md (c) items 1-7 as Markdown and CSV."""
    config = BrokerSimConfig(seed=seed, clients=clients, hours=hours, excess_liquid_capital=capital * MICRO, slippage_bps=slippage_bps,
                             broker_config=_broker_config(broker_config, "broker report"))
    try:
        run = run_for_report(config, statement=custody_statement, statement_date=statement_date)
    except (OSError, ValueError) as exc:
        typer.echo(f"broker report: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    reports = build_reports(run)
    out_dir = out if out is not None else default_report_dir(seed)
    written = write_reports(run, reports, out_dir, markdown_files=out is not None)
    if out is None:
        for rep in reports:
            typer.echo(rep.markdown(run))
        typer.echo(f"CSV files written to {out_dir}/")
    else:
        typer.echo(f"broker report: seed {seed}, state hash {run.state_hash}")
        for path in written:
            typer.echo(f"  {path}")
    if run.result.findings:
        typer.echo(f"{len(run.result.findings)} broker invariant finding(s):", err=True)
        for f in run.result.findings[:20]:
            typer.echo(f"  {f}", err=True)
    raise typer.Exit(EXIT_OK if not run.result.findings else EXIT_UNHEALTHY)


def _ratio(bps: int | None) -> str:
    return "unbounded" if bps is None else f"{bps / 100:.2f}%"


def _pct(bps: int) -> str:
    return f"{bps / 100:+.0f}%"


def _broker_time(ts_ns: int) -> str:
    """UTC time to the minute, from integer nanoseconds."""
    return iso(ts_ns)[:16].replace("T", " ")


def _print_broker(r: BrokerSimResult, show: int) -> None:
    summary = Table(title=f"Broker simulation: seed {r.seed}", show_header=False, title_justify="left")
    summary.add_column("metric", style="bold")
    summary.add_column("value", justify="right")
    summary.add_row("clients", ", ".join(f"{k.lower().replace('_', '-')} {v}" for k, v in r.kinds.items()))
    summary.add_row("margin loans before the crash (HKD)", _money(r.total_loans_before, 0))
    if r.btc_path:
        summary.add_row("BTC low / end vs start", f"{min(r.btc_path) / r.btc_path[0] - 1:+.1%} / {r.btc_path[-1] / r.btc_path[0] - 1:+.1%}")
    summary.add_row("commands / rejects", f"{r.commands:,} / {r.rejects:,}")
    summary.add_row("warnings (M2)", f"{len(r.warnings):,}")
    outcomes = list(call_outcomes(r.events).values())
    open_calls = len(r.calls) - len(outcomes)
    summary.add_row("margin calls issued (M3)", f"{len(r.calls):,}")
    summary.add_row(
        "  met by client top-up / forced sale / price or limit; open",
        f"{outcomes.count(MET_BY_CLIENT):,} / {outcomes.count(MET_BY_FORCED_SALE):,} / {outcomes.count(MET_BY_MARKET):,}; {open_calls:,}",
    )
    summary.add_row("forced sales started (M5)", f"{len(r.forced_sales):,}")
    summary.add_row("collateral sale fills (M6/M7)", f"{len(r.sales):,}")
    summary.add_row("bad debts booked (M8): count / HKD", f"{len(r.bad_debts):,} / {_money(sum(b.amount for b in r.bad_debts), 0)}")
    console.print(summary)
    if r.final_state is not None:
        console.print(f"risk configuration: {configuration_summary(r.final_state.config)}", soft_wrap=True)

    events = Table(title="Warnings and margin calls", title_justify="left")
    for col in ("seq", "client", "event", "cause", "R", "shortfall (HKD)"):
        events.add_column(col, justify="right" if col not in ("event", "cause") else "left")
    rows: list[tuple[int, int, str, str, int | None, int]] = [(w.seq, w.client, "warning", "", w.figures.ratio_bps, 0) for w in r.warnings]
    rows += [(m.seq, m.client, "call", m.cause.lower(), m.figures.ratio_bps, m.shortfall) for m in r.calls]
    for seq, client, kind, cause, ratio, shortfall in sorted(rows)[:show]:
        events.add_row(str(seq), str(client), kind, cause, _ratio(ratio), _money(shortfall, 0) if shortfall else "")
    console.print(events)

    sales = Table(title="Forced sales", title_justify="left")
    for col in ("seq", "client", "instrument", "qty", "price (HKD)", "net (HKD)", "loan repaid (HKD)"):
        sales.add_column(col, justify="left" if col == "instrument" else "right")
    for s in r.sales[:show]:
        qty = f"{s.qty / VA_UNITS_PER_COIN:,.8f}" if s.lot else f"{s.qty:,}"
        sales.add_row(str(s.seq), str(s.client), s.instrument, qty, _money(s.price, 2), _money(s.net, 0), _money(s.loan_repaid, 0))
    console.print(sales)

    if r.stress is not None:
        rep = r.stress
        table = Table(
            title=f"Stress table (S2/S3): {rep.clients} clients with loans, slippage {rep.inputs.slippage_bps} bps, "
            f"excess liquid capital HKD {_money(rep.inputs.excess_liquid_capital, 0)}",
            title_justify="left",
        )
        book = r.book_before_crash
        adv: dict[str, int] = {a: book.average_daily_volumes[a].qty for a in ("BTC", "ETH") if book is not None and a in book.average_daily_volumes}

        def of_adv(asset: str, sold: int) -> str:
            return f"{sold * 100 / adv[asset]:.1f}%" if adv.get(asset) else "n/a"

        cols = ("scenario", "BTC", "ETH", "equity", "in call", "forced", "sale (HKD)", "BTC/ETH sold % ADV", "deficit allowed", "deficit blocked", "vs capital")
        for col in cols:
            table.add_column(col, justify="left" if col == "scenario" else "right")
        for res in rep.results:
            breach = "[bold red]EXCEEDS[/]" if res.exceeds_capital_blocked else "[green]within[/]"
            table.add_row(
                res.scenario, _pct(res.btc_shock_bps), _pct(res.eth_shock_bps), _pct(res.equity_shock_bps),
                str(res.clients_in_call), str(res.clients_forced), _money(res.sale_value, 0),
                f"{of_adv('BTC', res.sale_btc_units)} / {of_adv('ETH', res.sale_eth_units)}",
                _money(res.deficit_allowed, 0), _money(res.deficit_blocked, 0), breach,
            )
        console.print(table)
        console.print(f"stress book state hash {rep.state_hash}", soft_wrap=True)
    if r.reverse is not None:
        rv = r.reverse
        if rv.shock_bps is None:
            console.print("reverse stress (S4): the book deficit stays within excess liquid capital even at BTC/ETH -100%")
        else:
            console.print(
                f"reverse stress (S4): book deficit exceeds excess liquid capital from BTC/ETH -{rv.shock_bps / 100:.2f}% "
                f"(deficit HKD {_money(rv.deficit_at_shock, 0)}; at -{(rv.shock_bps - 1) / 100:.2f}%: HKD {_money(rv.deficit_below, 0)})"
            )
    if r.stress_runs:
        runs = Table(title="Stress reruns (S1: end of day and BTC/ETH moves of 5% within an hour)", title_justify="left")
        for col in ("time (UTC)", "trigger", "BTC (HKD)", "worst scenario", "worst deficit blocked (HKD)", "scenarios above capital", "reverse stress"):
            runs.add_column(col, justify="right" if col not in ("trigger", "worst scenario") else "left")
        for run in r.stress_runs[:show]:
            reverse = "not reached at -100%" if run.reverse_shock_bps is None else f"-{run.reverse_shock_bps / 100:.2f}%"
            runs.add_row(
                _broker_time(run.ts_ns), run.trigger, _money(run.btc_price, 0), run.worst_scenario, _money(run.worst_deficit_blocked, 0),
                str(run.scenarios_exceeding_capital), reverse,
            )
        console.print(runs)
    console.print(f"final state hash [bold]{r.final_state_hash}[/]", soft_wrap=True)
    if r.findings:
        console.print(f"[bold red]{len(r.findings)} invariant finding(s):[/]")
        for f in r.findings[:20]:
            console.print(f"  {f}")
    else:
        console.print("[green]all broker invariants hold[/]")


# --- disclosure and venue stress ----------------------------------------------------------------


def _journal_directory(path: Path) -> Path:
    """A journal directory (holding journal.log), or the directory of a journal.log file."""
    if path.is_file():
        if path.name != JOURNAL_FILE_NAME:
            console.print(f"[bold red]{path} is not a {JOURNAL_FILE_NAME}: give the journal directory[/]")
            raise typer.Exit(EXIT_ERROR)
        return path.parent
    if not (path / JOURNAL_FILE_NAME).is_file():
        console.print(f"[bold red]no journal at {path / JOURNAL_FILE_NAME}[/]")
        raise typer.Exit(EXIT_ERROR)
    return path


@app.command()
def disclosure(
    journal: Annotated[
        Path | None, typer.Option("--journal", help="Generate from this journal's end state. Default: the embedded default configuration.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write the JSON document instead of Markdown.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Generate the rulebook disclosure (Markdown or JSON, with version and content hash) from the live venue state."""
    if journal is None:
        engine = VenueEngine()
        last_seq, last_ts = 0, SESSION_START_NS
        for command in default_genesis():
            last_seq += 1
            engine.apply(last_seq, last_ts, command)
    else:
        try:
            recovered, log, last_seq = recover(_journal_directory(journal), VenueEngineFactory(), CommandCodec(VenueCommand))
        except HarbourError as error:
            console.print(f"[bold red]could not read the journal:[/] {error}")
            raise typer.Exit(EXIT_ERROR) from error
        last_ts = log.last_ts_ns
        log.close()
        assert isinstance(recovered, VenueEngine)
        engine = recovered
    doc = build_disclosure(engine.state, as_of_seq=last_seq, as_of_ts_ns=last_ts)
    text = doc.to_json().decode() + "\n" if as_json else doc.markdown()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"disclosure version {doc.version}, content hash {doc.content_hash} written to {out}", soft_wrap=True)
    raise typer.Exit(EXIT_OK)


@app.command()
def stress(
    journal: Annotated[
        Path | None,
        typer.Option("--journal", help="Stress this journal's end state. Default: a fresh default simulation (var/stress-<seed>/)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the default simulation (without --journal).")] = 7,
    minutes: Annotated[float, typer.Option(min=0.01, help="Simulated minutes of the default simulation (without --journal).")] = 5.0,
    all_scenarios: Annotated[
        bool, typer.Option("--all-scenarios", help="The whole library (historical, tiers, hypothetical), not only the house tiers.")
    ] = False,
    record: Annotated[bool, typer.Option(help="Append the report's summary to the journal (RecordStressReport).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of tables.")] = False,
) -> None:
    """Apply the BTC/ETH stress scenarios to the book of positions: losses after margin, waterfall use, cover-2."""
    if journal is None:
        directory = Path("var") / f"stress-{seed}"
        config = HarnessConfig(journal_dir=directory)
        with console.status(f"simulating seed {seed} for {minutes:g} minutes"):
            summary = run_simulation(ScenarioConfig(seed=seed, minutes=minutes), config)
        if not summary.invariants_ok:
            console.print("[bold red]the simulation broke an invariant; not stressing it[/]")
            raise typer.Exit(EXIT_UNHEALTHY)
    else:
        directory = _journal_directory(journal)
    codec = CommandCodec(VenueCommand)
    try:
        recovered, log, last_seq = recover(directory, VenueEngineFactory(), codec)
    except HarbourError as error:
        console.print(f"[bold red]could not read the journal:[/] {error}")
        raise typer.Exit(EXIT_ERROR) from error
    recorded_seq: int | None = None
    try:
        assert isinstance(recovered, VenueEngine)
        engine = recovered
        report = run_venue_stress(engine.state, as_of_seq=last_seq, scenarios=ALL_SCENARIOS if all_scenarios else DEFAULT_SCENARIOS)
        if record:
            # stamped at the journal's last time: the report describes that state (the journal is
            # closed to any live writer while this runs, so no later command exists)
            as_of_ts = log.last_ts_ns
            sequencer = Sequencer(engine, log, codec, lambda: as_of_ts, checkpoint_every=None)
            recorded_seq, events = sequencer.submit(report.record_command())
            if any(isinstance(e, Rejected) for e in events):
                console.print(f"[bold red]the venue refused the report:[/] {events[0]}")
                raise typer.Exit(EXIT_ERROR)
            log.append_checkpoint(recorded_seq, as_of_ts, engine.state_hash())
            sequencer.commit()
    finally:
        log.close()
    if as_json:
        body = msgspec.to_builtins(report)
        body["report_hash"] = report.report_hash
        body["recorded_seq"] = recorded_seq
        body["journal"] = str(directory)
        typer.echo(json.dumps(body, indent=2))
    else:
        _print_stress(report, recorded_seq, directory)
    raise typer.Exit(EXIT_OK)


def _bps(bps: int) -> str:
    return f"{bps / 100:+g}%"


def _print_stress(rep: VenueStressReport, recorded_seq: int | None, directory: Path) -> None:
    ccy = rep.risk_currency
    table = Table(
        title=f"Venue stress test (library {rep.library_version}): {rep.accounts_with_positions} accounts with positions, "
        f"insurance fund {ccy} {_money(rep.insurance_fund, 0)}, operator tranche {ccy} {_money(rep.capital_tranche, 0)}",
        title_justify="left",
    )
    headers = ("scenario", "window", "move", "BTC", "ETH", "defaults", "loss after margin", "largest", "2nd largest",
               "insurance fund", "tranche", "ADL", "cover-2")
    for col in headers:
        table.add_column(col, justify="left" if col in ("scenario", "window", "move", "largest", "2nd largest") else "right")

    def who(r: ScenarioResult, i: int) -> str:
        largest = r.largest
        return f"{largest[i].participant}: {_money(largest[i].loss, 0)}" if len(largest) > i else "-"

    for r in rep.results:
        c = r.case
        verdict = "[green]covered[/]" if r.cover2_covered else "[bold red]ADL needed[/]"
        table.add_row(
            c.scenario, c.window, c.move, _bps(c.btc_bps), _bps(c.eth_bps), str(r.accounts_in_default),
            _money(r.total_loss, 0), who(r, 0), who(r, 1), _money(r.fund_used, 0), _money(r.tranche_used, 0),
            _money(r.adl, 0), f"{_money(r.cover2_loss, 0)} {verdict}",
        )
    console.print(table)
    worst = rep.worst
    failures = rep.cover2_failures
    if failures:
        console.print(f"[bold red]cover-2 NOT met in {failures} of {len(rep.results)} cases[/]; worst: {worst.case.label}, "
                      f"two largest lose {ccy} {_money(worst.cover2_loss, 0)} against {ccy} {_money(rep.insurance_fund + rep.capital_tranche, 0)}")
    else:
        console.print(f"[green]cover-2 met in all {len(rep.results)} cases[/]: worst {worst.case.label}, two largest lose "
                      f"{ccy} {_money(worst.cover2_loss, 0)} of {ccy} {_money(rep.insurance_fund + rep.capital_tranche, 0)} (fund + tranche)")
    console.print(f"as of seq {rep.as_of_seq}, state hash {rep.as_of_state_hash}", soft_wrap=True)
    console.print(f"report hash [bold]{rep.report_hash}[/]", soft_wrap=True)
    if recorded_seq is not None:
        console.print(f"recorded in {directory / JOURNAL_FILE_NAME} at seq {recorded_seq}", soft_wrap=True)
