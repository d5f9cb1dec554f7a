"""The strategy manager: runs strategy instances per (strategy, symbol, timeframe).

Rules:

* Each instance is warmed up from the terminal's history before its first live bar, so the
  first live signal already sees a full indicator window.
* Closed bars are delivered to the instances of their symbol and timeframe, in order.
* A strategy that raises is isolated: the exception is logged and counted, the bar is skipped
  for that instance only, and the other instances go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, SignalEvent
from forexbot.strategies.base_strategy import Strategy

_log = structlog.get_logger("forexbot.strategies")


class HistorySource(Protocol):
    """Where warm-up bars come from (the connector)."""

    async def history(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]: ...


@dataclass(slots=True)
class StrategyInstance:
    """One strategy running on one symbol and timeframe."""

    strategy: Strategy
    symbol: str
    timeframe: Timeframe
    bars_seen: int = 0
    signals: int = 0
    errors: int = 0

    @property
    def key(self) -> str:
        return f"{self.strategy.name}:{self.symbol}:{self.timeframe.name}"


class StrategyManager:
    """Feeds closed bars to strategy instances and publishes their signals."""

    def __init__(
        self, instances: Sequence[StrategyInstance], history: HistorySource, bus: EventBus
    ) -> None:
        self.instances = list(instances)
        self._history = history
        self._bus = bus
        self._by_stream: dict[tuple[str, Timeframe], list[StrategyInstance]] = {}
        for instance in self.instances:
            self._by_stream.setdefault((instance.symbol, instance.timeframe), []).append(instance)
        self.errors: Counter[str] = Counter()

    @property
    def timeframes(self) -> set[Timeframe]:
        return {i.timeframe for i in self.instances}

    def subscribe(self) -> None:
        self._bus.subscribe(BarEvent, self.on_bar, name="strategies")

    async def warm_up(self) -> None:
        """Load each instance's warm-up history from the terminal."""
        for instance in self.instances:
            bars = await self._history.history(
                instance.symbol, instance.timeframe, instance.strategy.window_bars
            )
            instance.strategy.warm_up(bars)
            _log.info("strategy warmed up", instance=instance.key, bars=len(bars))

    async def on_bar(self, event: BarEvent) -> None:
        bar = event.bar
        for instance in self._by_stream.get((bar.symbol, bar.timeframe), ()):
            instance.bars_seen += 1
            try:
                signal = instance.strategy.on_bar(bar)
            except Exception:
                instance.errors += 1
                self.errors[instance.key] += 1
                _log.exception("strategy failed on a bar", instance=instance.key, bar_time=bar.time)
                continue
            if signal is not None:
                instance.signals += 1
                _log.info(
                    "signal",
                    instance=instance.key,
                    side=signal.side.label,
                    entry=signal.entry,
                    sl=signal.sl,
                    tp=signal.tp,
                    reason=signal.reason,
                )
                self._bus.publish(SignalEvent(signal))

    def describe(self) -> list[dict[str, object]]:
        """Instances and their counters, for the status endpoint."""
        return [
            {
                "id": i.key,
                "strategy": i.strategy.name,
                "symbol": i.symbol,
                "timeframe": i.timeframe.name,
                "bars_seen": i.bars_seen,
                "signals": i.signals,
                "errors": i.errors,
            }
            for i in self.instances
        ]
