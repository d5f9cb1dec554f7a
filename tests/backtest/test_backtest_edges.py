"""Edges of the backtester found in review, each pinned down: the weekend, a stale
stop-and-reverse signal, workers' logs, a dead job process, stored data that does not cover
the test, and seed 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from polling import eventually
from symbol_specs import EURUSD
from trading_rig import OPEN_LIMITS

from forexbot.backtest.jobs import BacktestJobs
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.backtest.service import DaemonBacktests
from forexbot.backtest.stored import stored_bars
from forexbot.clock import ManualClock
from forexbot.config.models import TerminalSettings
from forexbot.connectors.mt5sim.timeutil import to_server_array
from forexbot.domain.market import Bar, SymbolSpec, Tick, Timeframe
from forexbot.domain.trading import AccountState, Side, Signal
from forexbot.engine.exposure import Holding
from forexbot.engine.in_flight import OrdersInFlight
from forexbot.engine.risk import RiskManager
from forexbot.events.bus import EventBus
from forexbot.events.types import SignalEvent

START = datetime(2024, 3, 4, tzinfo=UTC).timestamp()  # a Monday
DAY = 86_400
OPEN = OPEN_LIMITS.model_copy(
    update={"risk_per_trade_percent": 10, "max_open_positions": 20, "max_positions_per_symbol": 1}
)
SMA_WEEK = BacktestSpec(
    strategy="sma_cross",
    symbol="EURUSD",
    timeframe=Timeframe.H1,
    start=START,
    end=START + 7 * DAY,  # Monday to Monday: one weekend inside
    params={"fast_period": 2, "slow_period": 3, "stop_atr_multiplier": 20},
    volume=0.1,
    risk=OPEN,
)


# --- a signal on the week's last bar: the market is closed when the bar closes --------------


def test_a_cross_on_the_weeks_last_bar_is_refused_as_live_trading_would() -> None:
    """The bar closes at the weekend: live, the connector closes it by time and the order
    meets a closed market; the backtest decides at the same moment and is refused alike."""
    result = run_backtest(SMA_WEEK)
    assert result.rejected.get("market_closed") == 1
    friday = [r for r in result.records if r.signal_time is not None]
    assert all(r.open_time is None or r.open_time.weekday() < 5 for r in friday)


# --- 2. stop-and-reverse closes positions on signals the risk manager rejects --------------


class _Market:
    def __init__(self, now: float) -> None:
        self.tick = Tick(symbol="EURUSD", time=now, bid=1.1000, ask=1.1001)

    def spec(self, symbol: str) -> SymbolSpec:
        return EURUSD

    def last_tick(self, symbol: str) -> Tick | None:
        return self.tick

    def polled_account(self) -> AccountState | None:
        return None  # no poll snapshot: the risk manager asks account()

    async def polled_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float | None:
        return None

    async def account(self) -> AccountState:
        return AccountState("USD", 10_000.0, 10_000.0, 0.0, 10_000.0, 100, hedging=True)

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float:
        return 10.0


class _Positions:
    def open_count(self, symbol: str | None = None) -> int:
        return 1

    def holdings(self) -> list[Holding]:
        return []


class _Closer:
    def __init__(self) -> None:
        self.closed_opposite: list[Signal] = []

    async def close_all(self, reason: str) -> int:
        return 0

    async def close_opposite(self, signal: Signal) -> int:
        self.closed_opposite.append(signal)
        return 1


class _Log:
    async def add(self, **kwargs: Any) -> int:
        return 1


async def test_a_stale_stop_and_reverse_signal_closes_nothing() -> None:
    now = 1_767_225_600.0
    clock = ManualClock(now)
    bus = EventBus()
    closer = _Closer()
    risk = RiskManager(
        OPEN, _Market(now), _Positions(), bus, clock, _Log(), orders=OrdersInFlight(), closer=closer
    )
    risk.mark_ready()
    signal = Signal(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe="H1",
        side=Side.BUY,
        entry=1.1001,
        sl=1.0900,
        tp=0.0,
        confidence=1.0,
        reason="cross",
        bar_time=int(now - 3 * 86_400),  # the bar closed three days ago
        close_opposite=True,
        volume=0.1,
    )
    await risk.on_signal(SignalEvent(signal))
    assert risk.rejections["stale_signal"] == 1  # the risk manager refuses the signal...
    assert closer.closed_opposite == []  # ...but the opposite position was closed anyway


# --- 3. optimise --json on a process pool is not JSON --------------------------------------


def _optimize_json(cwd: Path, workers: int) -> dict[str, Any]:
    """``forexbot optimize --json`` over a two-candidate grid; its standard output, parsed
    whole (the workers' logs must stay on standard error)."""
    cwd.mkdir()
    forexbot = Path(sys.executable).with_name("forexbot")
    out = subprocess.run(
        [
            str(forexbot),
            "optimize",
            "--strategy",
            "sma_cross",
            "--symbol",
            "EURUSD",
            "--timeframe",
            "H1",
            "--from",
            "2024-03-04",
            "--to",
            "2024-03-11",
            "--volume",
            "0.1",
            "--grid",
            "fast_period=3,5",
            "--grid",
            "slow_period=20",
            "--workers",
            str(workers),
            "--json",
        ],
        capture_output=True,
        check=True,
        cwd=cwd,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_optimize_json_with_two_workers_is_the_ranking_one_worker_gives(tmp_path: Path) -> None:
    two = _optimize_json(tmp_path / "two", workers=2)

    # The same simulated prices (default seed), the same trials, in the same order.
    assert two == _optimize_json(tmp_path / "one", workers=1)
    assert two["objective"] == "sharpe"
    trials = two["trials"]
    candidates = [{"fast_period": 3, "slow_period": 20}, {"fast_period": 5, "slow_period": 20}]
    assert sorted((t["params"] for t in trials), key=lambda p: p["fast_period"]) == candidates
    scores = [t["score"] for t in trials]
    assert scores == sorted(scores, reverse=True)  # best Sharpe first
    for trial in trials:
        stats = trial["statistics"]
        assert set(trial) == {"params", "score", "trades", "statistics", "error"}
        assert trial["error"] is None
        assert trial["score"] == stats["sharpe"]
        assert trial["trades"] == stats["trades"] == stats["wins"] + stats["losses"] > 0
        assert (stats["start"], stats["end"]) == (START, START + 7 * DAY)
        assert stats["initial_balance"] == 10_000.0
        assert stats["final_equity"] == pytest.approx(10_000.0 + stats["net_profit"])


# --- 4. a dead pool worker leaves its job running forever ----------------------------------


def _long_spec() -> BacktestSpec:
    return BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=START,
        end=START + 600 * DAY,
        volume=0.01,
    )


async def test_a_job_whose_worker_dies_fails_and_frees_its_slot() -> None:
    jobs = BacktestJobs(workers=1, max_active=1)
    try:
        job = jobs.submit(_long_spec(), strategy_id="x", request={}, owner="me")

        def state() -> str:
            return jobs.get(job.id).state  # type: ignore[union-attr]

        await eventually(lambda: state() == "running", timeout=20, what="the job's process")
        os.kill(jobs._processes[job.id].pid, signal.SIGKILL)
        await eventually(
            lambda: state() == "failed",
            timeout=5,
            what="the job to fail",
            detail=lambda: f"job is still {state()!r}, active={jobs.active()}",
        )
        assert jobs.active() == 0
        assert "ended without an answer (exit code -9)" in (jobs.get(job.id).error or "")  # type: ignore[union-attr]
    finally:
        await jobs.close()


# --- 5. --data db / "db": M1 is chosen even when it does not cover the test ---------------


class _Repository:
    """market_data with H1 bars for the whole month and M1 bars for its last day only."""

    def __init__(self, start: float, end: float) -> None:
        self.rows = {
            "H1": [int(t) for t in np.arange(start - 30 * DAY, end, 3600)],
            "M1": [int(t) for t in np.arange(end - DAY, end, 60)],
        }

    async def timeframes(self, symbol: str) -> list[str]:
        return sorted(self.rows)

    async def get_bars(self, symbol: str, tf: Timeframe, start: int, end: int) -> list[Bar]:
        return [
            Bar(symbol, tf, t, 1.1, 1.1, 1.1, 1.1, 1, 1, 0)
            for t in self.rows[tf.name]
            if start <= t < end
        ]


async def test_stored_bars_do_not_silently_shrink_the_test_period() -> None:
    start, end = START, START + 28 * DAY
    replay = await stored_bars(_Repository(start, end), "EURUSD", Timeframe.H1, start, end, 50)
    # Whatever timeframe is chosen, the bars must reach back to the start of the test.
    assert int(replay.bars["time"][0]) <= int(to_server_array(np.array([int(start)]))[0])


# --- 6. the API ignores seed 0 ----------------------------------------------------------------


class _Instances:
    def get_strategy(self, strategy_id: str) -> dict[str, Any]:
        return {"strategy": "sma_cross", "symbol": "EURUSD", "timeframe": "H1", "params": {}}


class _Jobs:
    spec: BacktestSpec | None = None

    def submit(self, spec: BacktestSpec, **kwargs: Any) -> Any:
        self.spec = spec

        class _Job:
            def to_api(self) -> dict[str, Any]:
                return {}

        return _Job()


async def test_the_api_honours_seed_zero() -> None:
    jobs = _Jobs()
    service = DaemonBacktests(
        jobs,  # type: ignore[arg-type]
        _Instances(),
        lambda: OPEN,
        TerminalSettings(),
        None,  # type: ignore[arg-type]
    )
    request = {
        "start": datetime(2024, 3, 4, tzinfo=UTC),
        "end": datetime(2024, 3, 11, tzinfo=UTC),
        "seed": 0,
    }
    await service.start("x", request, owner="me")
    assert jobs.spec is not None
    assert jobs.spec.seed == 0
