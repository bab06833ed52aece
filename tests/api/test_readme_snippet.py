"""Done means (issue 5): ``make run`` serves a live simulated market that ccxt trades against
using only the snippet from the README.

These tests start the real ``harbour serve`` process (what ``make run`` runs) on a free loopback
port, take the snippet and the example from README.md itself, change only the address (the
README names the default 127.0.0.1:8080 that ``make run`` uses), and trade with the ccxt package.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harbour.api.service import JOURNAL_FILE_NAME
from harbour.cli.serve import serve

from .conftest import WAIT_S

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADDRESS = "127.0.0.1:8080"
BTC = "BTC/USD:USD"
STARTUP_S = 60.0  # bound on the server's start (a loaded CI machine); never asserted on


def readme_block(marker: str) -> str:
    """The fenced python block that follows the ``<!-- marker`` comment in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- " + re.escape(marker) + r"\b[^\n]*-->\n```python\n(.*?)```", text, re.S)
    assert found, f"README.md has no python block after <!-- {marker} -->"
    return found.group(1)


@dataclass
class Served:
    """A ``harbour serve`` child process and what it printed."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    printed: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    def read_until(self, done: str) -> None:
        deadline = time.monotonic() + STARTUP_S
        while not any(line.startswith(done) for line in self.printed):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None and self.lines.empty():
                raise AssertionError("harbour serve printed no snippet:\n" + "".join(self.printed))
            try:
                self.printed.append(self.lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                pass
        self.printed.append(self.lines.get(timeout=STARTUP_S))  # the snippet's last line

    @property
    def address(self) -> str:
        found = re.search(r"listening on http://(\S+)", "".join(self.printed))
        assert found
        return found.group(1)

    @property
    def snippet(self) -> str:
        text = "".join(self.printed)
        start = text.index("import re\n")
        end = text.index("})\n", text.index("\nex = ")) + len("})\n")
        return text[start:end]

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it; the exit status (everything printed is then in ``printed``)."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(STARTUP_S)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(STARTUP_S)
            if self.pump is not None:
                self.pump.join(STARTUP_S)
            while not self.lines.empty():
                self.printed.append(self.lines.get())


def start_serve(journal_dir: Path) -> Served:
    """``harbour serve`` as ``make run`` starts it, but on any free port and a temporary journal."""
    command = [sys.executable, "-c", "from harbour.cli.main import app; app()", "serve", "--port", "0", "--journal-dir", str(journal_dir)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    served = Served(process)

    def pump() -> None:  # drain the pipe so the server never blocks on a full one
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                served.lines.put(line)

    served.pump = threading.Thread(target=pump, name="serve-output", daemon=True)
    served.pump.start()
    served.read_until("ex = ")
    return served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = start_serve(tmp_path_factory.mktemp("make-run"))
    try:
        yield running
    finally:
        running.interrupt()


def from_readme(served: Served, module: str = "ccxt.pro") -> dict[str, Any]:
    """Run the README's snippet with only the address changed (and the import line, for ``module``)."""
    source = readme_block("ccxt-snippet").replace(DEFAULT_ADDRESS, served.address)
    if module != "ccxt.pro":
        source = source.replace("import ccxt.pro as ccxtpro", f"import {module} as ccxtpro")
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    return namespace


def test_the_readme_snippet_is_exactly_what_make_run_prints_with_only_the_address_differing(served: Served) -> None:
    readme = readme_block("ccxt-snippet")

    assert readme.count(DEFAULT_ADDRESS) == 2  # REST and WS: the only text that depends on the port
    assert served.snippet == readme.replace(DEFAULT_ADDRESS, served.address)


def test_make_run_starts_harbour_serve_on_the_default_address_the_readme_snippet_names() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:[^\n]*\n\t([^\n]*)", makefile, re.M)
    defaults = inspect.signature(serve).parameters

    assert recipe and recipe.group(1).split() == ["$(VENV)/bin/harbour", "serve"]
    assert f"{defaults['host'].default}:{defaults['port'].default}" == DEFAULT_ADDRESS


def test_make_run_prints_the_address_and_every_demo_key(served: Served) -> None:
    printed = "".join(served.printed)

    for label in ("client-a", "client-b", "lapsed-pi-client", "market-maker", "auditor", "operator", "compliance"):
        assert re.search(rf"^  {label} .* key=[0-9a-f]{{64}}\n +secret=[0-9a-f]{{64}}$", printed, re.M), label
    assert f"listening on http://{served.address}" in printed


def test_the_readme_example_run_after_the_snippet_places_and_cancels_an_order(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = from_readme(served)

    exec(readme_block("ccxt-example"), namespace)

    printed = capsys.readouterr().out
    assert "'status': 'canceled'" in printed
    assert "'USD': {'free':" in printed


def test_a_ccxt_pro_client_from_the_readme_snippet_trades_and_follows_the_market(served: Served) -> None:
    async def session(ex: Any) -> tuple[Any, ...]:
        try:
            markets = await ex.load_markets()
            balance = await ex.fetch_balance()
            book = await asyncio.wait_for(ex.watch_order_book(BTC), WAIT_S)
            price = float(ex.price_to_precision(BTC, book["bids"][0][0] * 0.98))
            watching = asyncio.ensure_future(ex.watch_orders(BTC))
            await asyncio.sleep(1.0)  # the user-data socket opens (listen key, then connect)
            order = await ex.create_order(BTC, "limit", "buy", 0.001, price)
            seen = await asyncio.wait_for(watching, WAIT_S)
            while order["id"] not in [o["id"] for o in seen]:
                seen = await asyncio.wait_for(ex.watch_orders(BTC), WAIT_S)
            cancelled = await ex.cancel_order(order["id"], BTC)
            return markets, balance, book, order, seen, cancelled
        finally:
            await ex.close()

    markets, balance, book, order, seen, cancelled = asyncio.run(session(from_readme(served)["ex"]))

    assert {BTC, "ETH/HKD:HKD"} <= set(markets)
    assert balance["USD"]["total"] >= 900_000 and balance["HKD"]["total"] >= 7_000_000
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    assert order["status"] == "open" and order["price"] < book["asks"][0][0]
    assert order["id"] in [o["id"] for o in seen]
    assert cancelled["status"] == "canceled"


def test_the_synchronous_ccxt_class_works_with_the_same_snippet(served: Served) -> None:
    ex = from_readme(served, "ccxt")["ex"]

    ex.load_markets()
    balance = ex.fetch_balance()
    price = float(ex.price_to_precision(BTC, ex.fetch_ticker(BTC)["last"] * 0.98))
    order = ex.create_order(BTC, "limit", "buy", 0.001, price)
    cancelled = ex.cancel_order(order["id"], BTC)

    assert balance["USD"]["total"] >= 900_000
    assert order["status"] == "open"
    assert cancelled["status"] == "canceled"
    assert ex.fetch_order(order["id"], BTC)["status"] == "canceled"


def test_ctrl_c_stops_harbour_serve_cleanly_and_frees_its_port(tmp_path: Path) -> None:
    running = start_serve(tmp_path)
    host, port = running.address.split(":")

    status = running.interrupt()

    assert status == 0
    assert "stopping" in "".join(running.printed)
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=5):
        pass
    assert (tmp_path / JOURNAL_FILE_NAME).stat().st_size > 0

