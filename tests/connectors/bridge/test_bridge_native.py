"""The native backend: the MetaTrader5 module, or a start-up error that points to the bridge."""

from __future__ import annotations

import importlib.util
import sys

import pytest

import forexbot.connectors.mt5sim as mt5
from forexbot.connectors.native import NativeTerminalUnavailable, load_native_terminal
from forexbot.errors import TerminalError


@pytest.mark.skipif(
    sys.platform == "win32" or importlib.util.find_spec("MetaTrader5") is not None,
    reason="MetaTrader5 is importable here",
)
def test_without_metatrader5_the_error_points_to_the_bridge() -> None:
    with pytest.raises(NativeTerminalUnavailable) as raised:
        load_native_terminal()
    assert isinstance(raised.value, TerminalError)
    message = str(raised.value)
    assert "MetaTrader5" in message
    assert "Windows only" in message
    assert "forexbot bridge-server" in message
    assert "Wine" in message
    assert "terminal.backend: bridge" in message
    assert isinstance(raised.value.__cause__, ImportError)


def test_an_importable_module_is_the_terminal() -> None:
    assert load_native_terminal("forexbot.connectors.mt5sim") is mt5
