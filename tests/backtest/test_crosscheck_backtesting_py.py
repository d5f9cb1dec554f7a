"""Cross-check against an outside tool: backtesting.py on its own EURUSD hourly data.

The same SMA-cross rules (TA-Lib SMA 10/20, strict cross on both bars, stop and reverse, 0.1
lot = 10,000 units) over the 5,000 real EURUSD H1 bars that the ``backtesting`` package ships.
The assumptions are matched explicitly:

* **Fills**: ours act on the bar's close at the first tick after it, which is the next bar's
  open — backtesting.py's default (``trade_on_close=False``).
* **Time**: the data's timestamps are UTC (the FX week opens Sunday 21:00/22:00); the MT5 export
  we replay is written in broker server time, as a real export is.
* **Market hours**: a replayed market is closed in a hole of the data (the weekend), so our
  engine cannot fill a signal from the week's last bar; backtesting.py would fill it on Monday.
  Its strategy is given the same rule: no order on a bar followed by a hole.
* **The end**: open trades are closed at the last bar's close (ours, a millisecond before the
  end); backtesting.py closes them at the last bar's open, so it gets one extra bar opening at
  that close.
* **Costs**: no swap (a swap-free account); the protective stop is 100 ATR away, never hit.
  Spread 0 compares prices exactly; a commission per lot and deal is the same money in both;
  a fixed spread is the same cost as a commission of half the spread per side in backtesting.py
  (which quotes mid prices), so the nets agree to the cent while our buy prices are the ask.
"""

from __future__ import annotations

import warnings
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from backtesting import Backtest, Strategy
from backtesting.test import EURUSD
from trading_rig import OPEN_LIMITS

from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.connectors.mt5sim.mt5csv import format_bars
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import from_server_array, to_server_array
from forexbot.domain.market import Timeframe

UNITS = 10_000  # 0.1 lot
LOTS = 0.1
POINT = 0.00001
OPEN = OPEN_LIMITS.model_copy(
    update={"risk_per_trade_percent": 10, "max_quote_age_seconds": 86_400}
)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """The package's EURUSD H1 bars as an MT5 export in server time, and their UTC times."""
    utc = np.array([int(ts.timestamp()) for ts in EURUSD.index.tz_localize(UTC)])
    bars = np.zeros(len(EURUSD), dtype=RATES_DTYPE)
    bars["time"] = to_server_array(utc)
    for field, column in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close")):
        bars[field] = EURUSD[column].to_numpy()
    bars["tick_volume"] = EURUSD["Volume"].to_numpy().astype(np.int64)
    path = tmp_path_factory.mktemp("xc") / "EURUSD_H1.csv"
    path.write_text(format_bars(bars, 5))
    return path, bars["time"].astype(np.int64)


def theirs(commission: float) -> pd.DataFrame:
    """backtesting.py's trades with the rules and assumptions of the module docstring."""
    data = EURUSD.copy()
    gap_after = np.r_[np.diff(data.index.asi8 // 10**9) > 3600, True]
    last = data.iloc[-1]
    extra = pd.DataFrame(
        {"Open": [last.Close], "High": [last.Close], "Low": [last.Close],
         "Close": [last.Close], "Volume": [1.0]},
        index=[data.index[-1] + pd.Timedelta(hours=1)],
    )  # fmt: skip
    data = pd.concat([data, extra])
    gap_after = np.r_[gap_after, True]

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(talib.SMA, self.data.Close, 10)
            self.slow = self.I(talib.SMA, self.data.Close, 20)

        def next(self) -> None:
            if np.isnan(self.slow[-2]) or gap_after[len(self.data) - 1]:
                return
            if self.fast[-2] < self.slow[-2] and self.fast[-1] > self.slow[-1]:
                self.position.close()
                self.buy(size=UNITS)
            elif self.fast[-2] > self.slow[-2] and self.fast[-1] < self.slow[-1]:
                self.position.close()
                self.sell(size=UNITS)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = Backtest(
            data,
            SmaCross,
            cash=100_000,
            commission=lambda size, price: commission * abs(size) / 100_000,
            finalize_trades=True,
        )
        stats = backtest.run()
    trades: pd.DataFrame = stats._trades
    return trades


def ours(
    export: tuple[Path, np.ndarray], commission_per_lot: float, spread_points: int
) -> BacktestResult:
    path, server_times = export
    start = float(from_server_array(server_times[:1])[0])
    end = float(from_server_array(server_times[-1:] + 3600)[0])
    spec = BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.H1,
        start=start,
        end=end,
        params={"fast_period": 10, "slow_period": 20, "stop_atr_multiplier": 100},
        replay={"EURUSD": [path]},
        balance=100_000,
        spread_points=spread_points,
        commission_per_lot=commission_per_lot,
        swap_free=True,
        volume=LOTS,
        risk=OPEN,
        sync_every_seconds=43_200,
    )
    return run_backtest(spec)


def test_sma_cross_gives_the_same_trades_and_net_as_backtesting_py_without_costs(
    export: tuple[Path, np.ndarray],
) -> None:
    result, reference = ours(export, 0.0, 0), theirs(0.0)
    assert len(result.trades) == len(reference) == 263
    for mine, their in zip(result.trades, reference.itertuples(), strict=True):
        assert mine.side == ("buy" if their.Size > 0 else "sell")
        assert mine.volume * 100_000 == abs(their.Size)
        assert mine.entry_price == pytest.approx(their.EntryPrice, abs=1e-9)
        assert mine.exit_price == pytest.approx(their.ExitPrice, abs=1e-9)
        assert round(mine.net, 2) == round(their.PnL, 2)
    assert round(result.statistics.net_profit, 2) == round(float(reference.PnL.sum()), 2)


def test_entry_and_exit_times_are_the_next_bars_open(export: tuple[Path, np.ndarray]) -> None:
    result, reference = ours(export, 0.0, 0), theirs(0.0)
    for mine, their in zip(result.trades[:-1], reference.itertuples(), strict=False):
        assert mine.open_time == their.EntryTime.tz_localize(UTC).timestamp()
        assert mine.close_time == their.ExitTime.tz_localize(UTC).timestamp()


def test_a_commission_per_lot_and_deal_costs_the_same_to_the_cent(
    export: tuple[Path, np.ndarray],
) -> None:
    result, reference = ours(export, 7.0, 0), theirs(7.0)
    nets = [round(t.net, 2) for t in result.trades]
    assert nets == [round(float(p), 2) for p in reference.PnL]
    assert round(result.statistics.net_profit, 2) == round(float(reference.PnL.sum()), 2)
    assert all(t.commission == pytest.approx(-2 * 7.0 * LOTS) for t in result.trades)


def test_a_fixed_spread_costs_what_half_of_it_per_side_costs_at_mid_prices(
    export: tuple[Path, np.ndarray],
) -> None:
    spread = 12
    per_lot_and_side = spread / 2 * POINT * 100_000  # money per lot for half the spread
    result, reference = ours(export, 0.0, spread), theirs(per_lot_and_side)
    assert len(result.trades) == len(reference)
    for mine, their in zip(result.trades, reference.itertuples(), strict=True):
        assert round(mine.net, 2) == round(float(their.PnL), 2)
        if mine.side == "buy":
            assert mine.entry_price == pytest.approx(their.EntryPrice + spread * POINT, abs=1e-9)
        else:
            assert mine.exit_price == pytest.approx(their.ExitPrice + spread * POINT, abs=1e-9)
