"""Stop-out: finding the first moment the margin level falls to the account's stop-out level.

MetaTrader's rule (ACCOUNT_STOPOUT_MODE_PERCENT): margin level = equity / margin x 100, and
when it falls **to or below** ``margin_so_so`` the server closes the position with the
largest loss, then re-checks, until the level is back above (or nothing is open). Those
closing deals carry DEAL_REASON_SO (6) and a ``so: level%/equity/margin`` comment; the
margin call level (``margin_so_call``) is only reported, as at a broker.

The replay evaluates equity at every step of the open positions' price paths (every tick,
or every M1 bar of a long gap, where a buy is valued at the bar's low bid and a sell at its
high ask, the worst case inside the bar). Between events a position's profit follows its own
symbol's price, converted to the account currency at that price when the symbol itself
converts (USDJPY on a USD account), else at the rate at the start of the window; swaps
count in equity; margin is the positions' margin at the start of the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import POSITION_TYPE_BUY

from .ledger import Ledger
from .pricepath import PricePath
from .structures import TradePosition


@dataclass(frozen=True, slots=True)
class StopOut:
    """The position to close, when and at what price, and the level that triggered it."""

    time_msc: int
    ticket: int
    price: float
    comment: str


def _profit_path(
    ledger: Ledger,
    position: TradePosition,
    path: PricePath,
    times: NDArray[np.int64],
    before: tuple[float, float],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(closing price, profit incl. swap) of ``position`` at each of ``times``."""
    spec = ledger.spec(position.symbol)
    buy = position.type == POSITION_TYPE_BUY
    steps = path.bid_low if buy else path.ask_high
    start = before[0] if buy else before[1]
    if steps.size == 0:  # no quote of this symbol in the window (its market is closed)
        price = np.full(times.size, start)
    else:
        index = np.searchsorted(path.t, times, side="right") - 1
        price = np.where(index >= 0, steps[np.maximum(index, 0)], start)
    sign = 1.0 if buy else -1.0
    amount = sign * (price - position.price_open) * spec.contract_size * position.volume
    account = ledger.state.currency
    if spec.currency_profit == account:
        rate: NDArray[np.float64] | float = 1.0
    elif spec.currency_base == account:
        rate = 1.0 / price
    else:
        rate = ledger.money.rate(spec.currency_profit, account) or 0.0
    return price, np.round(amount * rate, 2) + position.swap


def stop_out(
    ledger: Ledger,
    paths: Mapping[str, PricePath],
    before: Mapping[str, tuple[float, float]],
    since: int,
) -> StopOut | None:
    """The first stop-out strictly after ``since`` on ``paths`` (None if the level holds)."""
    state = ledger.state
    positions = [p for p in state.positions.values() if p.symbol in paths]
    if not positions or len(positions) != len(state.positions):
        return None
    margin = sum(ledger.position_margin(p) for p in positions)
    if margin <= 0:
        return None
    steps = [paths[s].t[paths[s].t > since] for s in {p.symbol for p in positions}]
    times = np.unique(np.concatenate(steps))
    if times.size == 0:
        return None
    equity = np.full(times.size, state.balance + state.credit)
    prices, profits = [], []
    for position in positions:
        path, start = paths[position.symbol], before[position.symbol]
        price, profit = _profit_path(ledger, position, path, times, start)
        prices.append(price)
        profits.append(profit)
        equity = equity + profit
    hit = np.flatnonzero(equity * 100.0 <= state.stop_out * margin)
    if hit.size == 0:
        return None
    i = int(hit[0])
    worst = min(range(len(positions)), key=lambda j: (profits[j][i], positions[j].ticket))
    level = equity[i] / margin * 100.0
    comment = f"so: {level:.2f}%/{equity[i]:.2f}/{margin:.2f}"
    return StopOut(int(times[i]), positions[worst].ticket, float(prices[worst][i]), comment)
