"""The arguments of ``forexbot backtest`` and ``forexbot optimize``.

Apart from the commands themselves (:mod:`forexbot.cli.backtest`): the parser is built for
every ``forexbot`` command, and importing the backtest machinery would cost each of them
(``forexbot run``, ``forexbot user create``...) well over a second.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forexbot.backtest.choices import ENGINES, OBJECTIVES


def add_backtest_command(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    bt = sub.add_parser("backtest", help="backtest a strategy on history")
    add_common(bt)
    add_spec_arguments(bt)
    bt.add_argument("--report", type=Path, help="write a self-contained HTML report there")
    bt.add_argument("--json", action="store_true", help="print the full result as JSON")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.add_argument(
        "--backtest-engine",
        choices=ENGINES,
        default="auto",
        help=(
            "auto (default): the fast kernel when it reproduces the spec, else the "
            "event-driven engine; event or kernel to force one"
        ),
    )


def add_optimize_command(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    opt = sub.add_parser(
        "optimize",
        help="search strategy parameters (grid or random), optionally walk-forward",
        description=(
            "Backtest every candidate and rank them by an objective. --grid NAME=V1,V2 or "
            "NAME=LO:HI:STEP (repeat per parameter); with --random N, N draws of the same "
            "space (NAME=LO:HI draws uniformly). Trials run on a local process pool, or a "
            "Dask/Ray cluster with --engine (and --address)."
        ),
    )
    add_common(opt)
    add_spec_arguments(opt)
    opt.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES")
    opt.add_argument("--random", type=int, metavar="N", help="N random candidates")
    opt.add_argument("--random-seed", type=int, default=1)
    opt.add_argument("--objective", default="sharpe", help=f"one of {', '.join(OBJECTIVES)}")
    opt.add_argument("--min-trades", type=int, default=10, help="fewer trades rank last")
    opt.add_argument("--workers", type=int, help="processes (default: one per core)")
    opt.add_argument("--engine", default="local", choices=("local", "dask", "ray"))
    opt.add_argument("--address", help="scheduler address of an existing Dask/Ray cluster")
    opt.add_argument("--walk-forward", action="store_true", help="rolling in/out-of-sample")
    opt.add_argument("--train", default="180d", help="in-sample length (e.g. 180d, 12w)")
    opt.add_argument("--test", default="60d", help="out-of-sample length")
    opt.add_argument("--step", help="how far windows advance (default: --test)")
    opt.add_argument("--top", type=int, default=10, help="rows to show")
    opt.add_argument("--json", action="store_true", help="print everything as JSON")
    opt.add_argument("--quiet", action="store_true", help="no progress bar")


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
