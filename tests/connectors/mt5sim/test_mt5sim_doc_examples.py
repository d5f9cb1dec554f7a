"""MetaQuotes' documentation examples run against the simulator, unchanged but for the import.

Every script in ``doc_examples/`` is an example of MetaQuotes' MetaTrader5 package
documentation as published (see each file's header), with only ``import MetaTrader5 as mt5``
replaced. Each runs in its own subprocess, as a user would run it, with:

* ``FOREXBOT_SIM_SEED`` fixed, a temporary HOME, and ``FOREXBOT_SIM_STATE`` pointing at a
  copy of a prepared demo account (three USD positions, two GBPUSD pending orders, a closed
  GBPUSD trade), because several examples only print something when the account has
  positions or orders (``orders_get``'s example even indexes ``orders[0]``);
* ``FOREXBOT_SIM_START`` on a Thursday in London hours, so trading examples never meet a
  closed weekend market; the simulator's clock and ``time.sleep`` both run ``SPEED`` times
  faster (the runner patches ``time.sleep``; the scripts are untouched), so the market-book
  example's ten 5-second pauses still let 50 simulated seconds pass but take two real ones;
* ``pytz`` from a stand-in (``doc_examples/_shims``) when it is not installed.

All scripts start together and the tests check what each printed.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import NamedTuple

import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

EXAMPLES = pathlib.Path(__file__).parent / "doc_examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py"))
SPEED = 25.0
TIMEOUT = 120.0
# pandas looks for pytz once, when imported: it is imported before the stand-in is reachable,
# so pandas never mistakes the stand-in for the real package.
RUNNER = """
import runpy, sys, time
import pandas
script, speed, shims = sys.argv[1], float(sys.argv[2]), sys.argv[3]
sys.path.append(shims)
real_sleep = time.sleep
time.sleep = lambda seconds: real_sleep(seconds / speed)
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _prepare_account(path: pathlib.Path) -> None:
    """A demo account as the examples expect to find one."""
    clock = ManualClock(THURSDAY - 3600)
    term = SimulatedTerminal(seed=SEED, clock=clock, state_path=path)
    assert term.initialize()
    for symbol, side, volume in (
        ("USDCHF", mt5.ORDER_TYPE_BUY, 0.1),
        ("USDJPY", mt5.ORDER_TYPE_SELL, 0.2),
        ("EURUSD", mt5.ORDER_TYPE_BUY, 0.1),
    ):
        assert term.order_send(market_request(symbol, side, volume)).retcode == 10009
    opened = term.order_send(market_request("GBPUSD", mt5.ORDER_TYPE_BUY, 0.1))
    clock.advance(600)
    closing = market_request("GBPUSD", mt5.ORDER_TYPE_SELL, 0.1, position=opened.order)
    assert term.order_send(closing).retcode == 10009
    tick = term.symbol_info_tick("GBPUSD")
    assert tick is not None
    for order_type, price in (
        (mt5.ORDER_TYPE_BUY_LIMIT, round(tick.ask - 0.0050, 5)),
        (mt5.ORDER_TYPE_SELL_STOP, round(tick.bid - 0.0050, 5)),
    ):
        request = market_request("GBPUSD", order_type, 0.1, price=price)
        request["action"] = mt5.TRADE_ACTION_PENDING
        assert term.order_send(request).retcode == 10008
    clock.advance(60)
    term.shutdown()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("doc_examples")
    account = root / "prepared.json"
    _prepare_account(account)
    processes: dict[str, subprocess.Popen[str]] = {}
    for name in SCRIPTS:
        home = root / name
        home.mkdir()
        shutil.copy(account, home / "account.json")
        env = {
            **os.environ,
            "HOME": str(home),
            "FOREXBOT_SIM_SEED": str(SEED),
            "FOREXBOT_SIM_STATE": str(home / "account.json"),
            "FOREXBOT_SIM_START": str(THURSDAY),
            "FOREXBOT_SIM_SPEED": str(SPEED),
            "PYTHONIOENCODING": "utf-8",
        }
        command = [
            sys.executable, "-c", RUNNER, str(EXAMPLES / f"{name}.py"), str(SPEED),
            str(EXAMPLES / "_shims"),
        ]  # fmt: skip
        processes[name] = subprocess.Popen(
            command, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    results: dict[str, Run] = {}
    try:
        for name, process in processes.items():
            out, err = process.communicate(timeout=TIMEOUT)
            results[name] = Run(process.returncode, out, err)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    return results


def _has(*patterns: str) -> Callable[[str], list[str]]:
    """A check listing the regular expressions the output does not match."""

    def check(out: str) -> list[str]:
        return [p for p in patterns if not re.search(p, out, re.MULTILINE)]

    return check


RATES_COLUMNS = r"time\s+open\s+high\s+low\s+close\s+tick_volume\s+spread\s+real_volume"
TICKS_COLUMNS = r"time\s+bid\s+ask\s+last\s+volume\s+time_msc\s+flags\s+volume_real"
TICK_ROW = r"^\(\d{10}, \d\.\d+, \d\.\d+, 0\.0, 0, \d{13}, \d+, 0\.0\)$"

EXPECTED: dict[str, Callable[[str], list[str]]] = {
    "initialize": _has(r"TerminalInfo\(.*connected=True", r"^\(500, \d+, '\d\d \w{3} \d{4}'\)$"),
    "login": _has(
        r"^connected to account #17221085$",
        r"^AccountInfo\(login=25115284, ",
        r"^  balance=\d+\.\d+$",
    ),
    "shutdown": _has(r"^\(500, \d+, '\d\d \w{3} \d{4}'\)$"),
    "version": _has(r"^\(500, \d+, ", r"terminal_info\(\) as dataframe:", r"\d+\s+build\s+\d+"),
    "last_error": _has(r"^MetaTrader5 package version:  5\.0\.\d+$"),
    "account_info": _has(
        r"^AccountInfo\(login=\d+, ",
        r"account_info\(\) as dataframe:",
        r"\d+\s+currency\s+USD$",
        r"\d+\s+margin_so_so\s+50\.0$",
    ),
    "terminal_info": _has(r"^  connected=True$", r"\d+\s+maxbars\s+100000$"),
    "symbols_total": _has(r"^Total symbols = 39$"),
    "symbols_get": _has(r"^Symbols:  39$", r"^1\. EURUSD$", r"^len\(\*,!\*USD\*.*\): \d+$"),
    "symbol_info": _has(
        r"^SymbolInfo\(custom=False", r"^EURJPY: spread = \d+   digits = 3$", r"^  name=EURJPY$"
    ),
    "symbol_info_tick": _has(r"^Tick\(time=\d+, bid=1\.\d+, ask=1\.\d+", r"^  time_msc=\d{13}$"),
    "symbol_select": _has(
        r"^EURCAD: currency_base = EUR   currency_profit = CAD   currency_margin = EUR$",
        r"symbol_info_dict\(\) as dataframe:",
    ),
    "market_book_get": _has(r"^\(BookInfo\(type=1, price=1\.\d+, volume=\d+, volume_dbl="),
    "copy_rates_from": _has(RATES_COLUMNS, r"^0 2020-01-\d\d \d\d:\d\d:00\s+1\.\d+"),
    "copy_rates_from_pos": _has(RATES_COLUMNS),
    "copy_rates_range": _has(RATES_COLUMNS, r"^0 2020-01-10 00:00:00\s+1\d\d\.\d+"),  # USDJPY
    "copy_ticks_from": _has(r"^Ticks received: 100000$", TICKS_COLUMNS, TICK_ROW),
    "copy_ticks_range": _has(r"^Ticks received: \d{3,}$", TICKS_COLUMNS, TICK_ROW),
    "orders_total": _has(r"^Total orders= 2$"),
    "orders_get": _has(r"^Total orders on GBPUSD: 2$", r"^orders_get\(group=\"\*GBP\*\"\)=2$"),
    "order_calc_margin": _has(r"^   EURUSD buy 0\.1 lot margin: 1\d\d\.\d+ USD$"),
    "order_calc_profit": _has(r"^   buy EURUSD 1\.0 lot: profit on 300 points => 300\.0 USD$"),
    "order_check": _has(r"^   retcode=0$", r"^   comment=Done$", r"^   margin=\d+\.\d+$"),
    "order_send": _has(
        r"^2\. order_send done,  OrderSendResult\(retcode=10009,",
        r"^4\. position #\d+ closed, OrderSendResult\(retcode=10009,",
        r"^   comment=Request executed$",
    ),
    "positions_total": _has(r"^Total positions= 3$"),
    "positions_get": _has(
        r"^Total positions on USDCHF = 1$", r'^positions_get\(group="\*USD\*"\)=3$'
    ),
    "history_orders_total": _has(r"^Total history orders= 5$"),  # 3 open, GBPUSD in and out
    "history_orders_get": _has(r'group="\*GBP\*"\)=2$'),
    "history_deals_total": _has(r"^Total deals= 6$"),  # and the initial deposit
    "history_deals_get": _has(r'group="\*GBP\*"\)=2$', r'"\*,!\*EUR\*,!\*GBP\*"\) = 3$'),
}


def test_every_published_example_is_here() -> None:
    assert set(SCRIPTS) == set(EXPECTED)


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_unchanged_but_the_import(name: str) -> None:
    text = (EXAMPLES / f"{name}.py").read_text()
    assert not re.search(r"^\s*(import|from) MetaTrader5", text, re.MULTILINE)
    imports = re.findall(r"^import forexbot\.connectors\.mt5sim as mt5$", text, re.MULTILINE)
    assert len(imports) == 1
    assert "# Source: MetaQuotes' documentation" in text


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_exits_cleanly_with_sensible_output(name: str, runs: dict[str, Run]) -> None:
    run = runs[name]
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.returncode == 0, run.stderr
    assert "failed" not in run.stdout, run.stdout
    assert EXPECTED[name](run.stdout) == [], run.stdout
