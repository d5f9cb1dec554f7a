"""``run_backtest`` runs the kernel when it supports the spec, with the event path's result.

For parity cases of :mod:`test_kernel_parity`, the result of ``run_backtest`` (``auto``: the
kernel) and of the forced event path are equal in everything a user reads: ``summary()`` and
``to_dict()`` (timings, run time and the engine's name aside), the records' fields the kernel
knows, the HTML report. The engine can be forced either way, a refusal part-way falls back to
the event path, and ``forexbot backtest --json`` goes through the kernel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import forexbot.backtest.kernel as kernel_module
from forexbot.backtest.jobs import run_job
from forexbot.backtest.kernel import KernelUnsupported
from forexbot.backtest.report import render
from forexbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from forexbot.cli.main import main
from forexbot.config.models import RiskSettings
from forexbot.errors import InvalidInputError

from .test_kernel_parity import CASES, event_run

NAMES = [
    "weekend-signal-refused",
    "both-levels-in-one-bar",
    "usdjpy-profit-and-swaps-converted",
    "session-and-volatility-filters",
]
#: What differs between two runs of the same backtest, or names the engine that ran.
RUN_ONLY = ("timings", "elapsed_seconds", "engine")
RECORD_FIELDS = (
    "id", "strategy", "symbol", "timeframe", "side", "status", "volume", "closed_volume",
    "entry_price", "exit_price", "profit", "swap", "commission", "signal_time", "open_time",
    "close_time", "close_reason",
)  # fmt: skip

Runs = dict[str, tuple[BacktestResult, BacktestResult]]


@pytest.fixture(scope="module")
def runs() -> Runs:
    """Each case by ``run_backtest`` (auto) and with the event path forced (the event run
    :mod:`test_kernel_parity` made of the case, if it ran)."""
    return {name: (run_backtest(CASES[name].spec), event_run(name)) for name in NAMES}


def _without_run_only(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in RUN_ONLY}


@pytest.mark.parametrize("name", NAMES)
def test_auto_runs_the_kernel_and_forced_event_the_event_path(runs: Runs, name: str) -> None:
    auto, event = runs[name]
    assert (auto.engine, event.engine) == ("kernel", "event")
    assert auto.summary()["engine"] == "kernel"


@pytest.mark.parametrize("name", NAMES)
def test_the_kernel_result_has_the_event_paths_summary(runs: Runs, name: str) -> None:
    auto, event = runs[name]
    assert _without_run_only(auto.summary()) == _without_run_only(event.summary())


@pytest.mark.parametrize("name", NAMES)
def test_the_kernel_result_has_the_event_paths_full_json(runs: Runs, name: str) -> None:
    auto, event = runs[name]
    assert _without_run_only(auto.to_dict()) == _without_run_only(event.to_dict())


@pytest.mark.parametrize("name", NAMES)
def test_the_kernel_records_carry_the_event_records_trade_fields(runs: Runs, name: str) -> None:
    auto, event = runs[name]
    closed = [r for r in event.records if r.status.value == "closed"]
    assert len(auto.records) == len(closed)
    for mine, theirs in zip(auto.records, closed, strict=True):
        assert {f: getattr(mine, f) for f in RECORD_FIELDS} == {
            f: getattr(theirs, f) for f in RECORD_FIELDS
        }


def test_the_cases_cover_journal_events_of_both_kinds(runs: Runs) -> None:
    events = {k for auto, _ in runs.values() for k in auto.events}
    assert events == {"signal_rejected", "reconciliation_correction"}


def test_the_report_renders_from_the_kernel_result(runs: Runs) -> None:
    auto, _ = runs["usdjpy-profit-and-swaps-converted"]
    page = render(auto)
    assert page.startswith("<!doctype html>")
    assert f"{auto.statistics.trades}" in page


def test_progress_is_called_at_the_start_and_at_the_end() -> None:
    calls: list[tuple[int, int]] = []
    result = run_backtest(CASES["weekend-signal-refused"].spec, lambda d, t: calls.append((d, t)))
    assert result.engine == "kernel"
    assert calls == [(0, 0), (result.bars, result.bars)]


def _unsupported() -> BacktestSpec:
    spec = CASES["weekend-signal-refused"].spec
    return BacktestSpec(**{**{f: getattr(spec, f) for f in spec.__slots__}, "risk": RiskSettings()})


def test_a_spec_the_kernel_does_not_support_runs_the_event_path() -> None:
    assert run_backtest(_unsupported()).engine == "event"


def test_forcing_the_kernel_on_an_unsupported_spec_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="no losing-streak cooldown"):
        run_backtest(_unsupported(), engine="kernel")


def test_an_unknown_engine_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="engine must be one of"):
        run_backtest(CASES["weekend-signal-refused"].spec, engine="fast")  # type: ignore[arg-type]


def _refusing(spec: BacktestSpec, **_: Any) -> Any:
    raise KernelUnsupported("the margin level could reach the stop-out")


def test_a_run_the_kernel_refuses_part_way_falls_back_to_the_event_path(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kernel_module, "run_kernel", _refusing)
    result = run_backtest(CASES["weekend-signal-refused"].spec)
    assert result.engine == "event"
    assert result.trades == runs["weekend-signal-refused"][1].trades


def test_a_forced_kernel_run_the_kernel_refuses_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel_module, "run_kernel", _refusing)
    with pytest.raises(InvalidInputError, match="stop-out"):
        run_backtest(CASES["weekend-signal-refused"].spec, engine="kernel")


def test_a_backtest_job_runs_the_kernel(runs: Runs) -> None:
    sent: list[Any] = []

    class Pipe:
        def send(self, message: Any) -> None:
            sent.append(message)

        def close(self) -> None:
            pass

    run_job(CASES["weekend-signal-refused"].spec, "job-1", Pipe())  # type: ignore[arg-type]
    state, payload = sent[-1]
    assert state == "done"
    assert payload["engine"] == "kernel"
    event = runs["weekend-signal-refused"][1]
    assert payload["statistics"] == event.statistics.to_dict()
    assert sent[0] == ("progress", 0, 0)


# -- the command line ------------------------------------------------------------------------

CLI = [
    "backtest", "--strategy", "sma_cross", "--symbol", "EURUSD", "--timeframe", "H1",
    "--from", "2024-03-04", "--to", "2024-03-18", "--volume", "0.1", "--json",
]  # fmt: skip
#: Risk limits the kernel reproduces (the daemon's defaults have a cooldown and loss limits).
INERT_RISK = {
    "FOREXBOT_RISK__COOLDOWN_MINUTES": "0",
    "FOREXBOT_RISK__MAX_DAILY_LOSS_PERCENT": "100",
    "FOREXBOT_RISK__MAX_DRAWDOWN_PERCENT": "100",
}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name == "DATABASE_URL" or (
            name.startswith("FOREXBOT_") and not name.startswith("FOREXBOT_TEST_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config/forexbot.yaml here: defaults only
    monkeypatch.setenv("FOREXBOT_DATA_DIR", str(tmp_path / "data"))


def _cli_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main([*CLI, *extra]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_the_cli_runs_the_kernel_with_the_event_paths_result(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in INERT_RISK.items():
        monkeypatch.setenv(name, value)
    auto = _cli_json(capsys)
    event = _cli_json(capsys, "--backtest-engine", "event")
    assert (auto["engine"], event["engine"]) == ("kernel", "event")
    assert auto["statistics"]["trades"] > 0
    assert _without_run_only(auto) == _without_run_only(event)


def test_the_cli_runs_the_event_path_under_the_daemons_default_limits(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli_json(capsys)["engine"] == "event"


def test_the_cli_refuses_to_force_the_kernel_where_it_does_not_apply(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*CLI, "--backtest-engine", "kernel"]) == 2
    assert "kernel does not run this backtest" in capsys.readouterr().err


def test_the_cli_help_documents_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    assert "--backtest-engine {auto,event,kernel}" in capsys.readouterr().out
