"""The native backend: the ``MetaTrader5`` package itself.

It only exists for Windows (MetaQuotes publishes no Linux or macOS wheels), where it talks to a
running terminal over local IPC; Python under Wine counts as Windows. On Linux the daemon
reaches the terminal through the bridge instead (:mod:`forexbot.connectors.bridge`), and this
module's job is to say so clearly at start-up rather than fail with a bare ImportError.
"""

from __future__ import annotations

import importlib
import sys
from typing import cast

from forexbot.connectors.terminal_api import TerminalApi
from forexbot.errors import TerminalError

MODULE_NAME = "MetaTrader5"


class NativeTerminalUnavailable(TerminalError):
    """The ``MetaTrader5`` package cannot be imported on this machine."""


def load_native_terminal(module_name: str = MODULE_NAME) -> TerminalApi:
    """The ``MetaTrader5`` module as a :class:`TerminalApi` (the module *is* the API).

    Raises :class:`NativeTerminalUnavailable` with what to do instead when it is not
    importable. ``module_name`` exists for tests and drop-in replacements.
    """
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NativeTerminalUnavailable(_advice(module_name, exc)) from exc
    return cast(TerminalApi, module)


def _advice(module_name: str, exc: ImportError) -> str:
    if sys.platform == "win32":
        return (
            f"terminal.backend 'native' needs the {module_name} package, which cannot be "
            f"imported ({exc}). Install it with `pip install 'forexbot[mt5]'` (or "
            "`pip install MetaTrader5`) in this Python, or select `terminal.backend: simulator`."
        )
    return (
        f"terminal.backend 'native' needs the {module_name} package, which cannot be imported "
        f"here ({exc}): MetaQuotes publishes it for Windows only, there are no wheels for "
        f"{sys.platform}. On Linux, run `forexbot bridge-server` with Python under Wine in the "
        "Wine prefix where the MetaTrader 5 terminal runs (on the VPS or a Windows machine), "
        "then select `terminal.backend: bridge` with that server's host, port and "
        "FOREXBOT_BRIDGE_SECRET; or use `terminal.backend: simulator` for paper trading."
    )
