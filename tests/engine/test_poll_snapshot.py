"""Specification of the account and margins read beside a bar-closing poll's ticks
(:mod:`forexbot.connectors.poll_snapshot`): the risk manager decides a bar's signals on
them without a round trip to the terminal, and they are never staler than asking.

The daemon's engine on the simulated terminal and the real PostgreSQL (``trading_rig``),
stepped by a manual clock.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from trading_rig import TradingRig, hold_terminal_call, trading_rig

from forexbot.connectors import connector as connector_module
from forexbot.connectors import mt5_constants as mt5c
from forexbot.connectors.conversions import account_state_of
from forexbot.connectors.poll_snapshot import MAX_AGE_SECONDS
from forexbot.domain.rejection import RejectCode, Rejection
from forexbot.domain.trading import OrderIntent, Side, TradeStatus
from forexbot.errors import TerminalTimeout
from forexbot.events.types import SignalEvent

pytestmark = pytest.mark.db

SYMBOLS = ("EURUSD", "USDJPY", "EURJPY", "XAUUSD", "Volatility 75 Index")


def count_terminal_calls(rig: TradingRig, *names: str) -> dict[str, int]:
    """How often each of the terminal's functions ``names`` is called from now on."""
    counts = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(rig.terminal, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            counts[_name] += 1
            return _real(*args, **kwargs)

        setattr(rig.terminal, name, counted)
    return counts


async def test_a_bar_closing_poll_reads_the_account_of_its_moment(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)

        assert rig.connector.polled_account() == account_state_of(rig.terminal.account_info())


async def test_a_poll_that_closes_no_bar_reads_no_account(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)  # a bar closes: the account is read
        rig.clock.advance(MAX_AGE_SECONDS + 1)  # it expires; the next poll is mid-minute
        calls = count_terminal_calls(rig, "account_info", "order_calc_margin")

        await rig.connector.poll_once()

        assert calls == {"account_info": 0, "order_calc_margin": 0}
        assert rig.connector.polled_account() is None


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
async def test_the_polled_margin_is_the_terminals_margin_for_any_volume(
    db_engine: AsyncEngine, symbol: str, side: Side
) -> None:
    async with trading_rig(db_engine, symbols=(symbol,)) as rig:
        await rig.advance(60)
        tick = rig.connector.last_tick(symbol)
        assert tick is not None
        price = tick.ask if side is Side.BUY else tick.bid
        order_type = mt5c.ORDER_TYPE_BUY if side is Side.BUY else mt5c.ORDER_TYPE_SELL

        for volume in (0.01, 0.37, 1.0, 12.5):
            polled = await rig.connector.polled_margin(side, symbol, volume, price)
            asked = rig.terminal.order_calc_margin(order_type, symbol, volume, price)
            assert polled == pytest.approx(asked, abs=0.005 + 1e-9), volume


async def test_a_margin_is_only_answered_at_the_price_it_was_read_at(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        tick = rig.connector.last_tick("EURUSD")
        assert tick is not None
        point = rig.connector.spec("EURUSD").point

        assert await rig.connector.polled_margin(Side.BUY, "EURUSD", 1.0, tick.ask + point) is None
        assert await rig.connector.polled_margin(Side.SELL, "EURUSD", 1.0, tick.ask) is None
        assert await rig.connector.polled_margin(Side.BUY, "GBPUSD", 1.0, tick.ask) is None


async def test_the_snapshot_expires_after_its_maximum_age(db_engine: AsyncEngine) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        tick = rig.connector.last_tick("EURUSD")
        assert tick is not None
        rig.clock.advance(MAX_AGE_SECONDS / 2)
        assert rig.connector.polled_account() is not None

        rig.clock.advance(MAX_AGE_SECONDS)

        assert rig.connector.polled_account() is None
        assert await rig.connector.polled_margin(Side.BUY, "EURUSD", 1.0, tick.ask) is None


async def test_an_order_sent_after_the_poll_brings_the_account_after_it(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        before = rig.connector.polled_account()
        assert before is not None

        rig.bus.publish(SignalEvent(rig.signal(Side.BUY, 300, 600)))
        await rig.wait_for(TradeStatus.OPEN)

        after = rig.connector.polled_account()
        assert after == account_state_of(rig.terminal.account_info())
        assert after is not None
        assert after.margin > before.margin


async def test_an_order_whose_answer_is_lost_still_retires_the_polled_account(
    db_engine: AsyncEngine,
) -> None:
    """A request whose answer is lost (the terminal's order_send raised) still counts: the
    poll's account no longer holds, and nothing read since replaces it."""
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        assert rig.connector.polled_account() is not None

        def fails(_request: dict[str, Any]) -> Any:
            raise ConnectionError("the answer was lost")

        rig.terminal.order_send = fails  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            await rig.connector.order_send({"action": mt5c.TRADE_ACTION_DEAL})

        assert rig.connector.polled_account() is None


async def test_risk_decides_a_polled_bar_without_asking_the_terminal(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        calls = count_terminal_calls(rig, "account_info", "order_calc_margin")
        worker_calls = rig.connector._worker.calls

        decision = await rig.risk.evaluate(rig.signal(Side.BUY, 300, 600))

        assert isinstance(decision, OrderIntent)
        assert calls == {"account_info": 0, "order_calc_margin": 0}
        assert rig.connector._worker.calls == worker_calls
        order_type = mt5c.ORDER_TYPE_BUY
        tick = rig.connector.last_tick("EURUSD")
        assert tick is not None
        asked = rig.terminal.order_calc_margin(order_type, "EURUSD", decision.volume, tick.ask)
        assert decision.margin == pytest.approx(asked, abs=0.005 + 1e-9)


async def test_risk_asks_the_terminal_once_the_snapshot_no_longer_holds(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        rig.clock.advance(MAX_AGE_SECONDS + 1)
        calls = count_terminal_calls(rig, "account_info", "order_calc_margin")

        decision = await rig.risk.evaluate(rig.signal(Side.BUY, 300, 600))

        assert isinstance(decision, OrderIntent)
        assert calls == {"account_info": 1, "order_calc_margin": 1}


async def test_the_margins_are_read_after_the_ticks_are_handed_over(
    db_engine: AsyncEngine,
) -> None:
    """The poll returns with its bars while the margins are still being read; a risk check
    meanwhile waits for that read instead of asking again."""
    async with trading_rig(db_engine) as rig:
        real = rig.terminal.order_calc_margin
        entered, release = hold_terminal_call(rig, "order_calc_margin")
        rig.clock.advance(60)
        bars_before = rig.connector.bars_published

        await rig.connector.poll_once()  # returns although the margin read is held

        assert rig.connector.bars_published > bars_before
        await asyncio.to_thread(entered.wait, 10)
        tick = rig.connector.last_tick("EURUSD")
        assert tick is not None
        pending = asyncio.ensure_future(
            rig.connector.polled_margin(Side.BUY, "EURUSD", 1.0, tick.ask)
        )
        await asyncio.sleep(0.01)
        assert not pending.done()
        release.set()
        margin = await pending
        rig.terminal.order_calc_margin = real  # type: ignore[method-assign]
        asked = real(mt5c.ORDER_TYPE_BUY, "EURUSD", 1.0, tick.ask)
        assert margin == pytest.approx(asked, abs=0.005 + 1e-9)


async def test_an_account_read_failing_after_a_send_does_not_fail_the_sent_order(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        await rig.advance(60)
        tick = rig.connector.last_tick("EURUSD")
        assert tick is not None

        def broken() -> Any:
            raise ConnectionError("the terminal went away after answering")

        rig.terminal.account_info = broken  # type: ignore[method-assign]
        result = await rig.connector.order_send(
            {
                "action": mt5c.TRADE_ACTION_DEAL,
                "symbol": "EURUSD",
                "volume": 0.1,
                "type": mt5c.ORDER_TYPE_BUY,
                "price": tick.ask,
                "deviation": 20,
                "type_filling": mt5c.ORDER_FILLING_FOK,
            }
        )

        assert result.retcode == mt5c.TRADE_RETCODE_DONE
        assert rig.connector.polled_account() is None


async def test_a_margin_read_that_timed_out_refuses_at_once_without_asking_again(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        rig.clock.advance(60)
        real = rig.terminal.order_calc_margin
        calls = {"n": 0}

        def stuck(*_args: Any) -> Any:
            calls["n"] += 1
            raise TerminalTimeout("terminal call order_calc_margin did not return")

        rig.terminal.order_calc_margin = stuck  # type: ignore[method-assign]
        await rig.connector.poll_once()
        task = rig.connector._polled_margins
        assert task is not None
        await asyncio.wait({task})
        polled_calls = calls["n"]
        assert polled_calls == 1  # the poll's read, which timed out

        decision = await rig.risk.evaluate(rig.signal(Side.BUY, 300, 600))

        rig.terminal.order_calc_margin = real  # type: ignore[method-assign]
        assert isinstance(decision, Rejection)
        assert decision.code is RejectCode.MARGIN_UNKNOWN
        assert calls["n"] == polled_calls  # no second ask


async def test_closing_the_connector_with_a_margin_read_pending_stops_it(
    db_engine: AsyncEngine,
) -> None:
    async with trading_rig(db_engine) as rig:
        entered, release = hold_terminal_call(rig, "order_calc_margin")
        rig.clock.advance(60)
        await rig.connector.poll_once()
        await asyncio.to_thread(entered.wait, 10)
        task = rig.connector._polled_margins
        assert task is not None
        release.set()

        await rig.connector.close()

        assert task.done()
        assert rig.connector._polled_margins is None


async def test_a_burst_wider_than_the_read_ahead_reads_the_account_but_no_margin(
    db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector_module, "MARGIN_READ_AHEAD_SYMBOLS", 1)
    async with trading_rig(db_engine, symbols=("EURUSD", "GBPUSD")) as rig:
        rig.clock.advance(60)
        calls = count_terminal_calls(rig, "account_info", "order_calc_margin")

        await rig.connector.poll_once()  # both symbols' bars close: wider than 1
        tick = rig.connector.last_tick("EURUSD")
        assert tick is not None

        assert calls == {"account_info": 1, "order_calc_margin": 0}
        assert rig.connector.polled_account() is not None
        assert await rig.connector.polled_margin(Side.BUY, "EURUSD", 1.0, tick.ask) is None
