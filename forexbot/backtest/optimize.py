"""Parameter optimisation and walk-forward analysis, on a process pool or a Dask/Ray cluster.

A *trial* is one backtest of the base :class:`~forexbot.backtest.runner.BacktestSpec` with some
strategy parameters changed; its *score* is one statistic (the objective), maximised — or
minimised for ``max_drawdown_pct``. Rules:

* **Candidates** come from a grid (every combination of the values given per parameter) or a
  seeded random search over the same space (``n`` distinct draws; a ``lo:hi`` range without a
  step draws uniformly, integers when both ends are integers).
* A combination the strategy refuses (``fast_period`` not below ``slow_period``, say) is
  reported as invalid, not run. A trial that fails is reported with its error; the others go on.
* A trial with fewer than ``min_trades`` trades, or an undefined objective (no Sharpe without
  two days of returns), ranks after every scored trial: an optimiser must not crown the
  parameters that simply never traded.
* Ties keep candidate order, so a run is reproducible.
* **Walk-forward**: the period is cut into rolling windows (``train`` in-sample, then ``test``
  out-of-sample, advancing by ``step``, by default ``test``). In each window the candidates are
  optimised in-sample and the best is backtested out-of-sample; the out-of-sample results,
  chained, are what the strategy would have earned re-optimised on that schedule.

Trials run where the :class:`Executor` sends them: a local process pool (one per core by
default), or an existing Dask or Ray cluster (``address``; without one a local cluster is
started), so scaling out needs no scheduler of ours.

**One market for all trials.** When the kernel runs the base spec and its symbol is quoted
in the account currency (:func:`~forexbot.backtest.shared_market.shareable`), the market is
read once in this process (:mod:`~forexbot.backtest.shared_market`: arrays, no terminal) and
handed to the executor once (:meth:`Executor.share`), never with each task: the pool's
workers receive it through their initializer when they start (``spawn``: the parent may hold
threads, an event loop or Ray, which ``fork`` would copy half-way), Ray and Dask put it once
in the cluster and pass the reference. Each trial then runs only its signals, the screen and
the kernel's loop (:func:`~forexbot.backtest.shared_market.run_shared`), with the trades and
statistics of ``run_backtest``. Any other trial (an unsupported spec, a walk-forward test
window, a run the kernel refuses) runs ``run_backtest`` as before.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import importlib
import itertools
import math
import multiprocessing
import os
import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from forexbot.backtest import shared_market
from forexbot.backtest.choices import OBJECTIVES
from forexbot.backtest.kernel_rules import KernelUnsupported
from forexbot.backtest.runner import BacktestSpec, run_backtest
from forexbot.backtest.shared_market import SharedMarket, run_shared, shareable, warmup_of
from forexbot.errors import ConfigError, ForexbotError, InvalidInputError
from forexbot.logs import configure_logging
from forexbot.strategies import create

try:  # the compiled loop is optional (the kernel's Python loop runs without numba)
    from forexbot.backtest import kernel_jit
except ImportError:  # pragma: no cover - numba not installed
    kernel_jit = None  # type: ignore[assignment]

Params = dict[str, Any]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Range:
    """``lo:hi`` without a step: a continuous (or integer) range for random search."""

    lo: float
    hi: float
    integer: bool

    def draw(self, rng: random.Random) -> float | int:
        if self.integer:
            return rng.randint(int(self.lo), int(self.hi))
        return rng.uniform(self.lo, self.hi)


Space = dict[str, list[Any] | Range]


def _number(text: str, item: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--grid {item!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--grid {item!r}: {text!r} is not a finite number")
    return value


def parse_space(items: Sequence[str]) -> Space:
    """``name=v1,v2,...`` (values), ``name=lo:hi:step`` (a grid, ``hi`` included) or
    ``name=lo:hi`` (a range, random search only)."""
    space: Space = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not name or not spec.strip():
            raise ConfigError(f"--grid {item!r}: expected NAME=V1,V2 or NAME=LO:HI[:STEP]")
        if ":" in spec:
            parts = [_number(p, item) for p in spec.split(":")]
            if len(parts) not in (2, 3) or parts[1] < parts[0]:
                raise ConfigError(f"--grid {item!r}: expected LO:HI[:STEP] with LO <= HI")
            if len(parts) == 2:
                lo, hi = parts
                space[name] = Range(lo, hi, isinstance(lo, int) and isinstance(hi, int))
                continue
            lo, hi, step = parts
            if step <= 0:
                raise ConfigError(f"--grid {item!r}: the step must be positive")
            count = math.floor((hi - lo) / step + 1e-9) + 1
            values = [lo + k * step for k in range(count)]
            if all(isinstance(p, int) for p in parts):
                space[name] = [int(v) for v in values]
            else:
                space[name] = [round(float(v), 10) for v in values]
        else:
            values = [_value(v) for v in spec.split(",") if v.strip()]
            if not values:
                raise ConfigError(f"--grid {item!r}: no value given")
            space[name] = values
    return space


def _value(text: str) -> Any:
    text = text.strip()
    try:
        return _number(text, text)
    except ConfigError:
        return {"true": True, "false": False}.get(text.lower(), text)


def grid(space: Space) -> list[Params]:
    """Every combination, in the order the values were given."""
    ranges = [name for name, values in space.items() if isinstance(values, Range)]
    if ranges:
        raise ConfigError(f"a grid needs values or LO:HI:STEP, not a range: {', '.join(ranges)}")
    names = list(space)
    lists = [space[n] for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]  # type: ignore[arg-type]


def random_candidates(space: Space, count: int, seed: int) -> list[Params]:
    """``count`` distinct draws (fewer when the space is smaller), reproducible by ``seed``."""
    if count < 1:
        raise ConfigError("--random needs at least 1 trial")
    rng = random.Random(seed)
    seen: set[tuple[Any, ...]] = set()
    out: list[Params] = []
    for _ in range(count * 20):
        if len(out) == count:
            break
        params = {
            name: values.draw(rng) if isinstance(values, Range) else rng.choice(values)
            for name, values in space.items()
        }
        key = tuple(params.values())
        if key not in seen:
            seen.add(key)
            out.append(params)
    return out


@dataclass(frozen=True, slots=True)
class Trial:
    """One candidate's outcome: statistics when it ran, else why not."""

    params: Params
    statistics: dict[str, Any] | None
    trades: int
    error: str | None = None

    def score(self, objective: str, min_trades: int) -> float | None:
        """The objective's value, or None when the trial is not rankable."""
        if self.statistics is None or self.trades < min_trades:
            return None
        value = self.statistics.get(objective)
        return None if value is None or not math.isfinite(value) else float(value)

    def to_dict(self, objective: str, min_trades: int) -> dict[str, Any]:
        return {
            "params": self.params,
            "score": self.score(objective, min_trades),
            "trades": self.trades,
            "statistics": self.statistics,
            "error": self.error,
        }


def rank(trials: Sequence[Trial], objective: str, min_trades: int) -> list[Trial]:
    """Best first (see the module docstring); unscored trials last, in candidate order."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
    sign = 1.0 if OBJECTIVES[objective] else -1.0

    def key(item: tuple[int, Trial]) -> tuple[int, float, int]:
        index, trial = item
        score = trial.score(objective, min_trades)
        return (0, -sign * score, index) if score is not None else (1, 0.0, index)

    return [t for _, t in sorted(enumerate(trials), key=key)]


@functools.cache
def _quiet_worker() -> None:
    """In a worker process: only warnings and errors, on standard error (the parent's
    standard output may be the ``--json`` result; engine chatter would drown the progress
    bar). Once per process."""
    configure_logging("WARNING", "json", stream=sys.stderr)


def evaluate(spec: BacktestSpec) -> tuple[dict[str, Any] | None, int, str | None]:
    """Run one trial: (statistics, trades, error). A failing trial is reported, never
    raised: the other trials go on."""
    if multiprocessing.parent_process() is not None:
        _quiet_worker()
    try:
        result = run_backtest(spec)
    except ForexbotError as exc:
        return None, 0, str(exc)
    except Exception as exc:
        return None, 0, f"{type(exc).__name__}: {exc}"
    return result.statistics.to_dict(), result.statistics.trades, None


Outcome = tuple[dict[str, Any] | None, int, str | None]


@dataclass(slots=True)
class _Worker:
    """This process's shared market (a pool worker's, installed once by its initializer),
    how many it installed and how many trials ran on one (tests look)."""

    market: SharedMarket | None = None
    installs: int = 0
    shared_trials: int = 0


_worker = _Worker()


def install(market: SharedMarket | None) -> None:
    """A worker's initializer: keep ``market`` for every trial this process runs, and load
    the compiled loop now (once, not in the first trial)."""
    _worker.market = market
    _worker.installs += 1
    if market is not None and multiprocessing.parent_process() is not None:
        _quiet_worker()
    if market is not None:
        _warm()


@functools.cache
def _warm() -> None:
    if kernel_jit is not None:
        kernel_jit.warm()


def worker_state() -> tuple[int, int, int]:
    """(pid, markets installed, trials run on one) of the process that runs this."""
    return os.getpid(), _worker.installs, _worker.shared_trials


def evaluate_on(market: SharedMarket | None, spec: BacktestSpec) -> Outcome:
    """One trial on ``market`` when it is ``spec``'s (see the module docstring), else
    :func:`evaluate`."""
    if market is None or not market.accepts(spec):
        return evaluate(spec)
    if multiprocessing.parent_process() is not None:
        _quiet_worker()
    _warm()
    try:
        result = run_shared(market, spec)
    except KernelUnsupported:  # e.g. a possible stop-out: the event path decides
        return evaluate(spec)
    except ForexbotError as exc:
        return None, 0, str(exc)
    except Exception as exc:
        return None, 0, f"{type(exc).__name__}: {exc}"
    _worker.shared_trials += 1
    return result.statistics.to_dict(), result.statistics.trades, None


def evaluate_installed(spec: BacktestSpec) -> Outcome:
    """One trial on this process's installed market (:func:`install`)."""
    return evaluate_on(_worker.market, spec)


class Executor(Protocol):
    """Runs trials somewhere; yields ``(index, outcome)`` as they finish. ``share`` hands it
    the market the next trials may run on (``None``: none), once for all of them."""

    def run(
        self, specs: Sequence[BacktestSpec]
    ) -> Iterator[tuple[int, tuple[dict[str, Any] | None, int, str | None]]]: ...

    def share(self, market: SharedMarket | None) -> None: ...

    def close(self) -> None: ...


class ProcessPool:
    """A local process pool (``workers`` processes, one per core by default)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._market: SharedMarket | None = None

    def share(self, market: SharedMarket | None) -> None:
        """The workers get ``market`` when they start: a running pool is replaced."""
        if market is self._market:
            return
        self._market = market
        if self.workers == 1:
            install(market)
        elif self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def run(
        self, specs: Sequence[BacktestSpec]
    ) -> Iterator[tuple[int, tuple[dict[str, Any] | None, int, str | None]]]:
        if self.workers == 1:  # no pool: in this process, easier to debug and profile
            for i, spec in enumerate(specs):
                yield i, evaluate_on(self._market, spec)
            return
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=install,
                initargs=(self._market,),  # pickled once per worker, not per task
            )
        futures = {self._pool.submit(evaluate_installed, s): i for i, s in enumerate(specs)}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self.workers == 1 and self._market is not None:
            install(None)
        self._market = None


class DaskCluster:
    """Trials as tasks of a Dask cluster: the one at ``address``, else a local one."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        distributed = _optional("distributed", "dask")
        self._as_completed = distributed.as_completed
        self._cluster: Any = None
        if address:
            self._client: Any = distributed.Client(address)
        else:
            self._cluster = distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self._client = distributed.Client(self._cluster)
        self._market: Any = None

    def share(self, market: SharedMarket | None) -> None:
        """Scattered once to every worker; the tasks carry its future."""
        self._market = None if market is None else self._client.scatter(market, broadcast=True)

    def run(
        self, specs: Sequence[BacktestSpec]
    ) -> Iterator[tuple[int, tuple[dict[str, Any] | None, int, str | None]]]:
        futures = self._client.map(
            evaluate_on, [self._market] * len(specs), list(specs), pure=False
        )
        index = {future.key: i for i, future in enumerate(futures)}
        for future in self._as_completed(futures):
            yield index[future.key], future.result()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


class RayCluster:
    """Trials as Ray tasks: the cluster at ``address`` (``auto`` finds a running one), else a
    local one."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        ray = _optional("ray", "ray")
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, log_to_driver=False)
        self._remote = ray.remote(evaluate_on)
        self._market: Any = None

    def share(self, market: SharedMarket | None) -> None:
        """Put once in the object store; each task gets the reference, and its worker reads
        the arrays from shared memory without copying them."""
        self._market = None if market is None else self._ray.put(market)

    def run(
        self, specs: Sequence[BacktestSpec]
    ) -> Iterator[tuple[int, tuple[dict[str, Any] | None, int, str | None]]]:
        pending = {self._remote.remote(self._market, s): i for i, s in enumerate(specs)}
        while pending:
            done, _ = self._ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), self._ray.get(ref)

    def close(self) -> None:
        self._ray.shutdown()


def _optional(module: str, extra: str) -> Any:
    """An optional engine's module, loaded only when asked for (ConfigError without it)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"the {extra} engine needs {module}: pip install 'forexbot[{extra}]'"
        ) from None


def make_executor(engine: str, address: str | None, workers: int | None) -> Executor:
    """``local`` (process pool), ``dask`` or ``ray``."""
    if engine == "local":
        if address:
            raise ConfigError("--address needs --engine dask or ray")
        return ProcessPool(workers)
    if engine == "dask":
        return DaskCluster(address, workers)
    if engine == "ray":
        return RayCluster(address, workers)
    raise ConfigError(f"unknown engine {engine!r}; use local, dask or ray")


def _checked(base: BacktestSpec, candidates: Sequence[Params]) -> list[Trial | BacktestSpec]:
    """Each candidate as a spec to run, or an invalid trial (the strategy refused it)."""
    out: list[Trial | BacktestSpec] = []
    for params in candidates:
        merged = {**base.params, **params}
        try:
            create(base.strategy, **merged)
        except InvalidInputError as exc:
            out.append(Trial(params, None, 0, f"invalid: {exc}"))
            continue
        out.append(dataclasses.replace(base, params=merged))
    return out


def read_market(base: BacktestSpec, specs: Sequence[BacktestSpec]) -> SharedMarket | None:
    """The market ``specs`` (``base`` with other parameters) can share, read once with the
    largest warm-up among them; ``None`` when they cannot (the trials read their own)."""
    if len(specs) < 2 or shareable(base) is not None:
        return None
    try:
        return shared_market.read_shared_market(base, max(warmup_of(s) for s in specs))
    except ForexbotError:  # each trial then reports it, as without sharing
        return None


def run_trials(
    base: BacktestSpec,
    candidates: Sequence[Params],
    executor: Executor,
    progress: Progress | None = None,
    *,
    share: bool = True,
) -> list[Trial]:
    """Every candidate's trial, in candidate order. ``share``: on one market read
    (see the module docstring) when the spec allows it."""
    checked = _checked(base, candidates)
    runnable = [(i, c) for i, c in enumerate(checked) if isinstance(c, BacktestSpec)]
    trials: list[Trial | None] = [c if isinstance(c, Trial) else None for c in checked]
    total, done = len(checked), len(checked) - len(runnable)
    if progress:
        progress(done, total)
    specs = [spec for _, spec in runnable]
    market = read_market(base, specs) if share else None
    executor.share(market)
    for k, (statistics, trades, error) in executor.run(specs):
        i = runnable[k][0]
        trials[i] = Trial(candidates[i], statistics, trades, error)
        done += 1
        if progress:
            progress(done, total)
    return [t for t in trials if t is not None]


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward step: optimise on ``[train_start, test_start)``, test on
    ``[test_start, test_end)`` (UTC epochs)."""

    train_start: float
    test_start: float
    test_end: float


def windows(
    start: float, end: float, train: float, test: float, step: float | None = None
) -> list[Window]:
    """Rolling windows over ``[start, end)``; the last test window may be shorter."""
    if train <= 0 or test <= 0:
        raise ConfigError("walk-forward train and test periods must be positive")
    step = step or test
    out: list[Window] = []
    t = start
    while t + train < end:
        out.append(Window(t, t + train, min(t + train + test, end)))
        t += step
    if not out:
        raise ConfigError("the period is shorter than one training window")
    return out


@dataclass(frozen=True, slots=True)
class WindowResult:
    window: Window
    best: Trial | None
    test: dict[str, Any] | None
    test_trades: int
    error: str | None


def walk_forward(
    base: BacktestSpec,
    candidates: Sequence[Params],
    plan: Sequence[Window],
    executor: Executor,
    objective: str,
    min_trades: int,
    progress: Progress | None = None,
) -> list[WindowResult]:
    """Optimise in each window's training period, test the winner right after it."""
    results: list[WindowResult] = []
    total = len(plan) * (len(candidates) + 1)
    for n, window in enumerate(plan):
        train = dataclasses.replace(base, start=window.train_start, end=window.test_start)
        offset = n * (len(candidates) + 1)

        def step(done: int, _total: int, offset: int = offset) -> None:
            if progress:
                progress(offset + done, total)

        ranked = rank(run_trials(train, candidates, executor, step), objective, min_trades)
        best = ranked[0] if ranked and ranked[0].score(objective, min_trades) is not None else None
        if best is None:
            results.append(WindowResult(window, None, None, 0, "no candidate could be scored"))
            continue
        test = dataclasses.replace(
            base,
            start=window.test_start,
            end=window.test_end,
            params={**base.params, **best.params},
        )
        ((_, outcome),) = list(executor.run([test]))
        statistics, trades, error = outcome
        results.append(WindowResult(window, best, statistics, trades, error))
        if progress:
            progress(offset + len(candidates) + 1, total)
    return results


def summarise_walk_forward(results: Sequence[WindowResult], initial: float) -> dict[str, Any]:
    """The out-of-sample windows chained: compounded return and total trades."""
    growth, trades = 1.0, 0
    for r in results:
        if r.test is not None:
            growth *= 1.0 + float(r.test.get("return_pct") or 0.0) / 100.0
            trades += r.test_trades
    return {
        "windows": len(results),
        "tested": sum(1 for r in results if r.test is not None),
        "out_of_sample_return_pct": round((growth - 1.0) * 100.0, 6),
        "out_of_sample_final_equity": round(initial * growth, 2),
        "out_of_sample_trades": trades,
    }


def window_dict(result: WindowResult, objective: str, min_trades: int) -> dict[str, Any]:
    return {
        "train_start": result.window.train_start,
        "test_start": result.window.test_start,
        "test_end": result.window.test_end,
        "best": None if result.best is None else result.best.to_dict(objective, min_trades),
        "test": result.test,
        "test_trades": result.test_trades,
        "error": result.error,
    }


def params_text(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())
