"""What the risk manager needs from the rest of the daemon, as Protocols.

The connector is the market, the position manager the positions and their closing, the
``system_config`` repository the store; tests and the backtest pass small stand-ins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trading import AccountState, Side, Signal
from forexbot.engine.exposure import Holding


class MarketAccess(Protocol):
    """What the risk manager reads from the terminal (the connector provides it).

    ``polled_account`` and ``polled_margin`` are what the poll that closed the signal's bar
    read beside its ticks (the account in the same terminal job, the margins in the next),
    while it still holds (the connector's :mod:`~forexbot.connectors.poll_snapshot` says
    when); None sends the risk manager to ``account`` and ``order_calc_margin``, a round
    trip to the terminal each."""

    def spec(self, symbol: str) -> SymbolSpec: ...

    def last_tick(self, symbol: str) -> Tick | None: ...

    def polled_account(self) -> AccountState | None: ...

    async def polled_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float | None: ...

    async def account(self) -> AccountState: ...

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float: ...


class OpenPositions(Protocol):
    """The bot's open positions (the position manager provides it)."""

    def open_count(self, symbol: str | None = None) -> int: ...

    def holdings(self) -> list[Holding]: ...


class PositionCloser(Protocol):
    """Closes every position of the bot (the kill switch's hand), or a stop-and-reverse
    signal's trades on the other side; and counts that signal's trades on its own side."""

    async def close_all(self, reason: str) -> int: ...

    async def close_opposite(self, signal: Signal) -> int: ...

    def held_on_side(self, signal: Signal) -> int: ...


class RiskStateStore(Protocol):
    """Where limits changed at run time and the guard's state are kept (``system_config``)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None: ...
