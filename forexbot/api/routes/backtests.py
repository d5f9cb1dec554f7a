"""Backtests from the API: ``POST /api/strategies/{id}/test`` and ``/api/backtests``.

Rules:

* Starting a backtest needs the ``trader`` or ``admin`` role (it costs CPU the daemon shares
  with live trading); anyone authenticated may follow jobs and read results and reports.
* ``POST /api/strategies/{id}/test`` takes ``{"from": "2024-01-01", "to": "2024-06-30"}`` and,
  optionally, ``params`` (overriding the instance's), ``data`` (``"sim"`` or ``"db"``),
  ``spread_points``, ``slippage_points``, ``commission_per_lot``, ``balance``, ``leverage``,
  ``swap_free``, ``fill_model`` (``"bars"``/``"ticks"``), ``volume`` and ``seed``. Times
  without a zone are UTC. Unknown fields, wrong types and out-of-range values are 422 before
  anything runs; parameters the strategy refuses and missing stored data are 422 with the
  reason; an unknown strategy id is 404; a full queue is 429 with ``Retry-After``.
* The answer is ``202 Accepted`` with the job (``state`` ``queued``), a ``Location`` header
  and the URLs to poll. ``GET /api/backtests/{job}`` reports ``state``, ``progress`` (bars done
  of the test's bars) and, once ``done``, the ``result``: the same statistics as the command
  line, the trades and the equity curve. ``GET /api/backtests/{job}/report`` is the HTML
  report; ``GET /api/backtests`` lists the jobs, newest first.
* Starting a backtest is audited (``backtest_started``) with the user and source IP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of, requires_role
from forexbot.api.errors import ApiError
from forexbot.api.middleware import PAGE_CSP
from forexbot.api.operations import Text, operation
from forexbot.api.ports import BacktestService, SystemLogStore
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.schemas import UtcDatetime
from forexbot.api.validation import read_json
from forexbot.backtest.jobs import TooManyJobs
from forexbot.errors import NotFoundError


class BacktestRequest(BaseModel):
    """The body of ``POST /api/strategies/{id}/test``."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, populate_by_name=True
    )

    start: UtcDatetime = Field(alias="from", strict=False)
    end: UtcDatetime = Field(alias="to", strict=False)
    params: dict[str, Any] | None = Field(default=None, max_length=100)
    data: Literal["sim", "db"] = "sim"
    spread_points: int | None = Field(default=None, ge=0, le=100_000)
    slippage_points: int = Field(default=0, ge=0, le=100_000)
    commission_per_lot: float = Field(default=0.0, ge=0, le=100_000)
    balance: float | None = Field(default=None, gt=0, le=1e12)
    leverage: int | None = Field(default=None, ge=1, le=3000)
    swap_free: bool = False
    fill_model: Literal["bars", "ticks"] = "bars"
    volume: float | None = Field(default=None, gt=0, le=1000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JobProgress(BaseModel):
    """How far a backtest is: bars done of the test's bars."""

    bars_done: int
    bars_total: int
    percent: float


class BacktestJob(BaseModel):
    """A backtest job; ``result`` (statistics, trades, equity curve) once it is done."""

    id: str
    strategy_id: str
    state: str
    owner: str
    request: dict[str, Any]
    created_at: float = Field(description="epoch seconds")
    started_at: float | None
    finished_at: float | None
    progress: JobProgress
    error: str | None
    result: dict[str, Any] | None = None


class StartedJob(BacktestJob):
    """A job just queued, with the URLs to follow it."""

    status_url: str
    report_url: str


class BacktestJobList(BaseModel):
    """The jobs, newest first (without their results)."""

    items: list[BacktestJob]


_NO_JOB = {404: "No such backtest job."}


class BacktestRoutes:
    """The backtest endpoints, answered by the daemon's :class:`BacktestService`."""

    def __init__(self, backtests: BacktestService, system_logs: SystemLogStore) -> None:
        self._backtests = backtests
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/strategies/{strategy_id}/test", self.start),
            web.get("/api/backtests", self.list_jobs),
            web.get("/api/backtests/{job_id}", self.get_job),
            web.get("/api/backtests/{job_id}/report", self.get_report),
        ]

    @requires_role(Role.TRADER, Role.ADMIN)
    @operation(
        "Backtest a strategy instance in the background",
        tag="strategies",
        body=BacktestRequest,
        responses={202: StartedJob},
        errors={
            404: "No such strategy instance.",
            422: "Parameters the strategy refuses, or no stored data for the period.",
        },
    )
    async def start(self, request: web.Request) -> web.Response:
        strategy_id = request.match_info["strategy_id"]
        body = await read_json(request, BacktestRequest)
        try:
            job = await self._backtests.start(
                strategy_id, body.model_dump(), owner=claims_of(request).username
            )
        except NotFoundError:
            raise ApiError(404, "not_found", f"strategy {strategy_id!r} does not exist") from None
        except TooManyJobs as exc:
            raise ApiError(
                429, "too_many_backtests", str(exc), headers={"Retry-After": "30"}
            ) from None
        await audit(
            self._audit,
            request,
            "backtest_started",
            f"backtest {job['id']} of {strategy_id} started",
            {"strategy_id": strategy_id, "job": job["id"], "request": job["request"]},
        )
        url = f"/api/backtests/{job['id']}"
        body_out = {**job, "status_url": url, "report_url": f"{url}/report"}
        return json_response(body_out, status=202, headers={"Location": url})

    @operation("List backtest jobs", tag="strategies", responses={200: BacktestJobList})
    async def list_jobs(self, request: web.Request) -> web.Response:
        return json_response({"items": self._backtests.jobs()})

    @operation(
        "A backtest job: state, progress, result",
        tag="strategies",
        responses={200: BacktestJob},
        errors=_NO_JOB,
    )
    async def get_job(self, request: web.Request) -> web.Response:
        _, job = self._job(request)
        return json_response(job)

    @operation(
        "A finished backtest's HTML report",
        tag="strategies",
        responses={200: Text("text/html", "The self-contained report page.")},
        errors=_NO_JOB | {409: "The job has not finished."},
    )
    async def get_report(self, request: web.Request) -> web.Response:
        job_id, job = self._job(request)
        report = self._backtests.report(job_id)
        if report is None:
            raise ApiError(409, "not_ready", f"backtest {job_id!r} is {job['state']}")
        response = web.Response(text=report, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    def _job(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        """The path's job id and its job, or 404: a job is looked up the same way for its
        state and for its report."""
        job_id = request.match_info["job_id"]
        job = self._backtests.job(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"backtest {job_id!r} does not exist")
        return job_id, job
