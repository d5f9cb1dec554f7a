"""Strategy benchmark: the incremental face per closed bar, the vectorised face per second.

Prints:
* the incremental face (``Strategy.on_bar``) for all four strategies on 30 symbols: every
  (strategy, symbol) instance is warmed up with ``window_bars`` of generated M15 history, then
  fed one closed bar at a time, round-robin over the 30 symbols, for ``--bars`` bars per
  instance; p50/p99 µs per ``on_bar`` call for each strategy, per closed bar of one symbol (its
  4 strategies) and per bar close of the whole book (all 4 × 30 instances);
* the vectorised face (``Strategy.signals``): bars/s on 1,000,000 bars (best of ``--repeat``).

Bars are a geometric random walk per symbol at a realistic price level (σ 0.05 % of the price
per M15 bar, wicks, prices rounded to the symbol's digits, spreads in points).

The (strategy, symbol) instances are split by strategy over ``--workers`` processes (2 by
default) to keep the run short; every call is timed on its own, and the per-bar totals add up
the calls a single live process would make one after the other for that bar.

Run: ``.venv/bin/python bench/strategies.py`` (about 2 minutes on 2 idle cores; ~1.5 ms per
``on_bar`` call makes each 1,000 bars per instance cost ~3 CPU-minutes; ``--bars 3000`` for a
longer run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from forexbot.domain.market import Bar, Timeframe
from forexbot.strategies import STRATEGIES, create

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, on an M15 boundary
SIGMA = 0.0005  # close-to-close σ of an M15 bar, as a fraction of the price
WICK = 0.0002
SYMBOLS: dict[str, float] = {
    "EURUSD": 1.085,
    "GBPUSD": 1.27,
    "USDJPY": 150.0,
    "USDCHF": 0.88,
    "AUDUSD": 0.66,
    "USDCAD": 1.36,
    "NZDUSD": 0.61,
    "EURGBP": 0.855,
    "EURJPY": 162.5,
    "GBPJPY": 190.0,
    "EURCHF": 0.955,
    "AUDJPY": 99.0,
    "CADJPY": 110.0,
    "CHFJPY": 170.0,
    "NZDJPY": 91.5,
    "EURAUD": 1.64,
    "EURCAD": 1.47,
    "EURNZD": 1.78,
    "GBPAUD": 1.92,
    "GBPCAD": 1.72,
    "GBPCHF": 1.12,
    "GBPNZD": 2.08,
    "AUDCAD": 0.90,
    "AUDCHF": 0.58,
    "AUDNZD": 1.09,
    "CADCHF": 0.65,
    "NZDCAD": 0.83,
    "NZDCHF": 0.54,
    "USDSGD": 1.34,
    "USDNOK": 10.6,
}


def _pct(values: np.ndarray, p: float) -> float:
    values = np.sort(values)
    return float(values[min(len(values) - 1, int(p / 100 * len(values)))])


def walk_arrays(seed: int, n: int, start: float, digits: int) -> dict[str, np.ndarray]:
    """OHLC, tick volume and spread of ``n`` M15 bars of a geometric random walk."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, SIGMA, n)))
    open_ = np.concatenate(([start], close[:-1]))
    high = np.maximum(open_, close) + np.abs(rng.normal(0.0, WICK * start, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0.0, WICK * start, n))
    return {
        "open": open_.round(digits),
        "high": high.round(digits),
        "low": low.round(digits),
        "close": close.round(digits),
        "tick_volume": rng.integers(20, 2000, n),
        "spread": rng.integers(5, 30, n),
    }


def walk_bars(seed: int, n: int, symbol: str, start: float) -> list[Bar]:
    digits = 3 if start > 20 else 5
    a = walk_arrays(seed, n, start, digits)
    return [
        Bar(
            symbol=symbol,
            timeframe=Timeframe.M15,
            time=T0 + 900 * i,
            open=float(a["open"][i]),
            high=float(a["high"][i]),
            low=float(a["low"][i]),
            close=float(a["close"][i]),
            tick_volume=int(a["tick_volume"][i]),
            spread=int(a["spread"][i]),
        )
        for i in range(n)
    ]


def incremental(names: list[str], n_bars: int) -> dict[str, tuple[int, int, np.ndarray]]:
    """Feed ``n_bars`` closed bars round-robin over the symbols to every (strategy, symbol)
    instance; per strategy: (window, signals, seconds per call as [bar, symbol])."""
    instances = {name: [create(name) for _ in SYMBOLS] for name in names}
    window = {name: instances[name][0].window_bars for name in names}
    history = max(window.values())
    feeds = [
        walk_bars(seed, history + n_bars, symbol, start)
        for seed, (symbol, start) in enumerate(SYMBOLS.items())
    ]
    for name in names:
        for strategy, bars in zip(instances[name], feeds, strict=True):
            strategy.warm_up(bars[history - window[name] : history])

    timings = {name: np.empty((n_bars, len(SYMBOLS))) for name in names}
    signals = dict.fromkeys(names, 0)
    clock = time.perf_counter_ns
    for step in range(n_bars):
        for s, bars in enumerate(feeds):
            bar = bars[history + step]
            for name in names:
                strategy = instances[name][s]
                started = clock()
                sig = strategy.on_bar(bar)
                timings[name][step, s] = (clock() - started) / 1e9
                signals[name] += sig is not None
    return {name: (window[name], signals[name], timings[name]) for name in names}


def vectorised(name: str, n: int, repeat: int) -> tuple[float, int]:
    """Best time of ``repeat`` runs of ``signals`` over ``n`` EURUSD bars, and its signals."""
    a = walk_arrays(1234, n, SYMBOLS["EURUSD"], 5)
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(T0 + 900 * np.arange(n, dtype="int64"), unit="s", utc=True),
            "open": a["open"],
            "high": a["high"],
            "low": a["low"],
            "close": a["close"],
            "tick_volume": a["tick_volume"].astype("int64"),
            "spread": a["spread"].astype("int64"),
            "real_volume": np.zeros(n, dtype="int64"),
        }
    )
    strategy = create(name)
    best = float("inf")
    fired = 0
    for _ in range(repeat):
        started = time.perf_counter()
        out = strategy.signals(frame)
        best = min(best, time.perf_counter() - started)
        fired = int((out["signal"] != 0).sum())
    return best, fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1000, help="closed bars per instance")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--vector-bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    names = list(STRATEGIES)
    started = time.perf_counter()
    groups = [names[i :: args.workers] for i in range(args.workers)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        parts = pool.map(incremental, groups, [args.bars] * len(groups))
        results = {k: v for part in parts for k, v in part.items()}
    elapsed = time.perf_counter() - started

    n_sym = len(SYMBOLS)
    calls = args.bars * n_sym * len(names)
    print(
        f"incremental face (on_bar): {len(names)} strategies × {n_sym} symbols, M15, "
        f"{args.bars:,} closed bars per instance after warm-up, {calls:,} calls "
        f"({args.workers} worker processes, {elapsed:.0f} s)"
    )
    print(
        f"{'strategy':<22} {'window':>6} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9} {'signals':>8}"
    )
    for name in names:
        window, fired, t = results[name]
        micro = t.ravel() * 1e6
        print(
            f"{name:<22} {window:>6} {statistics.median(micro):>9.0f} {_pct(micro, 99):>9.0f} "
            f"{micro.mean():>9.0f} {fired:>8,}"
        )
    per_symbol_bar = sum(results[name][2] for name in names) * 1e6  # [bar, symbol]
    per_book_bar = per_symbol_bar.sum(axis=1)  # [bar]
    for label, micro in (
        (f"one symbol's bar ({len(names)} calls)", per_symbol_bar.ravel()),
        (f"whole book's bar ({len(names) * n_sym} calls)", per_book_bar),
    ):
        print(
            f"{label:<29} {statistics.median(micro):>9.0f} {_pct(micro, 99):>9.0f} "
            f"{micro.mean():>9.0f}"
        )

    print()
    print(f"vectorised face (signals): {args.vector_bars:,} M15 bars, best of {args.repeat}")
    print(f"{'strategy':<22} {'seconds':>8} {'bars/s':>12} {'signals':>8}")
    for name in names:
        seconds, fired = vectorised(name, args.vector_bars, args.repeat)
        print(f"{name:<22} {seconds:>8.2f} {args.vector_bars / seconds:>12,.0f} {fired:>8,}")


if __name__ == "__main__":
    main()
