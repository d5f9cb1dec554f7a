"""Fixtures for the simulated terminal's tests: a manual clock and initialised terminals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(THURSDAY)


@pytest.fixture
def terminal(clock: ManualClock) -> Iterator[SimulatedTerminal]:
    term = SimulatedTerminal(seed=SEED, clock=clock)
    assert term.initialize()
    yield term
    term.shutdown()


@pytest.fixture
def netting(clock: ManualClock) -> Iterator[SimulatedTerminal]:
    term = SimulatedTerminal(seed=SEED, clock=clock, hedging=False)
    assert term.initialize()
    yield term
    term.shutdown()


Send = Callable[..., Any]


@pytest.fixture
def send(terminal: SimulatedTerminal) -> Send:
    """``send(symbol, type, volume, **fields)`` -> OrderSendResult on the hedging terminal."""

    def _send(symbol: str, order_type: int, volume: float, **extra: Any) -> Any:
        return terminal.order_send(market_request(symbol, order_type, volume, **extra))

    return _send


@pytest.fixture
def module_surface(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run a test against the module functions with no terminal before and after, and none
    of the environment variables that configure the module's terminal."""
    for name in (mt5.STATE_ENV, mt5.START_ENV, mt5.SPEED_ENV, mt5.REPLAY_ENV):
        monkeypatch.delenv(name, raising=False)
    mt5.set_terminal(None)
    yield
    terminal = mt5.get_terminal()
    if terminal is not None:
        terminal.shutdown()
    mt5.set_terminal(None)
