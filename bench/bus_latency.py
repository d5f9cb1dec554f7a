"""Event bus benchmark: publish → handler latency and throughput.

Prints, for 1 and 10 subscribers:
* latency p50/p99 (µs) from ``publish`` to the handler running, at a steady paced rate
  (events published one at a time, the loop yielding between them, like ticks arriving);
* throughput (events/s delivered to every subscriber) when publishing in bursts.

Run: ``.venv/bin/python bench/bus_latency.py`` (uses uvloop when installed).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from forexbot.domain.market import Tick
from forexbot.events.bus import EventBus
from forexbot.events.types import TickEvent

LATENCY_EVENTS = 20_000
BURST_EVENTS = 200_000


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def latency(subscribers: int) -> tuple[float, float]:
    bus = EventBus(default_maxsize=1_000_000)
    samples: list[float] = []
    done = asyncio.Event()
    received = 0
    expected = LATENCY_EVENTS * subscribers

    async def handler(event: TickEvent) -> None:
        nonlocal received
        samples.append(time.perf_counter() - event.tick.time)
        received += 1
        if received == expected:
            done.set()

    for i in range(subscribers):
        bus.subscribe(TickEvent, handler, name=f"s{i}")
    bus.start()
    for _ in range(LATENCY_EVENTS):
        bus.publish(TickEvent(Tick("EURUSD", time.perf_counter(), 1.1, 1.1001)))
        await asyncio.sleep(0)
    await done.wait()
    await bus.close()
    micro = [s * 1e6 for s in samples]
    return statistics.median(micro), _pct(micro, 99)


async def throughput(subscribers: int) -> float:
    bus = EventBus(default_maxsize=1_000_000)
    done = asyncio.Event()
    received = 0
    expected = BURST_EVENTS * subscribers

    async def handler(event: TickEvent) -> None:
        nonlocal received
        received += 1
        if received == expected:
            done.set()

    for i in range(subscribers):
        bus.subscribe(TickEvent, handler, name=f"s{i}")
    bus.start()
    tick = Tick("EURUSD", 0.0, 1.1, 1.1001)
    started = time.perf_counter()
    for i in range(BURST_EVENTS):
        bus.publish(TickEvent(tick))
        if i % 1000 == 999:
            await asyncio.sleep(0)
    await done.wait()
    elapsed = time.perf_counter() - started
    await bus.close()
    return BURST_EVENTS / elapsed


async def main() -> None:
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(f"event loop: {loop_name}")
    print(f"{'subscribers':>11} {'p50 µs':>8} {'p99 µs':>8} {'events/s':>12} {'deliveries/s':>13}")
    for n in (1, 10):
        p50, p99 = await latency(n)
        rate = await throughput(n)
        print(f"{n:>11} {p50:>8.1f} {p99:>8.1f} {rate:>12,.0f} {rate * n:>13,.0f}")


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
