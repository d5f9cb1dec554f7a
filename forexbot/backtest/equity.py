"""A backtest's equity curve: the balance plus the open trades marked at every bar close.

Each trade's floating profit at a bar close is its price move times its money-per-price
factor, taken from the trade itself (realised profit / price move, so the account-currency
conversion the terminal applied is carried over exactly; ``volume × contract size`` when the
trade closed where it opened). A buy is marked at the bar's bid close, a sell at the ask
(close + the bar's spread). Swap and commission are booked when the trade closes. The curve
starts at the initial balance at the start of the test and has one point per bar close.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forexbot.backtest.prices import PriceSeries
from forexbot.backtest.statistics import ClosedTrade, EquityCurve
from forexbot.domain.market import SymbolSpec


def mark_to_market(
    prices: PriceSeries,
    trades: Sequence[ClosedTrade],
    spec: SymbolSpec,
    initial_balance: float,
    start: float,
) -> EquityCurve:
    """The curve of the module docstring over the tested bars of ``prices``."""
    closes_at = prices.close_time[prices.first :].astype(np.float64)
    bid = prices.close[prices.first :]
    ask = bid + prices.spread[prices.first :] * spec.point
    equity = np.full(len(closes_at), initial_balance, dtype=np.float64)
    for trade in trades:
        sign = 1.0 if trade.side == "buy" else -1.0
        move = sign * (trade.exit_price - trade.entry_price)
        factor = (
            trade.profit / move
            if abs(move) > spec.point * 1e-6
            else trade.volume * spec.contract_size
        )
        lo = int(np.searchsorted(closes_at, trade.open_time, side="left"))
        hi = int(np.searchsorted(closes_at, trade.close_time, side="left"))
        mark = bid[lo:hi] if sign > 0 else ask[lo:hi]
        equity[lo:hi] += factor * sign * (mark - trade.entry_price)
        equity[hi:] += trade.net
    return EquityCurve(np.r_[start, closes_at], np.r_[initial_balance, equity])
