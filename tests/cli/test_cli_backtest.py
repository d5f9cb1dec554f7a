"""``forexbot backtest``, ``forexbot optimize`` and ``forexbot data import/export``, run in
process through :func:`forexbot.cli.main` as a person runs them.

The MT5 CSV export replayed and imported here is a simulated terminal's EURUSD H1 bars of
2024-03-04..15 (server time) shifted up by 0.2, so its prices (about 1.33–1.36) cannot be
confused with the simulator's own EURUSD (about 1.08): a trade at those prices was made on the
file's bars. The ``data`` commands and ``--data db`` use a migrated PostgreSQL database
(``DATABASE_URL``), its ``market_data`` emptied before each test.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import forexbot.connectors.mt5sim as mt5
from forexbot.cli.main import main
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.mt5csv import format_bars, read_export
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

MONDAY = int(datetime(2024, 3, 4, tzinfo=UTC).timestamp())  # also 00:00 server time there
EXPORT_NAME = "EURUSD_H1_202403040000_202403152300.csv"
SHIFT = 0.2
POINT = 0.00001
SIM = ["--strategy", "sma_cross", "--symbol", "EURUSD", "--timeframe", "H1"]
TWO_WEEKS = ["--from", "2024-03-04", "--to", "2024-03-18"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name == "DATABASE_URL" or (
            name.startswith("FOREXBOT_") and not name.startswith("FOREXBOT_TEST_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config/forexbot.yaml here: defaults only
    monkeypatch.setenv("FOREXBOT_DATA_DIR", str(tmp_path / "data"))
    yield
    logging.disable(logging.NOTSET)  # in-process optimisation trials switch logging off


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MT5 export of EURUSD H1 bars, Monday 2024-03-04 to Friday 2024-03-15, server time."""
    term = SimulatedTerminal(seed=7, clock=ManualClock(MONDAY + 14 * 86_400))
    assert term.initialize()
    try:
        bars = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_H1, MONDAY, MONDAY + 12 * 86_400 - 1)
    finally:
        term.shutdown()
    assert bars is not None
    for key in ("open", "high", "low", "close"):
        bars[key] += SHIFT
    path = tmp_path_factory.mktemp("exports") / EXPORT_NAME
    path.write_text(format_bars(bars, 5), encoding="utf-8", newline="")
    return path


@pytest.fixture
def database(
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    autocommit: Callable[..., None],
) -> str:
    """``DATABASE_URL`` set to a migrated database with no market data."""
    autocommit(migrated_database_url, "TRUNCATE market_data")
    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    return migrated_database_url


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(list(args)) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def config_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one-line message of a command that must exit 2."""
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def entry_prices_within(result: dict[str, Any], bars: NDArray[np.void]) -> bool:
    """Every trade entered at a price of ``bars`` (a buy's ask up to the widest spread above)."""
    low = float(bars["low"].min())
    high = float(bars["high"].max()) + int(bars["spread"].max()) * POINT
    return all(low <= t["entry_price"] <= high for t in result["trades"])


# --- forexbot backtest ---------------------------------------------------------------------


def test_backtest_json_lists_as_many_trades_as_its_statistics_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_json(capsys, "backtest", *SIM, *TWO_WEEKS, "--json")
    assert result["statistics"]["trades"] == len(result["trades"])
    assert result["statistics"]["trades"] > 0


def test_backtest_json_describes_the_spec_it_ran(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys, "backtest", *SIM, *TWO_WEEKS, "--param", "fast_period=5", "--json")
    spec = result["spec"]
    assert (spec["strategy"], spec["symbol"], spec["timeframe"]) == ("sma_cross", "EURUSD", "H1")
    assert (spec["start"], spec["end"]) == (MONDAY, MONDAY + 14 * 86_400)
    assert (spec["params"], spec["data"], spec["balance"]) == ({"fast_period": 5}, "sim", 10_000.0)


def test_backtest_prints_a_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", *SIM, *TWO_WEEKS]) == 0
    out = capsys.readouterr().out
    assert "sma_cross on EURUSD H1" in out
    assert "Net profit" in out


def test_backtest_report_writes_an_html_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.html"
    assert main(["backtest", *SIM, *TWO_WEEKS, "--quiet", "--report", str(report)]) == 0
    assert report.read_text(encoding="utf-8").startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--strategy", "nope"], "forexbot: unknown strategy 'nope'; known strategies: "),
        (["--to", "2024-03-01"], "forexbot: --to must be after --from"),
        (
            ["--from", "2024-13-01"],
            "forexbot: --from: '2024-13-01' is not a date (YYYY-MM-DD[THH:MM])",
        ),
        (["--timeframe", "H2"], "forexbot: unknown timeframe 'H2'; known: M1, M5, M15, M30, H1,"),
        (["--param", "fast_period"], "forexbot: --param 'fast_period': expected NAME=VALUE"),
        (["--data", "missing.csv"], "forexbot: --data: no such file: 'missing.csv'"),
        (
            ["--param", "fast_period=30"],
            "forexbot: invalid parameters for strategy 'sma_cross': params: fast_period (30) "
            "must be below slow_period (20)",
        ),
    ],
)
def test_bad_backtest_input_exits_2_with_one_line_naming_the_problem(
    change: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", *SIM, *TWO_WEEKS, "--json"]
    for i in range(0, len(change), 2):
        if change[i] in args:
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i : i + 2]
    assert config_error(capsys, *args).startswith(message)


def test_backtest_data_file_replays_that_mt5_export(
    export_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    period = ["--from", "2024-03-04", "--to", "2024-03-16"]
    result = run_json(capsys, "backtest", *SIM, *period, "--json", "--data", str(export_file))
    assert result["spec"]["data"] == "replay"
    assert result["statistics"]["trades"] > 0
    assert entry_prices_within(result, read_export(export_file).data)


# --- forexbot data import / export ---------------------------------------------------------


def import_file(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["data", "import", str(path), *extra]) == 0
    return capsys.readouterr().out.strip()


@pytest.mark.db
def test_data_import_then_export_round_trips_the_bars(
    database: str, export_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_file(export_file, capsys)
    out = tmp_path / "X.csv"
    args = ["--symbol", "EURUSD", "--timeframe", "H1", "--from", "2024-03-03", "--to", "2024-03-16"]
    assert main(["data", "export", *args, "--out", str(out)]) == 0
    assert capsys.readouterr().err.strip() == f"240 bars written to {out}"
    expected = read_export(export_file).data
    assert len(expected) == 240
    assert np.array_equal(read_export(out).data, expected)


@pytest.mark.db
def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    database: str, export_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = import_file(export_file, capsys)
    second = import_file(export_file, capsys)
    assert first == f"{EXPORT_NAME}: 240 EURUSD H1 bars, 240 inserted or changed"
    assert second == f"{EXPORT_NAME}: 240 EURUSD H1 bars, 0 inserted or changed"


@pytest.mark.db
def test_the_symbol_comes_from_an_mt5_file_name(
    database: str, export_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = tmp_path / "GBPUSD_H1_202403040000_202403152300.csv"
    shutil.copy(export_file, renamed)
    line = import_file(renamed, capsys)
    assert line == f"{renamed.name}: 240 GBPUSD H1 bars, 240 inserted or changed"


@pytest.mark.db
def test_symbol_overrides_the_file_name(
    database: str, export_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = import_file(export_file, capsys, "--symbol", "AUDUSD")
    assert line == f"{EXPORT_NAME}: 240 AUDUSD H1 bars, 240 inserted or changed"


def test_a_file_name_without_a_symbol_exits_2_asking_for_symbol(
    export_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = tmp_path / "bars.csv"
    shutil.copy(export_file, renamed)
    assert config_error(capsys, "data", "import", str(renamed)) == (
        f"forexbot: {renamed}: cannot tell the symbol from the file name; use --symbol"
    )


@pytest.mark.db
def test_backtest_data_db_replays_the_imported_bars(
    database: str, export_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_file(export_file, capsys)
    period = ["--from", "2024-03-04", "--to", "2024-03-16"]
    result = run_json(capsys, "backtest", *SIM, *period, "--json", "--data", "db")
    assert result["spec"]["data"] == "replay"
    assert result["statistics"]["trades"] > 0
    assert entry_prices_within(result, read_export(export_file).data)


@pytest.mark.db
def test_backtest_data_db_with_nothing_imported_exits_2_naming_data_import(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    message = config_error(capsys, "backtest", *SIM, *TWO_WEEKS, "--data", "db")
    assert message == (
        "forexbot: no EURUSD bars in market_data for M1 or H1 (stored timeframes: none); "
        "load some with `forexbot data import`"
    )


# --- forexbot optimize ---------------------------------------------------------------------

GRID = ["--grid", "fast_period=5,10", "--grid", "slow_period=20,30", "--workers", "1"]
RANKING = ["--objective", "net_profit", "--min-trades", "1"]


def test_optimize_lists_every_grid_trial_best_first(capsys: pytest.CaptureFixture[str]) -> None:
    payload = run_json(capsys, "optimize", *SIM, *TWO_WEEKS, *GRID, *RANKING, "--json")
    assert payload["objective"] == "net_profit"
    trials = payload["trials"]
    assert sorted((t["params"]["fast_period"], t["params"]["slow_period"]) for t in trials) == [
        (5, 20),
        (5, 30),
        (10, 20),
        (10, 30),
    ]
    scores = [t["score"] for t in trials]
    assert scores == [t["statistics"]["net_profit"] for t in trials]
    assert scores == sorted(scores, reverse=True)
    assert all(t["error"] is None and t["trades"] == t["statistics"]["trades"] for t in trials)


def test_optimize_walk_forward_prints_its_windows_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    period = ["--from", "2024-03-04", "--to", "2024-03-25"]
    walk = ["--walk-forward", "--train", "7d", "--test", "7d", "--json"]
    payload = run_json(capsys, "optimize", *SIM, *period, *GRID, *RANKING, *walk)
    week = 7 * 86_400
    assert [(w["train_start"], w["test_start"], w["test_end"]) for w in payload["windows"]] == [
        (MONDAY, MONDAY + week, MONDAY + 2 * week),
        (MONDAY + week, MONDAY + 2 * week, MONDAY + 3 * week),
    ]
    assert all(w["best"] is not None and w["test"] is not None for w in payload["windows"])
    summary = payload["summary"]
    assert (summary["windows"], summary["tested"]) == (2, 2)
    assert summary["out_of_sample_trades"] == sum(w["test_trades"] for w in payload["windows"])
