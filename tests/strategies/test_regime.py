"""A strategy's regime against the market condition of a bar."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from forexbot.market_condition.detector import MarketCondition
from forexbot.market_condition.liquidity import LiquidityLevel
from forexbot.market_condition.trend import TrendDirection
from forexbot.market_condition.volatility import VolatilityBand
from forexbot.strategies.regime import RANGING, TRENDING, Regime, is_synthetic_index

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
CONDITION = MarketCondition(
    symbol="EURUSD", timeframe="M15", bar_time=NOW, evaluated_at=NOW,
    trend=TrendDirection.BULLISH, strength=0.6, adx=30.0, volatility=VolatilityBand.NORMAL,
    atr=0.001, atr_percentile=50.0, liquidity=LiquidityLevel.NORMAL, spread_ratio=1.0,
    volume_ratio=1.0, sessions=("London", "New York"), overlaps=("London/New York",),
    market_open=True, favourable=True, reasons=("ok",),
)  # fmt: skip


def test_a_suiting_condition_has_no_mismatch() -> None:
    assert Regime(trends=TRENDING).mismatch(CONDITION) is None


def test_trend_outside_the_regime() -> None:
    assert Regime(trends=RANGING).mismatch(CONDITION) == "trend bullish not in ['ranging']"


def test_volatility_outside_the_regime() -> None:
    high = dataclasses.replace(CONDITION, volatility=VolatilityBand.HIGH)
    assert Regime(volatility=frozenset({VolatilityBand.NORMAL})).mismatch(high) == (
        "volatility high not in ['normal']"
    )


def test_unfavourable_condition_with_its_reasons() -> None:
    thin = dataclasses.replace(CONDITION, favourable=False, reasons=("liquidity thin",))
    assert Regime().mismatch(thin) == "unfavourable: liquidity thin"
    assert Regime(require_favourable=False).mismatch(thin) is None


def test_session_outside_the_regime() -> None:
    tokyo = dataclasses.replace(CONDITION, sessions=("Tokyo",), overlaps=())
    regime = Regime(sessions=frozenset({"London", "New York"}))
    assert regime.mismatch(tokyo) == "sessions ['Tokyo'] not in ['London', 'New York']"
    assert regime.mismatch(CONDITION) is None


def test_synthetic_indices_are_recognised_by_name() -> None:
    assert is_synthetic_index("Volatility 75 Index")
    assert is_synthetic_index("Boom 1000 Index")
    assert is_synthetic_index("Step Index")
    assert not is_synthetic_index("EURUSD")
    assert not is_synthetic_index("XAUUSD")
