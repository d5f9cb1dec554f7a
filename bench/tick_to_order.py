"""Tick-to-order benchmark: from a tick entering the connector to ``order_send`` being called.

The daemon's own components, wired as ``forexbot run`` wires them (connector, event bus,
strategy manager with the market condition detector, risk manager, execution manager with the
intent written to PostgreSQL before sending, position manager), on the simulated terminal,
with **30 symbols × 4 strategies** (ma_rsi, stochastic_cross, break_and_retest, jhook) on M1.

The market runs on a manual clock stepped by ``--poll-ms`` (default 100 ms, the daemon's
``mt5.poll_interval_ms``); after each step one poll fetches every new tick. ``--poll-ms 5000``
is the coarse stepping of the first measurements: every poll then carries 5 s of ticks, which
the daemon's poller never does. The latency of an order is measured by the execution manager itself
(``execution_details.tick_to_order_ms``): from the moment the poll's ticks reached the
connector (``time.perf_counter()`` after the terminal call returned) to the first
``order_send`` call. It covers bar building, the bus, market condition detection, all the
strategies of the symbol's stream (and of the streams queued before it: every M1 bar of the
30 symbols closes in the same poll), the risk checks (account and margin from the terminal)
and the database write of the intent. Figures are wall-clock on this machine.

The breakdown per stage (:class:`StageClock`) stamps each order at every hand-over: bar
closed, its stream's analysis started, signal published, risk took it, risk decided,
execution took it, the intent (written as ``submitted``) committed, ``order_send`` called; and
bar closed → signal per strategy. Each stage's p50/p99 is over the same orders.

Database: ``FOREXBOT_BENCH_DATABASE_URL`` (a scratch database is created on that server and
dropped), else an embedded PostgreSQL in a temporary directory.

Run: ``.venv/bin/python bench/tick_to_order.py [--minutes N] [--symbols N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from forexbot.clock import ManualClock
from forexbot.config.models import ExecutionSettings, RiskSettings
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.daemon.heap import freeze_start_up_heap
from forexbot.database.embedded import EmbeddedPostgres
from forexbot.database.engine import create_engine, to_async_url
from forexbot.database.migrate import upgrade
from forexbot.database.system_config import SystemConfigRepository
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.trades import TradeRepository
from forexbot.domain.market import Timeframe
from forexbot.domain.trades import NewTrade, TradeRecord
from forexbot.engine.assembly import OrderPath, TradingEngine, build_engine
from forexbot.errors import ForexbotError
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, Event, OrderIntentEvent, SignalEvent
from forexbot.logs import configure_logging
from forexbot.strategies import create
from forexbot.strategies.manager import STRATEGIES_SUBSCRIBER, StrategyInstance, StrategyManager

# A Wednesday at the London/New York overlap: the busiest forex hours.
START = datetime(2026, 3, 11, 13, 0, tzinfo=UTC).timestamp()
STRATEGIES = ("ma_rsi", "stochastic_cross", "break_and_retest", "jhook")
N_SYMBOLS = 30
# Broker-style variants (EURUSD.pro...) listing the 39 catalogue symbols again for --symbols > 39.
VARIANT_SUFFIXES = (".pro", "m", ".ecn", ".raw", ".std", "c", ".a", "i")
POLL_MS = 100  # the daemon's default poll interval
LIMITS = RiskSettings(
    risk_per_trade_percent=0.05,
    max_open_positions=500,
    max_positions_per_symbol=50,
    max_exposure_per_currency_percent=100_000,
    max_margin_usage_percent=100,
    max_spread_stop_percent=100,
    max_daily_loss_percent=100,
    max_drawdown_percent=100,
    cooldown_minutes=0,
)


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    """A migrated scratch database: on ``FOREXBOT_BENCH_DATABASE_URL``'s server, or embedded."""
    server = os.environ.get("FOREXBOT_BENCH_DATABASE_URL")
    if server:
        name = f"fxbench_{secrets.token_hex(4)}"
        admin = create_async_engine(
            to_async_url(server), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(to_async_url(server)).set(database=name).render_as_string(False)
        try:
            await asyncio.to_thread(upgrade, url)
            yield url
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
        return
    directory = Path(tempfile.mkdtemp(prefix="forexbot-bench-pg-"))
    os.chmod(directory, 0o755)  # the server runs as another user when we are root
    embedded = EmbeddedPostgres(directory)
    try:
        url = await asyncio.to_thread(embedded.start)
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await asyncio.to_thread(embedded.stop)
        shutil.rmtree(directory, ignore_errors=True)


async def run(
    url: str,
    minutes: float,
    max_defer: float,
    n_symbols: int = N_SYMBOLS,
    poll_ms: int = POLL_MS,
    ahead: bool = True,
) -> None:
    # Polls half an interval off the minute, as a daemon's polls fall anywhere in it: the last
    # poll before a bar's end is on average half an interval before it (a poll exactly on the
    # boundary would see every tick of the bar before it closes).
    clock = ManualClock(START + poll_ms / 2000)
    listings = -(-n_symbols // len(Catalogue()))  # the catalogue, then as many variants as needed
    if not (n_symbols >= 1 and listings <= 1 + len(VARIANT_SUFFIXES)):
        raise SystemExit(f"--symbols must be 1..{len(Catalogue()) * (1 + len(VARIANT_SUFFIXES))}")
    terminal = SimulatedTerminal(
        seed=3,
        clock=clock,
        balance=10_000_000.0,
        leverage=500,
        symbol_variants=VARIANT_SUFFIXES[: listings - 1],
    )
    terminal.initialize()
    symbols = [s.name for s in terminal.symbols_get()][:n_symbols]
    bus = EventBus(default_maxsize=1_000_000)
    worker = TerminalWorker(default_timeout=30.0)
    worker.start()
    connector = MT5Connector(
        terminal,
        worker,
        bus,
        clock,
        symbols,
        [Timeframe.M1],
        3600.0,
        forming_horizon=3 * poll_ms / 1000 if ahead else 0.0,  # as the daemon sets it
    )
    instances = [
        StrategyInstance(create(name), symbol, Timeframe.M1)
        for name in STRATEGIES
        for symbol in symbols
    ]
    order_path = OrderPath(bus)
    strategies = StrategyManager(
        instances, connector, bus, defer_to=order_path.busy, max_defer=max_defer
    )
    db = create_engine(url, pool_size=5)
    trades = TradeRepository(db)
    engine = build_engine(
        connector=connector,
        trades=trades,
        audit=SystemLogRepository(db),
        store=SystemConfigRepository(db),
        bus=bus,
        clock=clock,
        magic=2_026_001,
        risk=LIMITS,
        execution=lambda: ExecutionSettings(sync_interval_seconds=3600),
        management=strategies.management,
        order_path=order_path,
        settle_after=lambda: bus.busy(STRATEGIES_SUBSCRIBER),
    )
    stages = StageClock(bus, strategies, engine, trades)
    strategies.subscribe()
    engine.subscribe()
    bus.start()
    await connector.start()
    print(f"warming up {len(instances)} strategy instances on {len(symbols)} symbols...")
    await strategies.warm_up()
    await engine.start()
    freeze_start_up_heap()  # as the daemon does once started
    step = poll_ms / 1000.0
    steps = int(minutes * 60 / step)
    wall = time.perf_counter()
    for n in range(steps):
        clock.advance(step)
        await connector.poll_once()
        while not bus.idle():  # noqa: ASYNC110 - the order path runs on the bus tasks
            await asyncio.sleep(0.0005)
        if n % int(600 / step) == 0:
            print(
                f"  {n * step / 60:5.0f} simulated min: {engine.execution.sent} orders sent, "
                f"{connector.ticks_published} ticks, {connector.bars_published} bars",
                flush=True,
            )
    elapsed = time.perf_counter() - wall
    samples = np.array(engine.execution.tick_to_order.samples()) * 1000
    records, _ = await trades.list(limit=100_000, offset=0)
    await engine.stop()
    await bus.close(timeout=5.0)
    await connector.close()
    await worker.stop()
    await db.dispose()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(
        f"tick → order_send, {len(symbols)} symbols × {len(STRATEGIES)} strategies (M1), "
        f"a poll every {poll_ms} ms"
    )
    print(
        f"  simulated {minutes:g} min in {elapsed:.1f} s wall; {connector.ticks_published} ticks, "
        f"{connector.bars_published} bars, {strategies.instances[0].bars_seen} bars per instance"
    )
    signals = sum(i.signals for i in strategies.instances)
    print(
        f"  {signals} signals, {engine.risk.approved} approved, "
        f"{engine.execution.sent} orders sent, {engine.execution.filled} filled"
    )
    if len(samples):
        print(
            f"  latency over {len(samples)} orders: p50 {np.percentile(samples, 50):.2f} ms, "
            f"p90 {np.percentile(samples, 90):.2f} ms, p99 {np.percentile(samples, 99):.2f} ms, "
            f"max {samples.max():.2f} ms"
        )
        stages.report(records)
    else:
        print("  no order was sent: run longer (--minutes)")
    print(
        f"  bars analysed ahead of their close and adopted: {strategies.adopted} of "
        f"{connector.bars_published} ({strategies.speculated} speculations)"
    )
    print(f"  peak RSS {rss_mb:.0f} MB")


#: The stages of one order, in order: (the instant that ends it, what happens in it).
STAGES = (
    ("bar closed", "tick received → bar closed (poll, bar building)"),
    ("analysis started", "bar closed → its stream's analysis starts (bars queued before it)"),
    ("signal", "analysis → signal (condition, the stream's instances, giving way)"),
    ("risk started", "signal → risk takes it (queue)"),
    ("risk decided", "risk checks (account and margin from the terminal)"),
    ("execution started", "decision → execution takes it (queue)"),
    ("intent committed", "intent (submitted) committed"),
    ("order_send", "intent committed → order_send called"),
)


class StageClock:
    """Stamps every step of the order path with ``time.perf_counter()``.

    It wraps, before anything subscribes, the bus's ``publish`` (bars closed, signals, risk
    decisions), the handlers of the strategies, risk and execution (when each takes its
    event) and the trade store's intent writes (when each commit returned). The last step,
    ``order_send`` called, is the execution manager's own ``tick_to_order_ms``.
    """

    def __init__(
        self,
        bus: EventBus,
        strategies: StrategyManager,
        engine: TradingEngine,
        trades: TradeRepository,
    ) -> None:
        self._bars: dict[tuple[str, int], dict[str, float]] = {}
        self._signals: dict[tuple[str, str, int], dict[str, float]] = {}
        self._orders: dict[str, dict[str, float]] = {}
        publish = bus.publish

        def stamping_publish(event: Event) -> None:
            now = time.perf_counter()
            if isinstance(event, BarEvent):
                self._bars.setdefault((event.bar.symbol, event.bar.time), {})["bar closed"] = now
            elif isinstance(event, SignalEvent):
                s = event.signal
                stamps = {**self._bars.get((s.symbol, s.bar_time), {}), "signal": now}
                stamps["tick received"] = s.received_at
                self._signals[(s.symbol, s.strategy, s.bar_time)] = stamps
            elif isinstance(event, OrderIntentEvent):
                s = event.intent.signal
                stamps = dict(self._signals.get((s.symbol, s.strategy, s.bar_time), {}))
                stamps["risk decided"] = now
                self._orders[event.intent.client_order_id] = stamps
            publish(event)

        on_bar, on_signal, on_intents = (
            strategies.on_bar,
            engine.risk.on_signal,
            engine.execution.on_intents,
        )

        async def timed_on_bar(event: BarEvent) -> None:
            stamps = self._bars.setdefault((event.bar.symbol, event.bar.time), {})
            stamps["analysis started"] = time.perf_counter()
            await on_bar(event)

        async def timed_on_signal(event: SignalEvent) -> None:
            s = event.signal
            stamps = self._signals.get((s.symbol, s.strategy, s.bar_time))
            if stamps is not None:
                stamps["risk started"] = time.perf_counter()
            await on_signal(event)

        async def timed_on_intents(events: list[OrderIntentEvent]) -> None:
            now = time.perf_counter()
            for event in events:
                stamps = self._orders.get(event.intent.client_order_id)
                if stamps is not None:
                    stamps["execution started"] = now
            await on_intents(events)

        submit_intents = trades.submit_intents

        async def timed_submit_intents(
            new: list[NewTrade],
        ) -> list[TradeRecord | ForexbotError]:
            written = await submit_intents(new)
            now = time.perf_counter()
            for trade in new:
                self._orders.setdefault(trade.client_order_id, {})["intent committed"] = now
            return written

        bus.publish = stamping_publish  # type: ignore[method-assign]
        strategies.on_bar = timed_on_bar  # type: ignore[method-assign]
        engine.risk.on_signal = timed_on_signal  # type: ignore[method-assign]
        engine.execution.on_intents = timed_on_intents  # type: ignore[method-assign]
        trades.submit_intents = timed_submit_intents  # type: ignore[method-assign]

    def report(self, records: Sequence[TradeRecord]) -> None:
        """Print p50/p99 of every stage and of bar closed → signal per strategy, over the
        orders sent (``records``: the trades written)."""
        rows: list[dict[str, float]] = []
        strategy_of: list[str] = []
        for record in records:
            total = record.execution_details.get("tick_to_order_ms")
            stamps = self._orders.get(record.client_order_id)
            if total is None or stamps is None or "tick received" not in stamps:
                continue
            stamps = {**stamps, "order_send": stamps["tick received"] + total / 1000}
            if all(name in stamps for name, _ in STAGES):
                rows.append(stamps)
                strategy_of.append(record.strategy)
        if not rows:
            print("    (no order has every stage stamped)")
            return
        print(f"  stages over {len(rows)} orders (p50 / p99 ms):")
        previous = "tick received"
        for name, label in STAGES:
            _line(label, [(r[name] - r[previous]) * 1000 for r in rows])
            previous = name
        _line(
            "tick → order_send (sum of the stages)",
            [(r["order_send"] - r["tick received"]) * 1000 for r in rows],
        )
        # Every M1 bar closes in the same poll: the orders of one minute queue behind each
        # other on the one order path (risk, the intent's commit, the terminal).
        bursts: dict[float, list[dict[str, float]]] = {}
        for r in rows:
            bursts.setdefault(r["tick received"], []).append(r)
        by_rank: dict[int, list[float]] = {}
        for burst in bursts.values():
            burst.sort(key=lambda r: r["order_send"])
            for rank, r in enumerate(burst, start=1):
                latency = (r["order_send"] - r["tick received"]) * 1000
                by_rank.setdefault(min(rank, 4), []).append(latency)
        sizes = np.array([len(b) for b in bursts.values()])
        print(
            f"  tick → order_send by the order's place in its minute's burst "
            f"({len(bursts)} bursts with orders; orders per burst p50 "
            f"{np.percentile(sizes, 50):.0f}, p90 {np.percentile(sizes, 90):.0f}, "
            f"max {sizes.max()}):"
        )
        names = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th and later"}
        for rank in sorted(by_rank):
            _line(names[rank], by_rank[rank])
        print("  bar closed → signal, per strategy:")
        for name in sorted(set(strategy_of)):
            _line(
                name,
                [
                    (r["signal"] - r["bar closed"]) * 1000
                    for r, s in zip(rows, strategy_of, strict=True)
                    if s == name
                ],
            )


def _line(label: str, values: Sequence[float]) -> None:
    part = np.array(values)
    print(
        f"    {label:<68} {np.percentile(part, 50):8.2f} / {np.percentile(part, 99):8.2f}"
        f"  (n={len(part)})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=240.0, help="simulated minutes")
    parser.add_argument(
        "--max-defer",
        type=float,
        default=0.25,
        help="the strategy manager's longest wait for a busy order path (the daemon's: 0.25 s)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval seconds (the GIL hand-over to the terminal's worker thread)",
    )
    parser.add_argument(
        "--symbols",
        type=int,
        default=N_SYMBOLS,
        help="symbols traded, in catalogue order; past its 39, broker variants (EURUSD.pro...)",
    )
    parser.add_argument(
        "--poll-ms",
        type=int,
        default=POLL_MS,
        help="simulated milliseconds between polls (the daemon's default: 100)",
    )
    parser.add_argument(
        "--no-ahead",
        action="store_true",
        help="no analysis of the forming bars ahead of their close (the daemon does it)",
    )
    args = parser.parse_args()
    if args.poll_ms < 10:
        parser.error("--poll-ms must be at least 10 (the daemon's minimum)")
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    # The daemon's log: JSON lines, one write each (here to a scratch file, not the console).
    log_file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
    configure_logging("INFO", "json", stream=log_file)
    async with database() as url:
        await run(url, args.minutes, args.max_defer, args.symbols, args.poll_ms, not args.no_ahead)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a Linux dependency
        asyncio.run(main())
    else:
        uvloop.run(main())
