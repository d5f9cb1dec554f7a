"""The terminal protocol: the part of the ``MetaTrader5`` module's surface the connector uses.

Three things satisfy it: the real ``MetaTrader5`` module, the Linux bridge's proxy, and the
:class:`~forexbot.connectors.mt5sim.terminal.SimulatedTerminal` (whose methods carry the
module's function names). Results are MetaTrader's named tuples and numpy arrays, typed ``Any``
here because each backend has its own classes with the same fields; the connector turns them
into domain values at once.
"""

from __future__ import annotations

from typing import Any, Protocol


class TerminalApi(Protocol):
    """Functions of the MetaTrader5 module the connector calls."""

    def initialize(self, *args: Any, **kwargs: Any) -> bool: ...

    def shutdown(self) -> Any: ...

    def last_error(self) -> tuple[int, str]: ...

    def account_info(self) -> Any: ...

    def terminal_info(self) -> Any: ...

    def symbol_info(self, symbol: str) -> Any: ...

    def symbol_select(self, symbol: str, enable: bool = True) -> bool: ...

    def symbol_info_tick(self, symbol: str) -> Any: ...

    def copy_rates_from_pos(
        self, symbol: str, timeframe: int, start_pos: int, count: int
    ) -> Any: ...

    def copy_ticks_from(self, symbol: str, date_from: Any, count: int, flags: int) -> Any: ...

    def order_send(self, request: dict[str, Any]) -> Any: ...

    def order_calc_margin(
        self, action: int, symbol: str, volume: float, price: float
    ) -> float | None: ...

    def positions_get(self, *args: Any, **kwargs: Any) -> Any: ...

    def history_deals_get(self, *args: Any, **kwargs: Any) -> Any: ...

    def history_orders_get(self, *args: Any, **kwargs: Any) -> Any: ...
