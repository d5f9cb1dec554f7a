"""ClassicBridgeTerminal against a real rpyc classic (mt5linux-style) server subprocess.

The classic server imports ``forexbot.connectors.mt5sim`` as its "MetaTrader5": results must
come back by value (named tuples, byte-identical arrays), requests must arrive as real dicts,
failures as None + last_error, and connecting must warn that the server is unauthenticated.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import structlog
from bridge_testkit import HOST, SEED, V75
from polling import eventually_sync

import forexbot.connectors.mt5sim as mt5
from forexbot.connectors.bridge.classic import ClassicBridgeTerminal
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

SCRIPT = Path(__file__).with_name("classic_server.py")


@pytest.fixture(scope="module")
def classic_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port_file = tmp_path_factory.mktemp("classic") / "port"
    env = dict(os.environ, FOREXBOT_SIM_SEED=str(SEED))
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def written_port() -> int:
        text = port_file.read_text().strip() if port_file.exists() else ""
        assert text or process.poll() is None, "classic server died"
        return int(text or 0)

    try:
        yield eventually_sync(
            written_port, timeout=20, what="the classic server to listen", interval=0.02
        )
    finally:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def classic(classic_port: int) -> Iterator[ClassicBridgeTerminal]:
    terminal = ClassicBridgeTerminal(HOST, classic_port, timeout=10.0, module=mt5.__name__)
    with structlog.testing.capture_logs() as logs:
        assert terminal.initialize(), terminal.last_error()
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert any("without authentication" in e["event"] for e in warnings)
    yield terminal
    terminal.shutdown()


def test_results_are_copied_by_value(classic: ClassicBridgeTerminal) -> None:
    local = SimulatedTerminal(seed=SEED)
    assert local.initialize()
    account = classic.account_info()
    assert type(account).__name__ == "AccountInfo"
    assert type(account).__module__ == "forexbot.connectors.bridge.wire"  # local, not a proxy
    assert account == local.account_info()
    assert classic.last_error() == (1, "Success")
    assert classic.version() == local.version()
    day = datetime(2020, 1, 10, tzinfo=UTC)
    rates = classic.copy_rates_range("EURUSD", mt5.TIMEFRAME_M15, day, day + timedelta(days=1))
    assert isinstance(rates, np.ndarray)
    assert rates.dtype == mt5.RATES_DTYPE
    expected = local.copy_rates_range("EURUSD", mt5.TIMEFRAME_M15, day, day + timedelta(days=1))
    assert rates.tobytes() == expected.tobytes()
    symbols = classic.symbols_get(group="*JPY*")
    assert [s.name for s in symbols] == [s.name for s in local.symbols_get(group="*JPY*")]
    local.shutdown()


def test_orders_and_failures(classic: ClassicBridgeTerminal) -> None:
    assert classic.symbol_select(V75, True) is True
    result = classic.order_send(
        {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": V75,
            "volume": np.float64(0.001),  # numpy-2 scalars are values, not repr() strings
            "type": mt5.ORDER_TYPE_BUY,
            "type_filling": mt5.ORDER_FILLING_FOK,
            "comment": "classic",
        }
    )
    assert result.retcode == 10009
    assert type(result.request).__name__ == "TradeRequest"
    assert result.request.comment == "classic"
    positions = classic.positions_get(symbol=V75)
    assert [p.ticket for p in positions] == [result.order]
    assert classic.symbol_info("NO SUCH SYMBOL") is None
    assert classic.last_error()[0] in (-1, -4)
    assert classic.order_send({"action": mt5.TRADE_ACTION_DEAL}) is None
    assert classic.last_error()[0] == -2
