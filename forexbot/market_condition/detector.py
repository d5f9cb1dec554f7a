"""Market condition detector: trend, volatility, liquidity and sessions on a closed bar.

:func:`detect` takes a DataFrame of bars with the columns of MetaTrader's ``copy_rates_*``
(``time`` tz-aware UTC open time, ``open``, ``high``, ``low``, ``close``, ``tick_volume``,
``spread``, ``real_volume``), oldest first, whose **last row is the closed bar** being judged,
and returns a :class:`MarketCondition`:

* trend (:mod:`~forexbot.market_condition.trend`): bullish / bearish / ranging and a strength;
* volatility (:mod:`~forexbot.market_condition.volatility`): ATR percentile band;
* liquidity (:mod:`~forexbot.market_condition.liquidity`): thin / normal / deep;
* sessions (:mod:`~forexbot.market_condition.sessions`) evaluated at the bar's **close**
  instant (``time + timeframe``), the moment a decision on that bar is taken.

Everything is causal: only the bars given (≤ the closed bar) are used. At least
:attr:`DetectorParams.min_bars` bars are needed (``ValueError`` otherwise).

:class:`~forexbot.market_condition.stream.ConditionStream` is the streaming face (one bar at a
time, O(1) in the history): it gives exactly what :func:`detect` gives over every bar it was
fed, because both run each analyser's same arithmetic and end in :func:`condition_of`.

**Favourable rule** — the condition is favourable when all of:

1. the market is open (forex: outside ``[Fri 17:00, Sun 17:00)`` New York; synthetic indices
   always);
2. for forex, at least one session is active;
3. liquidity is not thin;
4. volatility is not low.

The trend does not enter the verdict (range strategies exist; matching a strategy to the
regime is the strategy manager's job). ``reasons`` lists the failed checks when the condition
is unfavourable, and the facts that passed them when it is favourable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from forexbot.domain.market import Timeframe
from forexbot.market_condition.liquidity import (
    LiquidityLevel,
    LiquidityParams,
    LiquidityReading,
    analyse_liquidity,
)
from forexbot.market_condition.sessions import SessionState, analyse_sessions
from forexbot.market_condition.trend import (
    TrendDirection,
    TrendParams,
    TrendReading,
    analyse_trend,
)
from forexbot.market_condition.volatility import (
    VolatilityBand,
    VolatilityParams,
    VolatilityReading,
    analyse_volatility,
)


class DetectorParams(BaseModel):
    """Parameters of the detector: one model per analyser."""

    model_config = {"extra": "forbid", "frozen": True}

    trend: TrendParams = Field(default_factory=TrendParams)
    volatility: VolatilityParams = Field(default_factory=VolatilityParams)
    liquidity: LiquidityParams = Field(default_factory=LiquidityParams)

    @property
    def min_bars(self) -> int:
        """Bars needed for a condition on the last one."""
        return max(self.trend.min_bars, self.volatility.min_bars, self.liquidity.min_bars)


@dataclass(frozen=True, slots=True)
class MarketCondition:
    """The market condition of one symbol and timeframe on one closed bar."""

    symbol: str
    timeframe: str
    bar_time: datetime
    evaluated_at: datetime
    trend: TrendDirection
    strength: float
    adx: float
    volatility: VolatilityBand
    atr: float
    atr_percentile: float
    liquidity: LiquidityLevel
    spread_ratio: float
    volume_ratio: float
    sessions: tuple[str, ...]
    overlaps: tuple[str, ...]
    market_open: bool
    favourable: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: enums as strings, times as ISO 8601, tuples as lists, ∞ as ``None``.

        Built on every closed bar of every stream, so the times' texts come from a small cache
        (the streams of a burst share their bar's times) and the rest is inline."""
        finite = math.isfinite
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "bar_time": _isoformat(self.bar_time, self.bar_time.utcoffset()),
            "evaluated_at": _isoformat(self.evaluated_at, self.evaluated_at.utcoffset()),
            "trend": str(self.trend),
            "strength": self.strength if finite(self.strength) else None,
            "adx": self.adx if finite(self.adx) else None,
            "volatility": str(self.volatility),
            "atr": self.atr if finite(self.atr) else None,
            "atr_percentile": self.atr_percentile if finite(self.atr_percentile) else None,
            "liquidity": str(self.liquidity),
            "spread_ratio": self.spread_ratio if finite(self.spread_ratio) else None,
            "volume_ratio": self.volume_ratio if finite(self.volume_ratio) else None,
            "sessions": list(self.sessions),
            "overlaps": list(self.overlaps),
            "market_open": self.market_open,
            "favourable": self.favourable,
            "reasons": list(self.reasons),
        }


@lru_cache(maxsize=256)
def _isoformat(at: datetime, offset: timedelta | None) -> str:
    """``at.isoformat()``. ``offset`` (``at``'s UTC offset) is part of the key: the same
    instant in another zone is an equal datetime with another text."""
    return at.isoformat()


def detect(
    bars: pd.DataFrame,
    symbol: str,
    timeframe: Timeframe,
    params: DetectorParams | None = None,
    *,
    synthetic: bool = False,
    current_spread: float | None = None,
) -> MarketCondition:
    """The :class:`MarketCondition` on the last (closed) bar of ``bars``."""
    p = params or DetectorParams()
    if len(bars) < p.min_bars:
        raise ValueError(f"market condition needs at least {p.min_bars} bars, got {len(bars)}")
    return condition_of(
        symbol,
        timeframe,
        pd.Timestamp(bars["time"].iloc[-1]).to_pydatetime().astimezone(UTC),
        analyse_trend(bars, p.trend),
        analyse_volatility(bars, p.volatility),
        analyse_liquidity(bars, p.liquidity, current_spread=current_spread),
        synthetic=synthetic,
    )


def condition_of(
    symbol: str,
    timeframe: Timeframe,
    bar_time: datetime,
    trend: TrendReading,
    vol: VolatilityReading,
    liq: LiquidityReading,
    *,
    synthetic: bool,
) -> MarketCondition:
    """The condition from the analysers' readings on the bar opened at ``bar_time`` (UTC): the
    sessions at its close and the favourable rule. Shared by :func:`detect`,
    :class:`~forexbot.market_condition.series.ConditionSeries` and (through
    :func:`condition_at`) :class:`~forexbot.market_condition.stream.ConditionStream`."""
    return condition_at(
        symbol, timeframe.name, moment_of(bar_time, timeframe.seconds, synthetic), trend, vol, liq
    )


@dataclass(frozen=True, slots=True)
class BarMoment:
    """What a condition takes from its bar's time alone: the bar's open and close instants,
    the sessions at the close, and the reasons the market and session checks give.

    The same for every symbol whose bar closes at that instant, so a stream takes it from
    :func:`moment_at` (computed once per close for all the streams of a burst)."""

    bar_time: datetime
    evaluated_at: datetime
    sessions: SessionState
    passed: tuple[str, ...]  # the checks passed, in the order of the favourable rule
    failed: tuple[str, ...]  # the checks failed


def moment_of(bar_time: datetime, seconds: int, synthetic: bool) -> BarMoment:
    """The :class:`BarMoment` of the bar opened at ``bar_time`` (UTC), ``seconds`` long."""
    evaluated_at = bar_time + timedelta(seconds=seconds)
    state = analyse_sessions(evaluated_at, synthetic=synthetic)
    failed: list[str] = []
    passed: list[str] = []
    if state.is_open:
        passed.append("market open" + (" (synthetic, 24/7)" if synthetic else ""))
    else:
        failed.append("market closed (forex weekend)")
    if not synthetic and state.is_open:
        if state.active:
            passed.append("sessions: " + ", ".join(state.active))
        else:
            failed.append("no session active")
    return BarMoment(bar_time, evaluated_at, state, tuple(passed), tuple(failed))


@lru_cache(maxsize=512)
def moment_at(time: int, seconds: int, synthetic: bool) -> BarMoment:
    """:func:`moment_of` the bar opened at epoch second ``time``, remembered for the last few
    hundred (time, length, kind): the streams of a burst of closes share one."""
    return moment_of(datetime.fromtimestamp(time, UTC), seconds, synthetic)


def condition_at(
    symbol: str,
    timeframe: str,
    moment: BarMoment,
    trend: TrendReading,
    vol: VolatilityReading,
    liq: LiquidityReading,
) -> MarketCondition:
    """:func:`condition_of` with the bar's moment already known (``timeframe``: its name).

    The reasons are the failed checks when the condition is unfavourable, else the passed ones
    and the trend: only the texts that end up in them are formatted."""
    thin = liq.level is LiquidityLevel.THIN
    low = vol.band is VolatilityBand.LOW
    favourable = not (moment.failed or thin or low)
    if favourable:
        reasons = (
            *moment.passed,
            _liquidity_text(liq),
            _volatility_text(vol),
            f"trend {trend.direction!s} (ADX {trend.adx:.1f})",
        )
    else:
        reasons = moment.failed
        if thin:
            reasons += (_liquidity_text(liq),)
        if low:
            reasons += (_volatility_text(vol),)
    state = moment.sessions
    return MarketCondition(
        symbol=symbol,
        timeframe=timeframe,
        bar_time=moment.bar_time,
        evaluated_at=moment.evaluated_at,
        trend=trend.direction,
        strength=trend.strength,
        adx=trend.adx,
        volatility=vol.band,
        atr=vol.atr,
        atr_percentile=vol.percentile,
        liquidity=liq.level,
        spread_ratio=liq.spread_ratio,
        volume_ratio=liq.volume_ratio,
        sessions=state.active,
        overlaps=state.overlaps,
        market_open=state.is_open,
        favourable=favourable,
        reasons=reasons,
    )


def _liquidity_text(liq: LiquidityReading) -> str:
    return (
        f"liquidity {liq.level!s} (spread {liq.spread_ratio:.2f}× typical, "
        f"volume {liq.volume_ratio:.2f}× typical)"
    )


def _volatility_text(vol: VolatilityReading) -> str:
    return f"volatility {vol.band!s} (ATR percentile {vol.percentile:.0f})"
