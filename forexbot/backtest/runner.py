"""The backtester: the live engine on a simulated terminal and a virtual clock.

A backtest is paper trading with time under control. It builds what the daemon builds — the
simulated terminal, the connector, the event bus, and the risk, execution and position
managers wired by :func:`~forexbot.engine.assembly.build_engine` — with three substitutions
that change speed, not behaviour: a :class:`~forexbot.clock.ManualClock` the backtest moves,
an :class:`~forexbot.connectors.worker.InlineWorker` (no thread hop to an in-process
simulator), and a :class:`~forexbot.backtest.trade_store.MemoryTradeStore` instead of the
``trades`` table. Orders are sized, checked, sent, filled, stopped out and settled by the same
code as in live trading; the terminal fills them by its rules (:mod:`.fill model
<forexbot.connectors.mt5sim.matching>`).

The loop, and why it is fast:

* The strategy's **vectorised face** runs once over all the bars (warm-up included). It is
  causal — a signal on bar *t* depends only on bars ≤ *t* — and the incremental face the
  daemon calls on every closed bar returns the same signals (tested per strategy), so reading
  the signal of bar *t* from it is not a look-ahead.
* Time then jumps from one **decision point** to the next: the close of a bar with a signal.
  There the clock is set to the bar's close (when the daemon's connector closes the bar),
  the connector takes the terminal's quote, the position manager reconciles (the terminal
  replays stops, take-profits, stop-outs and swaps up to that moment), the market condition
  on the bar is read from a :class:`~forexbot.market_condition.series.ConditionSeries`
  computed once over all the bars (``detect`` over every bar from the first, as a live
  condition stream fed from that bar gives it), the signal is screened by the
  strategy's regime (:func:`~forexbot.strategies.manager.admit`) and published on the bus:
  risk, execution and positions take it from there.
* While a position is open, every ``sync_every`` seconds of market time the terminal is looked
  at: the position manager reconciles when a position went (stop-loss, take-profit,
  stop-out), and otherwise the account is published for the equity guard (daily loss, kill
  switch). With trade management (break-even, trailing) on, this happens on every bar close,
  with that bar's quote as the tick, and the engine always reconciles.
* A millisecond before the close of the period's last bar whatever is still open is closed
  (reason ``end_of_test``) at that bar's last quote.

**Two engines.** :func:`run_backtest` runs a spec the kernel supports
(:func:`forexbot.backtest.kernel.supports` is ``None``) through the kernel, whose trades,
statistics, curve and counts are proven equal to this loop's
(``tests/backtest/test_kernel_parity.py``), and any other here; ``engine="event"`` forces this
loop, ``engine="kernel"`` the kernel (an unsupported spec is then an error). A run the kernel
refuses part-way (:class:`~forexbot.backtest.kernel.KernelUnsupported`: a possible stop-out)
runs here instead (logged at info). What the kernel's result holds that differs:

* ``records``: one :class:`~forexbot.domain.trades.TradeRecord` per closed trade, built from
  its :class:`~forexbot.backtest.statistics.ClosedTrade` (id, strategy, symbol, timeframe,
  side, volume, entry and exit, money, times, close reason; the signal time is the bar before
  the open). What only the engine knows is absent: the client order id, the requested price,
  SL/TP, tickets, the signal's confidence and reason, the market condition, the execution
  details (``None`` or empty); ``created_at`` / ``updated_at`` are the open and close times.
  Orders the terminal refused have no record (their side is not kept) but are counted in
  ``orders`` as ``rejected``, as the event path counts its records' statuses.
* ``events`` (what the engine's journal would have counted): ``signal_rejected`` once per
  risk rejection, and ``reconciliation_correction`` once per trade the terminal closed (stop
  loss, take profit), as the position manager records each when it finds it gone. In the
  kernel's scope nothing else is journalled (no guard, no stop-out).
* ``progress`` is called with ``(0, 0)`` as the run starts and ``(bars, bars)`` when it ends.
* ``timings`` has the kernel's parts (data, signals, conditions, engine, statistics), and
  ``engine`` says which ran.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog
from numpy.typing import NDArray

from forexbot.backtest.choices import ENGINES, Engine
from forexbot.backtest.equity import mark_to_market
from forexbot.backtest.journal import Journal
from forexbot.backtest.prices import PriceSeries, read_prices
from forexbot.backtest.statistics import (
    ClosedTrade,
    EquityCurve,
    Statistics,
    closed_trade,
    compute_statistics,
)
from forexbot.backtest.trade_store import MemoryTradeStore
from forexbot.clock import ManualClock
from forexbot.config.models import ExecutionSettings, RiskSettings, TradeManagement
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.core import DEFAULT_SEED
from forexbot.connectors.mt5sim.matching import FILL_MODELS
from forexbot.connectors.mt5sim.replay import ReplaySource
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import InlineWorker
from forexbot.domain.market import Timeframe
from forexbot.domain.trades import TradeRecord
from forexbot.domain.trading import Side, TradeStatus
from forexbot.engine.assembly import TradingEngine, build_engine
from forexbot.errors import InvalidInputError
from forexbot.events.bus import EventBus
from forexbot.events.types import AccountEvent, RiskRejectedEvent, SignalEvent, TickEvent
from forexbot.market_condition.detector import DetectorParams
from forexbot.market_condition.series import ConditionSeries
from forexbot.strategies import create
from forexbot.strategies.base_strategy import signal_on
from forexbot.strategies.manager import StrategyInstance, admit
from forexbot.strategies.regime import is_synthetic_index

if TYPE_CHECKING:
    from forexbot.backtest.kernel import KernelResult

_log = structlog.get_logger("forexbot.backtest")

MAGIC = 880_001
#: Order retries and lookups wait on the virtual clock's terms: not at all.
BACKTEST_EXECUTION = ExecutionSettings(
    retry_delay_ms=0, timeout_lookup_ms=0, sync_interval_seconds=3600
)

#: Called with (bars done, bars in the test) as the backtest moves through time.
Progress = Callable[[int, int], None]
#: How long before the end of the period open trades are closed: the last tick of the
#: period (the last bar's close) is then the quote.
LAST_MOMENT = 0.001
#: Which path runs a backtest: the kernel when it supports the spec (``auto``), or one forced.


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """One backtest: a strategy with its parameters on one symbol and timeframe, over
    ``[start, end)`` (UTC epochs), on an account and with the costs to assume.

    ``replay`` maps symbols to the data to replay (MT5 CSV exports or
    :class:`~forexbot.connectors.mt5sim.ReplayBars`); without it the simulator generates the
    market (``seed`` chooses which). ``spread_points`` fixes the symbol's spread (else the
    data's), ``slippage_points`` worsens every market fill, ``commission_per_lot`` is charged
    on every deal, ``swap_free`` charges no rollover. ``volume`` trades fixed lots instead of
    sizing by risk. ``fill_model`` is the terminal's (:mod:`~forexbot.connectors.mt5sim.matching`):
    ``bars`` (M1 OHLC, fast) or ``ticks`` (every tick, as paper trading fills).
    """

    strategy: str
    symbol: str
    timeframe: Timeframe
    start: float
    end: float
    params: Mapping[str, Any] = field(default_factory=dict)
    replay: Mapping[str, ReplaySource] | None = None
    seed: int = DEFAULT_SEED
    balance: float = 10_000.0
    currency: str = "USD"
    leverage: int = 100
    hedging: bool = True
    spread_points: int | None = None
    slippage_points: int = 0
    commission_per_lot: float = 0.0
    swap_free: bool = False
    fill_model: str = "bars"
    risk: RiskSettings = field(default_factory=RiskSettings)
    execution: ExecutionSettings = BACKTEST_EXECUTION
    management: TradeManagement = field(default_factory=TradeManagement)
    risk_multiplier: float = 1.0
    volume: float | None = None
    detector: DetectorParams = field(default_factory=DetectorParams)
    sync_every_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInputError("the backtest must end after it starts")
        if self.balance <= 0:
            raise InvalidInputError(f"the balance must be positive, got {self.balance}")
        if not 0 < self.sync_every_seconds <= 43_200:
            raise InvalidInputError("sync_every_seconds must be within (0, 43200]")
        if self.commission_per_lot < 0:
            raise InvalidInputError("the commission must not be negative")
        if self.fill_model not in FILL_MODELS:
            raise InvalidInputError(
                f"fill model must be one of {FILL_MODELS}, not {self.fill_model!r}"
            )

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-ready values (for reports and the API)."""
        return {
            "strategy": self.strategy,
            "symbol": self.symbol,
            "timeframe": self.timeframe.name,
            "start": self.start,
            "end": self.end,
            "params": dict(self.params),
            "data": "replay" if self.replay else "sim",
            "seed": self.seed,
            "balance": self.balance,
            "currency": self.currency,
            "leverage": self.leverage,
            "hedging": self.hedging,
            "spread_points": self.spread_points,
            "slippage_points": self.slippage_points,
            "commission_per_lot": self.commission_per_lot,
            "swap_free": self.swap_free,
            "fill_model": self.fill_model,
            "risk_multiplier": self.risk_multiplier,
            "volume": self.volume,
            "management": self.management.model_dump(),
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a backtest produced: statistics, trades, the equity curve and counters."""

    spec: BacktestSpec
    statistics: Statistics
    trades: tuple[ClosedTrade, ...]
    records: tuple[TradeRecord, ...]
    equity: EquityCurve
    prices: PriceSeries
    signals: int
    admitted: int
    suppressed: dict[str, int]
    rejected: dict[str, int]
    events: dict[str, int]
    elapsed_seconds: float
    #: Seconds spent reading the market, computing the signals, running the engine, and
    #: computing the statistics and the curve.
    timings: dict[str, float] = field(default_factory=dict)
    #: Orders by final status (``closed``, ``rejected``...): the records' on the event path.
    orders: dict[str, int] = field(default_factory=dict)
    #: Which path ran: ``event`` or ``kernel``.
    engine: str = "event"

    @property
    def bars(self) -> int:
        """Bars of the tested period (the warm-up not counted)."""
        return len(self.prices) - self.prices.first

    def summary(self) -> dict[str, Any]:
        """Statistics and counters, without the trade list and the curve."""
        return {
            "spec": self.spec.describe(),
            "statistics": self.statistics.to_dict(),
            "bars": self.bars,
            "signals": self.signals,
            "admitted": self.admitted,
            "suppressed": self.suppressed,
            "rejected": self.rejected,
            "orders": self.orders,
            "events": self.events,
            "engine": self.engine,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``--json``, the API)."""
        return {
            **self.summary(),
            "trades": [t.to_dict() for t in self.trades],
            "equity": {
                "time": self.equity.time.tolist(),
                "equity": np.round(self.equity.equity, 2).tolist(),
            },
        }


def _terminal(spec: BacktestSpec, clock: ManualClock) -> SimulatedTerminal:
    days = int((spec.end - spec.start) // 86_400)
    return SimulatedTerminal(
        cache_days=days + 64,  # the whole period stays generated/expanded once
        seed=spec.seed,
        clock=clock,
        balance=spec.balance,
        leverage=spec.leverage,
        currency=spec.currency,
        hedging=spec.hedging,
        commission_per_lot=spec.commission_per_lot,
        replay=spec.replay,
        fixed_spread=None if spec.spread_points is None else {spec.symbol: spec.spread_points},
        slippage_points=spec.slippage_points,
        swap_free=spec.swap_free,
        fill_model=spec.fill_model,
    )


def load_prices(spec: BacktestSpec, warmup_bars: int) -> PriceSeries:
    """The spec's bars (and warm-up), from a terminal of its own (for tools and tests)."""
    reader = _terminal(spec, ManualClock(spec.start))
    reader.initialize()
    try:
        return read_prices(reader, spec.symbol, spec.timeframe, spec.start, spec.end, warmup_bars)
    finally:
        reader.shutdown()


class Backtest:
    """One run of a :class:`BacktestSpec` (see the module docstring)."""

    def __init__(self, spec: BacktestSpec, progress: Progress | None = None) -> None:
        self.spec = spec
        self._progress = progress or (lambda _done, _total: None)
        self._strategy = create(spec.strategy, **dict(spec.params))
        self._instance = StrategyInstance(
            self._strategy,
            spec.symbol,
            spec.timeframe,
            risk_multiplier=spec.risk_multiplier,
            management=spec.management,
            volume=spec.volume,
        )
        self._min_bars = spec.detector.min_bars
        self._window = max(self._min_bars, self._strategy.window_bars)
        self._clock = ManualClock(spec.start)
        self._bus = EventBus()
        self._store = MemoryTradeStore(self._clock)
        self._journal = Journal(self._clock)
        self._rejected: Counter[str] = Counter()
        self._last_sync = spec.start
        self._closes: NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    async def run(self) -> BacktestResult:
        started = time.perf_counter()
        spec = self.spec
        terminal = _terminal(spec, self._clock)
        terminal.initialize()
        prices = read_prices(
            terminal, spec.symbol, spec.timeframe, spec.start, spec.end, self._window
        )
        self._closes = prices.close_time
        timings = {"data": time.perf_counter() - started}
        frame = prices.frame()
        signals = self._strategy.signals(frame)
        side = signals["signal"].to_numpy()
        decisions = [int(i) for i in np.flatnonzero(side) if i >= prices.first]
        rows = dict(zip(decisions, signals.iloc[decisions].to_dict("records"), strict=True))
        timings["signals"] = time.perf_counter() - started - timings["data"]
        conditions = ConditionSeries(
            frame,
            spec.symbol,
            spec.timeframe,
            spec.detector,
            synthetic=is_synthetic_index(spec.symbol),
        )
        connector = MT5Connector(
            terminal,
            InlineWorker(default_timeout=10.0),
            self._bus,
            self._clock,
            [spec.symbol],
            [spec.timeframe],
            poll_interval=86_400.0,
        )
        engine = build_engine(
            connector=connector,
            trades=self._store,
            audit=self._journal,
            store=None,
            bus=self._bus,
            clock=self._clock,
            magic=MAGIC,
            risk=spec.risk,
            execution=lambda: spec.execution,
            management=lambda key: self._instance.management if key == self._instance.key else None,
        )
        engine.subscribe()
        self._bus.subscribe(RiskRejectedEvent, self._count_rejection, name="backtest-rejections")
        self._bus.start()
        await connector.start()
        await connector.stop_polling()  # the backtest moves time and reads quotes itself
        await engine.start()
        await engine.positions.stop()  # ...and reconciles at its own simulated times
        try:
            total = len(prices) - prices.first
            self._progress(0, total)
            for n, i in enumerate(decisions):
                await self._decide(engine, connector, prices, i, rows[i], conditions)
                if n % 16 == 0:
                    self._progress(i - prices.first, total)
            last = float(self._closes[-1]) - LAST_MOMENT
            await self._advance(engine, connector, prices, last)
            await self._finish(engine, connector, last)
            self._progress(total, total)
        finally:
            await self._bus.close(timeout=5.0)
            await connector.close()
        timings["engine"] = time.perf_counter() - started - sum(timings.values())
        records = tuple(self._store.all())
        trades = tuple(closed_trade(r) for r in records if r.status is TradeStatus.CLOSED)
        curve = mark_to_market(
            prices, trades, connector.spec(spec.symbol), spec.balance, spec.start
        )
        statistics = compute_statistics(trades, curve, spec.balance, spec.start, spec.end)
        return BacktestResult(
            spec=spec,
            statistics=statistics,
            trades=trades,
            records=records,
            equity=curve,
            prices=prices,
            signals=len(decisions),
            admitted=self._instance.signals,
            suppressed=dict(self._instance.suppressed_by),
            rejected=dict(self._rejected),
            events=dict(self._journal.counts),
            orders=dict(Counter(r.status.value for r in records)),
            elapsed_seconds=time.perf_counter() - started,
            timings={
                **timings,
                "statistics": time.perf_counter() - started - sum(timings.values()),
            },
        )

    async def _count_rejection(self, event: RiskRejectedEvent) -> None:
        self._rejected[event.code.value] += 1  # plain keys: the report is JSON

    async def _drain(self) -> None:
        while not self._bus.idle():  # noqa: ASYNC110 - bus state, not an event
            await asyncio.sleep(0)

    async def _decide(
        self,
        engine: TradingEngine,
        connector: MT5Connector,
        prices: PriceSeries,
        i: int,
        row: Mapping[Any, Any],
        conditions: ConditionSeries,
    ) -> None:
        decided_at = float(self._closes[i])
        if i == len(prices) - 1:
            return  # the last bar closes as the test ends: nothing can be traded after it
        await self._advance(engine, connector, prices, decided_at)
        self._clock.set(max(decided_at, self._clock.time()))
        await connector.refresh_quote(self.spec.symbol)
        await engine.positions.sync()
        self._last_sync = decided_at
        bar = prices.bar(i)
        signal = signal_on(self._strategy.name, bar, row)
        if signal is None:
            return
        # detect() over every bar from the series' first up to i, as a live ConditionStream
        # fed from that bar gives it (None before the detector's min_bars)
        condition = conditions.at(i)
        admitted = admit(self._instance, signal, condition)
        if admitted is not None:
            self._bus.publish(SignalEvent(admitted))
            await self._drain()

    async def _advance(
        self,
        engine: TradingEngine,
        connector: MT5Connector,
        prices: PriceSeries,
        until: float,
    ) -> None:
        """Keep the engine in step with the terminal up to ``until`` while trades are open."""
        managed = self._instance.management.active
        closes = self._closes
        while engine.positions.open_count() > 0:
            if managed:
                k = int(np.searchsorted(closes, self._last_sync, side="right"))
                step = float(closes[k]) if k < len(closes) else until
            else:
                step = self._last_sync + self.spec.sync_every_seconds
            if step >= until:
                return
            self._clock.set(max(step, self._clock.time()))
            if managed:
                tick = await connector.refresh_quote(self.spec.symbol)
                await engine.positions.on_tick(TickEvent(tick))
            # A look first (the terminal replays the market up to now): reconcile only when
            # a position went (stop, target, stop-out); else just show the guard the account.
            held = await connector.positions(MAGIC)
            if managed or len(held) != engine.positions.open_count():
                await engine.positions.sync()
            else:
                self._bus.publish(AccountEvent(await connector.account(), step))
            await self._drain()
            self._last_sync = step

    async def _finish(self, engine: TradingEngine, connector: MT5Connector, last: float) -> None:
        """At the end: settle what the terminal did, close what is still open, settle again.

        This happens at ``last``, a millisecond before the close of the period's last bar:
        its close is the quote, and the market is still open even when the period ends on
        a weekend or where the data ends."""
        self._clock.set(max(last, self._clock.time()))
        await connector.refresh_quote(self.spec.symbol)
        await engine.positions.sync()
        if engine.positions.open_count():
            await engine.positions.close_all("end_of_test")
            await self._drain()
            await engine.positions.sync()
        await self._drain()


def run_backtest(
    spec: BacktestSpec, progress: Progress | None = None, *, engine: Engine = "auto"
) -> BacktestResult:
    """Run a backtest (a CLI command, a job, a pool worker): through the kernel when it
    supports ``spec`` (``auto``, falling back to the event loop if it refuses the run
    part-way), or the engine forced (see the module docstring). ``engine="kernel"`` on a spec
    the kernel does not support raises :class:`~forexbot.errors.InvalidInputError`."""
    from forexbot.backtest.kernel import (  # noqa: PLC0415 - the kernel imports this module
        KernelUnsupported,
        collector_paused,
        run_kernel,
        supports,
    )

    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {ENGINES}, not {engine!r}")
    if engine != "event":
        reason = supports(spec)
        if reason is None:
            if progress is not None:
                progress(0, 0)
            try:
                with collector_paused():  # the trades' records too: ~40k objects on 1.5k trades
                    result = kernel_result(run_kernel(spec))
            except KernelUnsupported as exc:
                if engine == "kernel":
                    raise InvalidInputError(f"the kernel cannot run this backtest: {exc}") from exc
                _log.info("backtest runs on the event-driven engine", kernel_refused=str(exc))
            else:
                if progress is not None:
                    progress(result.bars, result.bars)
                return result
        elif engine == "kernel":
            raise InvalidInputError(f"the kernel does not run this backtest: {reason}")
    return asyncio.run(Backtest(spec, progress).run())


def kernel_result(kernel: KernelResult) -> BacktestResult:
    """The :class:`BacktestResult` of a kernel run (what it holds: the module docstring)."""
    spec = kernel.spec
    records = tuple(_record(t, spec) for t in kernel.trades)
    stops = sum(1 for t in kernel.trades if t.close_reason in ("stop_loss", "take_profit"))
    events = {"signal_rejected": sum(kernel.rejected.values()), "reconciliation_correction": stops}
    orders = {"closed": len(kernel.trades), "rejected": kernel.orders_rejected}
    return BacktestResult(
        spec=spec,
        statistics=kernel.statistics,
        trades=kernel.trades,
        records=records,
        equity=kernel.equity,
        prices=kernel.prices,
        signals=kernel.signals,
        admitted=kernel.admitted,
        suppressed=kernel.suppressed,
        rejected=kernel.rejected,
        events={k: n for k, n in events.items() if n},
        elapsed_seconds=kernel.elapsed_seconds,
        timings=kernel.timings,
        orders={k: n for k, n in orders.items() if n},
        engine="kernel",
    )


def _record(trade: ClosedTrade, spec: BacktestSpec) -> TradeRecord:
    """A closed trade's record from what the kernel knows of it."""
    opened = datetime.fromtimestamp(trade.open_time, tz=UTC)
    closed = datetime.fromtimestamp(trade.close_time, tz=UTC)
    volume = Decimal(repr(trade.volume))
    return TradeRecord(
        id=trade.id,
        client_order_id=f"kernel-{trade.id}",
        strategy=trade.strategy,
        symbol=trade.symbol,
        timeframe=spec.timeframe.name,
        side=Side.BUY if trade.side == "buy" else Side.SELL,
        status=TradeStatus.CLOSED,
        volume=volume,
        closed_volume=volume,
        requested_price=None,
        entry_price=Decimal(repr(trade.entry_price)),
        sl=None,
        tp=None,
        exit_price=Decimal(repr(trade.exit_price)),
        profit=Decimal(repr(trade.profit)),
        swap=Decimal(repr(trade.swap)),
        commission=Decimal(repr(trade.commission)),
        mt5_order=None,
        mt5_position=None,
        # Orders are sent as their signal bar closes: the bar opened a timeframe earlier.
        signal_time=datetime.fromtimestamp(trade.open_time - spec.timeframe.seconds, tz=UTC),
        open_time=opened,
        close_time=closed,
        close_reason=trade.close_reason,
        confidence=None,
        reason=None,
        market_condition={},
        execution_details={},
        reject_code=None,
        reject_message=None,
        created_at=opened,
        updated_at=closed,
    )
