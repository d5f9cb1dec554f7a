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
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.cli_data import market_data, parse_timeframe, parse_when, to_server
from forexbot.config import Settings
from forexbot.connectors.mt5sim.replay import ReplayBars, ReplaySource
from forexbot.domain.market import Timeframe
from forexbot.errors import ConfigError


def add_backtest_command(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    bt = sub.add_parser("backtest", help="backtest a strategy on history")
    add_common(bt)
    add_spec_arguments(bt)
    bt.add_argument("--report", type=Path, help="write a self-contained HTML report there")
    bt.add_argument("--json", action="store_true", help="print the full result as JSON")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that describe a backtest (shared with ``forexbot optimize``)."""
    parser.add_argument("--strategy", required=True, help="strategy name, e.g. ma_rsi")
    parser.add_argument("--symbol", required=True, help="symbol, e.g. EURUSD")
    parser.add_argument("--timeframe", required=True, help="M1, M5, M15, M30, H1, H4 or D1")
    parser.add_argument("--from", dest="start", required=True, help="start (UTC date/time)")
    parser.add_argument("--to", dest="end", required=True, help="end, exclusive (UTC)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="strategy parameter"
    )
    parser.add_argument("--data", default="sim", help="sim (default), db, or CSV file(s)")
    parser.add_argument("--spread", type=int, help="fixed spread in points (default: data's)")
    parser.add_argument("--slippage", type=int, default=0, help="points lost on market fills")
    parser.add_argument("--commission", type=float, default=0.0, help="per lot and deal")
    parser.add_argument("--balance", type=float, help="initial balance (terminal.sim_balance)")
    parser.add_argument("--leverage", type=int, help="account leverage (terminal.sim_leverage)")
    parser.add_argument(
        "--fill", choices=("bars", "ticks"), default="bars", help="stops on M1 bars or ticks"
    )
    parser.add_argument("--swap-free", action="store_true", help="charge no swaps")
    parser.add_argument("--volume", type=float, help="fixed lots per trade (default: risk)")
    parser.add_argument("--netting", action="store_true", help="a netting account")
    parser.add_argument("--seed", type=int, help="simulator seed for --data sim")


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
        seed=args.seed if args.seed is not None else (terminal.sim_seed or 20240101),
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
    from forexbot.strategies import create  # noqa: PLC0415

    warmup = create(spec.strategy, **dict(spec.params)).window_bars
    replay = _replay(args.data, spec, warmup, data_dir)
    if replay is None:
        return spec
    return _with_replay(spec, replay)


def _with_replay(spec: BacktestSpec, replay: Mapping[str, ReplaySource]) -> BacktestSpec:
    import dataclasses  # noqa: PLC0415

    return dataclasses.replace(spec, replay=dict(replay))


def _replay(
    data: str, spec: BacktestSpec, warmup: int, data_dir: Path
) -> Mapping[str, ReplaySource] | None:
    if data == "sim":
        return None
    if data == "db":
        from forexbot.cli import _run  # noqa: PLC0415

        return {spec.symbol: _run(_stored_bars(spec, warmup, data_dir))}
    paths = [Path(p.strip()) for p in data.split(",") if p.strip()]
    missing = [str(p) for p in paths if not p.is_file()]
    if not paths or missing:
        raise ConfigError(f"--data: no such file: {', '.join(missing) or data!r}")
    return {spec.symbol: paths}


async def _stored_bars(spec: BacktestSpec, warmup: int, data_dir: Path) -> ReplayBars:
    """The stored bars of the test (and its warm-up), M1 when stored, as server-time bars."""
    from forexbot.connectors.mt5sim.structures import RATES_DTYPE  # noqa: PLC0415

    async with market_data(data_dir) as repository:
        stored = await repository.timeframes(spec.symbol)
        timeframe = Timeframe.M1 if "M1" in stored else spec.timeframe
        if timeframe.name not in stored:
            have = ", ".join(stored) or "none"
            raise ConfigError(
                f"no {spec.symbol} bars in market_data for M1 or {spec.timeframe.name} "
                f"(stored timeframes: {have}); load some with `forexbot data import`"
            )
        lead = max(warmup * spec.timeframe.seconds * 3, 7 * 86_400)
        bars = await repository.get_bars(
            spec.symbol, timeframe, int(spec.start - lead), int(spec.end)
        )
    if not bars:
        raise ConfigError(f"no stored {spec.symbol} {timeframe.name} bars in the period")
    out = np.zeros(len(bars), dtype=RATES_DTYPE)
    for i, b in enumerate(bars):
        out[i] = (b.time, b.open, b.high, b.low, b.close, b.tick_volume, b.spread, b.real_volume)
    out["time"] = to_server(out["time"].astype(np.int64), None)
    return ReplayBars(out, timeframe.seconds)


def run_backtest_command(args: argparse.Namespace, settings: Settings, data_dir: Path) -> int:
    from rich.console import Console  # noqa: PLC0415

    spec = build_spec(args, settings, data_dir)
    err = Console(stderr=True)
    quiet = args.quiet or args.json
    result = run_backtest(spec) if quiet else _with_progress(spec, err)
    if args.report is not None:
        from forexbot.backtest.report import write_report  # noqa: PLC0415

        write_report(result, args.report)
        err.print(f"report written to {args.report}")
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.write("\n")
    else:
        Console().print(summary_table(result))
    return 0


def _with_progress(spec: BacktestSpec, console: Any) -> BacktestResult:
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{spec.strategy} {spec.symbol} {spec.timeframe.name}")

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_backtest(spec, advance)


def summary_table(result: BacktestResult) -> Any:
    """The statistics as a two-column rich table."""
    from rich.table import Table  # noqa: PLC0415

    from forexbot.backtest.report import statistic_rows  # noqa: PLC0415

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
