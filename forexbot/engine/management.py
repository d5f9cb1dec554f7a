"""Break-even and trailing stops: where a trade's stop-loss should be now.

Pure arithmetic on one trade and one quote; the position manager sends the modification.
The settings are a strategy instance's :class:`~forexbot.config.models.TradeManagement`, in R (the
trade's initial risk, entry to first stop-loss).

Rules:

* The stop is measured from the price the position closes at: the Bid for a buy, the Ask for
  a sell (MetaTrader's trigger prices).
* **Break-even**: from ``break_even_at_r`` R of profit, the stop may go to the entry plus
  ``break_even_offset_points`` in the trade's favour.
* **Trailing**: from ``trailing_start_r`` R of profit, the stop may go to
  ``trailing_distance_r`` R behind the current price.
* The stop only ever moves in the trade's favour (a trailing stop never gives back), by at
  least one point, and never closer to the market than the symbol's stops level (at least
  one point: the server refuses a stop at the price).
"""

from __future__ import annotations

from forexbot.config.models import TradeManagement
from forexbot.domain.market import SymbolSpec
from forexbot.domain.trading import Side
from forexbot.engine.orders import round_toward


def managed_stop(
    *,
    side: Side,
    entry: float,
    initial_sl: float,
    current_sl: float,
    price: float,
    spec: SymbolSpec,
    settings: TradeManagement,
) -> float | None:
    """The new stop-loss for a trade at ``price`` (Bid for a buy, Ask for a sell), or
    ``None`` to leave it where it is. ``current_sl`` 0 means the position has none."""
    risk = abs(entry - initial_sl)
    if risk <= 0 or not settings.active:
        return None
    sign = side.value
    # A hair of tolerance: 1.10100 − 1.10000 over 0.00100 is 0.99999999999989 in floats.
    profit_r = (price - entry) * sign / risk + 1e-9
    candidates: list[float] = []
    if settings.break_even_at_r is not None and profit_r >= settings.break_even_at_r:
        candidates.append(entry + sign * settings.break_even_offset_points * spec.point)
    if settings.trailing_start_r is not None and profit_r >= settings.trailing_start_r:
        candidates.append(price - sign * settings.trailing_distance_r * risk)
    if not candidates:
        return None
    target = max(candidates) if side is Side.BUY else min(candidates)
    # Never closer to the market than the stops level.
    closest = price - sign * max(spec.stops_level, 1) * spec.point
    target = min(target, closest) if side is Side.BUY else max(target, closest)
    target = round_toward(target, -sign, spec)
    if current_sl and (target - current_sl) * sign < spec.point - spec.point * 1e-6:
        return None
    return target
