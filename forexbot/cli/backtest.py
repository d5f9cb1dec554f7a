"""``forexbot backtest``: one strategy over history, with a progress bar and a summary.

The risk limits are the daemon's (``config/risk_config.yaml``, ``risk:`` in the settings,
``FOREXBOT_RISK__*``): a backtest trades under the rules the strategy will meet live. The
account defaults to the paper account's settings (``terminal.sim_*``).

Data (``--data``): ``sim`` (default) generates the market with the simulator's seed; ``db``
replays the bars stored in ``market_data`` (M1 when stored, else the strategy's timeframe);
anything else is one or more MT5 CSV exports (comma-separated) replayed exactly.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as ProgressBar
from rich.table import Table

from forexbot.backtest.choices import OBJECTIVES, Engine
from forexbot.backtest.optimize import (
    Progress,
    Trial,
    WindowResult,
    grid,
    make_executor,
    params_text,
    parse_space,
    random_candidates,
    rank,
    run_trials,
    summarise_walk_forward,
    walk_forward,
    window_dict,
    windows,
)
from forexbot.backtest.report import statistic_rows, write_report
from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.backtest.stored import stored_bars
from forexbot.cli.data import market_data, parse_timeframe, parse_when
from forexbot.cli.runner import run_coroutine
from forexbot.clock import iso_utc
from forexbot.config.models import Settings
from forexbot.connectors.mt5sim.core import DEFAULT_SEED
from forexbot.connectors.mt5sim.replay import ReplayBars, ReplaySource
from forexbot.errors import ConfigError
from forexbot.strategies import create


def parse_duration(text: str, name: str) -> float:
    """``90d``, ``12w``, ``36h`` or ``30m`` as seconds."""
    units = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
    text = text.strip().lower()
    try:
        value = float(text[:-1])
        unit = units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise ConfigError(f"{name}: {text!r} is not a duration like 90d, 12w or 36h") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value * unit


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; values read as YAML scalars (``10`` int, ``1.5`` float, ``true``)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {pair!r}: expected NAME=VALUE")
        params[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return params


def build_spec(args: argparse.Namespace, settings: Settings, data_dir: Path) -> BacktestSpec:
    """The :class:`BacktestSpec` the arguments describe (data loaded from the database when
    ``--data db``)."""
    timeframe = parse_timeframe(args.timeframe)
    start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
    if end <= start:
        raise ConfigError("--to must be after --from")
    terminal = settings.terminal
    spec = BacktestSpec(
        strategy=args.strategy,
        symbol=args.symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        params=parse_params(args.param),
        seed=next(s for s in (args.seed, terminal.sim_seed, DEFAULT_SEED) if s is not None),
        balance=args.balance if args.balance is not None else terminal.sim_balance,
        leverage=args.leverage if args.leverage is not None else terminal.sim_leverage,
        currency=terminal.sim_currency,
        hedging=not args.netting and terminal.sim_hedging,
        spread_points=args.spread,
        slippage_points=args.slippage,
        commission_per_lot=args.commission,
        volume=args.volume,
        swap_free=args.swap_free,
        fill_model=args.fill,
        risk=settings.risk,
    )
    warmup = create(spec.strategy, **dict(spec.params)).window_bars
    replay = _replay(args.data, spec, warmup, data_dir)
    if replay is None:
        return spec
    return _with_replay(spec, replay)


def _with_replay(spec: BacktestSpec, replay: Mapping[str, ReplaySource]) -> BacktestSpec:
    return dataclasses.replace(spec, replay=dict(replay))


def _replay(
    data: str, spec: BacktestSpec, warmup: int, data_dir: Path
) -> Mapping[str, ReplaySource] | None:
    if data == "sim":
        return None
    if data == "db":
        return {spec.symbol: run_coroutine(_stored_bars(spec, warmup, data_dir))}
    paths = [Path(p.strip()) for p in data.split(",") if p.strip()]
    missing = [str(p) for p in paths if not p.is_file()]
    if not paths or missing:
        raise ConfigError(f"--data: no such file: {', '.join(missing) or data!r}")
    return {spec.symbol: paths}


async def _stored_bars(spec: BacktestSpec, warmup: int, data_dir: Path) -> ReplayBars:
    async with market_data(data_dir) as repository:
        return await stored_bars(
            repository, spec.symbol, spec.timeframe, spec.start, spec.end, warmup
        )


def run_backtest_command(args: argparse.Namespace, settings: Settings, data_dir: Path) -> int:
    spec = build_spec(args, settings, data_dir)
    err = Console(stderr=True)
    quiet = args.quiet or args.json
    engine: Engine = args.backtest_engine
    result = run_backtest(spec, engine=engine) if quiet else _with_progress(spec, err, engine)
    if args.report is not None:
        write_report(result, args.report)
        err.print(f"report written to {args.report}")
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.write("\n")
    else:
        Console().print(summary_table(result))
    return 0


def _with_progress(spec: BacktestSpec, console: Any, engine: Engine) -> BacktestResult:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        TimeElapsedColumn(),
    )
    with ProgressBar(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{spec.strategy} {spec.symbol} {spec.timeframe.name}")

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_backtest(spec, advance, engine=engine)


def summary_table(result: BacktestResult) -> Any:
    """The statistics as a two-column rich table."""
    spec = result.spec
    table = Table(
        title=f"{spec.strategy} on {spec.symbol} {spec.timeframe.name}",
        show_header=False,
    )
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for name, value in statistic_rows(result):
        table.add_row(name, value)
    return table


def run_optimize_command(args: argparse.Namespace, settings: Settings, data_dir: Path) -> int:
    if args.objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {args.objective!r}; known: {', '.join(OBJECTIVES)}")
    if not args.grid:
        raise ConfigError("give at least one --grid NAME=VALUES")
    space = parse_space(args.grid)
    candidates = (
        random_candidates(space, args.random, args.random_seed) if args.random else grid(space)
    )
    base = build_spec(args, settings, data_dir)
    err, out = Console(stderr=True), Console()
    executor = make_executor(args.engine, args.address, args.workers)
    try:
        with _progress_bar(err, "optimising", quiet=args.quiet or args.json) as progress:
            if args.walk_forward:
                plan = windows(
                    base.start,
                    base.end,
                    parse_duration(args.train, "--train"),
                    parse_duration(args.test, "--test"),
                    parse_duration(args.step, "--step") if args.step else None,
                )
                results = walk_forward(
                    base, candidates, plan, executor, args.objective, args.min_trades, progress
                )
            else:
                trials = run_trials(base, candidates, executor, progress)
    finally:
        executor.close()
    if args.walk_forward:
        summary = summarise_walk_forward(results, base.balance)
        if args.json:
            payload = {
                "objective": args.objective,
                "windows": [window_dict(r, args.objective, args.min_trades) for r in results],
                "summary": summary,
            }
            sys.stdout.buffer.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            out.print(_walk_forward_table(results, args.objective, summary))
        return 0
    ranked = rank(trials, args.objective, args.min_trades)
    if args.json:
        payload = {
            "objective": args.objective,
            "trials": [t.to_dict(args.objective, args.min_trades) for t in ranked],
        }
        sys.stdout.buffer.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        out.print(_trials_table(ranked[: args.top], args.objective, args.min_trades))
        failed = [t for t in ranked if t.error]
        if failed:
            err.print(f"{len(failed)} of {len(ranked)} candidates did not run: {failed[0].error}")
    return 0


@contextlib.contextmanager
def _progress_bar(console: Any, label: str, *, quiet: bool) -> Iterator[Progress | None]:
    if quiet:
        yield None
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with ProgressBar(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _trials_table(trials: list[Trial], objective: str, min_trades: int) -> Any:
    table = Table(title=f"best by {objective}")
    for name in ("#", "parameters", objective, "trades", "net profit", "max DD %", "PF"):
        table.add_column(name, justify="left" if name == "parameters" else "right")
    for n, trial in enumerate(trials, 1):
        s = trial.statistics or {}
        score = trial.score(objective, min_trades)
        table.add_row(
            str(n),
            params_text(trial.params),
            "—" if score is None else f"{score:,.4f}",
            str(trial.trades),
            _fmt(s.get("net_profit")),
            _fmt(s.get("max_drawdown_pct")),
            _fmt(s.get("profit_factor")),
        )
    return table


def _walk_forward_table(
    results: list[WindowResult], objective: str, summary: dict[str, Any]
) -> Any:
    oos = summary["out_of_sample_return_pct"]
    table = Table(
        title=(
            f"walk-forward by {objective}: out-of-sample {oos:.2f} % over "
            f"{summary['tested']} windows, {summary['out_of_sample_trades']} trades"
        )
    )
    for name in ("test period", "best parameters", "in-sample", "OOS return %", "OOS trades"):
        table.add_column(name)
    for r in results:
        period = f"{iso_utc(r.window.test_start)[:10]} → {iso_utc(r.window.test_end)[:10]}"
        best = "—" if r.best is None else params_text(r.best.params)
        score = None if r.best is None else r.best.score(objective, 0)
        oos = None if r.test is None else r.test.get("return_pct")
        table.add_row(period, best, _fmt(score), _fmt(oos), str(r.test_trades))
    return table


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.2f}"
