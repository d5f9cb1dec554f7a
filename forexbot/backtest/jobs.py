"""Backtests as background jobs of the daemon (``POST /api/strategies/{id}/test``).

A backtest is CPU work for seconds to minutes; the daemon's event loop must keep trading
meanwhile. So jobs run in worker *processes* (a process pool, ``workers`` of them, one by
default: live trading keeps the other core), and the loop only waits on their futures.

Rules:

* A job moves ``queued`` → ``running`` (its worker reported the first progress) → ``done`` or
  ``failed`` (with the error's message; a strategy or data error is the client's, anything
  else is logged with its traceback).
* Progress (bars done of bars in the test) is written by the worker into a shared dict
  (a ``multiprocessing`` manager) and read when a client polls.
* At most ``max_active`` jobs are queued or running; more is refused
  (:class:`TooManyJobs`), as a client looping on the endpoint must not queue hours of work.
* The last ``keep`` finished jobs are kept in memory with their results; older ones are
  forgotten. A daemon restart forgets them all (a report can be saved by the client).
* A result holds the summary, the trades (at most ``MAX_TRADES``), the equity curve reduced to
  at most :data:`~forexbot.backtest.report.MAX_POINTS` points, and the HTML report.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from forexbot.backtest.report import decimate, render
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.errors import ForexbotError

_log = structlog.get_logger("forexbot.backtest.jobs")

MAX_TRADES = 5_000
STATES = ("queued", "running", "done", "failed")


class TooManyJobs(ForexbotError):
    """As many backtests as allowed are queued or running already."""


def run_job(spec: BacktestSpec, job_id: str, progress: Any) -> dict[str, Any]:
    """Run one backtest in a worker process and return what the API serves."""
    import logging  # noqa: PLC0415

    logging.disable(logging.WARNING)

    def report(done: int, total: int) -> None:
        progress[job_id] = (done, total)

    result = run_backtest(spec, report)
    times, values = decimate(result.equity.time, result.equity.equity)
    payload = result.summary()
    payload["trades"] = [t.to_dict() for t in result.trades[:MAX_TRADES]]
    payload["trades_truncated"] = len(result.trades) > MAX_TRADES
    payload["equity"] = {"time": times.tolist(), "equity": np.round(values, 2).tolist()}
    payload["report_html"] = render(result)
    return payload


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
        self._workers = workers
        self._max_active = max_active
        self._keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._pool: Any = None  # a multiprocessing pool: it can be terminated
        self._manager: Any = None
        self._progress: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _start_pool(self) -> None:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._manager = context.Manager()
            self._progress = self._manager.dict()
            self._pool = context.Pool(processes=self._workers)

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
        self._start_pool()
        assert self._pool is not None
        job = Job(f"bt-{next(self._ids)}", strategy_id, request, owner, time.time())
        self._jobs[job.id] = job
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()

        def settle(outcome: Any, *, failed: bool) -> None:  # on the pool's result thread
            def apply() -> None:
                if future.done():
                    return
                if failed:
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

            loop.call_soon_threadsafe(apply)

        self._pool.apply_async(
            run_job,
            (spec, job.id, self._progress),
            callback=lambda value: settle(value, failed=False),
            error_callback=lambda exc: settle(exc, failed=True),
        )
        task = loop.create_task(self._follow(job, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    async def _follow(self, job: Job, future: asyncio.Future[dict[str, Any]]) -> None:
        try:
            job.result = await future
            job.state = "done"
        except ForexbotError as exc:
            job.state, job.error = "failed", str(exc)
        except asyncio.CancelledError:
            job.state, job.error = "failed", "cancelled: the daemon is stopping"
            raise
        except Exception as exc:
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            _log.exception("backtest job failed", job=job.id)
        finally:
            job.finished_at = time.time()
            self._refresh(job)
            if self._progress is not None:
                self._progress.pop(job.id, None)
        _log.info("backtest job finished", job=job.id, state=job.state, error=job.error)

    def _refresh(self, job: Job) -> None:
        """Read the worker's progress; the first one marks the job running."""
        if self._progress is None:
            return
        reported = self._progress.get(job.id)
        if reported is not None:
            job.progress = (int(reported[0]), int(reported[1]))
            if job.state == "queued":
                job.state, job.started_at = "running", time.time()
        if job.state == "done" and job.progress[1]:
            job.progress = (job.progress[1], job.progress[1])

    def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is not None and job.state in ("queued", "running"):
            self._refresh(job)
        return job

    def jobs(self) -> list[Job]:
        """Newest first."""
        for job in self._jobs.values():
            if job.state in ("queued", "running"):
                self._refresh(job)
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
        """Cancel queued jobs, stop the workers (a running backtest is abandoned)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            await asyncio.to_thread(pool.join)
        for task in list(self._tasks):
            task.cancel()
        if self._manager is not None:
            self._manager.shutdown()
            self._manager = None
