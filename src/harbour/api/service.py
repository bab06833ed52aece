"""``VenueService``: the single writer behind the gateway.

One thread owns the sequencer, the journal, the venue engine and the read model. Every
request, and every tick of the simulated market, reaches them as a *job*: a function of a
``WriterContext`` put on one queue. The writer takes the jobs queued so far (a batch, in
arrival order), runs each (``ctx.submit(command)`` stamps, journals and applies a command;
reads see the state as of that point in the order), commits the journal once for the whole
batch (one write and one fsync), and only then hands each job its result. So:

* commands from all connections are serialised: there is exactly one order of events;
* no answer, and no event a job derived from its command, leaves before that command is
  durable (decision D12); a rejected command is journaled and acknowledged the same way;
* reads take no locks: they run on the writer between two commands.

Periodic jobs (index feeds, the funding clock, the market maker) run on the same thread
when due, between batches, so they are ordered with client commands like any other job.

Startup: a fresh directory is seeded with the setup commands (genesis, demo accounts); with
``resume`` an existing journal is replayed from its start (checkpoints checked) through a
fresh engine, so the read model is rebuilt from the same events the engine emitted.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final, TypeVar

from harbour.api.errors import ApiError
from harbour.api.readmodel import ReadModel
from harbour.journal import CommandCodec, FileJournal, RecordKind, Sequencer, SnapshotStore
from harbour.kernel.errors import InvariantBroken
from harbour.venue import VenueEngine
from harbour.venue.commands import VenueCommand
from harbour.venue.state import VenueState

_log = logging.getLogger(__name__)

T = TypeVar("T")
JOURNAL_FILE_NAME: Final = "journal.log"
SNAPSHOT_DIRECTORY_NAME: Final = "snapshots"
MAX_QUEUED_JOBS: Final = 10_000
MAX_BATCH: Final = 512

Subscriber = Callable[[int, int, Any, list[Any]], None]
"""Called on the writer thread as ``fn(seq, ts_ns, command, events)`` after every command."""
CommitHook = Callable[[], None]
"""Called on the writer thread after each batch, once its commands are durable (the streams
publish what the batch's subscribers gathered only then, so no event leaves before its command
is in the journal)."""


class WriterContext:
    """What a job may use: submit commands, read the engine and the read model."""

    __slots__ = ("_service", "now_ns")

    def __init__(self, service: VenueService, now_ns: int) -> None:
        self._service = service
        self.now_ns = now_ns

    @property
    def engine(self) -> VenueEngine:
        return self._service.engine

    @property
    def state(self) -> VenueState:
        return self._service.engine.state

    @property
    def reads(self) -> ReadModel:
        return self._service.reads

    @property
    def last_ts_ns(self) -> int:
        """The stamp of the last command submitted (this job's, right after ``submit``)."""
        sequencer = self._service._sequencer
        return sequencer.last_ts_ns if sequencer is not None else self.now_ns

    @property
    def last_seq(self) -> int:
        """The seq of the last command submitted (0 before the first)."""
        sequencer = self._service._sequencer
        return sequencer.last_seq if sequencer is not None else 0

    def submit(self, command: VenueCommand) -> tuple[int, list[Any]]:
        """Stamp, journal and apply ``command``; acknowledged when the batch commits."""
        return self._service._submit(command)


Job = Callable[[WriterContext], Any]


class _LoopWaiter:
    """An asyncio caller's answer: settled on its own event loop, with one hand-over per batch
    and loop (``call_soon_threadsafe``) instead of one cross-thread future per job."""

    __slots__ = ("loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.loop = loop
        self.future = future


Waiter = Future[Any] | _LoopWaiter
Outcome = tuple[Waiter, Any, BaseException | None]


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    """On the caller's loop: hand each job its result (a caller that gave up is skipped)."""
    for future, result, failure in settled:
        if future.done():
            continue
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(result)


def _hand_over(outcomes: list[Outcome]) -> None:
    """Resolve thread callers' futures now and each event loop's in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
    for waiter, result, failure in outcomes:
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, result, failure))
        elif failure is not None:
            waiter.set_exception(failure)
        else:
            waiter.set_result(result)
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            continue


class _Periodic:
    __slots__ = ("interval_ns", "job", "due_ns", "name")

    def __init__(self, interval_ns: int, job: Job, name: str) -> None:
        self.interval_ns = interval_ns
        self.job = job
        self.due_ns = 0
        self.name = name


class VenueService:
    """The single writer: sequencer + journal + engine + read model on one thread."""

    def __init__(
        self,
        directory: Path,
        *,
        setup: Sequence[VenueCommand] = (),
        clock: Callable[[], int] = time.time_ns,
        resume: bool = False,
        checkpoint_every: int = 1_000,
        snapshot_every: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.engine = VenueEngine()
        self.reads = ReadModel()
        self._setup = list(setup)
        self._clock = clock
        self._resume = resume
        self._checkpoint_every = checkpoint_every
        self._snapshot_every = snapshot_every
        self._codec = CommandCodec(VenueCommand)
        self._queue: queue.Queue[tuple[Job, Waiter] | None] = queue.Queue(MAX_QUEUED_JOBS)
        self._periodic: list[_Periodic] = []
        self._subscribers: list[Subscriber] = []
        self._commit_hooks: list[CommitHook] = []
        self._thread: threading.Thread | None = None
        self._journal: FileJournal | None = None
        self._sequencer: Sequencer | None = None
        self._failure: BaseException | None = None
        self._closed = False  # the writer has returned (stopped or failed): nothing queued will run
        self._ready = threading.Event()
        self.commands = 0
        self.commits = 0

    # --- wiring (before start) --------------------------------------------------------

    def every(self, interval_s: float, job: Job, name: str = "") -> None:
        """Run ``job`` on the writer about every ``interval_s`` seconds (wall clock)."""
        if interval_s <= 0:
            raise ValueError("interval must be positive")
        self._periodic.append(_Periodic(int(interval_s * 1e9), job, name or getattr(job, "__name__", "job")))

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with every command's events, on the writer thread."""
        self._subscribers.append(subscriber)

    def after_commit(self, hook: CommitHook) -> None:
        """Call ``hook`` on the writer thread after every batch, once its commands are durable."""
        self._commit_hooks.append(hook)

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Open (or seed) the journal and start the writer; returns when it is ready."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="harbour-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the queued jobs, commit, close the journal and stop the writer."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout_s)
        self._thread = None

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    # --- submitting jobs ---------------------------------------------------------------------

    def submit_job(self, job: Callable[[WriterContext], T]) -> Future[T]:
        """Queue ``job``; its future resolves after the batch it ran in is durable."""
        future: Future[T] = Future()
        refusal = self._refusal()
        if refusal is not None:
            future.set_exception(refusal)
            return future
        try:
            self._queue.put_nowait((job, future))
        except queue.Full:
            future.set_exception(ApiError(503, -1008, "Server is currently overloaded with other requests. Please try again in a few minutes."))
        self._answer_if_closed()
        return future

    async def run(self, job: Callable[[WriterContext], T]) -> T:
        """``submit_job`` for asyncio callers (answered on the caller's loop, once per batch)."""
        refusal = self._refusal()
        if refusal is not None:
            raise refusal
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        try:
            self._queue.put_nowait((job, _LoopWaiter(loop, future)))
        except queue.Full:
            raise ApiError(503, -1008, "Server is currently overloaded with other requests. Please try again in a few minutes.") from None
        self._answer_if_closed()
        return await future

    def _refusal(self) -> ApiError | None:
        """Why no job can be queued now (the writer failed or stopped), or None."""
        if self._failure is not None:
            return ApiError(503, -1001, f"venue writer stopped: {self._failure!r}")
        if self._closed:
            return ApiError(503, -1001, "venue writer stopped")
        return None

    def _answer_if_closed(self) -> None:
        """A job queued while the writer was returning would wait for ever: the writer drains the
        queue once it is closed, and whoever queues after that drains it again."""
        if self._closed:
            refusal = self._refusal()
            assert refusal is not None
            self._fail_queued(refusal)

    def call(self, job: Callable[[WriterContext], T], timeout_s: float | None = 30.0) -> T:
        """``submit_job`` and wait (for threads other than the writer)."""
        return self.submit_job(job).result(timeout_s)

    # --- the writer thread ---------------------------------------------------------------------

    def _submit(self, command: VenueCommand) -> tuple[int, list[Any]]:
        sequencer = self._sequencer
        if sequencer is None:
            raise InvariantBroken("writer not started")
        seq, events = sequencer.submit(command)
        self.commands += 1
        ts_ns = sequencer.last_ts_ns
        self.reads.observe(seq, ts_ns, command, events)
        for subscriber in self._subscribers:
            subscriber(seq, ts_ns, command, events)
        return seq, events

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / JOURNAL_FILE_NAME
        snapshots_dir = self.directory / SNAPSHOT_DIRECTORY_NAME
        if not self._resume:
            path.unlink(missing_ok=True)
            if snapshots_dir.is_dir():
                for old in snapshots_dir.glob("*.snapshot*"):
                    old.unlink()
        journal = FileJournal.open(path)
        self._journal = journal
        if journal.last_seq:
            self._replay(journal)
        snapshots = SnapshotStore(snapshots_dir) if self._snapshot_every else None
        self._sequencer = Sequencer(
            self.engine,
            journal,
            self._codec,
            self._clock,
            checkpoint_every=self._checkpoint_every,
            snapshot_every=self._snapshot_every,
            snapshots=snapshots,
        )
        if not journal.last_seq:
            for command in self._setup:
                self._submit(command)
            self._sequencer.commit()

    def _replay(self, journal: FileJournal) -> None:
        """Rebuild engine and read model from the journal's start, checking every checkpoint."""
        decode = self._codec.decode
        engine = self.engine
        for record in journal.records():
            if record.kind is RecordKind.COMMAND:
                command = decode(record.payload)
                events = engine.apply(record.seq, record.ts_ns, command)
                self.reads.observe(record.seq, record.ts_ns, command, events)
            elif engine.state_hash() != record.payload:
                raise InvariantBroken(f"replayed state differs from the checkpoint at seq {record.seq}")

    def _run(self) -> None:
        try:
            self._open()
        except BaseException as error:  # reported to start()
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        start = time.monotonic_ns()
        for p in self._periodic:
            p.due_ns = start
        try:
            self._loop()
        except BaseException as error:
            self._failure = error
            _log.exception("venue writer stopped")
        finally:
            self._closed = True
            refusal = self._refusal()
            assert refusal is not None
            self._fail_queued(refusal)
            journal = self._journal
            if journal is not None:
                try:
                    journal.close()
                except BaseException:
                    _log.exception("closing the journal failed")

    def _loop(self) -> None:
        q = self._queue
        while True:
            timeout = self._until_next_periodic()
            batch: list[tuple[Job, Waiter]] = []
            stopping = False
            try:
                item = q.get(timeout=timeout) if timeout is None or timeout > 0 else q.get_nowait()
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            except queue.Empty:
                pass
            while not stopping and len(batch) < MAX_BATCH:
                try:
                    more = q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._run_batch(batch)
            if stopping:
                return

    def _until_next_periodic(self) -> float | None:
        if not self._periodic:
            return None
        due = min(p.due_ns for p in self._periodic)
        return max(0.0, (due - time.monotonic_ns()) / 1e9)

    def _run_batch(self, batch: list[tuple[Job, Waiter]]) -> None:
        ctx = WriterContext(self, self._clock())
        outcomes: list[Outcome] = []
        for job, waiter in batch:
            if isinstance(waiter, _LoopWaiter):
                if waiter.future.cancelled():  # the caller went away before its turn
                    continue
            elif not waiter.set_running_or_notify_cancel():
                continue
            try:
                outcomes.append((waiter, job(ctx), None))
            except ApiError as error:
                outcomes.append((waiter, None, error))
            except Exception as error:
                _log.exception("job failed")
                outcomes.append((waiter, None, error))
        now = time.monotonic_ns()
        for p in self._periodic:
            if p.due_ns <= now:
                p.due_ns = now + p.interval_ns
                try:
                    p.job(ctx)
                except Exception:
                    _log.exception("periodic job %s failed", p.name)
        sequencer = self._sequencer
        assert sequencer is not None
        journal = self._journal
        if journal is not None and journal.has_pending:
            try:
                sequencer.commit()
                self.commits += 1
            except BaseException as error:
                _hand_over([(waiter, None, ApiError(503, -1001, f"journal commit failed: {error!r}")) for waiter, _, _ in outcomes])
                raise
        _hand_over(outcomes)
        for hook in self._commit_hooks:
            try:
                hook()
            except Exception:
                _log.exception("after-commit hook failed")
        if sequencer.is_halted:
            raise InvariantBroken("sequencer halted after an engine failure")

    def _fail_queued(self, refusal: ApiError) -> None:
        """Answer every job still queued with ``refusal`` (any thread may call this)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                _hand_over([(item[1], None, ApiError(refusal.status, refusal.code, refusal.msg))])
