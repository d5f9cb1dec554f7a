"""The market regimes a strategy suits, and the check of a signal against the condition.

Each strategy class declares a :class:`Regime`; the strategy manager suppresses (and counts) a
signal produced while the market condition on that bar is outside it. A trend-following rule
fires less usefully in a range, a mean-reversion rule less usefully in a strong trend, and no
rule should trade a thin, closed or dead market.
"""

from __future__ import annotations

from dataclasses import dataclass

from forexbot.market_condition.detector import MarketCondition
from forexbot.market_condition.trend import TrendDirection
from forexbot.market_condition.volatility import VolatilityBand

ANY_TREND = frozenset(TrendDirection)
TRENDING = frozenset({TrendDirection.BULLISH, TrendDirection.BEARISH})
RANGING = frozenset({TrendDirection.RANGING})
NOT_LOW = frozenset({VolatilityBand.NORMAL, VolatilityBand.HIGH})
NOT_HIGH = frozenset({VolatilityBand.LOW, VolatilityBand.NORMAL})


@dataclass(frozen=True, slots=True)
class Regime:
    """Trend directions, volatility bands and sessions a strategy trades in; with
    ``require_favourable`` the detector's verdict (open market, active session, liquidity not
    thin, volatility not low) must be favourable too. ``sessions`` (e.g. ``{"London",
    "New York"}``) requires one of them to be active; None accepts any."""

    trends: frozenset[TrendDirection] = ANY_TREND
    volatility: frozenset[VolatilityBand] = NOT_LOW
    require_favourable: bool = True
    sessions: frozenset[str] | None = None

    @property
    def accepts_anything(self) -> bool:
        """True when no market condition can be outside this regime (no need to know it)."""
        return (
            not self.require_favourable
            and self.trends == ANY_TREND
            and self.volatility == frozenset(VolatilityBand)
            and self.sessions is None
        )

    def mismatch(self, condition: MarketCondition) -> str | None:
        """Why ``condition`` is outside this regime, or None when it suits."""
        if self.require_favourable and not condition.favourable:
            return "unfavourable: " + "; ".join(condition.reasons)
        if condition.trend not in self.trends:
            return f"trend {condition.trend.value} not in {sorted(t.value for t in self.trends)}"
        if condition.volatility not in self.volatility:
            suits = sorted(v.value for v in self.volatility)
            return f"volatility {condition.volatility.value} not in {suits}"
        if self.sessions is not None and not self.sessions & set(condition.sessions):
            active = list(condition.sessions) or "none"
            return f"sessions {active} not in {sorted(self.sessions)}"
        return None


def is_synthetic_index(symbol: str) -> bool:
    """Deriv-style synthetic indices trade around the clock; forex, metals and CFDs do not.
    Recognised by their MetaTrader names (Volatility, Boom, Crash, Step, Jump, Range Break)."""
    words = ("Volatility ", "Boom ", "Crash ", "Step Index", "Jump ", "Range Break ")
    return any(symbol.startswith(w) for w in words)
