"""Bars stored in ``market_data`` as a backtest's data (``--data db``, the API's ``"db"``).

The stored M1 bars are used when there are any for the symbol (every timeframe is derived
from them exactly as the terminal derives its own), else the strategy's timeframe. The bars
cover the test and enough before it for the warm-up; they are handed to the simulated
terminal in broker server time, like an MT5 export.
"""

from __future__ import annotations

import numpy as np

from forexbot.connectors.mt5sim.replay import ReplayBars
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import to_server_array
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Timeframe
from forexbot.errors import ConfigError


async def stored_bars(
    repository: MarketDataRepository,
    symbol: str,
    timeframe: Timeframe,
    start: float,
    end: float,
    warmup_bars: int,
) -> ReplayBars:
    """The stored bars of a test (see the module docstring); :class:`ConfigError` naming
    ``forexbot data import`` when there are none."""
    stored = await repository.timeframes(symbol)
    chosen = Timeframe.M1 if "M1" in stored else timeframe
    if chosen.name not in stored:
        have = ", ".join(stored) or "none"
        raise ConfigError(
            f"no {symbol} bars in market_data for M1 or {timeframe.name} (stored timeframes: "
            f"{have}); load some with `forexbot data import`"
        )
    lead = max(warmup_bars * timeframe.seconds * 3, 7 * 86_400)
    bars = await repository.get_bars(symbol, chosen, int(start - lead), int(end))
    if not bars:
        raise ConfigError(f"no stored {symbol} {chosen.name} bars in the test period")
    out = np.zeros(len(bars), dtype=RATES_DTYPE)
    for i, b in enumerate(bars):
        out[i] = (b.time, b.open, b.high, b.low, b.close, b.tick_volume, b.spread, b.real_volume)
    out["time"] = to_server_array(out["time"].astype(np.int64))
    return ReplayBars(out, chosen.seconds)
