"""What the detector's stream and series tests share: the data, the parameters, the exact
comparison."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from forexbot.market_condition.detector import DetectorParams, MarketCondition
from forexbot.market_condition.liquidity import LiquidityParams
from forexbot.market_condition.trend import TrendParams
from forexbot.market_condition.volatility import VolatilityParams

EURUSD_H1 = (
    Path(__file__).parents[1] / "connectors/mt5sim/data/EURUSD_H1_202403040000_202403052300.csv"
)
DEFAULTS = DetectorParams()
#: Short look-backs, so that a 48-bar export gives conditions and short walks many regimes.
SMALL = DetectorParams(
    trend=TrendParams(adx_period=3, atr_period=3, ma_period=5, slope_bars=2),
    volatility=VolatilityParams(atr_period=3, lookback=10),
    liquidity=LiquidityParams(lookback=6),
)


def bits(condition: MarketCondition) -> tuple[object, ...]:
    """Every field, floats as their exact hex (so NaN equals NaN and -0.0 differs from 0.0)."""
    return tuple(v.hex() if isinstance(v, float) else v for v in dataclasses.astuple(condition))
