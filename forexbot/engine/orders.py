"""Building ``order_send`` requests the terminal will accept.

Rules:

* Prices, SL and TP are rounded to the symbol's digits.
* SL/TP are kept outside the stops level, measured the way the server measures them: a buy's
  from the Bid, a sell's from the Ask (``docs/terminals.md``, "MetaTrader 5 facts"). A level
  inside it is moved out to the nearest allowed price and the move is reported
  (:class:`Stops`), never silently: the risk manager refused signals whose stop was too close,
  so a move here is only the market having moved since.
* The filling mode is one the symbol allows. ``symbol_info().filling_mode`` is a bitmask, not
  an ORDER_FILLING value: passing it through is the classic 10030 bug.
* Every request carries the bot's magic number and a comment of at most
  :data:`MAX_COMMENT` characters, the client order id that makes it recognisable later.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.market import SymbolSpec, Tick
from forexbot.domain.trading import Side

#: Comments longer than this are refused by some terminal builds (reported 27–31).
MAX_COMMENT = 27


def new_client_order_id(prefix: str = "fxb") -> str:
    """A short unique id that fits MetaTrader's comment field: ``fxb-`` + 20 hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def filling_type(spec: SymbolSpec) -> int:
    """An ORDER_FILLING value the symbol allows: FOK (bit 1), else IOC (bit 2), else RETURN."""
    if spec.filling_mode & 1:
        return mt5c.ORDER_FILLING_FOK
    if spec.filling_mode & 2:
        return mt5c.ORDER_FILLING_IOC
    return mt5c.ORDER_FILLING_RETURN


def entry_price(side: Side, tick: Tick) -> float:
    """The price a market order of ``side`` fills at: Ask for a buy, Bid for a sell."""
    return tick.ask if side is Side.BUY else tick.bid


def exit_price(side: Side, tick: Tick) -> float:
    """The price a position of ``side`` closes at, and its SL/TP are measured from."""
    return tick.bid if side is Side.BUY else tick.ask


@dataclass(frozen=True, slots=True)
class Stops:
    """SL/TP as sent (0.0 = none) and whether either had to be moved out of the stops level."""

    sl: float
    tp: float
    sl_moved: bool = False
    tp_moved: bool = False


def normalise_stops(side: Side, sl: float, tp: float, tick: Tick, spec: SymbolSpec) -> Stops:
    """Round SL/TP to digits and move a level inside the stops level out to its edge.

    The reference price is the one the position closes at (Bid for a buy, Ask for a sell);
    the minimum distance is ``stops_level`` points, and at least one point (the server demands
    the strict side even with a level of 0). An SL on the wrong side of the price is not
    "moved": it is returned as is, for the server (or the caller's validation) to refuse.
    """
    reference = exit_price(side, tick)
    minimum = max(spec.stops_level, 1) * spec.point
    sign = side.value
    new_sl, new_tp = spec.round_price(sl) if sl else 0.0, spec.round_price(tp) if tp else 0.0
    sl_moved = tp_moved = False
    if new_sl and 0 < (reference - new_sl) * sign < minimum - spec.point * 1e-3:
        new_sl = round_toward(reference - sign * minimum, -sign, spec)
        sl_moved = True
    if new_tp and 0 < (new_tp - reference) * sign < minimum - spec.point * 1e-3:
        new_tp = round_toward(reference + sign * minimum, sign, spec)
        tp_moved = True
    return Stops(new_sl, new_tp, sl_moved, tp_moved)


def round_toward(price: float, direction: int, spec: SymbolSpec) -> float:
    """``price`` rounded to the symbol's digits, up (``direction`` +1) or down (−1): used to
    round protective levels away from the market, never closer to it."""
    scale = 10.0**spec.digits
    steps = round(price * scale, 6)
    whole = math.ceil(steps) if direction > 0 else math.floor(steps)
    return round(whole / scale, spec.digits)


def market_order(
    *,
    symbol: str,
    side: Side,
    volume: float,
    price: float,
    stops: Stops,
    spec: SymbolSpec,
    deviation: int,
    magic: int,
    comment: str,
    position: int | None = None,
) -> dict[str, Any]:
    """A TRADE_ACTION_DEAL request; with ``position`` it closes (part of) that position."""
    request: dict[str, Any] = {
        "action": mt5c.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": float(volume),
        "type": mt5c.ORDER_TYPE_BUY if side is Side.BUY else mt5c.ORDER_TYPE_SELL,
        "price": spec.round_price(price),
        "sl": stops.sl,
        "tp": stops.tp,
        "deviation": int(deviation),
        "magic": magic,
        "comment": comment[:MAX_COMMENT],
        "type_time": mt5c.ORDER_TIME_GTC,
        "type_filling": filling_type(spec),
    }
    if position is not None:
        request["position"] = int(position)
    return request


def modify_stops(
    *, symbol: str, position: int, sl: float, tp: float, magic: int, comment: str
) -> dict[str, Any]:
    """A TRADE_ACTION_SLTP request setting the position's SL and TP (0.0 removes one)."""
    return {
        "action": mt5c.TRADE_ACTION_SLTP,
        "symbol": symbol,
        "position": int(position),
        "sl": float(sl),
        "tp": float(tp),
        "magic": magic,
        "comment": comment[:MAX_COMMENT],
    }
