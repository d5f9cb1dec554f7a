"""The backtest kernel gives the event-driven backtest's trades, trade for trade.

Every case runs through :class:`~forexbot.backtest.runner.Backtest` (bus, risk, execution,
positions, simulated terminal) and through :func:`~forexbot.backtest.kernel.run_kernel`'s two
loops (Python, and compiled with numba where it applies), and every field of every trade (id,
side, volume, open/close times and prices, profit, swap, commission, close reason), the
statistics, the equity curve, the signal counts and the rejection counts must be equal. The
cases are drawn from a seeded generator (strategies and parameters, costs, volumes or risk
sizing, data seeds, start days, so weekends) plus named ones for the rules that random draws
may miss: a weekend signal, a bar reaching both the SL and the TP, margin refusals, the
session and volatility filters, USDJPY's converted money, replayed real H1 data.
A coverage test checks the cases do exercise those rules.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from forexbot.backtest.kernel import (
    KernelResult,
    KernelUnsupported,
    forex_open,
    run_kernel,
    supports,
)
from forexbot.backtest.kernel_jit import round_exact
from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.config.models import ExecutionSettings, RiskSettings, TradeManagement
from forexbot.connectors.mt5sim import ReplayBars
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import to_server_array
from forexbot.domain.market import Timeframe
from forexbot.market_condition.sessions import forex_open as forex_open_at

START = datetime(2022, 1, 3, tzinfo=UTC).timestamp()  # a Monday
DAY = 86_400
INERT = {"max_daily_loss_percent": 100, "max_drawdown_percent": 100, "cooldown_minutes": 0}


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    spec: BacktestSpec


def _random_case(rng: random.Random, n: int) -> Case:
    strategy = rng.choice(["sma_cross", "sma_cross", "ma_rsi", "stochastic_cross"])
    params: dict[str, Any]
    if strategy == "sma_cross":
        fast = rng.randint(3, 15)
        params = {
            "fast_period": fast,
            "slow_period": fast + rng.randint(2, 25),
            "stop_atr_multiplier": rng.choice([0.5, 1.0, 2.0, 4.0, 100.0]),
        }
    else:
        params = {
            "atr_multiplier": rng.choice([0.3, 0.8, 1.5, 3.0]),
            "reward_risk": rng.choice([0.5, 1.0, 2.0, 3.0]),
        }
    timeframe, days = rng.choice([(Timeframe.M1, 5), (Timeframe.M5, 16), (Timeframe.M15, 30)])
    start = START + rng.randint(0, 6) * DAY + rng.randint(0, 23) * 3600
    sized = rng.random() < 0.4
    risk = RiskSettings(
        **INERT,
        risk_per_trade_percent=rng.choice([0.5, 1.0, 3.0]),
        max_spread_stop_percent=rng.choice([30.0, 100.0]),
        max_margin_usage_percent=rng.choice([50.0, 100.0]),
        max_exposure_per_currency_percent=rng.choice([3_000.0, 100_000.0]),
    )
    spec = BacktestSpec(
        strategy=strategy,
        symbol=rng.choice(["EURUSD", "EURUSD", "GBPUSD", "USDJPY"]),
        timeframe=timeframe,
        start=start,
        end=start + days * DAY + rng.randint(0, 3600),
        params=params,
        seed=rng.randint(1, 10_000),
        balance=rng.choice([5_000.0, 10_000.0, 100_000.0]),
        spread_points=rng.choice([None, None, 0, 8, 20]),
        slippage_points=rng.choice([0, 0, 2]),
        commission_per_lot=rng.choice([0.0, 3.5, 7.0]),
        swap_free=rng.random() < 0.3,
        volume=None if sized else rng.choice([0.01, 0.1, 0.37, 1.0]),
        risk=risk,
        sync_every_seconds=rng.choice([60.0, 3600.0, 43_200.0]),
    )
    return Case(f"random-{n}-{strategy}-{spec.symbol}-{timeframe.name}", spec)


def _h1_replay() -> ReplayBars:
    """backtesting.py's real EURUSD H1 bars (weekends, holidays) in server time."""
    from backtesting.test import EURUSD  # type: ignore[import-untyped]  # noqa: PLC0415

    frame = EURUSD.iloc[:1500]
    utc = np.array([int(ts.timestamp()) for ts in frame.index.tz_localize(UTC)])
    bars = np.zeros(len(frame), dtype=RATES_DTYPE)
    bars["time"] = to_server_array(utc)
    for name, column in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close")):
        bars[name] = frame[column].to_numpy()
    bars["tick_volume"] = frame["Volume"].to_numpy().astype(np.int64)
    bars["spread"] = 10
    return ReplayBars(bars, 3600)


def _named_cases() -> list[Case]:
    h1 = _h1_replay()
    first = float(h1.bars["time"][0]) - 3 * 3600  # server time is UTC+2/+3
    return [
        Case(
            "bench-sma-cross",
            BacktestSpec(
                strategy="sma_cross",
                symbol="EURUSD",
                timeframe=Timeframe.M1,
                start=START,
                end=START + 6 * DAY,
                params={"fast_period": 10, "slow_period": 20, "stop_atr_multiplier": 100},
                balance=100_000,
                volume=0.1,
                spread_points=0,
                swap_free=True,
                risk=RiskSettings(**INERT, max_spread_stop_percent=100),
                sync_every_seconds=43_200,
            ),
        ),
        Case(
            "weekend-signal-refused",  # the week's last bar signals at the closed market
            BacktestSpec(
                strategy="sma_cross",
                symbol="EURUSD",
                timeframe=Timeframe.M15,
                start=START + 3 * DAY,
                end=START + 8 * DAY,
                params={"fast_period": 2, "slow_period": 3, "stop_atr_multiplier": 5},
                seed=1,
                volume=0.1,
                commission_per_lot=3.5,
                risk=RiskSettings(**INERT, max_spread_stop_percent=100),
            ),
        ),
        Case(
            "session-and-volatility-filters",  # the risk manager's condition filter
            BacktestSpec(
                strategy="sma_cross",
                symbol="EURUSD",
                timeframe=Timeframe.M5,
                start=START,
                end=START + 8 * DAY,
                params={"fast_period": 4, "slow_period": 15, "stop_atr_multiplier": 2},
                volume=0.1,
                risk=RiskSettings(
                    **INERT,
                    max_spread_stop_percent=100,
                    allowed_sessions=("London", "New York"),
                    blocked_volatility=("low",),
                ),
            ),
        ),
        Case(
            "both-levels-in-one-bar",  # stops a fraction of an ATR away, the target 1R
            BacktestSpec(
                strategy="stochastic_cross",
                symbol="EURUSD",
                timeframe=Timeframe.M1,
                start=START + DAY,
                end=START + 4 * DAY,
                params={"atr_multiplier": 0.3, "reward_risk": 1.0},
                seed=11,
                spread_points=0,
                volume=0.2,
                risk=RiskSettings(**INERT, max_spread_stop_percent=100),
            ),
        ),
        *(
            Case(
                f"margin-refusals-{lots:g}-lots",  # EURUSD needs ~1,100 USD a lot
                BacktestSpec(
                    strategy="sma_cross",
                    symbol="EURUSD",
                    timeframe=Timeframe.M5,
                    start=START,
                    end=START + 10 * DAY,
                    params={"fast_period": 5, "slow_period": 12, "stop_atr_multiplier": 1},
                    balance=2_000,
                    volume=lots,
                    risk=RiskSettings(
                        **INERT,
                        risk_per_trade_percent=10,
                        max_spread_stop_percent=100,
                        max_exposure_per_currency_percent=100_000,
                        max_margin_usage_percent=50,
                    ),
                ),
            )
            for lots in (1.0, 2.0)
        ),
        Case(
            "usdjpy-profit-and-swaps-converted",  # JPY profit at 1 / price, on a USD account
            BacktestSpec(
                strategy="sma_cross",
                symbol="USDJPY",
                timeframe=Timeframe.M5,
                start=START,
                end=START + 20 * DAY,
                params={"fast_period": 5, "slow_period": 20, "stop_atr_multiplier": 3},
                volume=0.3,
                commission_per_lot=7.0,
                risk=RiskSettings(**INERT, max_spread_stop_percent=100),
            ),
        ),
        Case(
            "replayed-h1-weekends",
            BacktestSpec(
                strategy="sma_cross",
                symbol="EURUSD",
                timeframe=Timeframe.H1,
                start=first + 100 * 3600,
                end=first + 1400 * 3600,
                params={"fast_period": 10, "slow_period": 20, "stop_atr_multiplier": 3},
                replay={"EURUSD": h1},
                commission_per_lot=7.0,
                volume=0.5,
                risk=RiskSettings(**INERT, max_quote_age_seconds=86_400),
            ),
        ),
    ]


def _cases() -> list[Case]:
    rng = random.Random(20_261_205)
    return _named_cases() + [_random_case(rng, n) for n in range(12)]


CASES = {case.name: case for case in _cases()}


Runs = dict[str, tuple[BacktestResult, KernelResult, KernelResult]]
LOOPS = ["python", "compiled"]


@functools.cache
def event_run(name: str) -> BacktestResult:
    """A case through the event path, once a session: :mod:`test_runner_kernel_path` holds
    ``run_backtest``'s kernel results to the same runs (a run is a function of its spec; the
    result is frozen)."""
    return run_backtest(CASES[name].spec, engine="event")


@pytest.fixture(scope="module")
def runs() -> Runs:
    """Each case through the event path and the kernel's two loops (the compiled one where
    it applies: a fixed volume), once for the module."""
    return {
        name: (event_run(name), run_kernel(c.spec, compiled=False), run_kernel(c.spec))
        for name, c in CASES.items()
    }


def _kernel(runs: Runs, name: str, loop: str) -> tuple[BacktestResult, KernelResult]:
    event, python, auto = runs[name]
    return event, python if loop == "python" else auto


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("name", list(CASES))
def test_the_kernel_makes_the_event_paths_trades(runs: Runs, name: str, loop: str) -> None:
    event, kernel = _kernel(runs, name, loop)
    assert supports(CASES[name].spec) is None
    assert [t.to_dict() for t in kernel.trades] == [t.to_dict() for t in event.trades]
    assert kernel.trades == event.trades


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("name", list(CASES))
def test_the_kernel_gives_the_same_statistics_and_counts(runs: Runs, name: str, loop: str) -> None:
    event, kernel = _kernel(runs, name, loop)
    assert kernel.statistics == event.statistics
    assert np.array_equal(kernel.equity.equity, event.equity.equity)
    assert (kernel.signals, kernel.admitted, kernel.suppressed) == (
        event.signals,
        event.admitted,
        event.suppressed,
    )
    assert kernel.rejected == event.rejected
    refused_orders = sum(1 for r in event.records if r.status.value == "rejected")
    assert kernel.orders_rejected == refused_orders


def test_the_compiled_loop_runs_the_fixed_volume_cases(runs: Runs) -> None:
    compiled = {name for name, (_, _, auto) in runs.items() if auto.compiled}
    fixed = {
        name
        for name, case in CASES.items()
        if case.spec.volume is not None and case.spec.symbol != "USDJPY"
    }
    assert compiled == fixed
    assert not any(python.compiled for _, python, _ in runs.values())


def test_the_cases_cover_the_rules(runs: Runs) -> None:
    trades = [t for event, _, _ in runs.values() for t in event.trades]
    reasons = {t.close_reason for t in trades}
    assert {"reversal", "stop_loss", "take_profit", "end_of_test"} <= reasons
    rejected = {code for event, _, _ in runs.values() for code in event.rejected}
    assert runs["weekend-signal-refused"][0].rejected.get("market_closed") == 1
    assert "position_held" in rejected
    assert {"insufficient_margin", "margin_limit"} <= rejected
    assert {"session_not_allowed", "volatility_blocked"} <= rejected
    assert any(t.swap != 0 for t in trades)
    assert any(t.swap != 0 for t in runs["usdjpy-profit-and-swaps-converted"][0].trades)
    assert any(t.commission != 0 for t in trades)
    assert any(sum(e.suppressed.values()) for e, _, _ in runs.values())
    assert runs["both-levels-in-one-bar"][1].both_levels > 0
    assert (
        runs["both-levels-in-one-bar"][2].both_levels
        == runs["both-levels-in-one-bar"][1].both_levels
    )


def test_round_exact_is_pythons_round() -> None:
    """The compiled loop's rounding: CPython's, on random values and on halves."""
    rng = random.Random(3)
    values = [rng.uniform(-1e4, 1e4) for _ in range(20_000)]
    values += [
        rng.randint(-(10**7), 10**7) / 1000 + rng.choice([0, 5e-4, -5e-4]) for _ in range(20_000)
    ]
    values += [0.125, 0.375, 2.675, 1.005, -0.125, -2.5, 0.5, 1.5, -0.001, 1.295, 0.285]
    for digits in (0, 2, 5, 8):
        for x in values:
            assert repr(round_exact(x, digits)) == repr(round(x, digits)), (x, digits)


def test_forex_open_over_arrays_is_the_sessions_rule() -> None:
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(int(START), int(START) + 400 * DAY, 5_000))
    times = np.r_[times, int(datetime(2022, 1, 7, 22, tzinfo=UTC).timestamp())]  # Fri 17:00 NY
    expected = [forex_open_at(datetime.fromtimestamp(t, tz=UTC)) for t in times.tolist()]
    assert forex_open(times).tolist() == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fill_model": "ticks"}, "only the 'bars' fill model"),
        ({"hedging": False}, "only hedging accounts"),
        ({"management": TradeManagement(break_even_at_r=1.0)}, "no trade management"),
        ({"risk": RiskSettings()}, "no losing-streak cooldown"),
        ({"symbol": "EURGBP"}, "only symbols quoted in or based on the account currency"),
        ({"sync_every_seconds": 90.0}, "sync_every_seconds in whole minutes"),
        (
            {"execution": ExecutionSettings(retry_delay_ms=250)},
            "the backtest's execution settings",
        ),
    ],
)
def test_supports_names_what_it_does_not_reproduce(change: dict[str, Any], reason: str) -> None:
    base = BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=START,
        end=START + DAY,
        risk=RiskSettings(**INERT),
    )
    spec = BacktestSpec(**{**{f: getattr(base, f) for f in base.__slots__}, **change})
    found = supports(spec)
    assert found is not None
    assert found.startswith(reason)
    with pytest.raises(KernelUnsupported):
        run_kernel(spec)
