"""Shared constants and helpers of the simulated terminal's tests (imported by name: the test
directories have no ``__init__.py``, so pytest puts this directory on ``sys.path``).

Times: THURSDAY is 2024-03-07 10:00 UTC (US winter time, server = UTC+2, forex open);
SATURDAY is two days later (forex closed). Every terminal uses a fixed seed, so the figures a
test sees are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock

THURSDAY = 1_709_805_600.0  # 2024-03-07 10:00:00 UTC
SATURDAY = THURSDAY + 2 * 86_400
SEED = 7


def market_request(symbol: str, order_type: int, volume: float, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": volume,
        "type": order_type,
    }
    request.update(extra)
    return request


def advance_until(
    clock: ManualClock, done: Callable[[], bool], *, step: float = 60.0, limit: float = 86_400.0
) -> float:
    """Advance ``clock`` by ``step`` until ``done()``; returns the simulated seconds spent."""
    spent = 0.0
    while not done():
        if spent >= limit:
            raise AssertionError(f"condition not reached within {limit} simulated seconds")
        clock.advance(step)
        spent += step
    return spent
