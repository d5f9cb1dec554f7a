"""The kernel's screening of its decisions: the strategy's regime and the market-condition
filter, as the event-driven backtest applies them before the risk manager's other rules.

Signals are screened exactly as in :meth:`Backtest._decide <forexbot.backtest.runner.Backtest>`:
the condition on the signal's bar from a :class:`~forexbot.market_condition.series.ConditionSeries`
(``None`` before the detector's ``min_bars``), the regime's verdict by
:func:`~forexbot.strategies.manager.admit` (suppressions counted on the instance), then the
risk manager's :func:`~forexbot.engine.risk_checks.market_condition` on what passed. When the
regime accepts any condition and the limits filter no session, liquidity or volatility, only
the condition's ``market_open`` can refuse, and it is a function of the bar's close time
(:func:`forex_open`): the detector is then not run at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from forexbot.backtest.prices import PriceSeries
from forexbot.backtest.runner import BacktestSpec
from forexbot.domain.rejection import RejectCode
from forexbot.engine import risk_checks as checks
from forexbot.market_condition.series import ConditionSeries
from forexbot.market_condition.sessions import NEW_YORK, WEEKEND_BOUNDARY
from forexbot.strategies.base_strategy import signal_on
from forexbot.strategies.manager import StrategyInstance, admit
from forexbot.strategies.regime import is_synthetic_index

I64 = NDArray[np.int64]


def forex_open(utc_seconds: I64) -> NDArray[np.bool_]:
    """:func:`~forexbot.market_condition.sessions.forex_open` at many UTC times at once."""
    local = pd.DatetimeIndex(pd.to_datetime(utc_seconds, unit="s", utc=True)).tz_convert(NEW_YORK)
    day = np.asarray(local.day_of_week)
    minutes = np.asarray(local.hour) * 60 + np.asarray(local.minute)
    seconds = minutes * 60 + np.asarray(local.second)
    boundary = WEEKEND_BOUNDARY.hour * 3600 + WEEKEND_BOUNDARY.minute * 60
    friday, saturday, sunday = 4, 5, 6
    out = np.ones(len(utc_seconds), dtype=np.bool_)
    out[day == saturday] = False
    out[(day == friday) & (seconds >= boundary)] = False
    out[(day == sunday) & (seconds < boundary)] = False
    return out


class Screen:
    """Steps 4-5 of the module docstring for every decision: the regime screen and the
    market-condition filter's refusal (or ``None``)."""

    def __init__(
        self,
        instance: StrategyInstance,
        prices: PriceSeries,
        frame: pd.DataFrame,
        signals: pd.DataFrame,
        spec: BacktestSpec,
    ) -> None:
        self.instance = instance
        self._prices = prices
        self._frame = frame
        self._signals = signals
        self._spec = spec

    def run(self, decisions: I64) -> tuple[NDArray[np.bool_], list[RejectCode | None]]:
        spec, settings = self._spec, self._spec.risk
        synthetic = is_synthetic_index(spec.symbol)
        regime = self.instance.strategy.regime
        only_open = (
            regime.accepts_anything
            and settings.allowed_sessions is None
            and not settings.blocked_liquidity
            and not settings.blocked_volatility
        )
        admitted = np.ones(len(decisions), dtype=np.bool_)
        refused: list[RejectCode | None] = [None] * len(decisions)
        if only_open:
            # The condition exists from the detector's min_bars; only market_open can refuse.
            closes = self._prices.close_time[decisions]
            market_open = np.ones(len(decisions), dtype=np.bool_)
            if not synthetic:
                market_open = forex_open(closes)
            known = decisions + 1 >= spec.detector.min_bars
            for k in np.flatnonzero(known & ~market_open).tolist():
                refused[k] = RejectCode.MARKET_CLOSED
            self.instance.signals += len(decisions)
            return admitted, refused
        conditions = ConditionSeries(
            self._frame, spec.symbol, spec.timeframe, spec.detector, synthetic=synthetic
        )
        rows = self._signals.iloc[decisions].to_dict("records")
        for k, (i, row) in enumerate(zip(decisions.tolist(), rows, strict=True)):
            signal = signal_on(self.instance.strategy.name, self._prices.bar(i), row)
            if signal is None:  # a decision is a signal bar: never
                admitted[k] = False
                continue
            passed = admit(self.instance, signal, conditions.at(i))
            if passed is None:
                admitted[k] = False
                continue
            rejection = checks.market_condition(passed.market_condition, settings)
            refused[k] = None if rejection is None else rejection.code
        return admitted, refused
