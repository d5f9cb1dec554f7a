"""Run-time control of strategy instances: what the API's strategy and market routes call.

Rules:

* A change is validated completely before anything changes: a bad parameter raises
  :class:`~forexbot.errors.InvalidInputError` naming it, and the running instance keeps its old
  parameters.
* A change is persisted in ``strategy_config`` before it is applied, so a database failure
  changes nothing, and a change survives a restart (the table wins over the strategies file).
* A change takes effect on the next closed bar: the instance keeps its bars, so the new
  parameters need no new warm-up as long as they need no more bars than the window holds.
"""

from __future__ import annotations

import copy
import functools
from typing import Annotated, Any, Protocol

import numpy as np
import structlog
import talib
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from forexbot.clock import Clock, RealtimeClock
from forexbot.config.models import TradeManagement
from forexbot.domain.market import Timeframe
from forexbot.errors import InvalidInputError, NotFoundError
from forexbot.events.bus import EventBus
from forexbot.events.types import StrategyToggledEvent
from forexbot.strategies.manager import StrategyInstance, StrategyManager

_log = structlog.get_logger("forexbot.strategies")

MAX_RISK_MULTIPLIER = 10.0


class StrategySettingsStore(Protocol):
    """Where run-time changes are kept (``StrategyConfigRepository``)."""

    async def save(
        self,
        *,
        strategy: str,
        symbol: str,
        timeframe: str,
        enabled: bool,
        params: dict[str, Any],
        risk_multiplier: float,
        updated_by: str | None,
        management: dict[str, Any] | None = None,
    ) -> None: ...


class StrategyControl:
    """Lists, changes and toggles the manager's instances; reports market analysis."""

    def __init__(
        self,
        manager: StrategyManager,
        store: StrategySettingsStore,
        *,
        bus: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        """With a ``bus``, enabling or disabling an instance publishes a
        :class:`StrategyToggledEvent` stamped by ``clock`` (the trading clock)."""
        self._manager = manager
        self._store = store
        self._bus = bus
        self._clock = clock or RealtimeClock()

    def _instance(self, strategy_id: str) -> StrategyInstance:
        for instance in self._manager.instances:
            if instance.key == strategy_id:
                return instance
        raise NotFoundError(f"no strategy instance {strategy_id!r}")

    @staticmethod
    def _describe(instance: StrategyInstance) -> dict[str, Any]:
        regime = instance.strategy.regime
        return {
            "id": instance.key,
            "strategy": instance.strategy.name,
            "symbol": instance.symbol,
            "timeframe": instance.timeframe.name,
            "enabled": instance.enabled,
            "params": instance.strategy.params.model_dump(),
            "parameter_schema": parameter_schema(instance.strategy.params_model),
            "risk_multiplier": instance.risk_multiplier,
            "risk_multiplier_schema": risk_multiplier_schema(),
            "volume": instance.volume,
            "management": instance.management.model_dump(),
            "management_schema": parameter_schema(TradeManagement),
            "regime": {
                "trends": sorted(t.value for t in regime.trends),
                "volatility": sorted(v.value for v in regime.volatility),
                "require_favourable": regime.require_favourable,
            },
            "bars_seen": instance.bars_seen,
            "signals": instance.signals,
            "suppressed": instance.suppressed,
            "suppressed_by": dict(instance.suppressed_by),
            "errors": instance.errors,
        }

    def list_strategies(self) -> list[dict[str, Any]]:
        return [self._describe(i) for i in self._manager.instances]

    def get_strategy(self, strategy_id: str) -> dict[str, Any] | None:
        try:
            return self._describe(self._instance(strategy_id))
        except NotFoundError:
            return None

    async def update_strategy(
        self,
        strategy_id: str,
        *,
        params: dict[str, Any] | None,
        risk_multiplier: float | None,
        enabled: bool | None,
        actor: str,
        management: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        instance = self._instance(strategy_id)
        managed = instance.management
        if management is not None:
            try:
                managed = TradeManagement.model_validate(
                    {**instance.management.model_dump(), **management}
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"management.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in exc.errors()
                )
                raise InvalidInputError(problems) from None
        strategy = instance.strategy.with_params(**params) if params else instance.strategy
        multiplier = instance.risk_multiplier if risk_multiplier is None else risk_multiplier
        if not 0 < multiplier <= MAX_RISK_MULTIPLIER:
            raise InvalidInputError(
                f"risk_multiplier = {multiplier!r} is not allowed: must be > 0 and "
                f"≤ {MAX_RISK_MULTIPLIER:g}"
            )
        was_enabled = instance.enabled
        active = was_enabled if enabled is None else enabled
        await self._store.save(
            strategy=instance.strategy.name,
            symbol=instance.symbol,
            timeframe=instance.timeframe.name,
            enabled=active,
            params=strategy.params.model_dump(),
            risk_multiplier=multiplier,
            updated_by=actor,
            management=managed.model_dump(),
        )
        if params:
            # Built again now from the live strategy: a bar that closed during the save is in
            # its window. Without new parameters the live strategy stays: it may not be the
            # object read before the save (an analysis adopted at a close replaces it).
            instance.strategy = instance.strategy.with_params(**params)
        instance.risk_multiplier, instance.enabled = multiplier, active
        instance.management = managed
        if self._bus is not None and active != was_enabled:
            self._bus.publish(
                StrategyToggledEvent(strategy_id, active, self._clock.time(), actor=actor)
            )
        _log.info(
            "strategy changed",
            instance=strategy_id,
            actor=actor,
            params=params,
            risk_multiplier=multiplier,
            enabled=active,
            management=managed.model_dump() if management is not None else None,
        )
        return self._describe(instance)

    async def toggle_strategy(self, strategy_id: str, *, actor: str) -> dict[str, Any]:
        instance = self._instance(strategy_id)
        return await self.update_strategy(
            strategy_id, params=None, risk_multiplier=None, enabled=not instance.enabled,
            actor=actor,
        )  # fmt: skip

    def market_conditions(self) -> list[dict[str, Any]]:
        return [condition.to_dict() for condition in self._manager.conditions()]

    def market_analysis(self, symbol: str) -> dict[str, Any] | None:
        """Per timeframe ``symbol`` is analysed on (every timeframe a strategy runs on, traded
        on that symbol or not): the latest condition, indicator values on the last closed bar,
        and support/resistance from confirmed swing points. ``None`` only for a symbol that is
        not watched; a watched one always has an answer, with no timeframe when no strategy
        runs at all."""
        if symbol not in self._manager.watchlist:
            return None
        return {
            "symbol": symbol,
            "timeframes": {
                tf.name: self._analysis(symbol, tf) for tf in self._manager.timeframes(symbol)
            },
        }

    def _analysis(self, symbol: str, timeframe: Timeframe) -> dict[str, Any]:
        condition = self._manager.condition(symbol, timeframe)
        bars = self._manager.bars(symbol, timeframe)
        out: dict[str, Any] = {
            "condition": None if condition is None else condition.to_dict(),
            "bars": len(bars),
            "indicators": {},
            "levels": {"resistance": [], "support": []},
        }
        if len(bars) < 60:
            return out
        close = np.array([b.close for b in bars])
        high = np.array([b.high for b in bars])
        low = np.array([b.low for b in bars])

        def last(values: np.ndarray[Any, Any]) -> float | None:
            value = float(values[-1])
            return None if np.isnan(value) else value

        out["indicators"] = {
            "close": float(close[-1]),
            "sma_20": last(talib.SMA(close, 20)),
            "sma_50": last(talib.SMA(close, 50)),
            "rsi_14": last(talib.RSI(close, 14)),
            "atr_14": last(talib.ATR(high, low, close, 14)),
            "adx_14": last(talib.ADX(high, low, close, 14)),
        }
        out["levels"] = {
            "resistance": swing_levels(high, np.greater_equal)[-3:],
            "support": swing_levels(low, np.less_equal)[-3:],
        }
        return out


def parameter_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a strategy's parameters (each one's ``type``, ``minimum``/``maximum``
    or their ``exclusive`` forms, ``default``...), so a client builds a form that refuses an
    out-of-range value before asking. Rules across parameters (``fast_period`` below
    ``slow_period``) are not in it: the engine still says those. A copy each time, so a caller
    may change what it gets; the schema itself is made once per model."""
    return copy.deepcopy(_schema_of(model))


@functools.cache
def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def risk_multiplier_schema() -> dict[str, Any]:
    """The JSON Schema of an instance's ``risk_multiplier`` (above 0, at most
    :data:`MAX_RISK_MULTIPLIER`), in the same words as ``parameter_schema`` so one client form
    reads both. A copy each time, the schema made once."""
    return copy.deepcopy(_RISK_MULTIPLIER_SCHEMA)


_RISK_MULTIPLIER_SCHEMA: dict[str, Any] = TypeAdapter(
    Annotated[
        float,
        Field(
            gt=0,
            le=MAX_RISK_MULTIPLIER,
            title="Risk Multiplier",
            description=(
                "Multiplies the risk per trade (risk_per_trade_percent) for this instance's"
                " orders: 1 keeps it, 0.5 halves it."
            ),
        ),
    ]
).json_schema()


def swing_levels(values: np.ndarray[Any, Any], better: Any, strength: int = 5) -> list[float]:
    """Prices of confirmed swing points: a value that is the extreme of the ``strength`` bars
    on each side (so the newest ``strength`` bars cannot confirm one yet), oldest first."""
    found: list[float] = []
    for i in range(strength, len(values) - strength):
        window = values[i - strength : i + strength + 1]
        if all(better(values[i], v) for v in window):
            found.append(float(values[i]))
    return found
