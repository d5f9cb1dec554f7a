"""The daemon's connector trades through the bridge, and survives the bridge server dying.

The server is SIGKILLed mid-session while the connector polls: the connector must report
DISCONNECTED, reconnect once the server is back on the same port (same ``--sim-state``), and
go on with no duplicated tick and no duplicated or lost order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest_asyncio
from bridge_testkit import HOST, V75, BridgeProcess
from polling import eventually

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import RealtimeClock
from forexbot.connectors.bridge.client import BridgeTerminal
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState, ConnectionStateEvent, TickEvent

SYMBOLS = ["EURUSD", V75]


@dataclass
class Session:
    connector: MT5Connector
    terminal: BridgeTerminal
    ticks: list[TickEvent] = field(default_factory=list)
    states: list[ConnectionState] = field(default_factory=list)

    def ticks_of(self, symbol: str) -> list[TickEvent]:
        return [t for t in self.ticks if t.tick.symbol == symbol]


@pytest_asyncio.fixture(loop_scope="function")
async def session(bridge: BridgeProcess) -> AsyncIterator[Session]:
    terminal = BridgeTerminal(HOST, bridge.port, timeout=5.0)
    worker = TerminalWorker(default_timeout=10.0)
    worker.start()
    bus = EventBus()
    connector = MT5Connector(
        terminal, worker, bus, RealtimeClock(), SYMBOLS, [Timeframe.M1], poll_interval=0.05
    )
    session = Session(connector, terminal)

    async def on_tick(event: TickEvent) -> None:
        session.ticks.append(event)

    async def on_state(event: ConnectionStateEvent) -> None:
        session.states.append(event.state)

    bus.subscribe(TickEvent, on_tick, name="ticks")
    bus.subscribe(ConnectionStateEvent, on_state, name="states")
    bus.start()
    await connector.start()
    try:
        yield session
    finally:
        await connector.close()
        await bus.close(timeout=1.0)
        await worker.stop()


def buy(comment: str) -> dict[str, object]:
    return {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": V75,
        "volume": 0.001,
        "type": mt5.ORDER_TYPE_BUY,
        "type_filling": mt5.ORDER_FILLING_FOK,
        "magic": 4242,
        "comment": comment,
    }


async def test_the_connector_receives_ticks_and_trades_through_the_bridge(
    session: Session,
) -> None:
    connector = session.connector
    assert connector.state is ConnectionState.CONNECTED
    assert connector.spec(V75).digits == 2
    await eventually(
        lambda: len(session.ticks_of(V75)) >= 2, timeout=15, what="ticks through the bridge"
    )
    bars = await connector.history(V75, Timeframe.M1, 10)
    assert len(bars) == 10
    result = await connector.order_send(buy("through bridge"))
    assert result.retcode == 10009
    positions = await connector.positions(magic=4242)
    assert [p.ticket for p in positions] == [result.order]
    account = await connector.account()
    assert account.currency == "USD"


async def test_a_killed_bridge_server_is_survived_without_duplicates(
    session: Session, bridge: BridgeProcess
) -> None:
    connector = session.connector
    await eventually(lambda: len(session.ticks_of(V75)) >= 1, timeout=15, what="first ticks")
    result = await connector.order_send(buy("before kill"))
    assert result.retcode == 10009

    bridge.kill()
    await eventually(
        lambda: ConnectionState.DISCONNECTED in session.states,
        timeout=15,
        what="a DISCONNECTED event",
    )
    assert connector.state is ConnectionState.DISCONNECTED
    ticks_before = len(session.ticks_of(V75))
    await asyncio.sleep(0.5)  # the connector retries against a dead port meanwhile
    bridge.start()  # same port, same --sim-state

    await eventually(lambda: connector.reconnects == 1, timeout=20, what="the reconnection")
    assert connector.state is ConnectionState.CONNECTED
    # the bus delivers the CONNECTED event after the connector has counted the reconnection
    await eventually(
        lambda: session.states[-2:] == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTED],
        timeout=5,
        what="the CONNECTED event after the DISCONNECTED one",
    )
    await eventually(
        lambda: len(session.ticks_of(V75)) > ticks_before + 1,
        timeout=15,
        what="ticks after the reconnection",
    )

    for symbol in SYMBOLS:
        times = [t.tick.time for t in session.ticks_of(symbol)]
        assert times == sorted(times), symbol
        assert len(set(times)) == len(times), f"duplicate ticks for {symbol}"

    positions = await connector.positions(magic=4242)
    assert [(p.ticket, p.comment) for p in positions] == [(result.order, "before kill")]
    checker = BridgeTerminal(HOST, bridge.port, timeout=5.0)
    assert checker.initialize()
    mine = [p for p in checker.positions_get() if p.comment == "before kill"]
    assert len(mine) == 1
    orders = checker.history_orders_get(0, 2**31 - 1)
    assert len([o for o in orders if o.comment == "before kill"]) == 1
    checker.shutdown()
