"""The daemon's status, as the API and systemd's watchdog see it.

``status()`` is the full picture for ``GET /api/system/status`` (a person checking on the bot);
``is_healthy()`` is the cheap verdict for ``GET /api/health``: healthy while the terminal
connection is up and the daemon is not stopping; its ``problems`` list what a healthy daemon
still needs a person for (the risk state not persisted), which health reports as
``degraded``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from forexbot import __version__
from forexbot.clock import Clock
from forexbot.domain.trading import AccountState
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState


class ConnectorView(Protocol):
    state: ConnectionState
    symbols: tuple[str, ...]
    ticks_published: int
    bars_published: int
    reconnects: int

    @property
    def server_offset(self) -> int: ...


class PositionsView(Protocol):
    @property
    def account(self) -> AccountState | None: ...

    def open_count(self, symbol: str | None = None) -> int: ...


class StrategiesView(Protocol):
    def describe(self) -> list[dict[str, object]]: ...


class RiskView(Protocol):
    def describe(self) -> dict[str, Any]: ...

    def problems(self) -> Mapping[str, str]: ...


class DaemonStatus:
    """Collects the components' counters into one status document."""

    def __init__(
        self,
        *,
        mode: str,
        clock: Clock,
        connector: ConnectorView,
        positions: PositionsView,
        strategies: StrategiesView,
        bus: EventBus,
        sim_speed: float,
        database: str,
        risk: RiskView | None = None,
    ) -> None:
        self._mode = mode
        self._clock = clock
        self._connector = connector
        self._positions = positions
        self._strategies = strategies
        self._bus = bus
        self._sim_speed = sim_speed
        self._database = database
        self._risk = risk
        self._started = time.monotonic()
        self.stopping = False

    def is_healthy(self) -> tuple[bool, dict[str, Any]]:
        connected = self._connector.state is ConnectionState.CONNECTED
        healthy = connected and not self.stopping
        return healthy, {
            "terminal": self._connector.state.value,
            "stopping": self.stopping,
            "version": __version__,
            "problems": [] if self._risk is None else sorted(self._risk.problems()),
        }

    async def status(self) -> dict[str, Any]:
        account = self._positions.account
        return {
            "version": __version__,
            "mode": self._mode,
            "uptime_seconds": round(time.monotonic() - self._started, 1),
            "time": datetime.fromtimestamp(self._clock.time(), tz=UTC).isoformat(),
            "sim_speed": self._sim_speed,
            "database": self._database,
            "terminal": {
                "state": self._connector.state.value,
                "server_offset_seconds": self._connector.server_offset,
                "symbols": list(self._connector.symbols),
                "ticks": self._connector.ticks_published,
                "bars": self._connector.bars_published,
                "reconnects": self._connector.reconnects,
            },
            "account": None
            if account is None
            else {
                "currency": account.currency,
                "balance": account.balance,
                "equity": account.equity,
                "margin": account.margin,
                "margin_free": account.margin_free,
                "leverage": account.leverage,
            },
            "open_positions": self._positions.open_count(),
            "risk": None if self._risk is None else self._risk.describe(),
            "strategies": self._strategies.describe(),
            "event_bus": [
                {
                    "subscriber": s.name,
                    "delivered": s.delivered,
                    "failed": s.failed,
                    "coalesced": s.coalesced,
                    "pending": s.pending,
                }
                for s in self._bus.stats()
            ],
        }
