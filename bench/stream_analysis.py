"""Stream analysis benchmark: the strategy manager's cost per closed bar of one stream.

On every M1 close all the streams' bars reach :meth:`StrategyManager.on_bar` in one burst. This
times that burst with the daemon's shape: **30 symbols × 4 strategies** (ma_rsi,
stochastic_cross, break_and_retest, jhook) on M1, each stream warmed up from generated history,
then fed ``--minutes`` closes; every close, the 30 bars are handled one after the other by
awaiting ``on_bar`` (as the bus's ``strategies`` subscriber does), nothing deferring (the order
path is idle). A ``SignalEvent`` subscriber stands for the risk manager; nothing subscribes
to ``MarketConditionEvent``, as in the daemon (its dict is still built on every bar).

Prints µs per stream (the burst's time / 30) p50 and p99 over the closes, the same with the
stages timed apart (condition update, its ``to_dict``, the 4 strategies' ``on_bar``), and a
cProfile summary of a second run (``--profile N`` lines, by own time).

Bars: a geometric random walk per symbol (σ 0.02 % per M1 bar, wicks, spreads and tick
volumes), from a Wednesday 12:00 UTC, so the sessions and the favourable verdict both vary.

Run: ``.venv/bin/python bench/stream_analysis.py [--minutes 600] [--profile 25]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import time
from datetime import UTC, datetime

import numpy as np
import structlog

from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, SignalEvent
from forexbot.strategies import create
from forexbot.strategies.manager import StrategyInstance, StrategyManager

STRATEGIES = ("ma_rsi", "stochastic_cross", "break_and_retest", "jhook")
N_SYMBOLS = 30
START = int(datetime(2026, 3, 11, 12, 0, tzinfo=UTC).timestamp())
SIGMA = 0.0002
WICK = 0.0001


def walk(seed: int, symbol: str, n: int, t0: int) -> list[Bar]:
    """``n`` M1 bars of a random walk ending at ``t0 + 60 (n - 1)``."""
    rng = np.random.default_rng(seed)
    start = 1.0 + 0.05 * seed
    close = start * np.exp(np.cumsum(rng.normal(0.0, SIGMA, n)))
    open_ = np.concatenate(([start], close[:-1]))
    high = np.maximum(open_, close) + np.abs(rng.normal(0.0, WICK * start, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0.0, WICK * start, n))
    volume = rng.integers(20, 600, n)
    spread = rng.integers(5, 30, n)
    return [
        Bar(
            symbol=symbol,
            timeframe=Timeframe.M1,
            time=t0 + 60 * i,
            open=round(float(open_[i]), 5),
            high=round(float(high[i]), 5),
            low=round(float(low[i]), 5),
            close=round(float(close[i]), 5),
            tick_volume=int(volume[i]),
            spread=int(spread[i]),
        )
        for i in range(n)
    ]


class History:
    def __init__(self, bars: dict[str, list[Bar]]) -> None:
        self.bars = bars

    async def history(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]:
        return self.bars[symbol][-count:]


async def build(minutes: int) -> tuple[StrategyManager, EventBus, list[list[Bar]]]:
    """A warmed-up manager and the live closes: one list of 30 bars per minute."""
    symbols = [f"SYM{i:02d}" for i in range(N_SYMBOLS)]
    instances = [StrategyInstance(create(n), s, Timeframe.M1) for n in STRATEGIES for s in symbols]
    window = max(i.strategy.window_bars for i in instances) + 200
    feeds = {s: walk(k, s, window + minutes, START - 60 * window) for k, s in enumerate(symbols)}
    bus = EventBus(default_maxsize=1_000_000)
    manager = StrategyManager(instances, History({s: b[:window] for s, b in feeds.items()}), bus)
    await manager.warm_up()

    async def sink(event: object) -> None:
        return None

    bus.subscribe(SignalEvent, sink, name="risk")
    bus.start()
    closes = [[feeds[s][window + m] for s in symbols] for m in range(minutes)]
    return manager, bus, closes


async def bursts(manager: StrategyManager, bus: EventBus, closes: list[list[Bar]]) -> np.ndarray:
    """µs per stream of each close's burst (the bus drained between closes, untimed)."""
    out = np.empty(len(closes))
    clock = time.perf_counter_ns
    for m, bars in enumerate(closes):
        events = [BarEvent(bar) for bar in bars]
        started = clock()
        for event in events:
            await manager.on_bar(event)
        out[m] = (clock() - started) / 1e3 / len(bars)
        while not bus.idle():  # noqa: ASYNC110 - let the sinks take what was published
            await asyncio.sleep(0)
    return out


async def stages(manager: StrategyManager, closes: list[list[Bar]]) -> dict[str, np.ndarray]:
    """The same work timed per stage, without the manager (µs per stream per close)."""
    streams = manager._streams
    by_stream = manager._by_stream
    names = ("condition", "to_dict", "strategies")
    out = {name: np.empty(len(closes)) for name in names}
    clock = time.perf_counter_ns
    for m, bars in enumerate(closes):
        spent = dict.fromkeys(names, 0)
        for bar in bars:
            key = (bar.symbol, bar.timeframe)
            t0 = clock()
            condition = streams[key].detector.update(bar)
            t1 = clock()
            if condition is not None:
                condition.to_dict()
            t2 = clock()
            for instance in by_stream[key]:
                instance.strategy.on_bar(bar)
            t3 = clock()
            spent["condition"] += t1 - t0
            spent["to_dict"] += t2 - t1
            spent["strategies"] += t3 - t2
        for name in names:
            out[name][m] = spent[name] / 1e3 / len(bars)
        await asyncio.sleep(0)
    return out


def line(label: str, values: np.ndarray) -> None:
    print(
        f"  {label:<34} p50 {np.percentile(values, 50):8.1f} µs"
        f"   p99 {np.percentile(values, 99):8.1f} µs   mean {values.mean():8.1f} µs"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=600, help="closes timed (after warm-up)")
    parser.add_argument("--profile", type=int, default=25, help="cProfile lines (0: none)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    warm = 60  # closes untimed first (caches, allocator)

    manager, bus, closes = await build(warm + args.minutes)
    await bursts(manager, bus, closes[:warm])
    per_stream = await bursts(manager, bus, closes[warm:])
    await bus.close()
    print(f"{N_SYMBOLS} streams x {len(STRATEGIES)} strategies, M1, {args.minutes} closes")
    line("on_bar burst, per stream", per_stream)

    manager, bus, closes = await build(warm + args.minutes)
    await stages(manager, closes[:warm])
    for name, values in (await stages(manager, closes[warm:])).items():
        line(f"stage {name}", values)
    await bus.close()

    if args.profile:
        manager, bus, closes = await build(warm + args.minutes)
        await bursts(manager, bus, closes[:warm])
        profiler = cProfile.Profile()
        profiler.enable()
        await bursts(manager, bus, closes[warm:])
        profiler.disable()
        await bus.close()
        print(f"\ncProfile of the bursts (top {args.profile} by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a Linux dependency
        asyncio.run(main())
    else:
        uvloop.run(main())
