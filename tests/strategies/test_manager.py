"""The strategy manager: market condition on every closed bar, regime gating, isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import ClassVar

import pandas as pd
import pytest_asyncio
from bars_kit import TUESDAY_LONDON, trending_bars

from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, MarketConditionEvent, SignalEvent
from forexbot.market_condition.detector import detect
from forexbot.market_condition.trend import TrendDirection
from forexbot.strategies.base_strategy import (
    SignalRow,
    SignalStream,
    Strategy,
    StrategyParams,
    bars_to_frame,
    empty_signals,
)
from forexbot.strategies.manager import StrategyInstance, StrategyManager
from forexbot.strategies.regime import ANY_TREND, RANGING, Regime

START = TUESDAY_LONDON
TF = Timeframe.M15


class AlwaysBuy(Strategy):
    """Fires a buy on every bar: isolates the manager's own rules."""

    name: ClassVar[str] = "always_buy"
    params_model: ClassVar[type[StrategyParams]] = StrategyParams
    regime: ClassVar[Regime] = Regime(trends=ANY_TREND, require_favourable=False)

    @property
    def warmup_bars(self) -> int:
        return 2

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = empty_signals(bars.index)
        close = bars["close"].to_numpy()
        out["signal"] = 1
        out["entry"] = close
        out["sl"] = close - 0.001
        out["tp"] = close + 0.002
        out["confidence"] = 0.5
        out["reason"] = "always"
        return out


class RangeOnlyBuy(AlwaysBuy):
    name: ClassVar[str] = "range_only"
    regime: ClassVar[Regime] = Regime(trends=RANGING, require_favourable=False)


class Broken(AlwaysBuy):
    name: ClassVar[str] = "broken"

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        raise RuntimeError("bug in a strategy")


class History:
    def __init__(self, bars: list[Bar]) -> None:
        self._bars = bars

    async def history(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]:
        return self._bars[-count:]


class Recorder:
    def __init__(self, bus: EventBus) -> None:
        self.signals: list[SignalEvent] = []
        self.conditions: list[MarketConditionEvent] = []
        bus.subscribe(SignalEvent, self._signal, name="test-signals")
        bus.subscribe(MarketConditionEvent, self._condition, name="test-conditions")

    async def _signal(self, event: SignalEvent) -> None:
        self.signals.append(event)

    async def _condition(self, event: MarketConditionEvent) -> None:
        self.conditions.append(event)


@pytest_asyncio.fixture(loop_scope="function")
async def bus() -> EventBus:
    bus = EventBus()
    bus.start()
    return bus


async def drained(bus: EventBus) -> None:
    """Until every subscriber has taken what was published (no wall-clock guess)."""
    while not bus.idle():  # noqa: ASYNC110 - the bus's tasks do the work
        await asyncio.sleep(0.001)


async def run(manager: StrategyManager, bus: EventBus, live: list[Bar]) -> None:
    await manager.warm_up()
    for bar in live:
        await manager.on_bar(BarEvent(bar))
    await drained(bus)


async def test_each_closed_bar_gets_a_market_condition_event(bus: EventBus) -> None:
    bars = trending_bars(330)
    recorder = Recorder(bus)
    manager = StrategyManager([StrategyInstance(AlwaysBuy(), "EURUSD", TF)], History(bars[:300]),
                              bus)  # fmt: skip
    await run(manager, bus, bars[300:])
    assert len(recorder.conditions) == 30
    last = recorder.conditions[-1].condition
    assert last.symbol == "EURUSD"
    assert last.trend is TrendDirection.BULLISH
    assert manager.condition("EURUSD", TF) == last  # the last event's, kept for reading


async def test_the_condition_on_a_live_bar_is_detect_over_the_streams_bars_since_warm_up(
    bus: EventBus,
) -> None:
    bars = trending_bars(340)
    recorder = Recorder(bus)
    manager = StrategyManager([StrategyInstance(AlwaysBuy(), "EURUSD", TF)], History(bars[:320]),
                              bus)  # fmt: skip
    await manager.warm_up()
    first = 320 - len(manager.bars("EURUSD", TF))  # the first bar the detector was fed
    for bar in bars[320:]:
        await manager.on_bar(BarEvent(bar))
    await drained(bus)
    expected = [
        detect(bars_to_frame(bars[first : t + 1]), "EURUSD", TF).to_dict()
        for t in range(320, len(bars))
    ]
    assert [event.condition.to_dict() for event in recorder.conditions] == expected


async def test_a_strategy_failing_on_its_history_is_counted_and_the_others_warm_up(
    bus: EventBus,
) -> None:
    class BrokenHistory(AlwaysBuy):
        name: ClassVar[str] = "broken_history"

        def stream(self) -> SignalStream:
            raise_on_warm = super().stream()

            class Failing(SignalStream):
                def update(self, bar: Bar) -> SignalRow | None:
                    return raise_on_warm.update(bar)

                def warm(self, bar: Bar) -> None:
                    raise RuntimeError("bug in a strategy's history")

            return Failing()

    bars = trending_bars(305)
    broken = StrategyInstance(BrokenHistory(), "EURUSD", TF)
    working = StrategyInstance(AlwaysBuy(), "EURUSD", TF)
    manager = StrategyManager([broken, working], History(bars[:300]), bus)
    await run(manager, bus, bars[300:])
    assert manager.errors[broken.key] == 1
    assert working.signals == 5


async def test_a_signal_carries_the_condition_snapshot_and_risk_multiplier(bus: EventBus) -> None:
    bars = trending_bars(310)
    recorder = Recorder(bus)
    instance = StrategyInstance(AlwaysBuy(), "EURUSD", TF, risk_multiplier=0.5)
    manager = StrategyManager([instance], History(bars[:300]), bus)
    await run(manager, bus, bars[300:])
    assert len(recorder.signals) == 10
    signal = recorder.signals[-1].signal
    assert signal.risk_multiplier == 0.5
    assert signal.market_condition["trend"] == "bullish"
    last_bar = datetime.fromtimestamp(bars[-1].time, tz=UTC).isoformat()
    assert signal.market_condition["bar_time"] == last_bar


async def test_a_signal_outside_its_regime_is_suppressed_and_counted(bus: EventBus) -> None:
    bars = trending_bars(310)
    recorder = Recorder(bus)
    instance = StrategyInstance(RangeOnlyBuy(), "EURUSD", TF)
    manager = StrategyManager([instance], History(bars[:300]), bus)
    await run(manager, bus, bars[300:])
    assert recorder.signals == []
    assert instance.suppressed == 10
    assert instance.suppressed_by == {"trend": 10}


async def test_a_failing_strategy_does_not_stop_the_others(bus: EventBus) -> None:
    bars = trending_bars(305)
    recorder = Recorder(bus)
    broken = StrategyInstance(Broken(), "EURUSD", TF)
    working = StrategyInstance(AlwaysBuy(), "EURUSD", TF)
    manager = StrategyManager([broken, working], History(bars[:300]), bus)
    await run(manager, bus, bars[300:])
    assert broken.errors == 5
    assert working.signals == 5
    assert len(recorder.signals) == 5


async def test_a_disabled_instance_produces_no_signal(bus: EventBus) -> None:
    bars = trending_bars(305)
    recorder = Recorder(bus)
    instance = StrategyInstance(AlwaysBuy(), "EURUSD", TF, enabled=False)
    manager = StrategyManager([instance], History(bars[:300]), bus)
    await run(manager, bus, bars[300:])
    assert recorder.signals == []
    assert instance.bars_seen == 5


async def test_a_bar_already_seen_is_ignored(bus: EventBus) -> None:
    bars = trending_bars(302)
    recorder = Recorder(bus)
    instance = StrategyInstance(AlwaysBuy(), "EURUSD", TF)
    manager = StrategyManager([instance], History(bars[:300]), bus)
    await run(manager, bus, [bars[299], bars[300], bars[300], bars[301]])
    assert instance.bars_seen == 2
    assert len(recorder.conditions) == 2


async def test_a_bar_that_closes_while_history_loads_stays_after_the_history(
    bus: EventBus,
) -> None:
    bars = trending_bars(302)
    instance = StrategyInstance(AlwaysBuy(), "EURUSD", TF)
    manager = StrategyManager([instance], History(bars[:301]), bus)
    await manager.on_bar(BarEvent(bars[301]))  # live, before the warm-up has run
    await manager.warm_up()
    window = [b.time for b in instance.strategy._window]
    assert window == sorted(window)
    assert window[-1] == bars[301].time
    stream = [b.time for b in manager.bars("EURUSD", TF)]
    assert stream == sorted(stream)
    assert stream[-1] == bars[301].time
