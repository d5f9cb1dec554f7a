"""The trade server's checks, each returning the MetaTrader return code that refuses a request.

Rules (reference section 4):

* **Volume** (10014): ``volume_min <= v <= volume_max``, ``v`` a multiple of ``volume_step``,
  and ``v <= volume_limit`` when the symbol has a limit.
* **Filling** (10030): in Instant and Request execution a market order is always filled
  Fill-or-Kill, whatever ``type_filling`` says (MQL5 documentation, "Fill policy"; it is why
  MetaQuotes' own ``order_send`` example, sending ORDER_FILLING_RETURN for USDJPY, executes
  on their demo server). Otherwise FOK needs bit 1 of ``filling_mode``, IOC bit 2, and
  RETURN is allowed for pending orders and in Market/Exchange execution. A value that is
  not an ORDER_FILLING_* constant is always refused.
* **Stops** (10016), against the price a position closes at: a buy's SL below Bid by at least
  ``trade_stops_level`` points and its TP above Bid by as much; a sell's SL above Ask and TP
  below Ask. A level of 0 still demands the strict side: an SL/TP exactly at the price it is
  compared with would meet its own trigger condition at once (buy SL when Bid <= SL), so it is
  refused with 10016, as MetaQuotes' own pre-trade check does (``Bid-SL > StopsLevel*Point``;
  docs/mt5sim.md, ruling R1). Pending orders measure from their open price (the stop-limit
  price for stop-limit orders); a pending price at the market is likewise 10015.
* **Pending price** (10015): BuyLimit below Ask, SellLimit above Bid, BuyStop above Ask,
  SellStop below Bid, each by the stops level; a stop-limit's limit price must lie on the
  near side of its stop price (below it for a buy, above it for a sell).
* **Freeze level** (10029): a position's SL/TP, or a pending order, cannot be changed while the
  market is within ``trade_freeze_level`` points of the level (a change needs the distance to
  be strictly greater than the freeze level).
* **Trade mode**: DISABLED 10017, LONGONLY 10042 / SHORTONLY 10043 for the wrong side,
  CLOSEONLY 10044 for opening.
"""

from __future__ import annotations

from forexbot.connectors.mt5_constants import (
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    ORDER_FILLING_RETURN,
    ORDER_TYPE_BUY_LIMIT,
    ORDER_TYPE_BUY_STOP,
    ORDER_TYPE_BUY_STOP_LIMIT,
    ORDER_TYPE_SELL_LIMIT,
    ORDER_TYPE_SELL_STOP,
    ORDER_TYPE_SELL_STOP_LIMIT,
    SYMBOL_TRADE_EXECUTION_EXCHANGE,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_EXECUTION_REQUEST,
    SYMBOL_TRADE_MODE_CLOSEONLY,
    SYMBOL_TRADE_MODE_DISABLED,
    SYMBOL_TRADE_MODE_LONGONLY,
    SYMBOL_TRADE_MODE_SHORTONLY,
    TRADE_RETCODE_CLOSE_ONLY,
    TRADE_RETCODE_LONG_ONLY,
    TRADE_RETCODE_SHORT_ONLY,
    TRADE_RETCODE_TRADE_DISABLED,
)

from .symbols import FILLING_FOK_BIT, FILLING_IOC_BIT, SymbolSpec

_EPSILON = 1e-9


def volume_ok(spec: SymbolSpec, volume: float) -> bool:
    if not volume_min_ok(spec, volume) or volume > spec.volume_max + _EPSILON:
        return False
    if spec.volume_limit and volume > spec.volume_limit + _EPSILON:
        return False
    steps = volume / spec.volume_step
    return abs(steps - round(steps)) < 1e-6


def volume_min_ok(spec: SymbolSpec, volume: float) -> bool:
    return volume >= spec.volume_min - _EPSILON


def filling_ok(spec: SymbolSpec, type_filling: int, *, pending: bool) -> bool:
    known = type_filling in (ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN)
    if not pending and spec.exemode in (
        SYMBOL_TRADE_EXECUTION_INSTANT,
        SYMBOL_TRADE_EXECUTION_REQUEST,
    ):
        return known
    if type_filling == ORDER_FILLING_FOK:
        return bool(spec.filling_mode & FILLING_FOK_BIT)
    if type_filling == ORDER_FILLING_IOC:
        return bool(spec.filling_mode & FILLING_IOC_BIT)
    if type_filling == ORDER_FILLING_RETURN:
        return pending or spec.exemode in (
            SYMBOL_TRADE_EXECUTION_MARKET,
            SYMBOL_TRADE_EXECUTION_EXCHANGE,
        )
    return False


def _far_enough(distance: float, spec: SymbolSpec) -> bool:
    """A protective distance is valid when strictly positive and at least the stops level."""
    tolerance = spec.point * 1e-3
    return distance > tolerance and distance >= spec.stops_level * spec.point - tolerance


def stops_ok(spec: SymbolSpec, buy: bool, reference: float, sl: float, tp: float) -> bool:
    """SL/TP of a buy (``reference`` = Bid or open price) or a sell (Ask or open price)."""
    if sl < 0 or tp < 0:
        return False
    sign = 1.0 if buy else -1.0
    if sl and not _far_enough(sign * (reference - sl), spec):
        return False
    return not (tp and not _far_enough(sign * (tp - reference), spec))


def pending_price_ok(
    spec: SymbolSpec, order_type: int, price: float, stoplimit: float, bid: float, ask: float
) -> bool:
    if price <= 0:
        return False
    if order_type == ORDER_TYPE_BUY_LIMIT:
        return _far_enough(ask - price, spec)
    if order_type == ORDER_TYPE_SELL_LIMIT:
        return _far_enough(price - bid, spec)
    if order_type == ORDER_TYPE_BUY_STOP:
        return _far_enough(price - ask, spec)
    if order_type == ORDER_TYPE_SELL_STOP:
        return _far_enough(bid - price, spec)
    if order_type == ORDER_TYPE_BUY_STOP_LIMIT:
        return _far_enough(price - ask, spec) and 0 < stoplimit < price
    if order_type == ORDER_TYPE_SELL_STOP_LIMIT:
        return _far_enough(bid - price, spec) and stoplimit > price
    return False


def frozen(spec: SymbolSpec, market: float, level: float) -> bool:
    """Whether ``level`` (an SL, TP or order price) is within the freeze distance of ``market``."""
    if not level or not spec.freeze_level:
        return False
    return abs(market - level) <= spec.freeze_level * spec.point + spec.point * 1e-3


def trade_mode_retcode(spec: SymbolSpec, buy: bool, *, opening: bool) -> int | None:
    mode = spec.trade_mode
    if mode == SYMBOL_TRADE_MODE_DISABLED:
        return TRADE_RETCODE_TRADE_DISABLED
    if mode == SYMBOL_TRADE_MODE_CLOSEONLY and opening:
        return TRADE_RETCODE_CLOSE_ONLY
    if mode == SYMBOL_TRADE_MODE_LONGONLY and opening and not buy:
        return TRADE_RETCODE_LONG_ONLY
    if mode == SYMBOL_TRADE_MODE_SHORTONLY and opening and buy:
        return TRADE_RETCODE_SHORT_ONLY
    return None
