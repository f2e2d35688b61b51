"""Running fills for the web app: a pool of worker processes, a bounded queue, and jobs that
can be watched and stopped.

- Every fill runs in a worker process (:mod:`holefill.web.worker`), one job per worker at a
  time; at most ``max_queue`` requests run or wait (more get 503).
- A job is stopped, wherever it is, when its time budget (``time_limit``) is spent, when its
  client hangs up, when the client cancels it (``DELETE /api/jobs/{id}``) and when the server
  shuts down: waiting, it leaves the queue; running, its worker process is killed and a fresh
  one takes its place (a fork of a preloaded fork server: milliseconds).
- A job sent with a job id (the ``X-Holefill-Job`` header, a random string the client makes
  up) can be watched while it runs: its state, its progress where the method reports one,
  and the seconds so far.
- Every request's data lives in its job only; nothing per-request is shared.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import importlib.util
import logging
import multiprocessing
import os
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from holefill.errors import HolefillError, WeightsError
from holefill.web.server import ServerSettings
from holefill.web.worker import FillerCache, FillResult, Job, WorkerConfig, worker_main

__all__ = ["Engine", "FillResult", "FillerCache", "Job", "JobCancelled", "JobConflict", "JobTimeout",
           "InternalFillError", "ServerBusyError", "JOB_ID_RE"]

logger = logging.getLogger("holefill.web")

#: A job id: a random string the client makes up (the page uses 128 random bits).
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ServerBusyError(Exception):
    """More fill requests are waiting than ``max_queue`` allows."""


class InternalFillError(Exception):
    """A fill failed for a reason that is not the client's input (logged with a traceback)."""


class JobTimeout(Exception):
    """The job did not finish within the server's time limit."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


class JobCancelled(Exception):
    """The client cancelled the job."""


class JobConflict(Exception):
    """A job with this id is already running."""


class ClientError(HolefillError):
    """Bad input found inside a worker, carried back with the original error's kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_weights(weights: dict[str, Any], device: str | None, backend: str | None = None) -> None:
    """Load every ``--weights METHOD=DIR`` once, so an unknown method, a classical one, or a
    folder of another architecture fails at startup in one line rather than per request."""
    from holefill.methods import get_filler, get_method

    for name, folder in weights.items():
        info = get_method(name)
        if info.kind != "learned":
            raise WeightsError(f"--weights {name}=...: method {name!r} is classical and takes no weights")
        try:
            get_filler(name, weights=folder, device=device, backend=backend)
        except WeightsError as err:
            problem = err.problem.replace("(use --method ", "(use --weights ").replace(")", "=DIR)") \
                if "(use --method " in err.problem else err.problem
            raise WeightsError(f"--weights {name}={folder}: {problem}") from None


# --- the worker processes ---------------------------------------------------------------


def _context() -> multiprocessing.context.BaseContext:
    """A fork server where there is one (workers start in milliseconds, with the methods'
    modules already imported, torch included when installed, and no threads copied), else
    spawn. A worker killed for its time limit or a cancel is replaced without a second
    import of anything."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    preload = ["holefill.web.worker", "holefill.classical", "skimage.restoration"]
    if importlib.util.find_spec("torch") is not None:
        preload += ["torch", "holefill.models", "holefill.pipeline"]
    ctx.set_forkserver_preload(preload)
    return ctx


class _Worker:
    """One worker process, the pipe to it, and a thread that reads its answers."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, config: WorkerConfig) -> None:
        self.conn, child = ctx.Pipe()
        child_life, self._lifeline = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=worker_main, args=(child, child_life, config), daemon=True,
                                   name="holefill-worker")
        self.process.start()
        child.close()
        child_life.close()
        self.job: _Job | None = None
        self._lock = threading.Lock()
        self.dead = False
        threading.Thread(target=self._read, daemon=True, name="holefill-worker-reader").start()

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = ("dead",)
            with self._lock:
                job = self.job
                if message[0] != "progress":
                    self.job = None
            if message[0] == "dead":
                self.dead = True
            if job is not None:
                job.receive(message)
            if message[0] == "dead":
                return

    def start(self, job: "_Job", payload: Job) -> None:
        """Hand ``payload`` to the worker (blocking while the pipe takes it)."""
        with self._lock:
            self.job = job
        self.conn.send(payload)

    def kill(self) -> None:
        """Stop the process at once, whatever it is doing."""
        self.dead = True
        with contextlib.suppress(Exception):
            self.process.kill()
        for end in (self._lifeline, self.conn):
            with contextlib.suppress(Exception):
                end.close()


class _Pool:
    """``size`` workers handed out first come, first served; a dead one is replaced on use."""

    def __init__(self, size: int, config: WorkerConfig) -> None:
        self.config = config
        self._ctx: multiprocessing.context.BaseContext | None = None
        self._lock = threading.Lock()
        self._idle: list[_Worker | None] = [None] * size  # None: not started yet, or replaced
        self._waiting: collections.deque[concurrent.futures.Future[_Worker | None]] = collections.deque()
        self._all: weakref.WeakSet[_Worker] = weakref.WeakSet()
        self.closed = False

    def acquire(self) -> concurrent.futures.Future[_Worker | None]:
        """A future that resolves to a worker (or None: start one) when one is free."""
        future: concurrent.futures.Future[_Worker | None] = concurrent.futures.Future()
        with self._lock:
            if self._idle:
                future.set_result(self._idle.pop())
            else:
                self._waiting.append(future)
        return future

    def release(self, worker: _Worker | None) -> None:
        """Give a worker back (None when it died or was killed): to the first waiter, else idle."""
        if worker is not None and (worker.dead or self.closed):
            worker.kill()
            worker = None
        with self._lock:
            while self._waiting:
                future = self._waiting.popleft()
                if future.set_running_or_notify_cancel():
                    future.set_result(worker)
                    return
            self._idle.append(worker)

    def give_back_unused(self, future: concurrent.futures.Future[_Worker | None]) -> None:
        """For a waiter that stopped waiting: if a worker was handed to it after all, release it."""
        if not future.cancel() and future.done() and not future.cancelled() and future.exception() is None:
            self.release(future.result())

    def start_worker(self) -> _Worker:
        if self.closed:
            raise RuntimeError("the server is shutting down")
        with self._lock:
            if self._ctx is None:
                self._ctx = _context()
            ctx = self._ctx
        worker = _Worker(ctx, self.config)
        self._all.add(worker)
        return worker

    def warm_up(self) -> None:
        """Start every worker now instead of at the first request."""
        with self._lock:
            missing = self._idle.count(None)
            self._idle = [w for w in self._idle if w is not None]
        started = [self.start_worker() for _ in range(missing)]
        for worker in started:
            self.release(worker)

    def close(self) -> None:
        self.closed = True
        for worker in list(self._all):
            worker.kill()
        with self._lock:
            while self._waiting:
                self._waiting.popleft().cancel()


# --- jobs ------------------------------------------------------------------------------


@dataclass
class _Job:
    """One fill request on its way through the queue and a worker."""

    kind: str
    created: float = field(default_factory=time.monotonic)
    state: str = "queued"  # queued, running, done, failed, cancelled
    started: float | None = None
    progress: float | None = None
    answer: concurrent.futures.Future[tuple[Any, ...]] = field(default_factory=concurrent.futures.Future)
    worker: _Worker | None = None
    waiting: concurrent.futures.Future[_Worker | None] | None = None
    cancelled: str | None = None  # why: "client", "disconnected", "time", "shutdown"

    def receive(self, message: tuple[Any, ...]) -> None:
        """From the reader thread: progress, or the end of the job."""
        if message[0] == "progress":
            self.progress = float(message[1])
        elif not self.answer.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                self.answer.set_result(message)

    def cancel(self, why: str) -> None:
        """Stop the job wherever it is: leave the queue, or kill the worker running it."""
        if self.cancelled is None:
            self.cancelled = why
        if self.waiting is not None:
            self.waiting.cancel()
        worker = self.worker
        if worker is not None:
            worker.kill()
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            self.answer.set_result(("cancelled",))

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        return {"state": self.state, "progress": self.progress,
                "seconds": round(now - (self.started or self.created), 3) if self.state == "running" else 0.0,
                "waited": round((self.started or now) - self.created, 3)}


class _Slots:
    """A thread-safe count of fill requests in the server, capped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.used -= 1


class Engine:
    """What the fill endpoints share for the app's lifetime: settings, the workers, the jobs."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        threads = max(1, (os.cpu_count() or 1) // settings.workers)
        self.config = WorkerConfig(weights=dict(settings.weights), device=settings.device,
                                   cache_size=settings.cache_size, max_pixels=settings.max_pixels, threads=threads,
                                   backend=settings.backend, setup=settings.worker_setup)
        self.pool = _Pool(settings.workers, self.config)
        self.slots = _Slots(settings.max_queue)
        self._jobs: dict[str, _Job] = {}
        self._jobs_lock = threading.Lock()
        # Workers die with the engine even if nobody calls close (a test's app, say).
        weakref.finalize(self, _Pool.close, self.pool)

    # --- watching and cancelling ---

    def job_status(self, job_id: str) -> dict[str, Any] | None:
        with self._jobs_lock:
            job = self._jobs.get(job_id)
        return None if job is None else job.status()

    def cancel(self, job_id: str) -> bool:
        """Cancel the job with this id; False when no such job is running or waiting."""
        with self._jobs_lock:
            job = self._jobs.get(job_id)
        if job is None:
            return False
        job.cancel("client")
        return True

    # --- running ---

    async def run(self, payload: Job, *, job_id: str | None = None,
                  disconnected: Callable[[], Awaitable[Any]] | None = None) -> FillResult:
        """Run ``payload`` on a worker and return its result.

        Raises :class:`ServerBusyError` when the queue is full, :class:`JobTimeout` when it
        has run ``time_limit`` seconds on its worker, :class:`JobCancelled` when cancelled, a
        :class:`ClientError` for bad input and :class:`InternalFillError` for a crash. When
        ``disconnected()`` resolves first (the client hung up), the job is stopped.
        """
        job = _Job(payload.kind)
        if job_id is not None:
            with self._jobs_lock:
                if job_id in self._jobs:
                    raise JobConflict()
                self._jobs[job_id] = job
        try:
            if not self.slots.acquire():
                raise ServerBusyError()
            runner = asyncio.ensure_future(self._run(job, payload))
            # The slot is held until the job really ends (a worker that is still starting
            # when the job is stopped, say), not only until the client has its answer.
            runner.add_done_callback(lambda task: (self.slots.release(), task.cancelled() or task.exception()))
            return await self._watch(job, runner, disconnected)
        finally:
            if job_id is not None:
                with self._jobs_lock:
                    if self._jobs.get(job_id) is job:
                        del self._jobs[job_id]

    async def _watch(self, job: _Job, runner: asyncio.Future[FillResult],
                     disconnected: Callable[[], Awaitable[Any]] | None) -> FillResult:
        limit = self.settings.time_limit
        watched: set[asyncio.Future[Any]] = {runner}
        hangup = asyncio.ensure_future(disconnected()) if disconnected is not None else None
        if hangup is not None:
            watched.add(hangup)
        try:
            while True:
                # The clock runs from when a worker takes the job; until then, look again soon.
                if limit is None:
                    timeout = None
                elif job.started is None:
                    timeout = 0.25
                else:
                    timeout = max(0.0, job.started + limit - time.monotonic())
                done, _ = await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if done or (job.started is not None and timeout is not None
                            and time.monotonic() >= job.started + (limit or 0.0)):
                    break
        except asyncio.CancelledError:  # the server is shutting down
            job.cancel("shutdown")
            runner.cancel()
            raise
        finally:
            if hangup is not None and not hangup.done():
                hangup.cancel()
        if runner in done:
            return runner.result()
        job.cancel("disconnected" if hangup is not None and hangup in done else "time")
        # The runner ends by itself (its worker is killed, or it leaves the queue); the
        # client does not wait for that.
        if job.cancelled == "time":
            raise JobTimeout(limit or 0.0)
        raise JobCancelled()

    async def _run(self, job: _Job, payload: Job) -> FillResult:
        job.waiting = self.pool.acquire()
        try:
            worker = await asyncio.wrap_future(job.waiting)
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            self.pool.give_back_unused(job.waiting)
            raise JobCancelled() from None
        job.waiting = None
        handed = False
        try:
            if job.cancelled:
                raise JobCancelled()
            if worker is None:
                worker = await asyncio.to_thread(self.pool.start_worker)
            if job.cancelled:  # cancelled while the worker started
                raise JobCancelled()
            job.worker = worker
            job.state, job.started = "running", time.monotonic()
            handed = True
            await asyncio.to_thread(worker.start, job, payload)
            message = await asyncio.wrap_future(job.answer)
        except BaseException:
            if handed and worker is not None:
                worker.kill()  # the job may still be running there
            job.state = "cancelled"
            if job.cancelled:
                raise JobCancelled() from None
            raise
        finally:
            self.pool.release(worker)
        return self._result(job, message)

    def _result(self, job: _Job, message: tuple[Any, ...]) -> FillResult:
        kind = message[0]
        if kind == "done":
            job.state = "done"
            return message[1]
        job.state = "failed"
        if kind == "error":
            raise ClientError(message[1], message[2])
        if kind == "cancelled" or job.cancelled:
            job.state = "cancelled"
            raise JobCancelled()
        if kind == "crash":
            logger.error("a %s job failed in its worker:\n%s", job.kind, message[1])
        else:
            logger.error("the worker running a %s job died", job.kind)
        raise InternalFillError()

    def warm_up(self) -> None:
        """Start the worker processes now (the server does at startup)."""
        self.pool.warm_up()

    def close(self) -> None:
        """Kill every worker and cancel every job (server shutdown)."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel("shutdown")
        self.pool.close()
