"""Backtest speed: bars per second, and the same SMA cross beside backtesting.py and Nautilus.

1. **MA+RSI on 1,000,000 M1 bars from an MT5 CSV export**: the simulator's EURUSD (about 2.7
   years) written once, untimed, to a temporary file as MetaTrader 5 writes a bars export
   (server time, tabs, ``YYYY.MM.DD``, ``HH:MM:SS``; ~60 MB). Then both engines are timed
   from that file: forexbot's ``run_backtest`` on the spec replaying it (default parameters,
   1 % risk per trade, no account limits: the default drawdown kill switch would need the
   event-driven path) takes the backtest kernel, and its time covers reading and parsing the
   CSV, the simulated terminal's quotes and M1 path, the strategy's signals, the market
   condition series and the regime screen, the kernel's loop and the statistics (phases
   printed; numba's machine code is loaded once beforehand, shown apart). backtesting.py's
   covers ``pandas.read_csv`` of the same file into its DataFrame and its run of the same
   rules (bracket orders, one position at a time, 0.1 lot, no regime filter or risk sizing:
   a timing comparison over the same bars, not trade for trade). Both trade counts and the
   ratio are printed.
2. **SMA cross (10/20, stop and reverse, 0.1 lot) on 100,000 M1 bars from an MT5 CSV
   export**: the simulator's EURUSD bars with no spread, written once, untimed, as for
   MA+RSI, and every engine timed from that file: forexbot's ``run_backtest`` replaying it
   (the quote at a decision is the next minute's opening tick, on its bar's open: where
   backtesting.py fills), backtesting.py from ``pandas.read_csv`` into its DataFrame (the
   time to read it shown apart), NautilusTrader from the same DataFrame (making its Bar
   objects shown apart). No swap, no commission, backtesting.py filling at the next bar's
   open, NautilusTrader at the signal bar's close (the same instant). The bars come from a
   file rather than being generated on the fly because generating the statistical market
   (~8 ms a day of ticks) alone takes about backtesting.py's whole run. The table gives each
   engine's seconds, trades, µs per bar, ms per trade and time as a multiple of
   backtesting.py's, then how many entries each pair of engines makes in the same minute
   (theirs converted from the export's server time). ``forexbot`` is the event-driven path:
   every trade goes through the whole live order path, which is what costs; ``forexbot
   (kernel)`` is the same backtest through the backtest kernel (forexbot/backtest/kernel.py:
   the fill and risk rules in one loop, proven trade for trade against the event path); the
   line under the table gives its phases and checks that its trades and statistics are the
   event path's on this data. NautilusTrader is not a dependency: ``pip install
   "forexbot[bench]"`` (or ``nautilus_trader==1.221.0``, its last release for Python 3.11;
   it pins pandas < 3), else its row says how to install it; its side is
   bench/nautilus_sma.py.

3. **SMA cross (10/20) on the 5,000 real EURUSD H1 bars** that the ``backtesting`` package
   ships, written as an MT5 CSV export (server time) and replayed from it: a small backtest,
   where the fixed costs (the terminal, the engine, the event loop) show. The same rules and
   assumptions as tests/backtest/test_crosscheck_backtesting_py.py; backtesting.py runs on its
   own DataFrame (without the weekend rule, so its trade count differs slightly). Both of
   forexbot's paths run (the event path and the kernel, with the parity check): the kernel's
   time there is mostly the terminal expanding each H1 bar into its M1 bars.

Run: ``.venv/bin/python bench/backtest.py [--case all|ma-rsi|sma-cross|eurusd-h1]
[--bars N] [--cross-bars N] [--trades FILE]``; ``--trades`` writes each forexbot run's trade
list (one line a trade) to compare the trades before and after a change.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import talib
from backtesting import Backtest, Strategy
from numpy.typing import NDArray

from forexbot.backtest import kernel_jit
from forexbot.backtest.prices import PriceSeries
from forexbot.backtest.runner import BacktestResult, BacktestSpec, load_prices, run_backtest
from forexbot.config.models import RiskSettings
from forexbot.connectors.mt5sim import mt5csv_jit
from forexbot.connectors.mt5sim.mt5csv import format_bars, read_export
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import from_server_array, to_server_array
from forexbot.domain.market import Timeframe
from forexbot.indicators import compiled
from forexbot.logs import configure_logging
from forexbot.market_condition import rolling

if TYPE_CHECKING:
    from nautilus_sma import NautilusRun

START = datetime(2022, 1, 3, tzinfo=UTC).timestamp()
M1_BARS_PER_DAY = 1_440 * 5 / 7  # about: forex trades five days a week
OPEN_LIMITS = RiskSettings(
    risk_per_trade_percent=10,
    max_open_positions=10,
    max_positions_per_symbol=1,
    max_exposure_per_currency_percent=100_000,
    max_margin_usage_percent=100,
    max_spread_stop_percent=100,
    max_daily_loss_percent=100,
    max_drawdown_percent=100,
    cooldown_minutes=0,
)


def days_for(bars: int) -> float:
    return bars / M1_BARS_PER_DAY + 3


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ma_rsi(bars: int) -> BacktestResult:
    """MA+RSI from an MT5 CSV export of ``bars`` simulator M1 bars, forexbot against
    backtesting.py, each timed from reading the file (see the module docstring)."""
    sim = BacktestSpec(
        strategy="ma_rsi",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=START,
        end=START + days_for(bars) * 86_400,
        risk=OPEN_LIMITS.model_copy(update={"risk_per_trade_percent": 1.0}),
    )
    with tempfile.TemporaryDirectory() as folder:
        path, spec, written = exported(sim, Path(folder))
        warm_time = warm_compiled()
        started = time.perf_counter()
        result = run_backtest(spec)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        parsed = read_export(path)  # the parse alone, again, to show its share
        parse_time = time.perf_counter() - started
        started = time.perf_counter()
        frame = read_frame(path)
        their_read = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
    their_run, their_trades, _, _ = backtesting_py(frame, MaRsi)
    theirs = their_read + their_run
    print(
        f"MA+RSI on {result.bars:,} M1 bars (EURUSD, simulator) from an MT5 CSV export "
        f"({size_mb:,.0f} MB, written untimed in {written:.1f} s), fill model 'bars'"
    )
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
    print(
        f"  forexbot ({result.engine})  {ours:6.2f} s   {result.bars / ours:>10,.0f} bars/s   "
        f"reading the CSV included: {phases}"
    )
    print(
        f"    the CSV parse alone {parse_time:.2f} s ({len(parsed.data):,} bars; part of "
        f"'data', with the terminal's quotes and M1 path); numba's code loaded beforehand "
        f"{warm_time:.2f} s"
    )
    print(
        f"    signals {result.signals:,}, traded {result.admitted:,}, trades "
        f"{len(result.trades):,}, rejected {sum(result.rejected.values()):,}, suppressed "
        f"{sum(result.suppressed.values()):,}, net profit {result.statistics.net_profit:,.2f}"
    )
    print(
        f"  backtesting.py     {theirs:6.2f} s   {len(frame) / theirs:>10,.0f} bars/s   "
        f"read_csv and its DataFrame {their_read:.2f} s, run {their_run:.2f} s, "
        f"{their_trades:,} trades (the same rules as bracket orders, 0.1 lot, no regime "
        f"filter: a timing comparison, not trade for trade)"
    )
    print(
        f"  forexbot is {theirs / ours:.2f}x faster than backtesting.py, both from the same "
        f"file; peak RSS {peak_rss_mb():,.0f} MB"
    )
    return result


def exported(sim: BacktestSpec, folder: Path) -> tuple[Path, BacktestSpec, float]:
    """``sim``'s bars written to an MT5 CSV export in ``folder`` (untimed by the cases), the
    spec replaying that file over the same period, and the seconds the writing took."""
    path = folder / f"{sim.symbol}_M1.csv"
    started = time.perf_counter()
    server = write_export(load_prices(sim, 0), path)
    written = time.perf_counter() - started
    spec = dataclasses.replace(
        sim,
        start=float(from_server_array(server[:1])[0]),
        end=float(from_server_array(server[-1:] + 60)[0]),
        replay={sim.symbol: [path]},
    )
    return path, spec, written


def warm_compiled() -> float:
    """Load numba's machine code (compiled or from its cache) once a process, before the
    timed runs; the seconds it took."""
    started = time.perf_counter()
    kernel_jit.warm()
    compiled.warm()
    rolling.warm()
    mt5csv_jit.warm()  # the CSV reader's one-pass parser
    return time.perf_counter() - started


def write_export(prices: PriceSeries, path: Path) -> NDArray[np.int64]:
    """``prices`` as MetaTrader 5 writes a bars export (server time); their server times."""
    bars = np.zeros(len(prices), dtype=RATES_DTYPE)
    bars["time"] = to_server_array(prices.time)
    for name in ("open", "high", "low", "close", "tick_volume", "spread", "real_volume"):
        bars[name] = getattr(prices, name)
    path.write_text(format_bars(bars, 5), newline="")
    return bars["time"].astype(np.int64)


def read_frame(path: Path) -> pd.DataFrame:
    """An MT5 bars export as backtesting.py's DataFrame (pandas' read_csv, the time index)."""
    raw = pd.read_csv(path, sep="\t")
    index = pd.to_datetime(raw["<DATE>"] + " " + raw["<TIME>"], format="%Y.%m.%d %H:%M:%S")
    return pd.DataFrame(
        {
            "Open": raw["<OPEN>"].to_numpy(),
            "High": raw["<HIGH>"].to_numpy(),
            "Low": raw["<LOW>"].to_numpy(),
            "Close": raw["<CLOSE>"].to_numpy(),
            "Volume": raw["<TICKVOL>"].to_numpy(dtype=float),
        },
        index=pd.DatetimeIndex(index),
    )


def sma_cross(bars: int) -> BacktestResult:
    """SMA cross 10/20 on ``bars`` simulator M1 bars from an MT5 CSV export written once
    (untimed), every engine timed from reading the file (see the module docstring)."""
    sim = BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=START,
        end=START + days_for(bars) * 86_400,
        params={"fast_period": 10, "slow_period": 20, "stop_atr_multiplier": 100},
        balance=100_000,
        volume=0.1,
        spread_points=0,
        swap_free=True,
        risk=OPEN_LIMITS,
        sync_every_seconds=43_200,
    )
    with tempfile.TemporaryDirectory() as folder:
        # The bars of the fixed spread 0 carry spread 0: the replay quotes ask = bid itself.
        path, spec, written = exported(sim, Path(folder))
        spec = dataclasses.replace(spec, spread_points=None)
        started = time.perf_counter()
        ours = run_backtest(spec, engine="event")
        our_time = time.perf_counter() - started
        warm_time = warm_compiled()
        started = time.perf_counter()
        fast = run_backtest(spec, engine="kernel")
        fast_time = time.perf_counter() - started
        started = time.perf_counter()
        frame = read_frame(path)
        their_read = time.perf_counter() - started
    their_run, their_trades, their_net, their_entries = backtesting_py(frame, SmaCross)
    their_time = their_read + their_run
    nautilus = nautilus_sma(frame)
    # forexbot enters at the first tick after the signal bar: in the minute the others stamp
    # (theirs in the export's server time).
    our_entries = np.array([t.open_time // 60 * 60 for t in ours.trades], dtype=np.int64)
    print(
        f"SMA cross 10/20 on {ours.bars:,} M1 bars (EURUSD, simulator) from an MT5 CSV export "
        f"(written untimed in {written:.1f} s), side by side, each timed from the file"
    )
    print(
        f"  {'engine':<18}{'seconds':>8}{'trades':>8}{'µs/bar':>9}{'ms/trade':>10}"
        f"{'× bt.py':>9}{'net':>10}"
    )
    rows: list[tuple[str, float, int, int, float]] = [
        ("forexbot", our_time, len(ours.trades), ours.bars, ours.statistics.net_profit),
        ("forexbot (kernel)", fast_time, len(fast.trades), fast.bars, fast.statistics.net_profit),
        ("backtesting.py", their_time, their_trades, len(frame), their_net),
    ]
    if not isinstance(nautilus, str):
        nautilus_time = their_read + nautilus.convert_seconds + nautilus.run_seconds
        rows.append(("NautilusTrader", nautilus_time, nautilus.trades, nautilus.bars,
                     nautilus.net))  # fmt: skip
    for name, seconds, trades, bar_count, net in rows:
        print(
            f"  {name:<18}{seconds:>8.2f}{trades:>8,}{seconds / bar_count * 1e6:>9.1f}"
            f"{seconds / max(1, trades) * 1e3:>10.2f}{seconds / their_time:>9.2f}{net:>10,.2f}"
        )
    if isinstance(nautilus, str):
        print(f"  {'NautilusTrader':<18}{nautilus}")
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in ours.timings.items())
    print(f"  forexbot's time (reading the CSV included): {phases}")
    print(
        f"  per trade (engine only): {ours.timings['engine'] / max(1, len(ours.trades)) * 1e3:.2f}"
        " ms through risk, execution, the terminal, settlement and reconciliation"
    )
    kernel_phases = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in fast.timings.items())
    same = list(fast.trades) == list(ours.trades) and fast.statistics == ours.statistics
    print(
        f"  forexbot (kernel), the same run through backtest/kernel.py ({fast.engine}): "
        f"{kernel_phases}; {their_time / fast_time:.1f}x faster than backtesting.py from the "
        f"file, {their_run / fast_time:.1f}x than its run alone; the same trades and "
        f"statistics as the event path: {'yes' if same else 'NO'} ({len(fast.trades):,} of "
        f"{len(ours.trades):,}); numba's code loaded once beforehand: {warm_time:.2f} s"
    )
    print(f"  backtesting.py: read_csv and its DataFrame {their_read:.2f} s, run {their_run:.2f} s")
    their_entries = from_server_array(their_entries).astype(np.int64)
    entries = {"forexbot": our_entries, "backtesting.py": their_entries}
    if not isinstance(nautilus, str):
        print(
            f"  NautilusTrader: read_csv {their_read:.2f} s, making and loading its "
            f"{nautilus.bars:,} Bar objects {nautilus.convert_seconds:.2f} s, run "
            f"{nautilus.run_seconds:.2f} s"
        )
        entries["NautilusTrader"] = from_server_array(nautilus.entries).astype(np.int64)
    print("  entries at the same minute:")
    names = list(entries)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            common = len(np.intersect1d(entries[first], entries[second]))
            print(
                f"    {first} and {second}: {common:,} "
                f"(of {len(entries[first]):,} and {len(entries[second]):,})"
            )
    return ours


def nautilus_sma(frame: pd.DataFrame) -> NautilusRun | str:
    """NautilusTrader's run of the SMA cross (bench/nautilus_sma.py), or why there is none."""
    try:
        from nautilus_sma import run_sma_cross  # noqa: PLC0415
    except ModuleNotFoundError as error:
        if error.name is None or not error.name.startswith("nautilus_trader"):
            raise
        return "nautilus_trader not installed: pip install nautilus_trader==1.221.0"
    return run_sma_cross(frame)


def eurusd_h1() -> BacktestResult:
    """sma_cross 10/20 on backtesting.py's 5,000 EURUSD H1 bars, replayed from an MT5 CSV."""
    from backtesting.test import EURUSD  # type: ignore[import-untyped]  # noqa: PLC0415

    utc = np.array([int(ts.timestamp()) for ts in EURUSD.index.tz_localize(UTC)])
    bars = np.zeros(len(EURUSD), dtype=RATES_DTYPE)
    bars["time"] = to_server_array(utc)
    for name, column in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close")):
        bars[name] = EURUSD[column].to_numpy()
    bars["tick_volume"] = EURUSD["Volume"].to_numpy().astype(np.int64)
    server = bars["time"].astype(np.int64)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "EURUSD_H1.csv"
        path.write_text(format_bars(bars, 5))
        spec = BacktestSpec(
            strategy="sma_cross",
            symbol="EURUSD",
            timeframe=Timeframe.H1,
            start=float(from_server_array(server[:1])[0]),
            end=float(from_server_array(server[-1:] + 3600)[0]),
            params={"fast_period": 10, "slow_period": 20, "stop_atr_multiplier": 100},
            replay={"EURUSD": [path]},
            balance=100_000,
            volume=0.1,
            spread_points=None,  # the export's bars carry spread 0: no spread
            swap_free=True,
            risk=OPEN_LIMITS.model_copy(update={"max_quote_age_seconds": 86_400}),
            sync_every_seconds=43_200,
        )
        started = time.perf_counter()
        ours = run_backtest(spec, engine="event")
        our_time = time.perf_counter() - started
        kernel_jit.warm()  # numba's machine code, once a process (as above)
        compiled.warm()
        rolling.warm()
        mt5csv_jit.warm()
        started = time.perf_counter()
        fast = run_backtest(spec, engine="kernel")
        fast_time = time.perf_counter() - started
    their_time, their_trades, their_net, _ = backtesting_py(EURUSD, SmaCross)
    print(f"SMA cross 10/20 on the {ours.bars:,} EURUSD H1 bars of backtesting.py, from a CSV")
    for name, seconds, result in (("forexbot", our_time, ours), ("(kernel)", fast_time, fast)):
        print(
            f"  {name:<16}{seconds:6.2f} s   {result.bars / seconds:>9,.0f} bars/s   "
            f"{len(result.trades):,} trades   net {result.statistics.net_profit:,.2f}   "
            f"{seconds / their_time:.2f}x backtesting.py's time"
        )
    print(
        f"  backtesting.py  {their_time:6.2f} s   {len(EURUSD) / their_time:>9,.0f} bars/s   "
        f"{their_trades:,} trades   net {their_net:,.2f}"
    )
    same = list(fast.trades) == list(ours.trades) and fast.statistics == ours.statistics
    for name, result in (("forexbot", ours), ("the kernel", fast)):
        phases = ", ".join(f"{part} {seconds:.3f} s" for part, seconds in result.timings.items())
        print(f"  {name}'s time: {phases}")
    print(
        f"  the kernel's trades and statistics are the event path's: {'yes' if same else 'NO'}; "
        "its 'data' is mostly the terminal expanding each H1 bar into its M1 bars "
        "(intrabar.expand: the strategy's H1 bars are aggregated from them, and the kernel "
        "walks them for the stops)"
    )
    return ours


def write_trades(path: Path, results: dict[str, BacktestResult]) -> None:
    """Each run's trades, one line a trade: what must not change when the engine gets faster."""
    lines = []
    for case, result in results.items():
        net = result.statistics.net_profit
        lines.append(f"# {case}: {len(result.trades)} trades, net {net:.2f}")
        lines.extend(f"{case} {trade.to_dict()}" for trade in result.trades)
    path.write_text("\n".join(lines) + "\n")


class SmaCross(Strategy):  # type: ignore[misc]
    """The sma_cross rules: stop and reverse on a strict 10/20 cross, 0.1 lot."""

    def init(self) -> None:
        self.fast = self.I(talib.SMA, self.data.Close, 10)
        self.slow = self.I(talib.SMA, self.data.Close, 20)

    def next(self) -> None:
        if np.isnan(self.slow[-2]):
            return
        if self.fast[-2] < self.slow[-2] and self.fast[-1] > self.slow[-1]:
            self.position.close()
            self.buy(size=10_000)
        elif self.fast[-2] > self.slow[-2] and self.fast[-1] < self.slow[-1]:
            self.position.close()
            self.sell(size=10_000)


class MaRsi(Strategy):  # type: ignore[misc]
    """The ma_rsi rules with its defaults (SMA 20/50 trend, RSI 14 crossing 40/60, stop
    1.5 ATR, target 2R), one position at a time, 0.1 lot (no regime filter, no risk sizing:
    a timing comparison, not a trade-for-trade one)."""

    def init(self) -> None:
        close, high, low = self.data.Close, self.data.High, self.data.Low
        self.fast = self.I(talib.SMA, close, 20)
        self.slow = self.I(talib.SMA, close, 50)
        self.rsi = self.I(talib.RSI, close, 14)
        self.atr = self.I(talib.ATR, high, low, close, 14)

    def next(self) -> None:
        if self.position or np.isnan(self.slow[-1]) or np.isnan(self.rsi[-2]):
            return
        close, atr = self.data.Close[-1], self.atr[-1]
        if not atr > 0:
            return
        stop = 1.5 * atr
        if self.fast[-1] > self.slow[-1] < close and self.rsi[-2] < 40 <= self.rsi[-1]:
            self.buy(size=10_000, sl=close - stop, tp=close + 2 * stop)
        elif self.fast[-1] < self.slow[-1] > close and self.rsi[-2] > 60 >= self.rsi[-1]:
            self.sell(size=10_000, sl=close + stop, tp=close - 2 * stop)


def backtesting_py(
    frame: pd.DataFrame, strategy: type[Strategy]
) -> tuple[float, int, float, NDArray[np.int64]]:
    """backtesting.py's run time (its data given), trades, net result and entry times (epoch
    seconds: the open time of the bar after the signal, where it fills)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = Backtest(frame, strategy, cash=100_000, finalize_trades=True)
        started = time.perf_counter()
        stats = backtest.run()
        elapsed = time.perf_counter() - started
    entries = epoch_seconds(pd.DatetimeIndex(stats["_trades"]["EntryTime"]))
    net = float(stats["Equity Final [$]"]) - 100_000
    return elapsed, int(stats["# Trades"]), net, entries


def epoch_seconds(index: pd.DatetimeIndex) -> NDArray[np.int64]:
    """Seconds since the epoch of a naive UTC index, whatever unit pandas stores it in."""
    return np.asarray((index - pd.Timestamp(0)) // pd.Timedelta(seconds=1), dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="M1 bars for MA+RSI")
    parser.add_argument("--cross-bars", type=int, default=100_000, help="bars for SMA cross")
    parser.add_argument(
        "--case", choices=("all", "ma-rsi", "sma-cross", "eurusd-h1"), default="all"
    )
    parser.add_argument("--trades", type=Path, help="write each run's trade list to this file")
    args = parser.parse_args()
    configure_logging("ERROR")
    results: dict[str, BacktestResult] = {}
    if args.case in ("all", "ma-rsi"):
        results["ma-rsi"] = ma_rsi(args.bars)
        print()
    if args.case in ("all", "sma-cross"):
        results["sma-cross"] = sma_cross(args.cross_bars)
        print()
    if args.case in ("all", "eurusd-h1"):
        results["eurusd-h1"] = eurusd_h1()
    if args.trades is not None:
        write_trades(args.trades, results)


if __name__ == "__main__":
    main()
