"""The market condition detector's streaming face: one closed bar at a time, O(1) in history.

The strategy manager judges the market on every closed bar of every (symbol, timeframe)
stream. Rebuilding a frame of the last few hundred bars and running :func:`detect` over it
costs hundreds of microseconds a bar; :class:`ConditionStream` keeps each analyser's state
instead, so a bar costs work bounded by the parameters (the lookback windows), not by the
history.

The promise: after ``update`` has been given bars ``b0 .. bt`` (oldest first, each once), it
returns exactly — every field equal, floats to the last bit — what
``detect(bars_to_frame([b0 .. bt]), symbol, timeframe, params, synthetic=…,
current_spread=…)`` returns, and ``None`` while fewer than ``params.min_bars`` bars were fed.
Both faces run the same arithmetic: the indicators of :mod:`forexbot.indicators.incremental`
(the vectorised analysers apply the same ``update`` over arrays), the same percentile count,
``np.median``'s rule for the typical spread and volume, and the same
:func:`~forexbot.market_condition.detector.condition_at` (the body of
:func:`~forexbot.market_condition.detector.condition_of`), with
the bar's times and sessions from :func:`~forexbot.market_condition.detector.moment_at`: the
streams whose bars close together (every symbol of a timeframe) compute them once.
Wilder's averages depend on where the series starts, so "the same" means from the first bar
this stream was fed.
"""

from __future__ import annotations

from forexbot.domain.market import Bar, Timeframe
from forexbot.market_condition import liquidity, trend, volatility
from forexbot.market_condition.detector import (
    DetectorParams,
    MarketCondition,
    condition_at,
    moment_at,
)


class ConditionStream:
    """The market condition of one (symbol, timeframe) stream, updated bar by bar."""

    __slots__ = (
        "_bars",
        "_liquidity",
        "_min_bars",
        "_name",
        "_params",
        "_seconds",
        "_symbol",
        "_synthetic",
        "_trend",
        "_volatility",
    )

    def __init__(
        self, symbol: str, timeframe: Timeframe, params: DetectorParams, *, synthetic: bool
    ) -> None:
        self._symbol = symbol
        self._name = timeframe.name
        self._seconds = timeframe.seconds
        self._params = params
        self._synthetic = synthetic
        self._min_bars = params.min_bars
        self._bars = 0
        self._trend = trend.TrendStream(params.trend)
        self._volatility = volatility.VolatilityStream(params.volatility)
        self._liquidity = liquidity.LiquidityStream(params.liquidity)

    @property
    def bars(self) -> int:
        """The bars fed so far."""
        return self._bars

    def update(self, bar: Bar, current_spread: float | None = None) -> MarketCondition | None:
        """Take the next closed bar; the condition on it (``None`` before ``min_bars`` bars).

        ``current_spread`` (points) stands for the bar's spread in its own liquidity reading,
        as in :func:`detect`; the bar's spread still enters the typical spread of later bars.
        Like :func:`detect`, raises ``ValueError`` where an indicator is undefined past the
        warm-up (a flat market: zero ATR and an unchanged average make the slope 0/0); the
        stream stays usable for the next bar.
        """
        self._bars += 1
        high, low, close = float(bar.high), float(bar.low), float(bar.close)
        adx, plus, minus, slope = self._trend.update(high, low, close)
        atr, pct = self._volatility.update(high, low, close)
        liq = self._liquidity.update(float(bar.spread), float(bar.tick_volume), current_spread)
        if self._bars < self._min_bars or liq is None:
            return None
        p = self._params
        trend_reading = trend.reading_of(adx, plus, minus, slope, p.trend, self._bars)
        return condition_at(
            self._symbol,
            self._name,
            moment_at(bar.time, self._seconds, self._synthetic),
            trend_reading,
            volatility.reading_of(atr, pct, p.volatility, self._bars),
            liq,
        )
