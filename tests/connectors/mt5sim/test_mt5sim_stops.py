"""Stop loss and take profit: triggered on the right side of the quote, at the trigger tick."""

from __future__ import annotations

import numpy as np
from conftest import Send
from mt5sim_testkit import advance_until

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.matching import position_event
from forexbot.connectors.mt5sim.pricepath import PricePath
from forexbot.connectors.mt5sim.structures import RATES_DTYPE, TradePosition
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL
POINT = 0.00001
# Volatility 100 moves ~7 index points in 10 minutes: stops 1.5 away are reached either way.
V100 = "Volatility 100 Index"
GAP = 1.5


def _closed(terminal: SimulatedTerminal, ticket: int) -> bool:
    return not terminal.positions_get(ticket=ticket)


def _exit_deal(terminal: SimulatedTerminal, ticket: int) -> mt5.TradeDeal:
    deals = terminal.history_deals_get(position=ticket) or ()
    assert [d.entry for d in deals] == [mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT]
    return deals[-1]


def _first_tick_after(
    terminal: SimulatedTerminal, symbol: str, after_msc: int, until_msc: int
) -> np.ndarray:
    ticks = terminal.copy_ticks_range(
        symbol, after_msc // 1000, until_msc // 1000 + 1, mt5.COPY_TICKS_ALL
    )
    assert ticks is not None
    return ticks[ticks["time_msc"] > after_msc]


def test_buy_take_profit_triggers_on_bid_and_fills_at_the_trigger_tick(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    tp = round(tick.bid + GAP, 2)
    opened = send(V100, BUY, 0.5, tp=tp, magic=3)
    advance_until(clock, lambda: _closed(terminal, opened.order))
    deal = _exit_deal(terminal, opened.order)
    ticks = _first_tick_after(terminal, V100, _open_msc(terminal, opened), deal.time_msc)
    trigger = ticks[np.argmax(ticks["bid"] >= tp)]
    assert (deal.time_msc, deal.price) == (trigger["time_msc"], trigger["bid"])
    assert deal.price >= tp
    assert (deal.reason, deal.type, deal.magic) == (mt5.DEAL_REASON_TP, mt5.DEAL_TYPE_SELL, 3)
    assert deal.comment == f"[tp {tp:.2f}]"
    assert deal.profit == round((deal.price - opened.price) * 0.5, 2)


def _open_msc(terminal: SimulatedTerminal, opened: mt5.OrderSendResult) -> int:
    (deal,) = terminal.history_deals_get(ticket=opened.order) or ()
    return deal.time_msc


def test_buy_stop_loss_triggers_when_bid_falls_to_it(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    sl = round(tick.bid - GAP, 2)
    opened = send(V100, BUY, 0.5, sl=sl)
    advance_until(clock, lambda: _closed(terminal, opened.order))
    deal = _exit_deal(terminal, opened.order)
    ticks = _first_tick_after(terminal, V100, _open_msc(terminal, opened), deal.time_msc)
    assert np.all(ticks["bid"][:-1] > sl)  # no earlier tick reached the stop
    assert ticks["bid"][-1] == deal.price <= sl
    assert deal.reason == mt5.DEAL_REASON_SL
    assert deal.profit == round((deal.price - opened.price) * 0.5, 2) < 0


def test_sell_stop_loss_triggers_on_ask_not_bid(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    sl = round(tick.ask + GAP, 2)
    opened = send(V100, SELL, 0.5, sl=sl)
    advance_until(clock, lambda: _closed(terminal, opened.order))
    deal = _exit_deal(terminal, opened.order)
    ticks = _first_tick_after(terminal, V100, _open_msc(terminal, opened), deal.time_msc)
    assert np.all(ticks["ask"][:-1] < sl)
    assert ticks["ask"][-1] == deal.price >= sl
    assert (deal.reason, deal.type) == (mt5.DEAL_REASON_SL, mt5.DEAL_TYPE_BUY)
    assert deal.profit == round((opened.price - deal.price) * 0.5, 2)


def test_sell_take_profit_triggers_when_ask_falls_to_it(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    tp = round(tick.ask - GAP, 2)
    opened = send(V100, SELL, 0.5, tp=tp)
    advance_until(clock, lambda: _closed(terminal, opened.order))
    deal = _exit_deal(terminal, opened.order)
    ticks = _first_tick_after(terminal, V100, _open_msc(terminal, opened), deal.time_msc)
    assert np.all(ticks["ask"][:-1] > tp)
    assert ticks["ask"][-1] == deal.price <= tp
    assert deal.reason == mt5.DEAL_REASON_TP


def test_stop_hit_updates_the_balance_by_the_deal_profit(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    terminal.symbol_select(V100)
    tick = terminal.symbol_info_tick(V100)
    assert tick is not None
    opened = send(V100, BUY, 1.0, sl=round(tick.bid - GAP, 2))
    advance_until(clock, lambda: _closed(terminal, opened.order))
    deal = _exit_deal(terminal, opened.order)
    info = terminal.account_info()
    assert info is not None
    assert info.balance == round(10_000 + deal.profit, 2)


def test_modifying_stops_with_trade_action_sltp(terminal: SimulatedTerminal, send: Send) -> None:
    tick = terminal.symbol_info_tick("EURUSD")
    assert tick is not None
    opened = send("EURUSD", BUY, 0.1)
    sl, tp = round(tick.bid - 0.005, 5), round(tick.bid + 0.005, 5)
    request = {
        "action": mt5.TRADE_ACTION_SLTP,
        "position": opened.order,
        "symbol": "EURUSD",
        "sl": sl,
        "tp": tp,
    }
    result = terminal.order_send(request)
    assert result is not None
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    (position,) = terminal.positions_get() or ()
    assert (position.sl, position.tp) == (sl, tp)
    again = terminal.order_send(request)
    assert again is not None
    assert again.retcode == mt5.TRADE_RETCODE_NO_CHANGES
    wrong = terminal.order_send({**request, "sl": round(tick.bid + 0.005, 5)})
    assert wrong is not None
    assert wrong.retcode == mt5.TRADE_RETCODE_INVALID_STOPS
    gone = terminal.order_send({**request, "position": 1})
    assert gone is not None
    assert gone.retcode == mt5.TRADE_RETCODE_POSITION_CLOSED


def _position(kind: int, sl: float, tp: float) -> TradePosition:
    return TradePosition(
        (1, 0, 0, 0, 0, kind, 0, 1, 3, 1.0, 1.1, sl, tp, 0.0, 0.0, 0.0, "EURUSD", "", "")
    )


def _one_bar(open_: float, high: float, low: float, close: float, spread: int = 0) -> PricePath:
    bar = np.zeros(1, dtype=RATES_DTYPE)
    bar["time"], bar["open"], bar["high"], bar["low"], bar["close"] = 60, open_, high, low, close
    bar["spread"] = spread
    return PricePath.from_bars(bar, POINT, 5)


def test_intrabar_rule_takes_the_level_nearer_the_open_first() -> None:
    # Both SL 1.0950 and TP 1.1100 lie inside the bar; the open 1.1080 is nearer the TP.
    path = _one_bar(1.1080, 1.1120, 1.0940, 1.1000)
    event = position_event(_position(mt5.POSITION_TYPE_BUY, 1.0950, 1.1100), path, 0)
    assert event is not None
    assert (event.kind, event.price) == ("tp", 1.1100)
    path = _one_bar(1.0970, 1.1120, 1.0940, 1.1000)
    event = position_event(_position(mt5.POSITION_TYPE_BUY, 1.0950, 1.1100), path, 0)
    assert event is not None
    assert (event.kind, event.price) == ("sl", 1.0950)


def test_a_bar_opening_beyond_the_stop_fills_at_its_open() -> None:
    path = _one_bar(1.0900, 1.0920, 1.0880, 1.0910)  # gapped below the buy's SL
    event = position_event(_position(mt5.POSITION_TYPE_BUY, 1.0950, 0.0), path, 0)
    assert event is not None
    assert (event.kind, event.price) == ("sl", 1.0900)


def test_sell_stops_on_bars_use_bid_plus_spread() -> None:
    # Bid high 1.0995 + 10 points spread = ask high 1.0996: short of the sell's SL 1.1000 ...
    path = _one_bar(1.0980, 1.0995, 1.0970, 1.0990, spread=10)
    assert position_event(_position(mt5.POSITION_TYPE_SELL, 1.1000, 0.0), path, 0) is None
    # ... with a 60-point spread the ask high 1.1001 reaches it.
    path = _one_bar(1.0980, 1.0995, 1.0970, 1.0990, spread=60)
    event = position_event(_position(mt5.POSITION_TYPE_SELL, 1.1000, 0.0), path, 0)
    assert event is not None
    assert event.kind == "sl"
    assert abs(event.price - 1.1000) < 1e-12


def test_a_replay_step_without_ticks_leaves_open_positions_alone(
    terminal: SimulatedTerminal, clock: ManualClock, send: Send
) -> None:
    """Regression: a step shorter than the gap between two ticks has an empty price path, and
    looking for the first trigger on it must not fail (it once raised from numpy's argmax)."""
    tick = terminal.symbol_info_tick("EURUSD")
    result = send("EURUSD", BUY, 0.1, sl=tick.bid - 0.0100, tp=tick.bid + 0.0100)
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    for _ in range(20):
        clock.advance(0.001)
        assert terminal.positions_total() == 1


def test_position_event_on_an_empty_path_is_none() -> None:
    position = TradePosition((0,) * len(TradePosition._fields))._replace(
        type=mt5.POSITION_TYPE_BUY, sl=1.0, tp=2.0
    )
    empty = PricePath.from_bars(np.zeros(0, dtype=RATES_DTYPE), 0.0, 5)
    assert position_event(position, empty, since=0) is None
