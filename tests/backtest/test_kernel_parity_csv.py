"""The backtest kernel gives the event-driven backtest's trades on bars replayed from an MT5
CSV export, trade for trade.

The data: the simulator's EURUSD M1 bars over a week and a half, written as MetaTrader 5
writes a bars export (server time, so a weekend gap in the file) and read back by the
column-wise reader. Each case runs through :class:`~forexbot.backtest.runner.Backtest` and
through :func:`~forexbot.backtest.kernel.run_kernel`'s two loops; every trade field, the
statistics, the equity curve and the counts must be equal, and ``run_backtest`` must take
the kernel for such a spec. The cases: MA+RSI sized by risk (the Python loop), a stochastic
cross with the stop a fraction of an ATR away and the target 1R (exits decided inside one
bar), an SMA stop-and-reverse with commission across the weekend.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from forexbot.backtest.kernel import KernelResult, run_kernel, supports
from forexbot.backtest.runner import BacktestResult, BacktestSpec, load_prices, run_backtest
from forexbot.config.models import RiskSettings
from forexbot.connectors.mt5sim import mt5csv
from forexbot.connectors.mt5sim.mt5csv import format_bars
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import from_server_array, to_server_array
from forexbot.domain.market import Timeframe

THURSDAY = datetime(2022, 1, 6, tzinfo=UTC).timestamp()
DAY = 86_400
INERT = {"max_daily_loss_percent": 100, "max_drawdown_percent": 100, "cooldown_minutes": 0}


@dataclass(frozen=True, slots=True)
class Csv:
    path: Path
    start: float  # UTC of the first bar
    end: float  # UTC of the end of the last bar
    server: np.ndarray  # the bars' server times


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Csv:
    """The simulator's EURUSD M1 bars from a Thursday to the Tuesday after next, as an MT5
    export (``YYYY.MM.DD``, ``HH:MM:SS``, tabs, CRLF)."""
    source = BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=THURSDAY,
        end=THURSDAY + 12 * DAY,
        seed=17,
    )
    prices = load_prices(source, 0)
    bars = np.zeros(len(prices), dtype=RATES_DTYPE)
    bars["time"] = to_server_array(prices.time)
    for name in ("open", "high", "low", "close", "tick_volume", "spread", "real_volume"):
        bars[name] = getattr(prices, name)
    path = tmp_path_factory.mktemp("csv") / "EURUSD_M1.csv"
    path.write_text(format_bars(bars, 5), newline="")
    server = bars["time"].astype(np.int64)
    return Csv(
        path,
        float(from_server_array(server[:1])[0]),
        float(from_server_array(server[-1:] + 60)[0]),
        server,
    )


def _specs(csv: Csv) -> dict[str, BacktestSpec]:
    base = BacktestSpec(
        strategy="ma_rsi",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=csv.start + 300 * 60,  # the warm-up read from the export's first bars
        end=csv.end,
        replay={"EURUSD": [csv.path]},
        risk=RiskSettings(
            **INERT,
            risk_per_trade_percent=1.0,
            max_spread_stop_percent=100,
            max_exposure_per_currency_percent=100_000,
            max_margin_usage_percent=100,
        ),
    )
    return {
        "ma-rsi-sized-by-risk": base,
        "stochastic-both-levels-in-one-bar": replace(
            base,
            strategy="stochastic_cross",
            params={"atr_multiplier": 0.3, "reward_risk": 1.0},
            volume=0.2,
            spread_points=0,
        ),
        "sma-cross-reversals-with-commission": replace(
            base,
            strategy="sma_cross",
            params={"fast_period": 5, "slow_period": 20, "stop_atr_multiplier": 3},
            volume=0.3,
            commission_per_lot=7.0,
            sync_every_seconds=600,
        ),
    }


NAMES = [
    "ma-rsi-sized-by-risk",
    "stochastic-both-levels-in-one-bar",
    "sma-cross-reversals-with-commission",
]
Runs = dict[str, tuple[BacktestResult, KernelResult, KernelResult, BacktestResult]]
LOOPS = ["python", "compiled"]


@pytest.fixture(scope="module")
def runs(export: Csv) -> Runs:
    """Each case through the event path, the kernel's two loops and ``run_backtest``."""
    specs = _specs(export)
    return {
        name: (
            run_backtest(specs[name], engine="event"),
            run_kernel(specs[name], compiled=False),
            run_kernel(specs[name]),
            run_backtest(specs[name]),
        )
        for name in NAMES
    }


def test_the_export_has_a_weekend_gap_and_reads_column_wise(export: Csv) -> None:
    assert mt5csv._plain_bars(export.path.read_bytes()) is not None
    assert int(np.diff(export.server).max()) >= 2 * DAY
    assert len(export.server) > 10_000


@pytest.mark.parametrize("name", NAMES)
def test_run_backtest_takes_the_kernel_for_a_replayed_export(
    export: Csv, runs: Runs, name: str
) -> None:
    assert supports(_specs(export)[name]) is None
    event, _, _, auto = runs[name]
    assert auto.engine == "kernel"
    assert auto.trades == event.trades
    assert auto.statistics == event.statistics


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("name", NAMES)
def test_the_kernel_makes_the_event_paths_trades_from_a_csv(
    runs: Runs, name: str, loop: str
) -> None:
    event, python, compiled, _ = runs[name]
    kernel = python if loop == "python" else compiled
    assert [t.to_dict() for t in kernel.trades] == [t.to_dict() for t in event.trades]
    assert kernel.trades == event.trades


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("name", NAMES)
def test_the_kernel_gives_the_same_statistics_and_counts_from_a_csv(
    runs: Runs, name: str, loop: str
) -> None:
    event, python, compiled, _ = runs[name]
    kernel = python if loop == "python" else compiled
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


def test_the_cases_cover_the_rules_on_replayed_bars(export: Csv, runs: Runs) -> None:
    trades = {name: run[0].trades for name, run in runs.items()}
    assert all(len(t) >= 5 for t in trades.values())
    reasons = {t.close_reason for ts in trades.values() for t in ts}
    assert {"stop_loss", "take_profit", "reversal"} <= reasons
    both = runs["stochastic-both-levels-in-one-bar"]
    assert both[1].both_levels > 0
    assert both[2].both_levels == both[1].both_levels
    assert both[2].compiled
    assert not both[1].compiled
    assert not runs["ma-rsi-sized-by-risk"][2].compiled  # sized by risk: the Python loop
    # a position held over the weekend gap (swap charged, the market closed meanwhile)
    gap = int(np.argmax(np.diff(export.server)))
    closed_from = float(from_server_array(export.server[gap : gap + 1] + 60)[0])
    opened_again = float(from_server_array(export.server[gap + 1 : gap + 2])[0])
    across = [
        t
        for ts in trades.values()
        for t in ts
        if t.open_time < closed_from and t.close_time >= opened_again
    ]
    assert across
    assert any(t.swap != 0 for t in across)
    assert any(t.commission != 0 for t in trades["sma-cross-reversals-with-commission"])
