"""``harbour serve``: one process with the venue's single writer, the live simulated market and
the REST gateway on loopback.

``start_venue`` composes the parts (tests use it too): a ``VenueService`` seeded with the demo
venue, the ``LiveMarket`` (index feeds, funding clock, affiliated MM bot, client flow) as a
periodic job on the writer, and the gateway app under uvicorn.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

if TYPE_CHECKING:  # the server stack (uvicorn, websockets) is imported only when serving
    from harbour.api import Credential, KeyStore, ServerThread, VenueService, WriterContext
    from harbour.sim.live_market import LiveMarket

NS_PER_SECOND: Final = 1_000_000_000
MARKET_TICK_S: Final = 0.25


@dataclass(slots=True)
class RunningVenue:
    service: VenueService
    server: ServerThread
    credentials: list[Credential]
    market: LiveMarket | None
    keys: KeyStore

    @property
    def url(self) -> str:
        return self.server.url

    def snippet(self, label: str = "client-a") -> str:
        from harbour.api import ccxt_snippet

        cred = next(c for c in self.credentials if c.label == label)
        return ccxt_snippet(self.url, self.url.replace("http://", "ws://", 1), cred.api_key, cred.secret)

    def stop(self) -> None:
        self.server.stop()
        self.service.stop()


def start_venue(
    journal_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 7,
    market: bool = True,
    resume: bool = False,
    funding_interval_s: int = 8 * 3600,
    premium_sample_s: int = 5,
) -> RunningVenue:
    """Start the writer, the simulated market and the HTTP server; return once all accept work."""
    from harbour.api import GatewayConfig, ServerThread, VenueService, create_app, demo_keys, demo_setup
    from harbour.api.demo import FLOW_ACCOUNT, MM_ACCOUNT
    from harbour.sim.live_market import LiveMarket, LiveMarketConfig

    start_ns = time.time_ns()
    service = VenueService(journal_dir, setup=demo_setup(start_ns), resume=resume)
    keys, credentials = demo_keys(seed)
    live: LiveMarket | None = None
    if market:
        holder: list[LiveMarket] = []

        def tick(ctx: WriterContext) -> None:
            if not holder:
                holder.append(
                    LiveMarket(
                        LiveMarketConfig(
                            seed=seed,
                            mm_account=MM_ACCOUNT,
                            flow_account=FLOW_ACCOUNT,
                            funding_interval_ns=funding_interval_s * NS_PER_SECOND,
                            premium_sample_interval_ns=premium_sample_s * NS_PER_SECOND,
                        ),
                        ctx.state,
                        ctx.now_ns,
                    )
                )
                service.subscribe(holder[0].observe)
            holder[0].tick(ctx.now_ns, ctx.state, ctx.submit)

        service.every(MARKET_TICK_S, tick, "live-market")
    service.start()
    server = ServerThread(create_app(service, keys, GatewayConfig()), host, port).start()
    if market:
        # the market's first tick ran on the writer's first pass: let it finish
        service.call(lambda ctx: None)
        live = holder[0] if holder else None
    return RunningVenue(service=service, server=server, credentials=credentials, market=live, keys=keys)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore Ctrl-C (SIGINT) for the duration (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 8080,
    seed: Annotated[int, typer.Option(help="Seed of the demo keys and the simulated market.")] = 7,
    journal_dir: Annotated[Path, typer.Option("--journal-dir", help="Where the venue journals.")] = Path("var/serve"),
    resume: Annotated[bool, typer.Option(help="Continue the journal in --journal-dir instead of starting afresh.")] = False,
    no_market: Annotated[bool, typer.Option("--no-market", help="No simulated feeds, market maker or flow.")] = False,
    funding_interval: Annotated[int, typer.Option(min=1, help="Funding interval, seconds.")] = 8 * 3600,
    seconds: Annotated[float, typer.Option(min=0, help="Stop after this many seconds (0: run until Ctrl-C).")] = 0.0,
) -> None:
    """Serve a live simulated venue (Binance USDⓈ-M REST dialect) for ccxt and other clients."""
    try:
        venue = start_venue(
            journal_dir, host=host, port=port, seed=seed, market=not no_market, resume=resume, funding_interval_s=funding_interval
        )
    except OSError as error:  # the address is taken (another `make run`?) or not ours to bind
        typer.echo(f"cannot listen on {host}:{port}: {error.strerror or error}; try --port 0 (any free port)", err=True)
        raise typer.Exit(1) from None
    try:  # from here on, Ctrl-C (even while printing) stops the venue cleanly
        typer.echo(f"Harbour venue listening on {venue.url}  (journal: {journal_dir}; Ctrl-C stops it)")
        typer.echo("Demo API keys (HMAC-SHA256; secrets derived from the seed, not stored):")
        for c in venue.credentials:
            account = f"account {c.account}" if c.account is not None else "no account"
            typer.echo(f"  {c.label:<17} {c.role.value:<14} {account:<13} key={c.api_key}")
            typer.echo(f"  {'':<17} secret={c.secret}")
        typer.echo("\nConnect with ccxt (every URL of the class repointed; 'hostname' only matters for a production fapi.<domain> host):\n")
        typer.echo(venue.snippet())
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
            if venue.service.failure is not None:
                typer.echo(f"venue writer stopped: {venue.service.failure!r}", err=True)
                raise typer.Exit(2)
    except KeyboardInterrupt:
        typer.echo("\nstopping (the journal is committed; `harbour serve --resume` continues it)")
    finally:
        # a second Ctrl-C while stopping must not leave a traceback or a half-closed journal behind
        with _signals_ignored():
            venue.stop()
