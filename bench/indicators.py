"""Indicator benchmark: one ``update``, and ``series`` and the compiled functions next to TA-Lib.

Prints, for each indicator of :mod:`forexbot.indicators.incremental`:

* ns per ``update`` call: a fresh indicator fed ``--bars`` bars one call at a time (the
  streaming face), median of ``--repeat`` runs;
* ``series`` over ``--series-bars`` bars (the Python loop), the compiled function of
  :mod:`forexbot.indicators.compiled` over the same bars (the vectorised faces' call, checked
  equal to ``series`` here), and TA-Lib's vectorised call on the same arrays (pandas' rolling
  max / min for those two), best of ``--repeat``; the ratio is compiled / reference.

The compiled functions are loaded (or compiled) before timing; the time that takes is printed.

Bars are a geometric random walk around 1.1 (σ 0.05 % per bar, wicks).

Run: ``.venv/bin/python bench/indicators.py`` (about a minute on an idle core).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib
from numpy.typing import NDArray
from talib._ta_lib import MA_Type

from forexbot.indicators import compiled
from forexbot.indicators.incremental import (
    Atr,
    DirectionalIndex,
    RollingMax,
    RollingMin,
    Rsi,
    Sma,
    Stoch,
    TrueRange,
    series,
)

Array = NDArray[np.float64]
Update = Callable[..., float] | Callable[..., tuple[float, ...]]


def bars(count: int, seed: int = 7) -> tuple[Array, Array, Array]:
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, count)))
    opened = np.concatenate(([1.1], close[:-1]))
    high = np.maximum(opened, close) + rng.uniform(0.0, 0.0003, count)
    low = np.minimum(opened, close) - rng.uniform(0.0, 0.0003, count)
    return high, low, close


# name -> (a fresh indicator's update, which of high/low/close it reads, the compiled call on
# those columns, TA-Lib's call)
Case = tuple[
    Callable[[], Update],
    tuple[int, ...],
    Callable[..., object],
    Callable[[Array, Array, Array], object],
]
CASES: dict[str, Case] = {
    "Sma(14)": (
        lambda: Sma(14).update,
        (2,),
        lambda cl: compiled.sma(cl, 14),
        lambda hi, lo, cl: talib.SMA(cl, 14),
    ),
    "TrueRange": (lambda: TrueRange().update, (0, 1, 2), compiled.true_range, talib.TRANGE),
    "Atr(14)": (
        lambda: Atr(14).update,
        (0, 1, 2),
        lambda hi, lo, cl: compiled.atr(hi, lo, cl, 14),
        lambda hi, lo, cl: talib.ATR(hi, lo, cl, 14),
    ),
    "Rsi(14)": (
        lambda: Rsi(14).update,
        (2,),
        lambda cl: compiled.rsi(cl, 14),
        lambda hi, lo, cl: talib.RSI(cl, 14),
    ),
    "Stoch(14,3,3)": (
        lambda: Stoch(14, 3, 3).update,
        (0, 1, 2),
        lambda hi, lo, cl: np.column_stack(compiled.stoch(hi, lo, cl, 14, 3, 3)),
        lambda hi, lo, cl: talib.STOCH(hi, lo, cl, 14, 3, MA_Type.SMA, 3, MA_Type.SMA),
    ),
    "DirectionalIndex(14)": (
        lambda: DirectionalIndex(14).update,
        (0, 1, 2),
        lambda hi, lo, cl: np.column_stack(compiled.directional_index(hi, lo, cl, 14)),
        lambda hi, lo, cl: (
            talib.ADX(hi, lo, cl, 14),
            talib.PLUS_DI(hi, lo, cl, 14),
            talib.MINUS_DI(hi, lo, cl, 14),
        ),
    ),
    "RollingMax(20)": (
        lambda: RollingMax(20).update,
        (0,),
        lambda hi: compiled.rolling_max(hi, 20),
        lambda hi, lo, cl: pd.Series(hi).rolling(20).max().to_numpy(),
    ),
    "RollingMin(20)": (
        lambda: RollingMin(20).update,
        (1,),
        lambda lo: compiled.rolling_min(lo, 20),
        lambda hi, lo, cl: pd.Series(lo).rolling(20).min().to_numpy(),
    ),
}


def per_update_ns(make: Callable[[], Update], rows: list[tuple[float, ...]]) -> float:
    """ns per call of a fresh indicator's ``update`` over ``rows``, one call at a time."""
    update = make()
    start = time.perf_counter_ns()
    for row in rows:
        update(*row)
    return (time.perf_counter_ns() - start) / len(rows)


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000, help="bars per update run")
    parser.add_argument("--series-bars", type=int, default=1_000_000, help="bars per series run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    compiled.warm()
    print(f"compiled indicators loaded in {time.perf_counter() - start:.2f} s")
    hlc = bars(max(args.bars, args.series_bars))
    short = [column[: args.bars] for column in hlc]
    long = [column[: args.series_bars] for column in hlc]
    print(f"{'':<22}{'':>11}   {f'over {args.series_bars:,} bars':^42}")
    print(
        f"{'indicator':<22}{'ns/update':>11}   {'series':>10}{'compiled':>11}{'reference':>12}"
        f"{'ratio':>8}"
    )
    for name, (make, inputs, fast, reference) in CASES.items():
        rows = list(zip(*(short[i].tolist() for i in inputs), strict=True))
        update_ns = statistics.median(per_update_ns(make, rows) for _ in range(args.repeat))
        columns = [long[i] for i in inputs]
        expected = series(make(), *columns)
        if not np.array_equal(np.asarray(fast(*columns)), expected, equal_nan=True):
            raise SystemExit(f"{name}: the compiled function differs from series")
        ours = best_seconds(lambda: series(make(), *columns), args.repeat)  # noqa: B023
        jit = best_seconds(lambda: fast(*columns), args.repeat)  # noqa: B023
        theirs = best_seconds(lambda: reference(*long), args.repeat)  # noqa: B023
        print(
            f"{name:<22}{update_ns:>11.0f}   {ours * 1e3:>7.0f} ms{jit * 1e3:>8.1f} ms"
            f"{theirs * 1e3:>9.1f} ms{jit / theirs:>7.1f}x"
        )


if __name__ == "__main__":
    main()
