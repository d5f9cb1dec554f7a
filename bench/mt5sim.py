"""Speed figures of the simulated terminal (run: .venv/bin/python bench/mt5sim.py).

Not a test: it prints figures. Targets from the simulator's issue: copy_rates_from_pos(M15,
500) well under 50 ms warm; replaying 10 simulated minutes for 5 symbols with open positions
well under 100 ms; copy_ticks_from polling of 30 symbols every 50 ms at 600x.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

START = 1_709_800_000.0  # Thursday 2024-03-07 08:26 UTC


def timed(fn: Callable[[], object], repeat: int = 20) -> float:
    """Median milliseconds of ``fn``."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    clock = ManualClock(START)
    terminal = SimulatedTerminal(clock=clock, seed=1)
    terminal.initialize()
    symbols = [spec.name for spec in Catalogue().all()]
    for name in symbols:
        terminal.symbol_select(name)

    t0 = time.perf_counter()
    terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M15, 0, 500)
    print(f"copy_rates_from_pos M15x500 cold: {(time.perf_counter() - t0) * 1000:.1f} ms")
    warm = timed(lambda: terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M15, 0, 500))
    print(f"copy_rates_from_pos M15x500 warm: {warm:.2f} ms")
    t0 = time.perf_counter()
    terminal.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_D1, 0, 500)
    print(f"copy_rates_from_pos D1x500 cold:  {(time.perf_counter() - t0) * 1000:.0f} ms")

    # Five symbols with open positions carrying far SL/TP: replay 10 simulated minutes.
    traded = ["EURUSD", "GBPUSD", "USDJPY", "Volatility 75 Index", "Boom 1000 Index"]
    for name in traded:
        tick = terminal.symbol_info_tick(name)
        assert tick is not None
        spec = terminal.symbol_info(name)
        assert spec is not None
        result = terminal.order_send(
            {
                "action": mt5.TRADE_ACTION_DEAL,
                "symbol": name,
                "volume": spec.volume_min,
                "type": mt5.ORDER_TYPE_BUY,
                "sl": round(tick.bid * 0.5, spec.digits),
                "tp": round(tick.bid * 1.5, spec.digits),
            }
        )
        assert result is not None
        assert result.retcode == mt5.TRADE_RETCODE_DONE, result
    samples = []
    for _ in range(10):
        clock.advance(600)
        t0 = time.perf_counter()
        terminal.positions_total()
        samples.append((time.perf_counter() - t0) * 1000)
    print(
        f"replay 10 min x 5 symbols with positions: first {samples[0]:.1f} ms,"
        f" median {statistics.median(samples):.1f} ms"
    )

    # Daemon polling: 30 ms of real time at 600x = 30 simulated s between polls, 21 symbols.
    last = {name: int(clock.time()) for name in symbols}
    per_poll = []
    for _ in range(100):
        clock.advance(30)
        t0 = time.perf_counter()
        for name in symbols:
            ticks = terminal.copy_ticks_from(name, last[name], 10_000, mt5.COPY_TICKS_ALL)
            if ticks is not None and len(ticks):
                last[name] = int(ticks["time"][-1])
        per_poll.append((time.perf_counter() - t0) * 1000)
    print(
        f"copy_ticks_from poll of {len(symbols)} symbols (30 simulated s each):"
        f" median {statistics.median(per_poll):.1f} ms, max {max(per_poll):.1f} ms"
    )


if __name__ == "__main__":
    main()
