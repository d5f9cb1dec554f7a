"""Backtests as background jobs of the daemon (``POST /api/strategies/{id}/test``).

A backtest is CPU work for seconds to minutes; the daemon's event loop must keep trading
meanwhile. So each job runs in a process of its own, at most ``workers`` at a time (one by
default: live trading keeps the other core), and the loop only waits on a pipe.

Rules:

* A job moves ``queued`` → ``running`` (its process started) → ``done`` or ``failed`` (with
  the error's message: a strategy or data error is the client's; anything else is logged with
  its traceback). A process that dies without an answer (killed, out of memory) fails its job
  with its exit code, and frees its place.
* Progress (bars done of bars in the test) comes back over the job's pipe as the backtest
  moves through time.
* At most ``max_active`` jobs are queued or running; more is refused (:class:`TooManyJobs`),
  as a client looping on the endpoint must not queue hours of work.
* The last ``keep`` finished jobs are kept in memory with their results; older ones are
  forgotten. A daemon restart forgets them all (a report can be saved by the client).
* A result holds the summary, the trades (at most ``MAX_TRADES``), the equity curve reduced to
  at most :data:`~forexbot.backtest.report.MAX_POINTS` points, and the HTML report.
* Logs of a job's engine go to its standard error at warning level and above, marked with the
  job: a backtest's "order filled" must never read like live trading.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import sys
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import structlog

from forexbot.backtest.report import decimate, render
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.errors import ForexbotError
from forexbot.logs import configure_logging

_log = structlog.get_logger("forexbot.backtest.jobs")

MAX_TRADES = 5_000
STATES = ("queued", "running", "done", "failed")


class TooManyJobs(ForexbotError):
    """As many backtests as allowed are queued or running already."""


def run_job(spec: BacktestSpec, job_id: str, pipe: Connection) -> None:
    """A job's process: run the backtest, send progress and then the outcome over ``pipe``."""
    configure_logging("WARNING", "json", stream=sys.stderr)
    structlog.contextvars.bind_contextvars(backtest_job=job_id)

    def report(done: int, total: int) -> None:
        pipe.send(("progress", done, total))

    try:
        result = run_backtest(spec, report)
        times, values = decimate(result.equity.time, result.equity.equity)
        payload = result.summary()
        payload["trades"] = [t.to_dict() for t in result.trades[:MAX_TRADES]]
        payload["trades_truncated"] = len(result.trades) > MAX_TRADES
        payload["equity"] = {"time": times.tolist(), "equity": np.round(values, 2).tolist()}
        payload["report_html"] = render(result)
        pipe.send(("done", payload))
    except ForexbotError as exc:
        pipe.send(("failed", str(exc)))
    except Exception as exc:
        pipe.send(("crashed", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        pipe.close()


@dataclass(slots=True)
class Job:
    """One backtest job and, once finished, its result."""

    id: str
    strategy_id: str
    request: dict[str, Any]
    owner: str
    created_at: float
    state: str = "queued"
    started_at: float | None = None
    finished_at: float | None = None
    progress: tuple[int, int] = (0, 0)
    result: dict[str, Any] | None = field(default=None, repr=False)
    error: str | None = None

    def to_api(self, *, with_result: bool = True) -> dict[str, Any]:
        done, total = self.progress
        out: dict[str, Any] = {
            "id": self.id,
            "strategy_id": self.strategy_id,
            "state": self.state,
            "owner": self.owner,
            "request": self.request,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": {
                "bars_done": done,
                "bars_total": total,
                "percent": round(100.0 * done / total, 1) if total else 0.0,
            },
            "error": self.error,
        }
        if with_result and self.result is not None:
            out["result"] = {k: v for k, v in self.result.items() if k != "report_html"}
        return out


class BacktestJobs:
    """The daemon's backtest jobs (see the module docstring)."""

    def __init__(self, workers: int = 1, max_active: int = 4, keep: int = 50) -> None:
        if workers < 1 or max_active < 1 or keep < 1:
            raise ValueError("workers, max_active and keep must be at least 1")
        self._max_active = max_active
        self._keep = keep
        self._slots = asyncio.Semaphore(workers)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def active(self) -> int:
        return sum(1 for j in self._jobs.values() if j.state in ("queued", "running"))

    def submit(
        self, spec: BacktestSpec, *, strategy_id: str, request: dict[str, Any], owner: str
    ) -> Job:
        """Queue a backtest; :class:`TooManyJobs` when ``max_active`` are queued or running."""
        if self.active() >= self._max_active:
            raise TooManyJobs(
                f"{self._max_active} backtests are queued or running; try again when one "
                "has finished"
            )
        job = Job(f"bt-{next(self._ids)}", strategy_id, request, owner, time.time())
        self._jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job, spec), name=job.id)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    async def _run(self, job: Job, spec: BacktestSpec) -> None:
        try:
            async with self._slots:
                await self._in_process(job, spec)
        except asyncio.CancelledError:
            job.state, job.error = "failed", "cancelled: the daemon is stopping"
            raise
        except Exception as exc:
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            _log.exception("backtest job failed", job=job.id)
        finally:
            job.finished_at = time.time()
            _log.info("backtest job finished", job=job.id, state=job.state, error=job.error)

    async def _in_process(self, job: Job, spec: BacktestSpec) -> None:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_job, args=(spec, job.id, sender), name=f"forexbot-{job.id}", daemon=True
        )
        process.start()
        sender.close()  # the child holds the only writing end: EOF when it is gone
        self._processes[job.id] = process
        job.state, job.started_at = "running", time.time()
        outcome: tuple[Any, ...] | None = None
        try:
            while True:
                message = await asyncio.to_thread(_receive, receiver)
                if message is None:
                    break
                if message[0] == "progress":
                    job.progress = (int(message[1]), int(message[2]))
                else:
                    outcome = message
            await asyncio.to_thread(process.join)
        finally:
            receiver.close()
            self._processes.pop(job.id, None)
            if process.is_alive():
                process.terminate()
        self._settle(job, outcome, process.exitcode)

    def _settle(self, job: Job, outcome: tuple[Any, ...] | None, exitcode: int | None) -> None:
        if outcome is None:
            job.state = "failed"
            job.error = f"the backtest process ended without an answer (exit code {exitcode})"
            _log.error("backtest process died", job=job.id, exitcode=exitcode)
        elif outcome[0] == "done":
            job.state, job.result = "done", outcome[1]
            job.progress = (job.progress[1], job.progress[1])
        elif outcome[0] == "failed":
            job.state, job.error = "failed", str(outcome[1])
        else:
            job.state, job.error = "failed", str(outcome[1])
            _log.error("backtest crashed", job=job.id, traceback=outcome[2])

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Newest first."""
        return list(reversed(self._jobs.values()))

    def report(self, job_id: str) -> str | None:
        """The finished job's HTML report."""
        job = self._jobs.get(job_id)
        if job is None or job.result is None:
            return None
        html: str = job.result["report_html"]
        return html

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state in ("done", "failed")]
        for job_id in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job_id]

    async def close(self) -> None:
        """Stop every job: running processes are terminated, queued jobs never start."""
        for process in list(self._processes.values()):
            process.terminate()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _receive(pipe: Connection) -> tuple[Any, ...] | None:
    """The next message, or None once the child has closed its end (finished or died)."""
    try:
        message: tuple[Any, ...] = pipe.recv()
    except (EOFError, OSError):
        return None
    return message
