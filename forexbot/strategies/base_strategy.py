"""The strategy interface: one rule, two faces that must agree bit for bit.

* :meth:`Strategy.signals` is the vectorised face: over a DataFrame of bars with the columns of
  MetaTrader's ``copy_rates_*`` (``time`` tz-aware UTC, ``open``, ``high``, ``low``, ``close``,
  ``tick_volume``, ``spread``, ``real_volume``) it returns one row per bar with ``signal``
  (1 buy, −1 sell, 0 none), ``entry``, ``sl``, ``tp``, ``confidence`` and ``reason``. Used by
  backtests and analysis.
* :meth:`Strategy.stream` is the streaming face: a :class:`SignalStream` fed every closed bar
  in order, from the first, doing O(1) work per bar (incremental indicators from
  :mod:`forexbot.indicators.incremental`, a bounded tail of bars for pattern rules). On every
  bar it returns exactly the row :meth:`signals` gives for that bar over all the bars fed so
  far — same sides, the same floats to the last bit, the same reason — which the property
  tests check for every strategy. :meth:`Strategy.on_bar`, called once per closed bar in live
  trading, feeds it. A strategy without a streaming face of its own gets
  :class:`WindowStream`, which evaluates the vectorised face on a rolling window (correct, not
  O(1)).

No look-ahead: a signal at bar *t* depends only on bars ≤ *t* (every indicator is causal), so
appending future bars never changes a past signal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, Field, ValidationError, model_validator

from forexbot.domain.market import Bar
from forexbot.domain.trading import Side, Signal
from forexbot.errors import InvalidInputError
from forexbot.strategies.regime import Regime

FloatArray = NDArray[np.float64]

SIGNAL_COLUMNS = ("signal", "entry", "sl", "tp", "confidence", "reason")


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model: unknown parameters are errors."""

    model_config = {"extra": "forbid", "frozen": True}


@dataclass(frozen=True, slots=True)
class SignalRow:
    """One bar's signal as the streaming face gives it: the non-zero rows of a signals frame."""

    side: int  # 1 buy, −1 sell
    entry: float
    sl: float
    tp: float
    confidence: float
    reason: str


class SignalStream(ABC):
    """A strategy's streaming face: its state over the bars fed so far."""

    __slots__ = ()

    @abstractmethod
    def update(self, bar: Bar) -> SignalRow | None:
        """Take the next closed bar (each bar once, oldest first); the signal on it, if any:
        what :meth:`Strategy.signals` over every bar fed so far says on its last row."""

    def warm(self, bar: Bar) -> None:
        """Take a bar of history: the state moves on as :meth:`update` moves it, and no signal
        is wanted (a face may skip evaluating its rule)."""
        self.update(bar)


class WindowStream(SignalStream):
    """The streaming face of a strategy that has none of its own: the vectorised face over a
    rolling window of the last ``window_bars`` bars (its last row). Equal to the vectorised
    face over all the bars only where the rule looks back less than the window."""

    __slots__ = ("_strategy", "_window")

    def __init__(self, strategy: Strategy) -> None:
        self._strategy = strategy
        self._window: deque[Bar] = deque(maxlen=strategy.window_bars)

    def warm(self, bar: Bar) -> None:
        self._window.append(bar)

    def update(self, bar: Bar) -> SignalRow | None:
        self._window.append(bar)
        if len(self._window) < self._strategy.warmup_bars:
            return None
        row = self._strategy.signals(bars_to_frame(list(self._window))).iloc[-1]
        side = int(row["signal"])
        if side == 0:
            return None
        return SignalRow(
            side=side,
            entry=float(row["entry"]),
            sl=float(row["sl"]),
            tp=float(row["tp"]),
            confidence=float(row["confidence"]),
            reason=str(row["reason"]),
        )


class Strategy(ABC):
    """A trading rule over closed bars."""

    name: ClassVar[str]
    params_model: ClassVar[type[StrategyParams]]
    regime: ClassVar[Regime] = Regime()
    #: Stop-and-reverse rules: a signal first closes the instance's trades on the other side.
    closes_on_opposite: ClassVar[bool] = False

    def __init__(self, /, **params: Any) -> None:
        try:
            self.params = self.params_model.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: "
                f"{e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})"
                for e in exc.errors()
            )
            raise InvalidInputError(
                f"invalid parameters for strategy {self.name!r}: {problems}"
            ) from None
        self._window: deque[Bar] = deque(maxlen=self.window_bars)
        self._stream = self.stream()

    def with_params(self, /, **changes: Any) -> Strategy:
        """A copy with some parameters changed (validated: ``InvalidInputError`` and no copy when a
        value is refused) that keeps the bars seen so far, so it can signal on the next bar."""
        fresh = type(self)(**{**self.params.model_dump(), **changes})
        fresh.warm_up(list(self._window))
        return fresh

    def stream(self) -> SignalStream:
        """A fresh streaming face (see the module docstring); strategies override it with
        their O(1) one."""
        return WindowStream(self)

    @property
    @abstractmethod
    def warmup_bars(self) -> int:
        """How many closed bars the rule needs before its first signal."""

    @property
    def window_bars(self) -> int:
        """How many bars the incremental face keeps (a margin over the warm-up so smoothed
        indicators settle)."""
        return max(3 * self.warmup_bars, 300)

    @abstractmethod
    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The vectorised face: one row of :data:`SIGNAL_COLUMNS` per bar of ``bars``."""

    def warm_up(self, bars: list[Bar]) -> None:
        """Load history (oldest first) without producing signals. Bars already received live
        (a bar that closed while history was loading) stay, after the older history. The
        streaming face starts again from the first of the last ``window_bars`` of them, so
        from here on it equals the vectorised face over the bars since that one."""
        live = list(self._window)
        older = [b for b in bars if not live or b.time < live[0].time]
        self._window.clear()
        self._window.extend(older + live)
        self._stream = self.stream()
        for bar in self._window:
            self._stream.warm(bar)

    def on_bar(self, bar: Bar) -> Signal | None:
        """Add a closed bar to the streaming face; the signal on it if any. A bar not newer
        than the last one (history overlap on reconnect) is ignored."""
        if self._window and bar.time <= self._window[-1].time:
            return None
        self._window.append(bar)
        row = self._stream.update(bar)
        return None if row is None else signal_from(self.name, bar, row)


def signal_from(strategy: str, bar: Bar, row: SignalRow) -> Signal:
    """The :class:`Signal` of a streaming face's row on ``bar``."""
    return Signal(
        strategy=strategy,
        symbol=bar.symbol,
        timeframe=bar.timeframe.name,
        side=Side(row.side),
        entry=row.entry,
        sl=row.sl,
        tp=row.tp,
        confidence=row.confidence,
        reason=row.reason,
        bar_time=bar.time,
    )


def signal_on(strategy: str, bar: Bar, row: Mapping[Any, Any]) -> Signal | None:
    """The :class:`Signal` of one row of a signals frame on ``bar`` (None when it says 0)."""
    side = int(row["signal"])
    if side == 0:
        return None
    return Signal(
        strategy=strategy,
        symbol=bar.symbol,
        timeframe=bar.timeframe.name,
        side=Side(side),
        entry=float(row["entry"]),
        sl=float(row["sl"]),
        tp=float(row["tp"]),
        confidence=float(row["confidence"]),
        reason=str(row["reason"]),
        bar_time=bar.time,
    )


def bars_to_frame(bars: list[Bar]) -> pd.DataFrame:
    """Bars (oldest first) → the DataFrame :meth:`Strategy.signals` takes."""
    return pd.DataFrame(
        {
            "time": pd.to_datetime(
                np.array([b.time for b in bars], dtype="int64"), unit="s", utc=True
            ),
            "open": np.array([b.open for b in bars], dtype="float64"),
            "high": np.array([b.high for b in bars], dtype="float64"),
            "low": np.array([b.low for b in bars], dtype="float64"),
            "close": np.array([b.close for b in bars], dtype="float64"),
            "tick_volume": np.array([b.tick_volume for b in bars], dtype="int64"),
            "spread": np.array([b.spread for b in bars], dtype="int64"),
            "real_volume": np.array([b.real_volume for b in bars], dtype="int64"),
        }
    )


class AtrExitParams(StrategyParams):
    """The exit parameters of strategies that stop at a multiple of ATR beyond the entry and
    target a multiple of that risk."""

    atr_period: int = Field(14, ge=1, le=200)
    atr_multiplier: float = Field(1.5, gt=0, le=20)
    reward_risk: float = Field(2.0, gt=0, le=20)


class TwoAverageParams(StrategyParams):
    """The parameters of strategies built on a fast and a slow moving average. Each strategy
    declares the two periods again with its own defaults and bounds; what they share is the
    rule checked here: the fast average is the shorter one."""

    fast_period: int
    slow_period: int

    @model_validator(mode="after")
    def _periods_ordered(self) -> Self:
        if self.fast_period >= self.slow_period:
            raise ValueError(
                f"fast_period ({self.fast_period}) must be below slow_period ({self.slow_period})"
            )
        return self


def high_low_close(bars: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The ``high``, ``low`` and ``close`` columns of a bars frame as float arrays, in the
    order TA-Lib takes them."""
    return (
        bars["high"].to_numpy(dtype="float64"),
        bars["low"].to_numpy(dtype="float64"),
        bars["close"].to_numpy(dtype="float64"),
    )


def previous(values: FloatArray) -> FloatArray:
    """Each bar's value on the bar before (NaN on the first): the "before" side of a cross."""
    return np.concatenate(([np.nan], values[:-1]))


@dataclass(frozen=True, slots=True)
class SignalColumns:
    """The columns of a signals frame as arrays that a rule fills, made into the frame once at
    the end (writing into arrays is cheaper than into a DataFrame, and every strategy's frame
    gets the same dtypes). The arrays are the rule's scratch space; the dataclass only stops
    them being swapped for others."""

    signal: NDArray[np.int8]
    entry: FloatArray
    sl: FloatArray
    tp: FloatArray
    confidence: FloatArray
    reason: NDArray[np.object_]

    @classmethod
    def empty(cls, n: int) -> SignalColumns:
        """``n`` bars with no signal: no prices (NaN), confidence 0, no reason."""
        return cls(
            signal=np.zeros(n, dtype="int8"),
            entry=np.full(n, np.nan),
            sl=np.full(n, np.nan),
            tp=np.full(n, np.nan),
            confidence=np.zeros(n),
            reason=np.full(n, "", dtype=object),
        )

    def fire(
        self,
        t: int,
        side: int,
        *,
        entry: float,
        sl: float,
        tp: float,
        confidence: float,
        reason: str,
    ) -> None:
        """A signal on bar ``t`` (1 buy, −1 sell), for rules that walk the bars one by one."""
        self.signal[t] = side
        self.entry[t] = entry
        self.sl[t] = sl
        self.tp[t] = tp
        self.confidence[t] = confidence
        self.reason[t] = reason

    def fire_where(
        self,
        buy: NDArray[np.bool_],
        sell: NDArray[np.bool_],
        close: FloatArray,
        stop: FloatArray,
        confidence: FloatArray,
        *,
        reward_risk: float | None,
    ) -> None:
        """Signals on every bar where ``buy`` or ``sell`` holds (never both; a bar with both
        gets none), for vectorised rules: entry at the close, the stop ``stop`` away from it,
        the target ``reward_risk`` × that distance on the other side, or no target (``tp`` 0,
        MetaTrader's "none") when ``reward_risk`` is None. Reasons are left to the rule."""
        direction = buy.astype("int8") - sell.astype("int8")
        fired = direction != 0
        self.signal[:] = direction
        self.entry[fired] = close[fired]
        self.sl[fired] = close[fired] - direction[fired] * stop[fired]
        if reward_risk is None:
            self.tp[fired] = 0.0
        else:
            self.tp[fired] = close[fired] + direction[fired] * reward_risk * stop[fired]
        self.confidence[fired] = confidence[fired]

    def frame(self, index: pd.Index) -> pd.DataFrame:
        """The signals frame over ``index`` (one row per bar, :data:`SIGNAL_COLUMNS`)."""
        return pd.DataFrame(
            {
                "signal": self.signal,
                "entry": self.entry,
                "sl": self.sl,
                "tp": self.tp,
                "confidence": self.confidence,
                "reason": self.reason,
            },
            index=index,
        )


def empty_signals(index: pd.Index) -> pd.DataFrame:
    """A signals frame with no signal on any bar."""
    return SignalColumns.empty(len(index)).frame(index)
