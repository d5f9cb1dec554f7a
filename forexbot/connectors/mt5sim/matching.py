"""Replaying the market against stops, pending orders and expirations, lazily.

The simulated market does not run in the background: before answering any call the terminal
replays what happened between the last processed time and now, in time order:

* a buy position's SL triggers when Bid <= sl, its TP when Bid >= tp; a sell's SL when
  Ask >= sl, its TP when Ask <= tp;
* BuyLimit fills when Ask <= price, SellLimit when Bid >= price, BuyStop when Ask >= price,
  SellStop when Bid <= price; a stop-limit order becomes a limit order at its stop-limit price
  when its stop price is reached;
* a pending order with an expiry is removed (state EXPIRED) when that time comes;
* the margin level is watched at every step and a stop-out closes the most losing position
  (:mod:`stopout`); swaps accrue at every server midnight (:mod:`swaps`).

Gaps of up to a day are replayed **tick by tick**: a trigger fills at that tick's price (so a
gap through a stop fills at the worse price, like a real stop). Longer gaps (a restart after a
weekend, a backtest jump) are replayed on **M1 bars**: the bar's bid low/high, and its ask
low/high as bid + the bar's (minimum) spread, decide the trigger; the fill is the trigger level,
or the bar's open when the bar opened beyond it. **Intrabar rule:** when a bar reaches both
the SL and the TP of a position, the level nearer to the bar's open is taken as hit first.
The first and last partial minutes of a long gap are still replayed on ticks.

Something created by an event (a position from a filled order, a limit order from a triggered
stop-limit) is only checked against quotes strictly after that event.

**Fill model "bars"** (a backtest's choice, ``SimulatedTerminal(fill_model="bars")``): every
whole minute is replayed on its M1 bar, whatever the gap, with the rules above; only the
partial minutes at either end (after the last processed time, before now) are replayed on
ticks. A bar's events are stamped at the bar's last
millisecond (when it triggered inside the minute is unknown), so a position opened at a
minute's start is checked against that whole minute. Much faster than ticks, and the same
fills wherever a bar does not reach both levels of a position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import (
    DEAL_REASON_EXPERT,
    DEAL_REASON_SL,
    DEAL_REASON_SO,
    DEAL_REASON_TP,
    ORDER_REASON_SL,
    ORDER_REASON_SO,
    ORDER_REASON_TP,
    ORDER_STATE_EXPIRED,
    ORDER_STATE_FILLED,
    ORDER_STATE_REJECTED,
    ORDER_TYPE_BUY,
    ORDER_TYPE_BUY_LIMIT,
    ORDER_TYPE_BUY_STOP,
    ORDER_TYPE_BUY_STOP_LIMIT,
    ORDER_TYPE_SELL,
    ORDER_TYPE_SELL_LIMIT,
    ORDER_TYPE_SELL_STOP_LIMIT,
    POSITION_TYPE_BUY,
)

from .ledger import Ledger, opposite
from .money import is_buy
from .pricepath import PricePath
from .stopout import stop_out
from .structures import TradeOrder, TradePosition
from .swaps import charge, next_rollover
from .timeutil import DAY

BAR_WALK_AFTER_MS = DAY * 1000
F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Event:
    time_msc: int
    ticket: int
    kind: str  # "sl", "tp", "so", "fill", "activate", "expire", "swap"
    price: float
    comment: str = ""


def _first(mask: NDArray[np.bool_]) -> int | None:
    if not mask.size:
        return None
    index = int(np.argmax(mask))
    return index if mask[index] else None


def _level_fill(opened: float, level: float, past: bool) -> float:
    """Fill at the level, or at the open when the step opened beyond it (a gap)."""
    return opened if past else level


def position_event(position: TradePosition, path: PricePath, since: int) -> Event | None:
    """The first SL/TP trigger of ``position`` on ``path`` strictly after ``since``."""
    after = path.t > since
    buy = position.type == POSITION_TYPE_BUY
    if buy:
        opened, low, high = path.bid_open, path.bid_low, path.bid_high
        sl_hit = (low <= position.sl) if position.sl else np.zeros_like(after)
        tp_hit = (high >= position.tp) if position.tp else np.zeros_like(after)
    else:
        opened, low, high = path.ask_open, path.ask_low, path.ask_high
        sl_hit = (high >= position.sl) if position.sl else np.zeros_like(after)
        tp_hit = (low <= position.tp) if position.tp else np.zeros_like(after)
    i = _first(after & (sl_hit | tp_hit))
    if i is None:
        return None
    kind = "sl" if sl_hit[i] else "tp"
    if sl_hit[i] and tp_hit[i]:  # one bar reached both: the level nearer the open first
        nearer_sl = abs(opened[i] - position.sl) <= abs(opened[i] - position.tp)
        kind = "sl" if nearer_sl else "tp"
    level = position.sl if kind == "sl" else position.tp
    sign = 1.0 if buy else -1.0
    # Past the level at the open: below a buy's SL / above its TP, mirrored for a sell.
    past = sign * (opened[i] - level) <= 0 if kind == "sl" else sign * (opened[i] - level) >= 0
    return Event(int(path.t[i]), position.ticket, kind, float(_level_fill(opened[i], level, past)))


def order_event(order: TradeOrder, path: PricePath, since: int, until: int) -> Event | None:
    """The first trigger, or the expiry, of pending ``order`` in ``(since, until]``."""
    after = path.t > since
    kind = "fill"
    if order.type == ORDER_TYPE_BUY_LIMIT:
        opened, hit, past_if = path.ask_open, path.ask_low <= order.price_open, -1
    elif order.type == ORDER_TYPE_SELL_LIMIT:
        opened, hit, past_if = path.bid_open, path.bid_high >= order.price_open, 1
    elif order.type in (ORDER_TYPE_BUY_STOP, ORDER_TYPE_BUY_STOP_LIMIT):
        opened, hit, past_if = path.ask_open, path.ask_high >= order.price_open, 1
    else:  # SELL_STOP, SELL_STOP_LIMIT
        opened, hit, past_if = path.bid_open, path.bid_low <= order.price_open, -1
    if order.type in (ORDER_TYPE_BUY_STOP_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT):
        kind = "activate"
    i = _first(after & hit)
    event = None
    if i is not None:
        past = past_if * (opened[i] - order.price_open) >= 0
        price = float(_level_fill(opened[i], order.price_open, past))
        event = Event(int(path.t[i]), order.ticket, kind, price)
    if order.time_expiration:
        expiry = max(order.time_expiration * 1000, since + 1)
        if (event is None or expiry <= event.time_msc) and expiry <= until:
            return Event(expiry, order.ticket, "expire", 0.0)
    return event


FILL_MODELS = ("ticks", "bars")


class Matcher:
    """Advances the account from ``processed_msc`` to now; see the module docstring."""

    def __init__(self, ledger: Ledger, fill_model: str = "ticks") -> None:
        if fill_model not in FILL_MODELS:
            raise ValueError(f"fill model must be one of {FILL_MODELS}, got {fill_model!r}")
        self.ledger = ledger
        self.bar_fills = fill_model == "bars"

    def _watched(self) -> bool:
        state = self.ledger.state
        return bool(state.orders) or bool(state.positions)

    def process(self, now_msc: int) -> bool:
        """Replay up to ``now_msc``; True when the account changed."""
        state = self.ledger.state
        start = state.processed_msc
        if now_msc <= start:
            return False
        changed = False
        if self._watched():
            if self.bar_fills:
                # Whole minutes on bars; the partial minutes at either end on their ticks.
                first_full = -(-start // 60_000) * 60_000
                last_full = (now_msc // 60_000) * 60_000
                if start < first_full:
                    changed |= self._walk(start, min(first_full - 1, now_msc), bars=False)
                if last_full > first_full:
                    changed |= self._walk(first_full - 1, last_full - 1, bars=True)
                if now_msc > last_full >= first_full:
                    changed |= self._walk(max(start, last_full - 1), now_msc, bars=False)
            elif now_msc - start > BAR_WALK_AFTER_MS:
                first_full = (start // 60_000 + 1) * 60_000
                last_full = (now_msc // 60_000) * 60_000
                changed |= self._walk(start, first_full - 1, bars=False)
                changed |= self._walk(first_full - 1, last_full - 1, bars=True)
                changed |= self._walk(last_full - 1, now_msc, bars=False)
            else:
                changed = self._walk(start, now_msc, bars=False)
        state.processed_msc = now_msc
        self.ledger.now_msc = now_msc
        return changed

    def _path(self, symbol: str, low: int, high: int, *, bars: bool) -> PricePath:
        market = self.ledger.market
        if bars:
            m1 = market.m1_between(symbol, (low + 1) // 1000, (high + 1) // 1000, high + 1)
            spec = self.ledger.spec(symbol)
            path = PricePath.from_bars(m1, spec.point, spec.digits)
            return path.stamped_at_bar_end() if self.bar_fills else path
        return PricePath.from_ticks(market.ticks_between(symbol, low + 1, high, high))

    def _walk(self, low: int, high: int, *, bars: bool) -> bool:
        """Apply every event in ``(low, high]`` in time order."""
        if high <= low:
            return False
        state = self.ledger.state
        paths: dict[str, PricePath] = {}
        before: dict[str, tuple[float, float]] = {}

        def path(symbol: str) -> PricePath:
            found = paths.get(symbol)
            if found is None:
                found = paths[symbol] = self._path(symbol, low, high, bars=bars)
                tick = self.ledger.market.last_tick(symbol, low)
                quote = (0.0, 0.0) if tick is None else (tick["bid"][0], tick["ask"][0])
                before[symbol] = (float(quote[0]), float(quote[1]))
            return found

        since: dict[int, int] = {}
        floor = low  # events are applied in time order: nothing is found before the last one
        rollover_since = low
        changed = False
        while True:
            events: list[Event] = []
            for position in state.positions.values():
                found = position_event(
                    position, path(position.symbol), max(floor, since.get(position.ticket, low))
                )
                if found:
                    events.append(found)
            for order in state.orders.values():
                found = order_event(
                    order, path(order.symbol), max(floor, since.get(order.ticket, low)), high
                )
                if found:
                    events.append(found)
            stop = stop_out(self.ledger, paths, before, floor)
            if stop is not None:
                events.append(Event(stop.time_msc, stop.ticket, "so", stop.price, stop.comment))
            midnight = next_rollover(rollover_since, high) if state.positions else None
            if midnight is not None:
                events.append(Event(midnight, 0, "swap", 0.0))
            if not events:
                return changed
            event = min(events, key=lambda e: (e.time_msc, e.ticket))
            self.ledger.now_msc = event.time_msc
            if event.kind == "swap":
                rollover_since = event.time_msc
                changed |= charge(self.ledger, event.time_msc)
                continue
            touched = self._apply(event)
            since.update(dict.fromkeys(touched, event.time_msc))
            floor = max(floor, event.time_msc - 1)
            changed = True

    def _apply(self, event: Event) -> list[int]:
        """Apply one event; returns the tickets whose next check starts after it."""
        state = self.ledger.state
        if event.kind in ("sl", "tp", "so"):
            self._close(state.positions[event.ticket], event)
            return [event.ticket]
        order = state.orders.pop(event.ticket)
        if event.kind == "expire":
            self.ledger.archive_order(order, ORDER_STATE_EXPIRED, event.time_msc)
            return []
        if event.kind == "activate":
            limit = ORDER_TYPE_BUY_LIMIT if is_buy(order.type) else ORDER_TYPE_SELL_LIMIT
            state.orders[order.ticket] = order._replace(
                type=limit, price_open=order.price_stoplimit, price_stoplimit=0.0
            )
            return [order.ticket]
        return self._fill(order, event)

    def _close(self, position: TradePosition, event: Event) -> None:
        """Close ``position`` entirely for a stop loss, take profit or stop-out."""
        state = self.ledger.state
        spec = self.ledger.spec(position.symbol)
        reasons = {
            "sl": (ORDER_REASON_SL, DEAL_REASON_SL, position.sl),
            "tp": (ORDER_REASON_TP, DEAL_REASON_TP, position.tp),
            "so": (ORDER_REASON_SO, DEAL_REASON_SO, event.price),
        }
        order_reason, deal_reason, level = reasons[event.kind]
        comment = event.comment or f"[{event.kind} {level:.{spec.digits}f}]"
        order = TradeOrder(
            ticket=state.order_ticket(),
            time_setup=event.time_msc // 1000,
            time_setup_msc=event.time_msc,
            time_done=0,
            time_done_msc=0,
            time_expiration=0,
            type=opposite(position.type),
            type_time=0,
            type_filling=0,
            state=ORDER_STATE_FILLED,
            magic=position.magic,
            position_id=position.identifier,
            position_by_id=0,
            reason=order_reason,
            volume_initial=position.volume,
            volume_current=position.volume,
            price_open=level,
            sl=position.sl,
            tp=position.tp,
            price_current=event.price,
            price_stoplimit=0.0,
            symbol=position.symbol,
            comment=comment,
            external_id="",
        )
        self.ledger.apply_deal(
            order,
            opposite(position.type),
            position.volume,
            event.price,
            event.time_msc,
            target=position,
            deal_reason=deal_reason,
        )

    def _fill(self, order: TradeOrder, event: Event) -> list[int]:
        state = self.ledger.state
        spec = self.ledger.spec(order.symbol)
        side = ORDER_TYPE_BUY if is_buy(order.type) else ORDER_TYPE_SELL
        need = self.ledger.money.margin(side, spec, order.volume_current, event.price) or 0.0
        profit, used = self.ledger.totals()
        if need > state.balance + state.credit + profit - used:
            self.ledger.archive_order(order, ORDER_STATE_REJECTED, event.time_msc)
            return []
        fill = self.ledger.apply_deal(
            order,
            side,
            order.volume_current,
            event.price,
            event.time_msc,
            target=None,
            deal_reason=DEAL_REASON_EXPERT,
            sl=order.sl,
            tp=order.tp,
        )
        return [fill.position, order.ticket]
