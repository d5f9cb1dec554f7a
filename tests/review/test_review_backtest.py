"""Review findings on the issue-6 backtester, each demonstrated by a failing (xfail) test."""

from __future__ import annotations

import asyncio
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
from symbol_specs import EURUSD

from forexbot.backtest.jobs import BacktestJobs
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.backtest.service import DaemonBacktests
from forexbot.backtest.stored import stored_bars
from forexbot.clock import ManualClock
from forexbot.config import RiskSettings, TerminalSettings
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.mt5sim.timeutil import to_server_array
from forexbot.connectors.worker import InlineWorker
from forexbot.domain.market import Bar, SymbolSpec, Tick, Timeframe
from forexbot.domain.trading import AccountState, Side, Signal
from forexbot.engine.exposure import Holding
from forexbot.engine.risk import RiskManager
from forexbot.events.bus import EventBus
from forexbot.events.types import SignalEvent

START = datetime(2024, 3, 4, tzinfo=UTC).timestamp()  # a Monday
DAY = 86_400
OPEN = RiskSettings(
    risk_per_trade_percent=10,
    max_open_positions=20,
    max_positions_per_symbol=1,
    max_exposure_per_currency_percent=100_000,
    max_margin_usage_percent=100,
    max_spread_stop_percent=100,
    max_daily_loss_percent=100,
    max_drawdown_percent=100,
    cooldown_minutes=0,
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


# --- 1. a signal on Friday's last bar is decided while the market is closed ---------------


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="runner decides at the close of Friday's last bar, when the market is closed: the "
    "reversal close is refused (10018) and the new trade rejected market_closed; the cross is lost",
)
def test_a_cross_on_fridays_last_bar_is_traded_not_lost() -> None:
    result = run_backtest(SMA_WEEK)
    assert result.rejected == {}, result.rejected


# --- 2. stop-and-reverse closes positions on signals the risk manager rejects --------------


class _Market:
    def __init__(self, now: float) -> None:
        self.tick = Tick(symbol="EURUSD", time=now, bid=1.1000, ask=1.1001)

    def spec(self, symbol: str) -> SymbolSpec:
        return EURUSD

    def last_tick(self, symbol: str) -> Tick | None:
        return self.tick

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


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="RiskManager.on_signal closes the other side before evaluate(): a stale signal "
    "(lagging daemon, or Friday's last bar seen on Monday) still closes the live position",
)
async def test_a_stale_stop_and_reverse_signal_closes_nothing() -> None:
    now = 1_767_225_600.0
    clock = ManualClock(now)
    bus = EventBus()
    closer = _Closer()
    risk = RiskManager(OPEN, _Market(now), _Positions(), bus, clock, _Log(), closer=closer)
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


@pytest.mark.xfail(
    strict=True,
    raises=json.JSONDecodeError,
    reason="spawned workers keep structlog's default PrintLogger (stdout); logging.disable() in "
    "evaluate()/run_job() does not silence it, so engine log lines land in the JSON output",
)
def test_optimize_json_with_two_workers_is_valid_json(tmp_path: Path) -> None:
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
            "2",
            "--json",
        ],
        capture_output=True,
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    json.loads(out.stdout)


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


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="multiprocessing.Pool never reports a task whose worker died (OOM kill): the job "
    "stays queued/running forever and holds a max_active slot (429 for every later request)",
)
async def test_a_job_whose_worker_dies_fails_and_frees_its_slot() -> None:
    jobs = BacktestJobs(workers=1, max_active=1)
    try:
        job = jobs.submit(_long_spec(), strategy_id="x", request={}, owner="me")
        for _ in range(100):  # wait until the worker reports progress
            await asyncio.sleep(0.2)
            if jobs.get(job.id).state == "running":  # type: ignore[union-attr]
                break
        for process in list(jobs._pool._pool):
            os.kill(process.pid, signal.SIGKILL)
        await asyncio.sleep(5)
        state = jobs.get(job.id).state  # type: ignore[union-attr]
        assert state == "failed", f"job is still {state!r}, active={jobs.active()}"
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


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="stored_bars() takes M1 whenever any M1 is stored, without checking it covers "
    "[start, end): the test silently runs on the last day while statistics span the month",
)
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


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="service._spec uses `request.get('seed') or t.sim_seed`: seed 0 (accepted, ge=0) is "
    "silently replaced by the configured seed",
)
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


# --- 7. connector.history() may return a bar still forming at the broker ----------------------


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="history() now reads position 0 and keeps it when the *local* clock says its period "
    "ended; with the daemon's clock a few seconds ahead of the broker's it returns a forming "
    "bar (the old start_pos=1 never did), and StrategyManager.on_bar then drops the completed "
    "bar as 'already seen'",
)
async def test_history_never_returns_a_bar_still_forming_at_the_broker() -> None:
    boundary = datetime(2024, 3, 5, 10, 0, tzinfo=UTC).timestamp()  # an M15 boundary
    broker = ManualClock(boundary - 3)  # the broker: 3 s before the boundary
    local = ManualClock(boundary + 2)  # the daemon's clock: 5 s ahead of it
    terminal = SimulatedTerminal(clock=broker, seed=1)
    terminal.initialize()
    try:
        connector = MT5Connector(
            terminal,
            InlineWorker(default_timeout=10.0),
            EventBus(),
            local,
            ["EURUSD"],
            [Timeframe.M15],
            poll_interval=1.0,
        )
        await connector.refresh_quote("EURUSD")  # learns the server's UTC offset
        early = (await connector.history("EURUSD", Timeframe.M15, 5))[-1]
        broker.set(boundary + 1)
        later = {b.time: b for b in await connector.history("EURUSD", Timeframe.M15, 5)}
        assert early == later[early.time]  # a closed bar does not change afterwards
    finally:
        terminal.shutdown()
