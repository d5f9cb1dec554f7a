"""Optimisation throughput: a grid of 1,000 SMA-cross parameter sets over 1,000,000 M1 bars.

The market is the simulator's EURUSD (generated, seed 42; fill model ``bars``, the data's
spread, swaps, 0.1 lot fixed, no account limits), read **once** in this process
(forexbot/backtest/shared_market.py) and handed once to the executor: to each worker of the
local spawn pool through its initializer, or into a local Ray cluster's object store with
``ray.put`` (workers read the arrays zero-copy). Every trial then computes its signals and runs
the backtest kernel's loop and the statistics (optimize.evaluate_on). The grid: ``fast_period``
2..41 × ``slow_period`` 50..290 step 10 (every set valid: 1,000), objective ``sharpe``.

Printed per engine: the data read time, the wall time of the trials (workers started and the
market handed over included), trials/s, bar·sets/s (tested bars × trials / wall), each
worker's peak RSS (``ru_maxrss``; under Ray it counts the object store pages the worker
mapped, which are shared) and unique memory (USS, psutil), Ray's object store use, and the
best parameters. ``--check N`` holds N grid trials to ``run_kernel`` on the full market
(trades count and net profit) and to ``run_backtest`` (the event-driven path) on a 50,000-bar
slice, where the event path's ~2 ms a trade is bearable.

Measured on the 2-core machine (load 0.3-2): data read 13.7 s (162 MB of arrays); the pool
174 s for the 1,000 trials (5.7 trials/s, 5.8M bar·sets/s), workers' peak RSS 863 MB; Ray
186 s (5.4 trials/s, 5.4M bar·sets/s), workers' peak RSS 772 MB of which 245-408 MB their
own; the checked trials equal run_kernel and run_backtest(engine="event").

Run: ``.venv/bin/python bench/optimize_grid.py [--engine pool|ray|both] [--bars N]
[--workers 2] [--fast 2:41] [--slow 50:290:10] [--check 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import pickle
import resource
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psutil

from forexbot.backtest import kernel_jit
from forexbot.backtest.kernel import run_kernel
from forexbot.backtest.optimize import (
    Executor,
    ProcessPool,
    RayCluster,
    Trial,
    grid,
    parse_space,
    rank,
    read_market,
    run_trials,
)
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.backtest.shared_market import SharedMarket
from forexbot.config.models import RiskSettings
from forexbot.domain.market import Timeframe
from forexbot.logs import configure_logging

START = datetime(2022, 1, 3, tzinfo=UTC).timestamp()
M1_BARS_PER_DAY = 1_440 * 5 / 7
LIMITS = RiskSettings(
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
OBJECTIVE = "sharpe"


def base_spec(bars: int) -> BacktestSpec:
    days = bars / M1_BARS_PER_DAY + 3
    return BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        start=START,
        end=START + days * 86_400,
        params={"stop_atr_multiplier": 20},
        balance=100_000,
        volume=0.1,
        risk=LIMITS,
        sync_every_seconds=43_200,
    )


def memory() -> tuple[int, float, float]:
    """(pid, peak RSS MB, unique set MB) of the process that runs this."""
    uss = psutil.Process().memory_full_info().uss
    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, uss / 2**20


def held_memory() -> tuple[int, float, float]:
    """:func:`memory`, after holding the worker a moment: the tasks sent together then land
    on different workers."""
    time.sleep(0.5)
    return memory()


def worker_memory(executor: Executor, engine: str, workers: int) -> dict[int, tuple[float, float]]:
    """Each worker's memory (tasks sent together until every worker has answered)."""
    seen: dict[int, tuple[float, float]] = {}
    for _ in range(4):
        if engine == "pool":
            pool = executor._pool  # type: ignore[attr-defined]  # a bench may look inside
            answers = [f.result() for f in [pool.submit(held_memory) for _ in range(workers)]]
        else:
            ray = executor._ray  # type: ignore[attr-defined]
            task = ray.remote(held_memory)
            answers = ray.get([task.remote() for _ in range(workers)])
        for pid, peak, uss in answers:
            seen[pid] = (peak, uss)
        if len(seen) >= workers:
            break
    return seen


def object_store(market: SharedMarket) -> str:
    """What ``ray.put`` stores: the market serialised once (pickle 5, the arrays out of band,
    as Ray stores them); Ray's own memory summary needs grpc, not installed here."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(market, protocol=5, buffer_callback=buffers.append)
    size = len(head) + sum(b.raw().nbytes for b in buffers)
    return f"one object of {size / 2**20:,.0f} MB ({len(buffers)} arrays zero-copy), put once"


def run_engine(
    engine: str,
    base: BacktestSpec,
    specs: list[BacktestSpec],
    market: SharedMarket,
    workers: int,
) -> list[Trial]:
    started = time.perf_counter()
    executor: Executor = ProcessPool(workers) if engine == "pool" else RayCluster(None, workers)
    started_up = time.perf_counter() - started
    try:
        executor.share(market)
        outcomes: list[Any] = [None] * len(specs)
        for done, (k, outcome) in enumerate(executor.run(specs), 1):
            outcomes[k] = outcome
            if done % 100 == 0:
                elapsed = time.perf_counter() - started
                print(f"    {done:>5} trials  {elapsed:6.1f} s", flush=True)
        wall = time.perf_counter() - started
        memories = worker_memory(executor, engine, workers)
        store = object_store(market) if engine == "ray" else ""
    finally:
        executor.close()
    trials = [
        Trial({k: s.params[k] for k in ("fast_period", "slow_period")}, *outcome)
        for s, outcome in zip(specs, outcomes, strict=True)
    ]
    failed = [t for t in trials if t.error]
    ranked = rank(trials, OBJECTIVE, 1)
    best = ranked[0]
    n = len(specs)
    print(f"  engine {engine}, {workers} workers ({engine} start-up {started_up:.1f} s)")
    print(
        f"  wall {wall:.1f} s for {n:,} trials: {n / wall:.2f} trials/s, "
        f"{market.bars * n / wall:,.0f} bar·sets/s ({wall / n * workers:.2f} s a trial a worker)"
    )
    for pid, (peak, uss) in sorted(memories.items()):
        print(f"  worker {pid}: peak RSS {peak:,.0f} MB, unique {uss:,.0f} MB")
    if store:
        print(f"  object store: {store}")
    net = best.statistics["net_profit"] if best.statistics else 0.0
    print(
        f"  best {OBJECTIVE} {best.score(OBJECTIVE, 1):.3f}: {best.params}, "
        f"{best.trades:,} trades, net {net:,.2f}"
    )
    if failed:
        print(f"  {len(failed)} trials failed, first: {failed[0].error}")
    return trials


def check(base: BacktestSpec, specs: list[BacktestSpec], trials: list[Trial], count: int) -> None:
    """``count`` grid trials against run_kernel (full market) and run_backtest (a slice)."""
    picks = np.linspace(0, len(specs) - 1, count).astype(int).tolist() if count else []
    for k in picks:
        started = time.perf_counter()
        kernel = run_kernel(specs[k])
        same = (trials[k].trades, trials[k].statistics) == (  # every statistic
            len(kernel.trades),
            kernel.statistics.to_dict(),
        )
        print(
            f"  check {trials[k].params}: {trials[k].trades:,} trades, net "
            f"{kernel.statistics.net_profit:,.2f}; run_kernel "
            f"({time.perf_counter() - started:.1f} s) {'equal' if same else 'DIFFERENT'}"
        )
    if not picks:
        return
    sliced = base_spec(50_000)
    params = [{k: specs[i].params[k] for k in ("fast_period", "slow_period")} for i in picks]
    pool = ProcessPool(1)
    try:
        ours = run_trials(sliced, params, pool)
    finally:
        pool.close()
    for trial in ours:
        started = time.perf_counter()
        changed = dataclasses.replace(sliced, params={**sliced.params, **trial.params})
        event = run_backtest(changed, engine="event")
        same = (trial.trades, trial.statistics) == (  # every statistic, not only net profit
            len(event.trades),
            event.statistics.to_dict(),
        )
        print(
            f"  check {trial.params} on {event.bars:,} bars: {trial.trades:,} trades; "
            f"run_backtest ({time.perf_counter() - started:.1f} s) "
            f"{'equal' if same else 'DIFFERENT'}"
        )
    logging.disable(logging.NOTSET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("pool", "ray", "both"), default="both")
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--fast", default="2:41:1", help="LO:HI:STEP")
    parser.add_argument("--slow", default="50:290:10", help="LO:HI:STEP")
    parser.add_argument("--check", type=int, default=2, help="grid trials to verify")
    args = parser.parse_args()
    configure_logging("ERROR", "json")
    base = base_spec(args.bars)
    space = parse_space([f"fast_period={args.fast}", f"slow_period={args.slow}"])
    sets = [p for p in grid(space) if p["fast_period"] < p["slow_period"]]
    specs = [dataclasses.replace(base, params={**base.params, **p}) for p in sets]
    kernel_jit.warm()
    started = time.perf_counter()
    market = read_market(base, specs)
    if market is None:
        raise SystemExit("the spec cannot share a market")
    read = time.perf_counter() - started
    print(
        f"SMA cross grid: {len(specs):,} valid sets ({args.fast} × {args.slow}) on "
        f"{market.bars:,} EURUSD M1 bars (simulator), objective {OBJECTIVE}"
    )
    print(
        f"  data read once: {read:.1f} s, {market.nbytes() / 2**20:,.0f} MB of arrays; "
        f"parent peak RSS {memory()[1]:,.0f} MB"
    )
    engines = ["pool", "ray"] if args.engine == "both" else [args.engine]
    trials: list[Trial] = []
    for engine in engines:
        trials = run_engine(engine, base, specs, market, args.workers)
    check(base, specs, trials, args.check)


if __name__ == "__main__":
    main()
