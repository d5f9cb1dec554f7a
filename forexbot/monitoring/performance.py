"""Live performance figures from stored trades, by the backtester's own statistics.

The daemon's ``performance_metrics`` rows (per strategy and symbol, per day, week, month or
all time) are computed here from the closed trades of the period with
:func:`~forexbot.backtest.statistics.compute_statistics` over their balance curve: a win rate
or a drawdown on the phone means exactly what it means in a backtest report. The row's
``win_rate`` is a fraction (0–1), as the table stores it.

The periods are the broker's: a day runs from its server midnight (UTC plus the server's
offset, learned by the connector), the day of the daily loss limit
(:func:`~forexbot.engine.risk.server_day`) and of today's P/L and the day equity curve
(``GET /api/account/equity``), so "today" is one day everywhere; a week starts on its
Monday's midnight, a month on its 1st's. They are computed with the offset now (a DST switch
of the server moves past boundaries by its hour, as it does the risk manager's day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from forexbot.backtest.statistics import (
    Statistics,
    balance_curve,
    closed_trade,
    compute_statistics,
)
from forexbot.clock import Clock
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import TradeStatus
from forexbot.engine.risk import server_day
from forexbot.errors import TerminalError


def performance_of(
    trades: Sequence[TradeRecord], initial_balance: float, start: float, end: float
) -> Statistics:
    """The statistics of the trades closed in ``[start, end)``, on a balance curve starting
    at ``initial_balance`` (the account's balance at ``start``)."""
    closed = [
        closed_trade(t)
        for t in trades
        if t.status is TradeStatus.CLOSED
        and t.close_time is not None
        and start <= t.close_time.timestamp() < end
    ]
    curve = balance_curve(closed, initial_balance, start, end)
    return compute_statistics(closed, curve, initial_balance, start, end)


def metrics_row(statistics: Statistics) -> dict[str, Any]:
    """The ``performance_metrics`` columns of a period's statistics."""
    win_rate = statistics.win_rate_pct
    return {
        "trades_count": statistics.trades,
        "wins": statistics.wins,
        "losses": statistics.losses,
        "win_rate": None if win_rate is None else win_rate / 100.0,
        "profit_factor": statistics.profit_factor,
        "expectancy": statistics.expectancy,
        "net_profit": statistics.net_profit,
        "max_drawdown_pct": statistics.max_drawdown_pct,
        "sharpe": statistics.sharpe,
    }


PERIODS = ("daily", "weekly", "monthly", "all")


def period_start(period: str, at: datetime, server_offset: float) -> datetime:
    """The start (UTC) of the ``period`` holding ``at`` on the broker's calendar, whose clock
    is UTC plus ``server_offset`` seconds: its midnight, its Monday's, its 1st's; the epoch."""
    if period == "all":
        return datetime.fromtimestamp(0, tz=UTC)
    shift = timedelta(seconds=server_offset)
    server = at.astimezone(UTC) + shift  # the broker's wall clock, written as UTC
    midnight = server.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        start = midnight
    elif period == "weekly":
        start = midnight - timedelta(days=midnight.weekday())
    elif period == "monthly":
        start = midnight.replace(day=1)
    else:
        raise ValueError(f"period must be one of {PERIODS}, got {period!r}")
    return start - shift


class ClosedTrades(Protocol):
    async def closed_between(self, start: datetime, end: datetime) -> list[TradeRecord]: ...


class PerformanceStore(Protocol):
    async def store(
        self, period: str, start: datetime, rows: Sequence[Mapping[str, Any]]
    ) -> None: ...


class PerformanceBook:
    """The figures of the current day, week, month or all time, per strategy, per symbol and
    per both, computed from the closed trades and stored in ``performance_metrics``.

    Percentages (drawdown, return) are of the account: the period starts from the current
    balance less what the period's trades made (``balance`` is the account's, as last read;
    before the first read the figures cannot be computed: :class:`TerminalError`). The
    periods follow the broker's calendar (``server_offset``: the connector's, seconds ahead
    of UTC), as the module docstring says.
    """

    def __init__(
        self,
        trades: ClosedTrades,
        store: PerformanceStore,
        balance: Callable[[], float | None],
        clock: Clock,
        server_offset: Callable[[], float],
    ) -> None:
        self._trades = trades
        self._store = store
        self._balance = balance
        self._clock = clock
        self._server_offset = server_offset

    def trading_day(self, at: float) -> str:
        """The broker's day at ``at`` (``YYYY-MM-DD``): when it changes, so do the periods."""
        return server_day(at, self._server_offset())

    async def compute(self, period: str) -> dict[str, Any]:
        now = datetime.fromtimestamp(self._clock.time(), tz=UTC)
        start = period_start(period, now, self._server_offset())
        end = max(now, start + timedelta(seconds=1))
        records = await self._trades.closed_between(start, end)
        closed = [closed_trade(r) for r in records]
        balance = self._balance()
        if balance is None:
            raise TerminalError("the account has not been read yet: no performance figures")
        initial = balance - sum(t.net for t in closed)
        if initial <= 0:
            initial = balance  # an account that lost it all: percentages of what is left
        groups: dict[tuple[str | None, str | None], list[TradeRecord]] = {(None, None): records}
        for record in records:
            for key in ((record.strategy, None), (None, record.symbol),
                        (record.strategy, record.symbol)):  # fmt: skip
                groups.setdefault(key, []).append(record)
        rows = []
        for (strategy, symbol), group in groups.items():
            statistics = performance_of(group, initial, start.timestamp(), end.timestamp())
            rows.append({"strategy": strategy, "symbol": symbol, **metrics_row(statistics)})
        await self._store.store(period, start, rows)
        return {
            "period": period,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
            "items": rows,
        }
