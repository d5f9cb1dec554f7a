"""Tick path benchmark: terminal → connector → event bus, for up to 30 symbols.

For several simulated-clock speeds (the simulated terminal produces ticks ``speed`` times faster
than a live market), runs the real connector polling the real simulated terminal for a fixed
wall-clock time and prints:

* sustained ticks/s delivered to a bus subscriber;
* tick → TickEvent latency p50/p99 in real milliseconds: from the moment a tick exists at the
  terminal (its timestamp, on the simulated clock, scaled back to real time) to the subscriber
  running. It includes waiting for the next poll, so it is bounded below by the poll interval;
* whether the connector kept up (the newest tick delivered is as fresh as the poll interval).

Run: ``.venv/bin/python bench/ticks.py``.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from datetime import UTC, datetime

from forexbot.clock import AcceleratedClock
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import TickEvent

# A Wednesday at the London/New York overlap: the busiest forex hours.
START = datetime(2026, 3, 11, 13, 0, tzinfo=UTC).timestamp()
RUN_SECONDS = 8.0
POLL_INTERVAL = 0.05


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(speed: float, max_symbols: int) -> dict[str, float]:
    clock = AcceleratedClock(START, speed)
    terminal = SimulatedTerminal(seed=1, clock=clock)
    terminal.initialize()
    symbols = [s.name for s in terminal.symbols_get()][:max_symbols]
    bus = EventBus(default_maxsize=1_000_000)
    worker = TerminalWorker(default_timeout=30.0)
    worker.start()
    latencies: list[float] = []
    received = 0

    async def on_tick(event: TickEvent) -> None:
        nonlocal received
        received += 1
        latencies.append((clock.time() - event.tick.time) / speed * 1000)

    bus.subscribe(TickEvent, on_tick, name="bench")
    bus.start()
    connector = MT5Connector(
        terminal, worker, bus, clock, symbols, [Timeframe.M1, Timeframe.M15], POLL_INTERVAL
    )
    await connector.start()
    latencies.clear()
    received = 0
    started = time.perf_counter()
    await asyncio.sleep(RUN_SECONDS)
    elapsed = time.perf_counter() - started
    count = received
    await connector.close()
    await bus.close()
    await worker.stop()
    return {
        "symbols": len(symbols),
        "ticks_per_s": count / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": _pct(latencies, 99) if latencies else float("nan"),
        "tail_ms": statistics.median(latencies[-200:]) if latencies else float("nan"),
    }


async def main() -> None:
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(
        f"event loop: {loop_name}; poll interval {POLL_INTERVAL * 1000:.0f} ms; "
        f"{RUN_SECONDS:.0f} s per row"
    )
    print(f"{'speed':>7} {'symbols':>7} {'ticks/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'last ms':>8}")
    for speed in (1, 60, 600, 3000):
        r = await run(speed, 30)
        print(
            f"{speed:>7} {r['symbols']:>7.0f} {r['ticks_per_s']:>10,.0f} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['tail_ms']:>8.1f}"
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
