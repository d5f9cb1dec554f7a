"""Live performance figures from stored trades, by the backtester's own statistics.

The daemon's ``performance_metrics`` rows (per strategy and symbol, per day, week, month or
all time) are computed here from the closed trades of the period with
:func:`~forexbot.backtest.statistics.compute_statistics` over their balance curve: a win rate
or a drawdown on the phone means exactly what it means in a backtest report. The row's
``win_rate`` is a fraction (0–1), as the table stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forexbot.backtest.statistics import (
    Statistics,
    balance_curve,
    closed_trade,
    compute_statistics,
)
from forexbot.database.records import TradeRecord
from forexbot.domain.trading import TradeStatus


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
