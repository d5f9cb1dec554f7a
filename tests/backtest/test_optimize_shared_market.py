"""Trials of an optimisation on one market read (forexbot.backtest.shared_market).

Specification: when the kernel runs the base spec, run_trials reads the market once in the
parent and hands it to the executor once; every trial then has the trades count and the
statistics of its own run_backtest on the event-driven path (engine="event"). A spec the
kernel does not run, or one the shared market is not (another period), runs run_backtest as
before. The Ray and Dask tests start local two-worker clusters (~10 s and ~5 s).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from forexbot.backtest import optimize, shared_market
from forexbot.backtest.kernel import run_kernel
from forexbot.backtest.kernel_rules import KernelUnsupported
from forexbot.backtest.optimize import DaskCluster, ProcessPool, RayCluster, Trial, run_trials
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.backtest.shared_market import read_shared_market, run_shared, shareable, warmup_of
from forexbot.config.models import RiskSettings
from forexbot.domain.market import Timeframe

DAY = 86_400.0
START = 1_709_510_400.0  # 2024-03-04 00:00 UTC, a Monday
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
#: SMA cross on ~4 days of EURUSD M1 bars, fixed lots: a backtest the kernel runs.
BASE = BacktestSpec(
    "sma_cross",
    "EURUSD",
    Timeframe.M1,
    START,
    START + 4 * DAY,
    params={"stop_atr_multiplier": 20},
    balance=100_000,
    volume=0.1,
    commission_per_lot=7.0,
    risk=LIMITS,
    sync_every_seconds=43_200,
)
CANDIDATES: list[dict[str, Any]] = [
    {"fast_period": 8, "slow_period": 60},
    {"fast_period": 30, "slow_period": 20},  # invalid: fast not below slow
    {"fast_period": 20, "slow_period": 150},
    {"fast_period": 5, "slow_period": 400, "stop_atr_multiplier": 2},
]
VALID = (0, 2, 3)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """In-process trials disable logging below ERROR for the whole process; undo it."""
    yield
    logging.disable(logging.NOTSET)


def spec_of(base: BacktestSpec, params: dict[str, Any]) -> BacktestSpec:
    return dataclasses.replace(base, params={**base.params, **params})


@pytest.fixture(scope="module")
def independent() -> dict[int, tuple[dict[str, Any], int]]:
    """Each valid candidate's statistics and trades count from its own run_backtest."""
    out = {}
    for i in VALID:
        result = run_backtest(spec_of(BASE, CANDIDATES[i]), engine="event")
        out[i] = (result.statistics.to_dict(), len(result.trades))
    logging.disable(logging.NOTSET)
    return out


@pytest.fixture(scope="module")
def serial() -> list[Trial]:
    pool = ProcessPool(1)
    try:
        return run_trials(BASE, CANDIDATES, pool)
    finally:
        pool.close()
        logging.disable(logging.NOTSET)


def test_the_kernel_specs_share_a_market_and_others_do_not() -> None:
    assert shareable(BASE) is None
    assert shareable(dataclasses.replace(BASE, fill_model="ticks")) is not None
    assert shareable(dataclasses.replace(BASE, symbol="USDJPY")) is not None


def test_shared_trials_have_the_statistics_of_independent_run_backtest_trials(
    serial: list[Trial], independent: dict[int, tuple[dict[str, Any], int]]
) -> None:
    for i in VALID:
        statistics, trades = independent[i]
        assert serial[i].error is None
        assert serial[i].statistics == statistics
        assert serial[i].trades == trades > 0


def test_an_invalid_candidate_is_still_reported_and_not_run(serial: list[Trial]) -> None:
    assert serial[1].statistics is None
    assert serial[1].error is not None
    assert serial[1].error.startswith("invalid: ")


def test_run_trials_reads_the_market_once_for_all_trials() -> None:
    before = shared_market.reads()
    run_trials(BASE, CANDIDATES, ProcessPool(1))
    assert shared_market.reads() == before + 1


def test_one_process_runs_every_valid_trial_on_the_shared_market() -> None:
    pool = ProcessPool(1)
    _, _, before = optimize.worker_state()
    try:
        run_trials(BASE, CANDIDATES, pool)
        _, _, after = optimize.worker_state()
    finally:
        pool.close()
    assert after - before == len(VALID)


def test_a_two_process_pool_installs_the_market_once_per_worker(serial: list[Trial]) -> None:
    pool = ProcessPool(2)
    before = shared_market.reads()
    try:
        trials = run_trials(BASE, CANDIDATES, pool)
        assert pool._pool is not None
        states = [pool._pool.submit(optimize.worker_state).result() for _ in range(6)]
    finally:
        pool.close()
    assert trials == serial
    assert shared_market.reads() == before + 1  # in the parent only: workers read nothing
    assert {installs for _, installs, _ in states} == {1}


def test_a_local_ray_cluster_gives_the_shared_trials_of_one_process(
    serial: list[Trial],
) -> None:
    cluster = RayCluster(workers=2)
    try:
        trials = run_trials(BASE, CANDIDATES, cluster)
        shared = cluster._market
    finally:
        cluster.close()
    assert trials == serial
    assert shared is not None  # an object reference, put once


def test_a_local_dask_cluster_gives_the_shared_trials_of_one_process(
    serial: list[Trial],
) -> None:
    cluster = DaskCluster(workers=2)
    try:
        trials = run_trials(BASE, CANDIDATES, cluster)
        shared = cluster._market
    finally:
        cluster.close()
    assert trials == serial
    assert shared is not None  # a future of the market, scattered once to every worker


def test_a_spec_the_kernel_does_not_run_falls_back_to_run_backtest() -> None:
    base = dataclasses.replace(BASE, end=START + DAY, risk=RiskSettings())  # daily loss limit
    before = shared_market.reads()
    trials = run_trials(base, CANDIDATES[:1] + CANDIDATES[2:3], ProcessPool(1))
    assert shared_market.reads() == before
    for trial in trials:
        result = run_backtest(spec_of(base, trial.params), engine="event")
        assert (trial.statistics, trial.trades) == (
            result.statistics.to_dict(),
            len(result.trades),
        )


def test_a_trial_of_another_period_runs_run_backtest_on_its_own() -> None:
    market = read_shared_market(BASE, warmup_of(spec_of(BASE, CANDIDATES[0])))
    other = dataclasses.replace(spec_of(BASE, CANDIDATES[0]), end=START + 2 * DAY)
    statistics, trades, error = optimize.evaluate_on(market, other)
    result = run_backtest(other, engine="event")
    assert (statistics, trades, error) == (result.statistics.to_dict(), len(result.trades), None)


def test_run_shared_gives_the_kernels_trades() -> None:
    specs = [spec_of(BASE, CANDIDATES[i]) for i in VALID]
    market = read_shared_market(BASE, max(warmup_of(s) for s in specs))
    for spec in specs:
        assert run_shared(market, spec).trades == run_kernel(spec).trades
        assert run_shared(market, spec, compiled=False).trades == run_kernel(spec).trades


def test_run_shared_refuses_a_spec_needing_more_warm_up_than_was_read() -> None:
    market = read_shared_market(BASE, warmup_of(spec_of(BASE, CANDIDATES[0])))
    with pytest.raises(KernelUnsupported, match="warm-up"):
        run_shared(market, spec_of(BASE, CANDIDATES[3]))


def test_run_shared_refuses_a_spec_of_other_costs() -> None:
    market = read_shared_market(BASE, warmup_of(spec_of(BASE, CANDIDATES[0])))
    other = dataclasses.replace(spec_of(BASE, CANDIDATES[0]), commission_per_lot=0.0)
    with pytest.raises(KernelUnsupported, match="beyond its parameters"):
        run_shared(market, other)
