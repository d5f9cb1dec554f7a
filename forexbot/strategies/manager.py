"""The strategy manager: runs strategy instances per (strategy, symbol, timeframe).

Rules:

* Each instance is warmed up from the terminal's history before its first live bar, so the
  first live signal already sees a full indicator window.
* Closed bars are delivered to the instances of their symbol and timeframe, in order.
* On every closed bar the market condition of that symbol and timeframe is detected once, by
  the stream's :class:`~forexbot.market_condition.stream.ConditionStream` (O(1) per bar,
  equal to :func:`~forexbot.market_condition.detector.detect` over the stream's bars since
  its warm-up), and published as a :class:`~forexbot.events.types.MarketConditionEvent`.
  The strategies' streaming faces are O(1) per bar too: no frame of bars is built on the
  live path.
* **Every watched symbol is analysed**, traded or not: each symbol of the ``watchlist`` gets a
  stream (warm-up, bars, condition) on every timeframe a strategy runs on (the connector
  builds those bars for every watched symbol anyway), so the market endpoints answer for
  every watched symbol. The cost of a symbol no strategy trades is one detection per closed
  bar on each of those timeframes, the same as a traded symbol's. With no strategy at all
  there is no timeframe to analyse on, and a watched symbol has no stream.
* A signal produced while the condition is outside its strategy's
  :class:`~forexbot.strategies.regime.Regime` is suppressed: logged and counted, not traded.
  A signal that passes carries the condition snapshot (stored with the trade as
  ``market_condition``) and its instance's ``risk_multiplier``.
* **Orders before analysis.** A signal is published as soon as its instance emits it, and
  after it the manager yields to the event loop before any more analysis (the next
  instance, or the next bar's market condition), so the risk manager takes the signal first.
  Where nothing was published since the last yield there is nothing to hand over, and
  without a yield the order path's state cannot have changed: instances and the bars of a
  burst that signal nothing run back to back (the bus still yields once per millisecond of
  work, for the rest of the loop); while ``defer_to()`` says the order path is busy (a signal being
  risk-checked, an order's row or request being built; see
  :mod:`~forexbot.engine.order_path`) it waits, up to ``max_defer`` seconds each
  time: when every symbol's bar closes at once, the first signals' orders go out while the
  rest of the burst waits, instead of competing with them for the one CPU the loop has.
  Bars are still analysed one at a time in their order, so the signals of a symbol keep
  their order.
* **Analysis ahead of the close.** The bars about to close
  (:class:`~forexbot.events.types.FormingBarsEvent`) are analysed during the polls before
  their end, on forks of the stream's state, by a second subscriber that works only while no
  closed bar waits and the order path is idle; a bar that closes equal to its speculation
  adopts it (:mod:`~forexbot.strategies.speculation`: the outcome is the one the close would
  compute), so a closing burst costs a lookup per stream, not its analysis.
* A strategy that raises is isolated: the exception is logged and counted, the bar is skipped
  for that instance only, and the other instances go on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from forexbot.config.models import TradeManagement
from forexbot.domain.market import Bar, Timeframe
from forexbot.domain.trading import Signal
from forexbot.events.bus import EventBus, SubscriberStats
from forexbot.events.give_way import wait_while
from forexbot.events.types import BarEvent, FormingBarsEvent, MarketConditionEvent, SignalEvent
from forexbot.market_condition.detector import DetectorParams, MarketCondition
from forexbot.market_condition.stream import ConditionStream
from forexbot.strategies.base_strategy import Strategy
from forexbot.strategies.regime import is_synthetic_index
from forexbot.strategies.speculation import Outcome, Speculation, speculate

_log = structlog.get_logger("forexbot.strategies")

#: The manager's bus subscriber: busy while bars wait for their analysis.
STRATEGIES_SUBSCRIBER = "strategies"
#: Its subscriber of the bars about to close (analysis ahead; see the module docstring).
SPECULATION_SUBSCRIBER = "strategies-ahead"


class HistorySource(Protocol):
    """Where warm-up bars come from (the connector)."""

    async def history(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]: ...


@dataclass(slots=True)
class StrategyInstance:
    """One strategy running on one symbol and timeframe."""

    strategy: Strategy
    symbol: str
    timeframe: Timeframe
    risk_multiplier: float = 1.0
    enabled: bool = True
    volume: float | None = None  # fixed lots; None: sized by the risk manager
    management: TradeManagement = field(default_factory=TradeManagement)
    bars_seen: int = 0
    signals: int = 0
    suppressed: int = 0
    errors: int = 0
    suppressed_by: Counter[str] = field(default_factory=Counter)

    @property
    def key(self) -> str:
        return f"{self.strategy.name}:{self.symbol}:{self.timeframe.name}"


@dataclass(slots=True)
class _Stream:
    """The bars of one (symbol, timeframe), its condition detector and latest condition."""

    bars: deque[Bar]
    detector: ConditionStream
    condition: MarketCondition | None = None
    #: Bars analysed (and warm-ups): a speculation forked at another count is stale.
    version: int = 0


class StrategyManager:
    """Feeds closed bars to strategy instances, judges the market and publishes signals."""

    def __init__(
        self,
        instances: Sequence[StrategyInstance],
        history: HistorySource,
        bus: EventBus,
        detector: DetectorParams | None = None,
        around_the_clock: Callable[[str], bool] = is_synthetic_index,
        defer_to: Callable[[], bool] = lambda: False,
        max_defer: float = 0.25,
        watchlist: Sequence[str] = (),
    ) -> None:
        """``watchlist``: the symbols to analyse besides those the instances trade (see the
        module docstring)."""
        self.instances = list(instances)
        self._history = history
        self._bus = bus
        self._detector = detector or DetectorParams()
        self._around_the_clock = around_the_clock
        self._defer_to = defer_to
        self._max_defer = max_defer
        self._by_key = {instance.key: instance for instance in self.instances}
        self._by_stream: dict[tuple[str, Timeframe], list[StrategyInstance]] = {}
        for instance in self.instances:
            self._by_stream.setdefault((instance.symbol, instance.timeframe), []).append(instance)
        #: The watched symbols, in watchlist order, then those only a strategy names.
        self.watchlist = tuple(dict.fromkeys([*watchlist, *(i.symbol for i in self.instances)]))
        timeframes = sorted({i.timeframe for i in self.instances}, key=lambda tf: tf.seconds)
        for symbol in self.watchlist:
            for timeframe in timeframes:
                self._by_stream.setdefault((symbol, timeframe), [])
        window = max([self._detector.min_bars, *(i.strategy.window_bars for i in instances)])
        self._streams = {
            key: _Stream(deque(maxlen=window), self._condition_stream(*key))
            for key in self._by_stream
        }
        self.errors: Counter[str] = Counter()
        self._speculations: dict[tuple[str, Timeframe], Speculation] = {}
        #: Bars whose analysis was adopted from a speculation, and speculations made.
        self.adopted = 0
        self.speculated = 0
        self._subscription: SubscriberStats | None = None
        self._ahead: SubscriberStats | None = None
        self._stopped = False
        self._way_owed = False  # a signal was published since way was last made

    def subscribe(self) -> None:
        self._subscription = self._bus.subscribe(BarEvent, self.on_bar, name=STRATEGIES_SUBSCRIBER)
        # Only the latest forming bars matter: each event lists all of them.
        self._ahead = self._bus.subscribe(
            FormingBarsEvent,
            self.on_forming,
            name=SPECULATION_SUBSCRIBER,
            maxsize=1,
            coalesce_by=lambda _event: None,
        )

    def stop(self) -> int:
        """Stop taking bars (at shutdown: no new signals); returns the bars left unread."""
        self._stopped = True  # also for a bar being handled right now
        if self._ahead is not None:
            self._bus.unsubscribe(self._ahead)
            self._ahead = None
        self._speculations.clear()
        if self._subscription is None:
            return 0
        left = self._bus.unsubscribe(self._subscription)
        self._subscription = None
        if left:
            _log.info("strategies stopped with bars unread", bars=left)
        return left

    async def warm_up(self) -> None:
        """Load each stream's and instance's warm-up history from the terminal."""
        for (symbol, timeframe), stream in self._streams.items():
            bars = await self._history.history(symbol, timeframe, stream.bars.maxlen or 0)
            live = list(stream.bars)  # bars that closed while history was loading
            stream.bars.clear()
            stream.bars.extend([b for b in bars if not live or b.time < live[0].time] + live)
            stream.detector = self._condition_stream(symbol, timeframe)
            stream.version += 1
            for bar in stream.bars:
                try:
                    stream.condition = stream.detector.update(bar)
                except ValueError:
                    stream.condition = None  # undefined on that bar (a flat market)
            for instance in self._by_stream[(symbol, timeframe)]:
                try:
                    instance.strategy.warm_up(bars)
                except Exception:
                    instance.errors += 1
                    self.errors[instance.key] += 1
                    _log.exception("strategy failed on its history", instance=instance.key)
                    continue
                _log.info("strategy warmed up", instance=instance.key, bars=len(bars))

    def condition(self, symbol: str, timeframe: Timeframe) -> MarketCondition | None:
        """The condition detected on the stream's last closed bar."""
        stream = self._streams.get((symbol, timeframe))
        return None if stream is None else stream.condition

    def bars(self, symbol: str, timeframe: Timeframe) -> list[Bar]:
        """The stream's recent closed bars, oldest first."""
        stream = self._streams.get((symbol, timeframe))
        return [] if stream is None else list(stream.bars)

    def timeframes(self, symbol: str) -> list[Timeframe]:
        """The timeframes ``symbol`` is analysed on, shortest first."""
        return sorted(
            (tf for (name, tf) in self._streams if name == symbol), key=lambda tf: tf.seconds
        )

    def conditions(self) -> list[MarketCondition]:
        return [s.condition for s in self._streams.values() if s.condition is not None]

    async def on_bar(self, event: BarEvent) -> None:
        if self._stopped:
            return
        bar = event.bar
        key = (bar.symbol, bar.timeframe)
        stream = self._streams.get(key)
        if stream is None:
            return
        if stream.bars and bar.time <= stream.bars[-1].time:
            return  # already seen (history overlap on reconnect)
        stream.bars.append(bar)
        stream.version += 1
        ahead = self._speculations.pop(key, None)
        # Way is made before the bar's analysis when a signal waits (of the previous bar, or
        # of another stream: it goes to risk before this bar's condition is computed) and
        # after a signal (it goes before the next instance computes).
        if not await self._made_way():
            return
        # Judged after giving way: a warm-up meanwhile moves the stream on.
        if ahead is not None and ahead.holds_for(bar, stream.version - 1, stream.detector):
            stream.detector, stream.condition = ahead.detector, ahead.condition
            self.adopted += 1
        else:
            ahead = None  # the bar changed after it, or the state moved on
            stream.condition = self._detect(stream, bar)
        if stream.condition is not None:
            self._bus.publish(MarketConditionEvent(stream.condition))
        signalled = False
        for instance in self._by_stream[key]:
            if signalled and not await self._made_way():
                return
            outcome = None if ahead is None else ahead.outcome_for(instance.strategy)
            signalled = self._run(instance, bar, stream.condition, event.received_at, outcome)

    async def on_forming(self, event: FormingBarsEvent) -> None:
        """Analyse the bars about to close ahead, on forks (see the module docstring).

        Works only while no closed bar waits for its analysis and the order path is idle,
        giving way between streams; a stream whose speculation already holds for the bar is
        skipped."""
        for bar in event.bars:
            key = (bar.symbol, bar.timeframe)
            stream = self._streams.get(key)
            if stream is None or (stream.bars and bar.time <= stream.bars[-1].time):
                continue
            held = self._speculations.get(key)
            if held is not None and held.holds_for(bar, stream.version, stream.detector):
                continue
            if self._stopped or self._bus.busy(STRATEGIES_SUBSCRIBER) or self._defer_to():
                return  # real work first: a bar not analysed ahead is analysed at its close
            strategies = [instance.strategy for instance in self._by_stream[key]]
            speculation = speculate(bar, stream.version, stream.detector, strategies)
            self.speculated += 1
            if speculation is None:
                self._speculations.pop(key, None)
            else:
                self._speculations[key] = speculation
            await asyncio.sleep(0)

    async def _made_way(self) -> bool:
        """Make way for the order path when it has something to take (a signal published
        since way was last made) or is busy; whether to go on (not stopped meanwhile)."""
        if self._way_owed or self._defer_to():
            self._way_owed = False
            await self._make_way()
        return not self._stopped

    async def _make_way(self) -> None:
        """Let the order path run first (see the module docstring)."""
        await asyncio.sleep(0)
        await wait_while(self._defer_to, self._max_defer)

    def _condition_stream(self, symbol: str, timeframe: Timeframe) -> ConditionStream:
        return ConditionStream(
            symbol, timeframe, self._detector, synthetic=self._around_the_clock(symbol)
        )

    def _detect(self, stream: _Stream, bar: Bar) -> MarketCondition | None:
        try:
            return stream.detector.update(bar)
        except Exception:
            self.errors["market_condition"] += 1
            _log.exception("market condition detection failed", symbol=bar.symbol)
            return None

    def _run(
        self,
        instance: StrategyInstance,
        bar: Bar,
        condition: MarketCondition | None,
        received_at: float = 0.0,
        ahead: Outcome | None = None,
    ) -> bool:
        """Feed ``bar`` to ``instance`` — or adopt ``ahead``, the speculation of its live
        strategy on this bar (:meth:`Speculation.outcome_for` matched it); whether it
        published a signal."""
        instance.bars_seen += 1
        if ahead is not None:
            instance.strategy, signal = ahead.fork, ahead.signal
        else:
            signal = self._feed(instance, bar)
        if signal is None or not instance.enabled:
            return False
        admitted = admit(instance, signal, condition, received_at)
        if admitted is None:
            return False
        self._bus.publish(SignalEvent(admitted))
        self._way_owed = True
        return True

    def _feed(self, instance: StrategyInstance, bar: Bar) -> Signal | None:
        """``instance``'s strategy on ``bar``; None (counted and logged) when it raises."""
        try:
            return instance.strategy.on_bar(bar)
        except Exception:
            instance.errors += 1
            self.errors[instance.key] += 1
            _log.exception("strategy failed on a bar", instance=instance.key, bar_time=bar.time)
            return None

    def management(self, key: str) -> TradeManagement | None:
        """The trade management settings of the instance ``key``
        (``strategy:symbol:timeframe``), or ``None`` for a trade no instance owns."""
        instance = self._by_key.get(key)
        return None if instance is None else instance.management

    def describe(self) -> list[dict[str, Any]]:
        """Instances and their counters, for the status endpoint."""
        return [
            {
                "id": i.key,
                "strategy": i.strategy.name,
                "symbol": i.symbol,
                "timeframe": i.timeframe.name,
                "enabled": i.enabled,
                "risk_multiplier": i.risk_multiplier,
                "bars_seen": i.bars_seen,
                "signals": i.signals,
                "suppressed": i.suppressed,
                "suppressed_by": dict(i.suppressed_by),
                "errors": i.errors,
            }
            for i in self.instances
        ]


def admit(
    instance: StrategyInstance,
    signal: Signal,
    condition: MarketCondition | None,
    received_at: float = 0.0,
) -> Signal | None:
    """The signal to trade, or None when the market condition is outside the strategy's
    regime (suppressed: logged and counted on the instance). A signal that passes carries the
    condition snapshot and the instance's risk multiplier. Live trading and backtests both
    screen signals here."""
    regime = instance.strategy.regime
    if condition is None:
        mismatch = None if regime.accepts_anything else "no market condition yet"
    else:
        mismatch = regime.mismatch(condition)
    if mismatch is not None:
        instance.suppressed += 1
        instance.suppressed_by[mismatch.split(":")[0].split(" ")[0]] += 1
        _log.info(
            "signal suppressed by the market condition",
            instance=instance.key,
            side=signal.side.label,
            reason=mismatch,
        )
        return None
    admitted = dataclasses.replace(
        signal,
        risk_multiplier=instance.risk_multiplier,
        market_condition={} if condition is None else condition.to_dict(),
        received_at=received_at,
        volume=instance.volume,
        close_opposite=instance.strategy.closes_on_opposite,
    )
    instance.signals += 1
    _log.info(
        "signal",
        instance=instance.key,
        side=admitted.side.label,
        entry=admitted.entry,
        sl=admitted.sl,
        tp=admitted.tp,
        reason=admitted.reason,
    )
    return admitted
