"""The terminal's records as domain values: one function per kind of record.

MetaTrader returns named tuples (or the bridge's copies of them) in broker server time; these
functions take the server time offset (server = UTC + offset, seconds) and return values whose
times are UTC epoch seconds, so nothing past the connector sees server time.
"""

from __future__ import annotations

from typing import Any

from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.market import Bar, SymbolSpec, Tick, Timeframe
from forexbot.domain.trading import AccountState, Deal, Position, Side
from forexbot.errors import TerminalError

#: Brokers run on whole or half-hour offsets from UTC.
OFFSET_GRANULARITY = 1800
#: A tick further than this from any such offset is stale: it tells nothing of the offset.
STALE_AFTER = 600


def offset_from(server_time: float, utc_now: float) -> int | None:
    """The server time offset a fresh tick implies (server = UTC + offset, seconds), rounded
    to the half hour — exact, since a fresh tick is seconds old; ``None`` for a stale tick."""
    raw = server_time - utc_now
    offset = round(raw / OFFSET_GRANULARITY) * OFFSET_GRANULARITY
    return None if abs(raw - offset) > STALE_AFTER else offset


def symbol_spec_of(info: Any) -> SymbolSpec:
    """``symbol_info()`` as a :class:`SymbolSpec`; the tick value is the loss side's when the
    broker gives one (what sizing by risk needs)."""
    return SymbolSpec(
        name=info.name,
        digits=int(info.digits),
        point=float(info.point),
        tick_size=float(info.trade_tick_size),
        tick_value=float(info.trade_tick_value_loss or info.trade_tick_value),
        contract_size=float(info.trade_contract_size),
        volume_min=float(info.volume_min),
        volume_max=float(info.volume_max),
        volume_step=float(info.volume_step),
        stops_level=int(info.trade_stops_level),
        freeze_level=int(info.trade_freeze_level),
        filling_mode=int(info.filling_mode),
        currency_base=str(info.currency_base),
        currency_profit=str(info.currency_profit),
        currency_margin=str(info.currency_margin),
    )


def terminal_error(message: str, error: tuple[int, str]) -> TerminalError:
    """A :class:`TerminalError` with what ``last_error()`` said (read in the same worker job
    as the failed call, before another call can replace it)."""
    code, description = error
    return TerminalError(f"{message}: {code} {description}", code=code, description=description)


def tick_of(
    symbol: str, msc: int, bid: float, ask: float, last: float, volume: float, offset: int
) -> Tick:
    """A tick's fields (its time in server milliseconds) as a :class:`Tick` in UTC."""
    return Tick(symbol, msc / 1000.0 - offset, float(bid), float(ask), float(last), float(volume))


def bar_of(symbol: str, tf: Timeframe, row: Any, offset: int) -> Bar:
    """A row of the terminal's rates (``copy_rates_*``) as a bar, its time in UTC."""
    return Bar(
        symbol=symbol,
        timeframe=tf,
        time=int(row["time"]) - offset,
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        close=float(row["close"]),
        tick_volume=int(row["tick_volume"]),
        spread=int(row["spread"]),
        real_volume=int(row["real_volume"]),
    )


def account_state_of(info: Any) -> AccountState:
    """``account_info()`` as an :class:`AccountState`."""
    return AccountState(
        currency=str(info.currency),
        balance=float(info.balance),
        equity=float(info.equity),
        margin=float(info.margin),
        margin_free=float(info.margin_free),
        leverage=int(info.leverage),
        profit=float(info.profit),
        hedging=int(info.margin_mode) == mt5c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
    )


def position_of(p: Any, offset: int) -> Position:
    """One of ``positions_get()`` as a :class:`Position`, its time in UTC."""
    return Position(
        ticket=int(p.ticket),
        symbol=str(p.symbol),
        side=Side.BUY if p.type == mt5c.POSITION_TYPE_BUY else Side.SELL,
        volume=float(p.volume),
        price_open=float(p.price_open),
        sl=float(p.sl),
        tp=float(p.tp),
        price_current=float(p.price_current),
        profit=float(p.profit),
        swap=float(p.swap),
        time=p.time_msc / 1000.0 - offset,
        magic=int(p.magic),
        comment=str(p.comment),
    )


def deal_of(d: Any, offset: int) -> Deal:
    """One of ``history_deals_get()`` as a :class:`Deal`, its time in UTC."""
    return Deal(
        ticket=int(d.ticket),
        order=int(d.order),
        position_id=int(d.position_id),
        symbol=str(d.symbol),
        time=d.time_msc / 1000.0 - offset,
        type=int(d.type),
        entry=int(d.entry),
        volume=float(d.volume),
        price=float(d.price),
        profit=float(d.profit),
        swap=float(d.swap),
        commission=float(d.commission),
        reason=int(d.reason),
        magic=int(d.magic),
        comment=str(d.comment),
    )
