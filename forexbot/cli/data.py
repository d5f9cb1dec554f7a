"""``forexbot data import`` and ``forexbot data export``: MT5 CSV exports ↔ ``market_data``.

* **import** reads MetaTrader 5 bar exports (the Symbols window's "Export Bars"; every layout
  :mod:`~forexbot.connectors.mt5sim.mt5csv` accepts), converts their broker server time to UTC
  and loads them with ``COPY`` (idempotent: a re-import changes nothing). The symbol and
  timeframe come from the MT5 file name (``EURUSD_M1_202401020000_202401312359.csv``) unless
  given.
* **export** writes stored bars back in MetaTrader's own format, in server time, so the file
  can be re-imported, replayed (``forexbot backtest --data FILE``) or opened in MT5.

Server time: by default the simulator's broker clock (New York + 7 h: UTC+2 in winter, UTC+3
in the US summer, what most MT5 brokers use); ``--utc-offset H`` sets a fixed offset instead.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from forexbot.cli.runner import database_engine, run_coroutine
from forexbot.connectors.mt5sim.mt5csv import format_bars, read_export
from forexbot.connectors.mt5sim.replay import bars_period
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.timeutil import from_server_array, to_server_array
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Timeframe
from forexbot.errors import ConfigError, InvalidInputError, NotFoundError

_PERIOD_NAMES = {tf.seconds: tf for tf in Timeframe}


def add_data_commands(sub: Any, add_common: Any) -> None:
    data = sub.add_parser("data", help="import and export market data (MT5 CSV)")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    imp = data_sub.add_parser("import", help="load MT5 bar exports into market_data")
    add_common(imp)
    imp.add_argument("files", nargs="+", type=Path, help="MT5 CSV export(s) of bars")
    imp.add_argument("--symbol", help="symbol (default: from the MT5 file name)")
    imp.add_argument("--timeframe", help="M1, M5, M15, M30, H1, H4 or D1 (default: detected)")
    imp.add_argument("--utc-offset", type=float, help="fixed server UTC offset in hours")
    exp = data_sub.add_parser("export", help="write stored bars as an MT5 CSV export")
    add_common(exp)
    exp.add_argument("--symbol", required=True)
    exp.add_argument("--timeframe", required=True)
    exp.add_argument("--from", dest="start", required=True, help="first bar (UTC date/time)")
    exp.add_argument("--to", dest="end", required=True, help="end, exclusive (UTC date/time)")
    exp.add_argument("--out", type=Path, help="output file (default: standard output)")
    exp.add_argument("--utc-offset", type=float, help="fixed server UTC offset in hours")


def parse_when(text: str, name: str) -> float:
    """``2024-01-31`` or an ISO 8601 date-time (UTC unless it says otherwise) as an epoch."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a date (YYYY-MM-DD[THH:MM])") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def parse_timeframe(text: str) -> Timeframe:
    try:
        return Timeframe.parse(text)
    except (KeyError, ValueError):
        known = ", ".join(tf.name for tf in Timeframe)
        raise ConfigError(f"unknown timeframe {text!r}; known: {known}") from None


def _offset_seconds(hours: float | None) -> int | None:
    if hours is None:
        return None
    if not -14 <= hours <= 14 or (hours * 4) != int(hours * 4):
        raise ConfigError(f"--utc-offset must be whole quarter hours within ±14, got {hours}")
    return int(hours * 3600)


def to_utc(server: NDArray[np.int64], offset: int | None) -> NDArray[np.int64]:
    return from_server_array(server) if offset is None else server - offset


def to_server(utc: NDArray[np.int64], offset: int | None) -> NDArray[np.int64]:
    return to_server_array(utc) if offset is None else utc + offset


def _symbol_of(path: Path) -> str | None:
    match = re.match(r"^(.+?)_(M\d+|H\d+|D1|W1|MN1?)(_|$)", path.stem)
    return match.group(1) if match else None


def run_data_command(args: argparse.Namespace, data_dir: Path) -> int:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.data_command == "import":
        return run_coroutine(_store(_read_exports(args), data_dir))
    return run_coroutine(_export(args, data_dir))


Load = tuple[Path, str, Timeframe, NDArray[np.void]]


def _read_exports(args: argparse.Namespace) -> list[Load]:
    offset = _offset_seconds(args.utc_offset)
    loads: list[Load] = []
    for path in args.files:
        export = read_export(path, kind="bars")
        symbol = args.symbol or _symbol_of(path)
        if not symbol:
            raise ConfigError(f"{path}: cannot tell the symbol from the file name; use --symbol")
        if args.timeframe:
            timeframe = parse_timeframe(args.timeframe)
        else:
            period = bars_period(export)
            if period not in _PERIOD_NAMES:
                raise InvalidInputError(f"{path}: {period} s bars are not a stored timeframe")
            timeframe = _PERIOD_NAMES[period]
        bars = export.data.copy()
        bars["time"] = to_utc(bars["time"].astype(np.int64), offset)
        loads.append((path, symbol, timeframe, bars))
    return loads


async def _store(loads: list[Load], data_dir: Path) -> int:
    async with market_data(data_dir) as repository:
        for path, symbol, timeframe, bars in loads:
            changed = await repository.import_bars(symbol, timeframe, bars)
            print(
                f"{path.name}: {len(bars)} {symbol} {timeframe.name} bars, "
                f"{changed} inserted or changed"
            )
    return 0


async def _export(args: argparse.Namespace, data_dir: Path) -> int:
    offset = _offset_seconds(args.utc_offset)
    timeframe = parse_timeframe(args.timeframe)
    start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
    async with market_data(data_dir) as repository:
        bars = await repository.get_bars(args.symbol, timeframe, int(start), int(end))
    if not bars:
        raise NotFoundError(f"no {args.symbol} {timeframe.name} bars stored in that period")
    out = np.zeros(len(bars), dtype=RATES_DTYPE)
    for i, b in enumerate(bars):
        out[i] = (b.time, b.open, b.high, b.low, b.close, b.tick_volume, b.spread, b.real_volume)
    out["time"] = to_server(out["time"].astype(np.int64), offset)
    spec = Catalogue().get(args.symbol)
    digits = spec.digits if spec is not None else _digits_of(out)
    text = format_bars(out, digits, daily=timeframe is Timeframe.D1)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8", newline="")
        print(f"{len(bars)} bars written to {args.out}", file=sys.stderr)
    return 0


def _digits_of(bars: NDArray[np.void]) -> int:
    """The fewest decimals that write every price exactly (a symbol the simulator lacks)."""
    prices = np.concatenate([bars[k] for k in ("open", "high", "low", "close")])
    for digits in range(9):
        if np.all(np.round(prices, digits) == prices):
            return digits
    return 10


@contextlib.asynccontextmanager
async def market_data(data_dir: Path) -> AsyncIterator[MarketDataRepository]:
    """The market data repository on the configured database (the embedded one by default),
    started for one command and stopped after it."""
    async with database_engine(data_dir) as engine:
        yield MarketDataRepository(engine)
