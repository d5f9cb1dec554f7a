"""Parameter optimisation and walk-forward analysis (forexbot.backtest.optimize), checked
against the rules of its module docstring and against :func:`run_backtest` itself.

The backtests are short (one to three weeks of simulated EURUSD H1) and few, so the module runs
in seconds; the Dask test starts a local two-worker cluster.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from forexbot.backtest.optimize import (
    DaskCluster,
    ProcessPool,
    Range,
    RayCluster,
    Trial,
    Window,
    WindowResult,
    grid,
    make_executor,
    parse_space,
    random_candidates,
    rank,
    run_trials,
    summarise_walk_forward,
    walk_forward,
    windows,
)
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.domain.market import Timeframe
from forexbot.errors import ConfigError

DAY = 86_400.0
WEEK = 7 * DAY
START = 1_709_510_400.0  # 2024-03-04 00:00 UTC, a Monday
END = START + 2 * WEEK  # 2024-03-18
BASE = BacktestSpec("sma_cross", "EURUSD", Timeframe.H1, START, END)
CANDIDATES: list[dict[str, Any]] = [
    {"fast_period": 5, "slow_period": 20},
    {"fast_period": 30, "slow_period": 20},  # refused by the strategy: fast not below slow
    {"fast_period": 10, "slow_period": 30},
]
VALID = (0, 2)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """In-process trials disable logging below ERROR for the whole process; undo it."""
    yield
    logging.disable(logging.NOTSET)


def statistics_of(spec: BacktestSpec, params: dict[str, Any]) -> dict[str, Any]:
    return run_backtest(dataclasses.replace(spec, params=params)).statistics.to_dict()


@pytest.fixture(scope="module")
def direct() -> dict[int, dict[str, Any]]:
    """Each valid candidate's statistics from run_backtest itself."""
    try:
        return {i: statistics_of(BASE, CANDIDATES[i]) for i in VALID}
    finally:
        logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def serial_trials() -> list[Trial]:
    try:
        return run_trials(BASE, CANDIDATES, ProcessPool(1))
    finally:
        logging.disable(logging.NOTSET)


def trial(
    params: dict[str, Any] | None = None,
    *,
    trades: int = 20,
    error: str | None = None,
    **statistics: float | None,
) -> Trial:
    return Trial(params or {}, None if error else dict(statistics), trades, error)


# --- parse_space ---------------------------------------------------------------------------


def test_a_values_list_reads_ints_floats_bools_and_strings() -> None:
    space = parse_space(["mode=1, 2.5,true,False,ema"])
    assert space == {"mode": [1, 2.5, True, False, "ema"]}
    assert [type(v) for v in space["mode"]] == [int, float, bool, bool, str]  # type: ignore[union-attr]


def test_empty_values_in_a_list_are_skipped() -> None:
    assert parse_space(["fast_period=5,,10,"]) == {"fast_period": [5, 10]}


def test_parameters_keep_the_order_they_were_given_in() -> None:
    assert list(parse_space(["slow_period=20", "fast_period=5", "atr_period=14"])) == [
        "slow_period",
        "fast_period",
        "atr_period",
    ]


def test_an_integer_lo_hi_step_includes_hi_and_gives_ints() -> None:
    space = parse_space(["fast_period=5:20:5"])
    assert space == {"fast_period": [5, 10, 15, 20]}
    assert all(type(v) is int for v in space["fast_period"])  # type: ignore[union-attr]


def test_a_lo_hi_step_stops_at_the_last_step_not_above_hi() -> None:
    assert parse_space(["fast_period=5:19:5"]) == {"fast_period": [5, 10, 15]}


def test_a_float_step_gives_floats_up_to_and_including_hi() -> None:
    assert parse_space(["stop_atr_multiplier=0.5:1.5:0.25"]) == {
        "stop_atr_multiplier": [0.5, 0.75, 1.0, 1.25, 1.5]
    }


def test_a_float_step_is_rounded_so_hi_is_not_lost_to_float_error() -> None:
    assert parse_space(["x=0.1:0.3:0.1"]) == {"x": [0.1, 0.2, 0.3]}


def test_integer_ends_with_a_float_step_give_floats() -> None:
    space = parse_space(["x=1:2:0.5"])
    assert space == {"x": [1.0, 1.5, 2.0]}
    assert all(type(v) is float for v in space["x"])  # type: ignore[union-attr]


def test_lo_hi_without_a_step_is_an_integer_range_when_both_ends_are_ints() -> None:
    assert parse_space(["fast_period=3:12"]) == {"fast_period": Range(3, 12, integer=True)}


def test_lo_hi_without_a_step_is_a_continuous_range_when_an_end_is_a_float() -> None:
    assert parse_space(["x=0.5:2"]) == {"x": Range(0.5, 2, integer=False)}
    assert parse_space(["x=1:2.0"]) == {"x": Range(1, 2.0, integer=False)}


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("fast_period", "expected NAME=V1,V2 or NAME=LO:HI[:STEP]"),
        ("=5,10", "expected NAME=V1,V2 or NAME=LO:HI[:STEP]"),
        ("fast_period=", "expected NAME=V1,V2 or NAME=LO:HI[:STEP]"),
        ("fast_period=  ", "expected NAME=V1,V2 or NAME=LO:HI[:STEP]"),
        ("fast_period=1:2:3:4", "expected LO:HI[:STEP] with LO <= HI"),
        ("fast_period=20:5", "expected LO:HI[:STEP] with LO <= HI"),
        ("fast_period=5:20:0", "the step must be positive"),
        ("fast_period=5:20:-5", "the step must be positive"),
    ],
)
def test_a_malformed_item_is_a_config_error_naming_the_item(item: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_space(["slow_period=20,30", item])
    assert str(raised.value) == f"--grid {item!r}: {problem}"


def test_a_non_number_in_a_range_is_a_config_error_naming_the_item() -> None:
    with pytest.raises(ConfigError, match="fast_period"):
        parse_space(["fast_period=x:20:5"])


def test_a_values_list_with_no_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fast_period"):
        parse_space(["fast_period=,"])


def test_an_infinite_hi_with_a_step_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fast_period"):
        parse_space(["fast_period=5:inf:5"])


# --- grid and random search ----------------------------------------------------------------


def test_a_grid_is_the_cartesian_product_in_the_order_given() -> None:
    space = parse_space(["fast_period=5,10", "slow_period=20,30,40"])
    assert grid(space) == [
        {"fast_period": 5, "slow_period": 20},
        {"fast_period": 5, "slow_period": 30},
        {"fast_period": 5, "slow_period": 40},
        {"fast_period": 10, "slow_period": 20},
        {"fast_period": 10, "slow_period": 30},
        {"fast_period": 10, "slow_period": 40},
    ]


def test_a_range_in_a_grid_is_a_config_error_naming_it() -> None:
    space = parse_space(["fast_period=5,10", "slow_period=20:40", "x=0.5:1.5"])
    with pytest.raises(ConfigError) as raised:
        grid(space)
    assert str(raised.value) == "a grid needs values or LO:HI:STEP, not a range: slow_period, x"


SPACE = {"fast_period": [3, 5, 8, 13], "slow_period": [20, 30, 40], "mode": ["a", "b"]}


def test_random_candidates_are_reproducible_for_a_seed() -> None:
    assert random_candidates(SPACE, 6, seed=42) == random_candidates(SPACE, 6, seed=42)


def test_random_candidates_are_distinct_and_as_many_as_asked() -> None:
    drawn = random_candidates(SPACE, 10, seed=3)
    assert len(drawn) == 10
    assert len({tuple(p.items()) for p in drawn}) == 10


def test_random_candidates_draw_only_listed_values() -> None:
    for params in random_candidates(SPACE, 10, seed=3):
        assert list(params) == ["fast_period", "slow_period", "mode"]
        assert all(params[name] in values for name, values in SPACE.items())


def test_random_candidates_are_fewer_when_the_space_is_smaller_than_the_count() -> None:
    space: dict[str, Any] = {"fast_period": [5, 10], "slow_period": [20]}
    drawn = random_candidates(space, 5, seed=1)
    assert sorted(p["fast_period"] for p in drawn) == [5, 10]
    assert all(p["slow_period"] == 20 for p in drawn)


def test_random_candidates_draw_within_ranges_ints_for_an_integer_range() -> None:
    space = parse_space(["fast_period=2:9", "stop_atr_multiplier=0.5:1.5"])
    drawn = random_candidates(space, 30, seed=7)
    assert len(drawn) == 30
    assert all(type(p["fast_period"]) is int and 2 <= p["fast_period"] <= 9 for p in drawn)
    assert all(
        type(p["stop_atr_multiplier"]) is float and 0.5 <= p["stop_atr_multiplier"] <= 1.5
        for p in drawn
    )


def test_random_search_needs_at_least_one_trial() -> None:
    with pytest.raises(ConfigError, match=r"^--random needs at least 1 trial$"):
        random_candidates(SPACE, 0, seed=1)


# --- scores and ranking --------------------------------------------------------------------


def test_a_score_is_the_objectives_value() -> None:
    assert trial(sharpe=1.25).score("sharpe", min_trades=10) == 1.25


def test_a_trial_with_exactly_min_trades_is_scored() -> None:
    assert trial(trades=10, sharpe=1.25).score("sharpe", min_trades=10) == 1.25


def test_a_trial_under_min_trades_has_no_score() -> None:
    assert trial(trades=9, sharpe=1.25).score("sharpe", min_trades=10) is None


def test_a_failed_trial_has_no_score() -> None:
    assert trial(trades=0, error="boom").score("sharpe", min_trades=0) is None


def test_an_undefined_or_infinite_objective_has_no_score() -> None:
    assert trial(sharpe=None).score("sharpe", min_trades=0) is None
    assert trial(profit_factor=math.inf).score("profit_factor", min_trades=0) is None


def params_of(trials: Sequence[Trial]) -> list[Any]:
    return [t.params["n"] for t in trials]


def test_rank_puts_the_highest_score_first() -> None:
    trials = [trial({"n": 0}, sharpe=0.5), trial({"n": 1}, sharpe=2.0), trial({"n": 2}, sharpe=1.0)]
    assert params_of(rank(trials, "sharpe", min_trades=0)) == [1, 2, 0]


def test_rank_puts_the_lowest_drawdown_first() -> None:
    trials = [
        trial({"n": 0}, max_drawdown_pct=5.0),
        trial({"n": 1}, max_drawdown_pct=2.0),
        trial({"n": 2}, max_drawdown_pct=3.0),
    ]
    assert params_of(rank(trials, "max_drawdown_pct", min_trades=0)) == [1, 2, 0]


def test_unscored_trials_rank_last_in_candidate_order() -> None:
    trials = [
        trial({"n": 0}, trades=2, net_profit=900.0),  # too few trades, however profitable
        trial({"n": 1}, trades=0, error="invalid: no"),
        trial({"n": 2}, net_profit=10.0),
        trial({"n": 3}, net_profit=None),
        trial({"n": 4}, net_profit=30.0),
    ]
    assert params_of(rank(trials, "net_profit", min_trades=5)) == [4, 2, 0, 1, 3]


def test_ties_keep_candidate_order() -> None:
    trials = [
        trial({"n": 0}, sharpe=1.0),
        trial({"n": 1}, sharpe=2.0),
        trial({"n": 2}, sharpe=1.0),
        trial({"n": 3}, sharpe=2.0),
    ]
    assert params_of(rank(trials, "sharpe", min_trades=0)) == [1, 3, 0, 2]
    drawdowns = [trial({"n": n}, max_drawdown_pct=1.0) for n in range(3)]
    assert params_of(rank(drawdowns, "max_drawdown_pct", min_trades=0)) == [0, 1, 2]


def test_an_unknown_objective_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        rank([trial(sharpe=1.0)], "profit", min_trades=0)
    assert str(raised.value) == (
        "unknown objective 'profit'; known: sharpe, sortino, profit_factor, net_profit, "
        "return_pct, cagr_pct, expectancy, win_rate_pct, max_drawdown_pct"
    )


# --- running trials ------------------------------------------------------------------------


class RecordingPool(ProcessPool):
    """A one-process pool that also remembers the specs it was asked to run."""

    def __init__(self) -> None:
        super().__init__(1)
        self.specs: list[BacktestSpec] = []

    def run(self, specs: Sequence[BacktestSpec]) -> Any:
        self.specs.extend(specs)
        return super().run(specs)


def test_run_trials_returns_one_trial_per_candidate_in_candidate_order(
    serial_trials: list[Trial],
) -> None:
    assert [t.params for t in serial_trials] == CANDIDATES


def test_an_invalid_candidate_is_reported_as_invalid(serial_trials: list[Trial]) -> None:
    refused = serial_trials[1]
    assert (refused.statistics, refused.trades) == (None, 0)
    assert refused.error is not None
    assert refused.error.startswith("invalid: ")
    assert "fast_period (30) must be below slow_period (20)" in refused.error


def test_an_invalid_candidate_is_not_run() -> None:
    pool = RecordingPool()
    run_trials(BASE, CANDIDATES, pool)
    assert [dict(s.params) for s in pool.specs] == [CANDIDATES[0], CANDIDATES[2]]


def test_a_trial_has_the_statistics_of_run_backtest_with_its_params(
    serial_trials: list[Trial], direct: dict[int, dict[str, Any]]
) -> None:
    for i in VALID:
        assert serial_trials[i].error is None
        assert serial_trials[i].statistics == direct[i]
        assert serial_trials[i].trades == direct[i]["trades"]


def test_the_candidates_params_override_the_base_params() -> None:
    base = dataclasses.replace(BASE, params={"fast_period": 5, "atr_period": 10})
    pool = RecordingPool()
    run_trials(base, [{"fast_period": 8}], pool)
    assert [dict(s.params) for s in pool.specs] == [{"fast_period": 8, "atr_period": 10}]


def test_a_trial_that_fails_is_reported_with_its_error() -> None:
    base = dataclasses.replace(BASE, symbol="NOSUCH", end=START + WEEK)
    trials = run_trials(base, [{"fast_period": 5}, {"fast_period": 8}], ProcessPool(1))
    assert trials == [
        Trial({"fast_period": 5}, None, 0, "unknown symbol 'NOSUCH'"),
        Trial({"fast_period": 8}, None, 0, "unknown symbol 'NOSUCH'"),
    ]


def test_progress_counts_invalid_candidates_as_done_before_any_trial_runs() -> None:
    calls: list[tuple[int, int]] = []
    base = dataclasses.replace(BASE, end=START + WEEK)
    run_trials(base, CANDIDATES, ProcessPool(1), lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_a_two_process_pool_gives_the_same_trials_as_one_process(
    serial_trials: list[Trial],
) -> None:
    pool = ProcessPool(2)
    try:
        assert run_trials(BASE, CANDIDATES, pool) == serial_trials
    finally:
        pool.close()


def test_a_local_dask_cluster_gives_the_same_statistics_as_one_process(
    serial_trials: list[Trial],
) -> None:
    cluster = DaskCluster(workers=2)
    try:
        trials = run_trials(BASE, CANDIDATES, cluster)
    finally:
        cluster.close()
    assert trials == serial_trials


def test_a_local_ray_cluster_gives_the_same_statistics_as_one_process(
    serial_trials: list[Trial],
) -> None:
    cluster = RayCluster(workers=2)
    try:
        trials = run_trials(BASE, CANDIDATES, cluster)
    finally:
        cluster.close()
    assert trials == serial_trials


# --- executors -----------------------------------------------------------------------------


def test_the_local_engine_is_a_process_pool_of_the_workers_asked() -> None:
    executor = make_executor("local", None, 3)
    assert isinstance(executor, ProcessPool)
    assert executor.workers == 3


def test_the_ray_engine_without_ray_is_a_config_error_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ConfigError) as raised:
        make_executor("ray", None, None)
    assert str(raised.value) == "the ray engine needs ray: pip install 'forexbot[ray]'"


def test_an_address_for_the_local_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^--address needs --engine dask or ray$"):
        make_executor("local", "tcp://x", None)


def test_an_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^unknown engine 'spark'; use local, dask or ray$"):
        make_executor("spark", None, None)


# --- walk-forward --------------------------------------------------------------------------


def test_windows_roll_by_the_test_length_and_the_last_is_cut_at_the_end() -> None:
    assert windows(0.0, 100.0, train=30.0, test=20.0) == [
        Window(0.0, 30.0, 50.0),
        Window(20.0, 50.0, 70.0),
        Window(40.0, 70.0, 90.0),
        Window(60.0, 90.0, 100.0),
    ]


def test_windows_advance_by_the_step_when_given() -> None:
    assert windows(0.0, 100.0, train=30.0, test=20.0, step=50.0) == [
        Window(0.0, 30.0, 50.0),
        Window(50.0, 80.0, 100.0),
    ]


def test_a_window_needs_some_test_time_after_its_training() -> None:
    assert windows(0.0, 31.0, train=30.0, test=20.0) == [Window(0.0, 30.0, 31.0)]


def test_a_period_no_longer_than_one_training_window_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^the period is shorter than one training window$"):
        windows(0.0, 30.0, train=30.0, test=10.0)


@pytest.mark.parametrize(("train", "test"), [(0.0, 10.0), (10.0, 0.0), (-5.0, 10.0)])
def test_train_and_test_lengths_must_be_positive(train: float, test: float) -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        windows(0.0, 100.0, train=train, test=test)


WF_END = START + 3 * WEEK  # two windows of a week's training and a week's test
WF_CANDIDATES: list[dict[str, Any]] = [
    {"fast_period": 5, "slow_period": 20},
    {"fast_period": 10, "slow_period": 30},
]


@pytest.fixture(scope="module")
def walk_forward_results() -> list[WindowResult]:
    plan = windows(START, WF_END, train=WEEK, test=WEEK)
    try:
        return walk_forward(
            dataclasses.replace(BASE, end=WF_END),
            WF_CANDIDATES,
            plan,
            ProcessPool(1),
            objective="net_profit",
            min_trades=1,
        )
    finally:
        logging.disable(logging.NOTSET)


def test_walk_forward_has_one_result_per_window(
    walk_forward_results: list[WindowResult],
) -> None:
    assert [r.window for r in walk_forward_results] == [
        Window(START, START + WEEK, START + 2 * WEEK),
        Window(START + WEEK, START + 2 * WEEK, WF_END),
    ]


def test_each_windows_best_is_the_in_sample_winner(
    walk_forward_results: list[WindowResult],
) -> None:
    for result in walk_forward_results:
        train = dataclasses.replace(
            BASE, start=result.window.train_start, end=result.window.test_start
        )
        in_sample = [
            Trial(c, s, s["trades"]) for c in WF_CANDIDATES for s in [statistics_of(train, c)]
        ]
        assert result.best == rank(in_sample, "net_profit", min_trades=1)[0]
        assert result.error is None


def test_each_windows_test_is_a_backtest_of_the_winner_out_of_sample(
    walk_forward_results: list[WindowResult],
) -> None:
    for result in walk_forward_results:
        assert result.best is not None
        test = dataclasses.replace(BASE, start=result.window.test_start, end=result.window.test_end)
        expected = statistics_of(test, result.best.params)
        assert result.test == expected
        assert result.test_trades == expected["trades"]


def test_a_window_where_no_candidate_scores_is_not_tested() -> None:
    base = dataclasses.replace(BASE, end=START + WEEK + DAY)
    plan = [Window(START, START + WEEK, START + WEEK + DAY)]
    results = walk_forward(base, WF_CANDIDATES, plan, ProcessPool(1), "net_profit", 1000)
    assert results == [WindowResult(plan[0], None, None, 0, "no candidate could be scored")]


def window_result(return_pct: float | None, trades: int) -> WindowResult:
    test = None if return_pct is None else {"return_pct": return_pct}
    return WindowResult(Window(0.0, 1.0, 2.0), None, test, trades, None)


def test_the_walk_forward_summary_compounds_the_out_of_sample_returns() -> None:
    results = [window_result(10.0, 4), window_result(None, 0), window_result(-5.0, 3)]
    assert summarise_walk_forward(results, initial=10_000.0) == {
        "windows": 3,
        "tested": 2,
        "out_of_sample_return_pct": 4.5,  # 1.10 × 0.95 = 1.045
        "out_of_sample_final_equity": 10_450.0,
        "out_of_sample_trades": 7,
    }


def test_the_walk_forward_summary_of_no_tested_window_is_flat() -> None:
    assert summarise_walk_forward([window_result(None, 0)], initial=5_000.0) == {
        "windows": 1,
        "tested": 0,
        "out_of_sample_return_pct": 0.0,
        "out_of_sample_final_equity": 5_000.0,
        "out_of_sample_trades": 0,
    }
