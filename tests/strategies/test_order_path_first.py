"""Orders before analysis: a signal reaches the order path before the rest of the burst is
analysed, and the rest of the burst waits while the order path is busy.

The order path is stood in for by a bus subscriber named ``risk`` (the manager gives way to
the subscribers ``defer_to`` names, as the daemon wires it with ``ORDER_PATH``). Each test
records, when that subscriber takes a signal, how many instances have computed so far: an
ordering of events, not a duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

import pandas as pd
import pytest
from bars_kit import TUESDAY_LONDON, trending_bars

from forexbot.domain.market import Bar, Timeframe
from forexbot.events import bus as bus_module
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, SignalEvent
from forexbot.strategies.base_strategy import Strategy, StrategyParams, empty_signals
from forexbot.strategies.manager import StrategyInstance, StrategyManager
from forexbot.strategies.regime import ANY_TREND, Regime

START = TUESDAY_LONDON
TF = Timeframe.M15
HISTORY = 300


class Computations:
    """Every live computation of every instance, in the order they ran: (symbol, bar time)."""

    def __init__(self) -> None:
        self.done: list[tuple[str, int]] = []
        self.live = False  # warm-up computations are not counted


class CountingBuy(Strategy):
    """Buys on every bar and notes each computation in the shared :class:`Computations`."""

    name: ClassVar[str] = "counting_buy"
    params_model: ClassVar[type[StrategyParams]] = StrategyParams
    regime: ClassVar[Regime] = Regime(trends=ANY_TREND, require_favourable=False)
    computations: Computations

    @property
    def warmup_bars(self) -> int:
        return 2

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        if self.computations.live:
            self.computations.done.append((self._window[-1].symbol, self._window[-1].time))
        out = empty_signals(bars.index)
        close = bars["close"].to_numpy()
        out["signal"] = 1
        out["entry"] = close
        out["sl"] = close - 0.001
        out["tp"] = close + 0.002
        out["confidence"] = 0.5
        out["reason"] = "always"
        return out


def counting(computations: Computations, symbol: str) -> StrategyInstance:
    strategy = CountingBuy()
    strategy.computations = computations
    return StrategyInstance(strategy, symbol, TF)


class History:
    def __init__(self, bars: dict[str, list[Bar]]) -> None:
        self._bars = bars

    async def history(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]:
        return self._bars[symbol][-count:]


class OrderPath:
    """The ``risk`` subscriber: what had been computed when it took each signal, and (while
    ``gate`` is closed) holding each signal as a slow risk check would."""

    def __init__(self, bus: EventBus, computations: Computations, manager: StrategyManager) -> None:
        self.taken: list[tuple[str, int, int]] = []  # (symbol, bar time, computations so far)
        #: Was the other stream's condition on this bar's time already computed?
        self.other_conditions: list[bool] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self._computations = computations
        self._manager = manager
        bus.subscribe(SignalEvent, self._take, name="risk")

    async def _take(self, event: SignalEvent) -> None:
        s = event.signal
        self.taken.append((s.symbol, s.bar_time, len(self._computations.done)))
        other = "GBPUSD" if s.symbol == "EURUSD" else "EURUSD"
        condition = self._manager.condition(other, TF)
        self.other_conditions.append(
            condition is not None and condition.bar_time.timestamp() == s.bar_time
        )
        await self.gate.wait()


async def burst(bus: EventBus, bars: list[Bar]) -> None:
    """Publish ``bars`` at once, as a poll that closes several bars does, then let the bus
    drain."""
    for bar in bars:
        bus.publish(BarEvent(bar))
    while not bus.idle():  # noqa: ASYNC110 - the bus's tasks do the work
        await asyncio.sleep(0.001)


async def wired(
    symbols: list[str], per_symbol: int, max_defer: float = 0.25
) -> tuple[EventBus, Computations, StrategyManager, OrderPath, dict[str, list[Bar]]]:
    bars = {symbol: trending_bars(HISTORY + 5, symbol) for symbol in symbols}
    computations = Computations()
    bus = EventBus()
    instances = [counting(computations, s) for s in symbols for _ in range(per_symbol)]
    manager = StrategyManager(
        instances,
        History({s: b[:HISTORY] for s, b in bars.items()}),
        bus,
        defer_to=lambda: bus.busy("risk"),
        max_defer=max_defer,
    )
    order_path = OrderPath(bus, computations, manager)
    manager.subscribe()
    bus.start()
    await manager.warm_up()
    computations.live = True
    return bus, computations, manager, order_path, bars


async def test_a_signal_reaches_risk_before_the_next_instance_of_its_bar_computes() -> None:
    bus, computations, _, order_path, bars = await wired(["EURUSD"], per_symbol=4)
    await burst(bus, [bars["EURUSD"][HISTORY]])
    assert len(computations.done) == 4
    bar_time = bars["EURUSD"][HISTORY].time
    assert order_path.taken == [("EURUSD", bar_time, n) for n in (1, 2, 3, 4)]
    await bus.close()


async def test_a_signal_reaches_risk_before_the_next_bar_of_the_burst_is_analysed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The manager's own hand-over, not the bus's fairness rule (a subscriber yields after a
    # millisecond of work), which a fast analysis would not trigger.
    monkeypatch.setattr(bus_module, "_MAX_RUN_WITHOUT_YIELD", 3600.0)
    bus, _, _, order_path, bars = await wired(["EURUSD", "GBPUSD"], per_symbol=1)
    await burst(bus, [bars["EURUSD"][HISTORY], bars["GBPUSD"][HISTORY]])
    assert [(symbol, n) for symbol, _, n in order_path.taken] == [("EURUSD", 1), ("GBPUSD", 2)]
    # GBPUSD's market condition on the burst's bar (its bar's analysis) had not run when
    # EURUSD's signal reached risk.
    assert order_path.other_conditions == [False, True]
    await bus.close()


async def test_the_rest_of_the_burst_waits_while_the_order_path_is_busy() -> None:
    bus, computations, _, order_path, bars = await wired(
        ["EURUSD", "GBPUSD"], per_symbol=3, max_defer=60.0
    )
    order_path.gate.clear()  # the first risk check does not finish until the gate opens
    for symbol in ("EURUSD", "GBPUSD"):
        bus.publish(BarEvent(bars[symbol][HISTORY]))
    while not order_path.taken:  # noqa: ASYNC110 - the bus's tasks do the work
        await asyncio.sleep(0.001)
    for _ in range(20):  # the manager polls the order path: give it many chances to go on
        await asyncio.sleep(0.001)
    assert len(computations.done) == 1
    order_path.gate.set()
    while not bus.idle():  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    assert len(computations.done) == 6
    assert [n for _, _, n in order_path.taken] == [1, 2, 3, 4, 5, 6]
    await bus.close()


async def test_the_signals_of_a_symbol_reach_risk_in_bar_order() -> None:
    bus, _, _, order_path, bars = await wired(["EURUSD", "GBPUSD"], per_symbol=2)
    live = [bar for i in range(HISTORY, HISTORY + 5) for bar in (bars["EURUSD"][i],
            bars["GBPUSD"][i])]  # fmt: skip
    await burst(bus, live)
    for symbol in ("EURUSD", "GBPUSD"):
        times = [t for s, t, _ in order_path.taken if s == symbol]
        assert times == sorted(times)
        assert len(times) == 10
    await bus.close()


class LoopTurns:
    """Counts the event loop's turns: a task that adds one and yields, forever."""

    def __init__(self) -> None:
        self.count = 0

    async def run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)


class QuietCounter(Strategy):
    """Never signals; notes the loop turn at each live computation."""

    name: ClassVar[str] = "quiet_counter"
    params_model: ClassVar[type[StrategyParams]] = StrategyParams
    regime: ClassVar[Regime] = Regime(trends=ANY_TREND, require_favourable=False)
    turns: LoopTurns
    seen: list[int]

    @property
    def warmup_bars(self) -> int:
        return 2

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        self.seen.append(self.turns.count)
        return empty_signals(bars.index)


async def quiet_manager(
    symbols: list[str],
    turns: LoopTurns,
    seen: list[int],
    defer_to: Callable[[], bool] = lambda: False,
) -> tuple[StrategyManager, dict[str, list[Bar]]]:
    """Three :class:`QuietCounter` instances per symbol, warmed up."""
    bars = {symbol: trending_bars(HISTORY + 1, symbol) for symbol in symbols}
    instances = []
    for symbol in symbols:
        for _ in range(3):
            strategy = QuietCounter()
            strategy.turns, strategy.seen = turns, seen
            instances.append(StrategyInstance(strategy, symbol, TF))
    history = History({s: b[:HISTORY] for s, b in bars.items()})
    manager = StrategyManager(instances, history, EventBus(), defer_to=defer_to)
    await manager.warm_up()
    seen.clear()
    return manager, bars


async def test_instances_that_signal_nothing_run_back_to_back() -> None:
    # Nothing was handed to the order path, so there is nothing to make way for: the bar's
    # instances all compute within one turn of the loop.
    turns, seen = LoopTurns(), []
    manager, bars = await quiet_manager(["EURUSD"], turns, seen)
    ticking = asyncio.get_running_loop().create_task(turns.run())

    await manager.on_bar(BarEvent(bars["EURUSD"][HISTORY]))

    ticking.cancel()
    assert seen == [0, 0, 0]


async def test_the_bars_of_a_burst_that_signal_nothing_are_analysed_in_one_turn() -> None:
    turns, seen = LoopTurns(), []
    symbols = ["EURUSD", "GBPUSD", "USDJPY"]
    manager, bars = await quiet_manager(symbols, turns, seen)
    ticking = asyncio.get_running_loop().create_task(turns.run())

    for symbol in symbols:
        await manager.on_bar(BarEvent(bars[symbol][HISTORY]))

    ticking.cancel()
    assert seen == [0] * 9


async def test_a_busy_order_path_is_given_way_before_a_bar_that_follows_no_signal() -> None:
    turns, seen = LoopTurns(), []
    busy = [True]
    manager, bars = await quiet_manager(["EURUSD"], turns, seen, defer_to=lambda: busy[0])

    async def order_path_done() -> None:
        await asyncio.sleep(0)
        busy[0] = False

    ticking = asyncio.get_running_loop().create_task(turns.run())
    asyncio.get_running_loop().create_task(order_path_done())

    await manager.on_bar(BarEvent(bars["EURUSD"][HISTORY]))

    ticking.cancel()
    assert not busy[0]
    assert seen[0] > 0  # the loop turned (the order path finished) before the analysis
    assert seen == [seen[0]] * 3
