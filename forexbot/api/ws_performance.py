"""``/ws/performance``: the performance summary and the account, as snapshots.

Message (the only kind the channel sends, besides error replies to client messages)::

    {"channel": "performance",
     "data": {"time": "2026-11-30T10:00:00.000Z",
              "account": {"currency", "balance", "equity", "margin", "margin_free",
                          "margin_level", "floating_profit", "leverage"} | null,
              "performance": {"daily": <PerformanceSource.compute("daily")>, ...} | null}}

``time`` is the trading clock's, ISO-8601 UTC. ``account`` is the position manager's account
as of its last sync (``margin_level`` in percent, null without margin used; ``floating_profit``
is the open positions' profit); null before the account was first read. ``performance`` holds
one entry per configured period (``ws_performance_periods``), each exactly what
``GET /api/system/performance?period=...`` answers; null while it cannot be computed (no
source, the account not read yet, a database error: retried on the next tick).

Rules:

* A client gets the latest snapshot on connect (made within the last interval, else a fresh
  one), then a new one after every trade that closes (a ``TradeEvent`` with status
  ``closed``) and every ``interval`` seconds (fresh account figures).
* The figures are recomputed once per change, not per client and not per tick: after a
  closed trade, when the trading day changed (daily, weekly and monthly periods roll over at
  the broker's midnight: :meth:`PerformanceSource.trading_day`), or while the last attempt
  failed. Closed trades arriving during a
  computation cause one more computation, not one each. Each snapshot is serialised once and
  the same text goes to every client.
* Snapshots are coalesced per client: a slow client only ever has the latest one pending.
* Nothing is computed while no client is connected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from typing import Any

import structlog

from forexbot.api.ports import AccountView, PerformanceSource
from forexbot.api.responses import dumps_str
from forexbot.api.websockets import iso_utc
from forexbot.api.ws_client import Channel, WsClient
from forexbot.clock import Clock
from forexbot.daemon.tasks import stop_task
from forexbot.domain.trading import AccountState, TradeStatus
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.types import TradeEvent

_log = structlog.get_logger("forexbot.api.websockets")

_SNAPSHOT = "performance"


def account_data(account: AccountState | None) -> dict[str, Any] | None:
    """The ``account`` part of a performance snapshot."""
    if account is None:
        return None
    margin_level = account.equity / account.margin * 100.0 if account.margin > 0 else None
    return {
        "currency": account.currency,
        "balance": account.balance,
        "equity": account.equity,
        "margin": account.margin,
        "margin_free": account.margin_free,
        "margin_level": None if margin_level is None else round(margin_level, 2),
        "floating_profit": account.profit,
        "leverage": account.leverage,
    }


class PerformanceFeed:
    """Computes performance snapshots once per change and sends them to the channel's clients."""

    def __init__(
        self,
        performance: PerformanceSource | None,
        account: AccountView | None,
        clock: Clock,
        *,
        interval: float,
        periods: tuple[str, ...],
    ) -> None:
        self.channel = Channel.PERFORMANCE
        self._performance = performance
        self._account = account
        self._clock = clock
        self._interval = interval
        self._periods = periods
        self._clients: Set[WsClient] = frozenset()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The figures as last computed, the trading day they were computed on, and whether a
        # closed trade (or a failure) makes them out of date.
        self._figures: dict[str, Any] | None = None
        self._figures_day: str | None = None
        self._stale = True
        self._failing = False
        # The last snapshot sent and when (loop time).
        self._message: str | None = None
        self._message_at = 0.0

    def start(self, bus: EventBus, clients: Set[WsClient]) -> list[SubscriberStats]:
        self._clients = clients
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ws-feed:performance")
        return [bus.subscribe(TradeEvent, self._on_trade, name="api-ws-performance")]

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task, timeout=2.0)
            self._task = None

    async def welcome(self, client: WsClient) -> None:
        fresh = (
            self._message is not None
            and asyncio.get_running_loop().time() - self._message_at < self._interval
        )
        if fresh and self._message is not None:
            client.offer_snapshot(_SNAPSHOT, self._message)
            if not self._stale:
                return
        # A new snapshot for everyone: the one cached is old, or the figures are out of date.
        self._wake.set()

    async def _on_trade(self, event: TradeEvent) -> None:
        if event.status is TradeStatus.CLOSED:
            self._stale = True
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self._interval
        while True:
            try:
                async with asyncio.timeout_at(due):
                    await self._wake.wait()
            except TimeoutError:
                pass
            if loop.time() >= due:
                due = loop.time() + self._interval
            self._wake.clear()
            if not self._clients:
                continue
            try:
                await self._publish()
            except Exception:
                _log.exception("the performance snapshot failed", channel=self.channel.value)

    async def _publish(self) -> None:
        now = self._clock.time()
        day = None if self._performance is None else self._performance.trading_day(now)
        if self._stale or self._figures_day != day:
            self._stale = False  # a trade closing from here on needs another computation
            self._figures = await self._compute()
            self._figures_day = day
        data = {
            "time": iso_utc(now),
            "account": account_data(None if self._account is None else self._account.account),
            "performance": self._figures,
        }
        message = dumps_str({"channel": self.channel.value, "data": data})
        self._message, self._message_at = message, asyncio.get_running_loop().time()
        for client in list(self._clients):
            client.offer_snapshot(_SNAPSHOT, message)

    async def _compute(self) -> dict[str, Any] | None:
        if self._performance is None:
            return None
        try:
            figures = {period: await self._performance.compute(period) for period in self._periods}
        except Exception as exc:
            # Retried on the next tick; said once per run of failures, not every tick.
            self._stale = True
            log = _log.debug if self._failing else _log.warning
            log("performance figures unavailable", error=str(exc), error_type=type(exc).__name__)
            self._failing = True
            return None
        if self._failing:
            _log.info("performance figures available again")
        self._failing = False
        return figures
