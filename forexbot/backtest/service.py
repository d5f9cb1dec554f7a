"""The daemon's backtest service: a strategy instance tested on history, as a background job.

It turns an API request into the same :class:`~forexbot.backtest.runner.BacktestSpec` the
command line builds: the instance's strategy, symbol, timeframe, parameters (a request may
override some), risk multiplier, fixed volume and trade management; the risk limits in force
right now; the paper account's settings for the account (balance, leverage, currency, margin
mode, seed of the simulated market). Data is the simulator's market (``"sim"``) or the bars
stored in ``market_data`` (``"db"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from forexbot.backtest.jobs import BacktestJobs
from forexbot.backtest.runner import BacktestSpec
from forexbot.backtest.stored import stored_bars
from forexbot.config.models import RiskSettings, TerminalSettings, TradeManagement
from forexbot.connectors.mt5sim.core import DEFAULT_SEED
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Timeframe
from forexbot.errors import InvalidInputError, NotFoundError
from forexbot.strategies import create

#: The longest period one request may test.
MAX_DAYS = 3_660


class InstanceSource(Protocol):
    """Where strategy instances are described (the strategy control)."""

    def get_strategy(self, strategy_id: str) -> dict[str, Any] | None: ...


class DaemonBacktests:
    """Starts and reports backtest jobs for the API (see the module docstring)."""

    def __init__(
        self,
        jobs: BacktestJobs,
        instances: InstanceSource,
        risk: Callable[[], RiskSettings],
        terminal: TerminalSettings,
        market_data: MarketDataRepository,
    ) -> None:
        self._jobs = jobs
        self._instances = instances
        self._risk = risk
        self._terminal = terminal
        self._market_data = market_data

    async def start(
        self, strategy_id: str, request: Mapping[str, Any], *, owner: str
    ) -> dict[str, Any]:
        """Queue the backtest; :class:`NotFoundError` for an unknown instance,
        :class:`InvalidInputError` for a request the strategy or the data refuse,
        :class:`~forexbot.backtest.jobs.TooManyJobs` when the queue is full."""
        instance = self._instances.get_strategy(strategy_id)
        if instance is None:
            raise NotFoundError(f"strategy {strategy_id!r} does not exist")
        spec = await self._spec(instance, request)
        job = self._jobs.submit(spec, strategy_id=strategy_id, request=_plain(request), owner=owner)
        return job.to_api()

    async def _spec(self, instance: Mapping[str, Any], request: Mapping[str, Any]) -> BacktestSpec:
        start: datetime = request["start"]
        end: datetime = request["end"]
        if end <= start:
            raise InvalidInputError("'to' must be after 'from'")
        if (end - start).days > MAX_DAYS:
            raise InvalidInputError(f"a backtest covers at most {MAX_DAYS} days")
        params = {**instance["params"], **(request.get("params") or {})}
        strategy = create(instance["strategy"], **params)  # InvalidInputError names a bad parameter
        t = self._terminal
        spec = BacktestSpec(
            strategy=instance["strategy"],
            symbol=instance["symbol"],
            timeframe=Timeframe.parse(instance["timeframe"]),
            start=start.timestamp(),
            end=end.timestamp(),
            params=params,
            seed=_first_given(request.get("seed"), t.sim_seed, DEFAULT_SEED),
            balance=request.get("balance") or t.sim_balance,
            currency=t.sim_currency,
            leverage=request.get("leverage") or t.sim_leverage,
            hedging=t.sim_hedging,
            spread_points=request.get("spread_points"),
            slippage_points=request.get("slippage_points") or 0,
            commission_per_lot=request.get("commission_per_lot") or 0.0,
            swap_free=bool(request.get("swap_free")),
            fill_model=request.get("fill_model") or "bars",
            risk=self._risk(),
            management=TradeManagement.model_validate(instance.get("management") or {}),
            risk_multiplier=float(instance.get("risk_multiplier") or 1.0),
            volume=request.get("volume") or instance.get("volume"),
        )
        if request.get("data") == "db":
            replay = await stored_bars(
                self._market_data,
                spec.symbol,
                spec.timeframe,
                spec.start,
                spec.end,
                strategy.window_bars,
            )
            spec = dataclasses.replace(spec, replay={spec.symbol: replay})
        return spec

    def job(self, job_id: str) -> dict[str, Any] | None:
        job = self._jobs.get(job_id)
        return None if job is None else job.to_api()

    def jobs(self) -> list[dict[str, Any]]:
        return [job.to_api(with_result=False) for job in self._jobs.jobs()]

    def report(self, job_id: str) -> str | None:
        return self._jobs.report(job_id)

    async def close(self) -> None:
        await self._jobs.close()


def _plain(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request as JSON values (times as ISO 8601), for the job's record."""
    out: dict[str, Any] = {}
    for key, value in request.items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _first_given(*values: int | None) -> int:
    """The first value that is not None (0 is a value)."""
    for value in values:
        if value is not None:
            return value
    raise ValueError("no value given")
