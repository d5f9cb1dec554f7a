"""The kernel's loop compiled with numba: :class:`~forexbot.backtest.kernel_rules.Rules`'s
rules over the same arrays, for a fixed volume on a forex symbol (the common case of
optimisation sweeps); :func:`compiled` says whether a run qualifies.

The arithmetic is the Python loop's, operation for operation, so every price and amount is
the same double. Rounding is the one place numba differs from CPython: ``round(x, n)`` in
CPython rounds the exact binary value of ``x`` half to even (through a correctly rounded
decimal conversion), while multiplying by 10ⁿ and rounding can be off where ``x × 10ⁿ`` is
inexact near a half. :func:`round_exact` decides on the exact product (an error-free
product by Veltkamp splitting), then divides the integer by 10ⁿ (a correctly rounded IEEE
division: the double nearest the decimal, as CPython's conversion gives); it is tested
against ``round`` on random and on tie values.

Rejections are counted by index into :data:`CODES`; trades are written to arrays and become
:class:`~forexbot.backtest.statistics.ClosedTrade` in Python.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from forexbot.domain.rejection import RejectCode

#: Rejection codes by the index the compiled loop counts them under.
CODES: tuple[RejectCode, ...] = (
    RejectCode.MARKET_CLOSED,
    RejectCode.SESSION_NOT_ALLOWED,
    RejectCode.LIQUIDITY_BLOCKED,
    RejectCode.VOLATILITY_BLOCKED,
    RejectCode.NO_QUOTE,
    RejectCode.STALE_QUOTE,
    RejectCode.POSITION_HELD,
    RejectCode.SPREAD_TOO_WIDE,
    RejectCode.INVALID_STOP,
    RejectCode.STOP_TOO_CLOSE,
    RejectCode.INVALID_TAKE_PROFIT,
    RejectCode.TAKE_PROFIT_TOO_CLOSE,
    RejectCode.MAX_OPEN_POSITIONS,
    RejectCode.MAX_POSITIONS_PER_SYMBOL,
    RejectCode.INVALID_VOLUME,
    RejectCode.RISK_PER_TRADE_EXCEEDED,
    RejectCode.MAX_CURRENCY_EXPOSURE,
    RejectCode.INSUFFICIENT_MARGIN,
    RejectCode.MARGIN_LIMIT,
    RejectCode.VOLUME_BELOW_MINIMUM,
)
INDEX = {code: i for i, code in enumerate(CODES)}
(
    _NO_QUOTE,
    _STALE_QUOTE,
    _POSITION_HELD,
    _SPREAD,
    _INVALID_STOP,
    _STOP_CLOSE,
    _INVALID_TP,
    _TP_CLOSE,
    _MAX_OPEN,
    _MAX_SYMBOL,
    _INVALID_VOLUME,
    _RISK,
    _EXPOSURE,
    _NO_MARGIN,
    _MARGIN_LIMIT,
) = (INDEX[c] for c in CODES[4:19])
#: Close reasons by the index the compiled loop writes.
REASONS = ("reversal", "stop_loss", "take_profit", "end_of_test")
#: Outcomes of a run.
DONE, STOP_OUT = 0, 1


@njit(cache=True)
def _two_product_error(a: float, b: float, p: float) -> float:
    """``a × b − p`` exactly (``p`` = the rounded product), by Veltkamp splitting."""
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def round_exact(x: float, digits: int) -> float:
    """CPython's ``round(x, digits)`` (0 ≤ digits ≤ 15, finite ``|x| × 10^digits < 2^52``)."""
    scale = 10.0**digits
    p = x * scale
    e = _two_product_error(x, scale, p)
    f = float(math.floor(p))
    if p == f and e < 0.0:
        f -= 1.0
    d = ((p - f) - 0.5) + e
    if d > 0.0:
        r = f + 1.0
    elif d < 0.0:
        r = f
    else:
        r = f if f * 0.5 == math.floor(f * 0.5) else f + 1.0
    out = r / scale
    if out == 0.0:
        return math.copysign(0.0, x)
    return out


@njit(cache=True)
def _round_toward(price: float, direction: float, digits: int) -> float:
    scale = 10.0**digits
    steps = round_exact(price * scale, 6)
    whole = math.ceil(steps) if direction > 0 else math.floor(steps)
    return round_exact(whole / scale, digits)


@njit(cache=True)
def _far_enough(distance: float, point: float, stops_level: int) -> bool:
    tolerance = point * 1e-3
    return distance > tolerance and distance >= stops_level * point - tolerance


@njit(cache=True)
def run(
    # decisions
    at_msc: Any,
    at_utc: Any,
    bars: Any,
    sides: Any,
    sls: Any,
    tps: Any,
    admitted: Any,
    refused: Any,
    has_quote: Any,
    bids: Any,
    asks: Any,
    ages: Any,
    market_open: Any,
    # M1 bars
    start: Any,
    stamp: Any,
    b_open: Any,
    b_low: Any,
    b_high: Any,
    a_open: Any,
    a_low: Any,
    a_high: Any,
    # midnights: server msc, traded, days charged
    midnight: Any,
    traded: Any,
    swap_days: Any,
    # the end
    end_at: int,
    end_minute: int,
    end_bar: int,
    tick_msc: Any,
    tick_bid: Any,
    tick_ask: Any,
    end_has_quote: bool,
    end_bid: float,
    end_ask: float,
    end_open: bool,
    # float parameters, int parameters
    fp: Any,
    ip: Any,
    # outputs
    out_f: Any,
    out_i: Any,
    counts: Any,
) -> Any:
    """The loop; returns (outcome, trades, next id, orders refused, exits by the intrabar rule)."""
    (
        point,
        contract,
        leverage,
        margin_rate,
        volume,
        slip,
        per_lot,
        balance,
        max_age,
        spread_limit,
        max_spread_share,
        risk_percent,
        multiplier,
        exposure_percent,
        usage_percent,
        tick_size,
        tick_value,
        swap_long,
        swap_short,
        stop_out,
        price_range,
        swap_day,
        epsilon,
        test_days,
    ) = (
        fp[0],
        fp[1],
        fp[2],
        fp[3],
        fp[4],
        fp[5],
        fp[6],
        fp[7],
        fp[8],
        fp[9],
        fp[10],
        fp[11],
        fp[12],
        fp[13],
        fp[14],
        fp[15],
        fp[16],
        fp[17],
        fp[18],
        fp[19],
        fp[20],
        fp[21],
        fp[22],
        fp[23],
    )
    digits, stops_level, reverse, max_open, margin_in_account, exposed, volume_code, swaps = (
        ip[0],
        ip[1],
        ip[2] != 0,
        ip[3],
        ip[4] != 0,
        ip[5] != 0,
        ip[6],
        ip[7] != 0,
    )
    tolerance = point * 1e-3
    n_trades = 0
    next_id = 1
    orders_refused = 0
    both = 0
    # the position: open when p_side != 0
    p_side = 0
    p_id = 0
    p_price = p_sl = p_tp = p_open_utc = p_commission = p_swap = 0.0
    p_open_msc = p_swept = 0
    p_next = 0
    p_safe = False
    margin_amount = volume * contract / leverage * margin_rate
    n = len(at_msc)
    for k in range(n + 1):
        last = k == n
        until = end_minute if last else at_msc[k]
        until_bar = end_bar if last else bars[k]
        # -- the market up to now, for the open position ------------------------------------
        exit_at = -1
        exit_price = 0.0
        exit_reason = 0
        if p_side != 0:
            buy = p_side > 0
            lowest = 0.0
            seen = False
            for j in range(p_next, until_bar):
                lo = b_low[j] if buy else a_low[j]
                hi = b_high[j] if buy else a_high[j]
                s_hit = p_sl != 0.0 and (lo <= p_sl if buy else hi >= p_sl)
                t_hit = p_tp != 0.0 and (hi >= p_tp if buy else lo <= p_tp)
                if s_hit or t_hit:
                    opened = b_open[j] if buy else a_open[j]
                    sl_first = s_hit
                    if s_hit and t_hit:
                        both += 1
                        sl_first = abs(opened - p_sl) <= abs(opened - p_tp)
                    level = p_sl if sl_first else p_tp
                    sign = 1.0 if buy else -1.0
                    if sl_first:
                        past = sign * (opened - level) <= 0
                    else:
                        past = sign * (opened - level) >= 0
                    exit_at = stamp[j]
                    exit_price = opened if past else level
                    exit_reason = 1 if sl_first else 2
                    break
                worst = (lo if buy else hi) - p_price
                moved = worst * p_side
                if not seen or moved < lowest:
                    lowest, seen = moved, True
            if not p_safe and seen:
                margin = round_exact(margin_amount * (1.0 if margin_in_account else p_price), 2)
                days = (start[until_bar - 1] - start[p_next]) // 86400 + 1
                allow = abs(p_swap) + swap_day * volume * (days + 1)
                equity = balance + lowest * contract * volume - allow - 1.0
                if equity * 100.0 <= stop_out * margin * 1.01:
                    return STOP_OUT, n_trades, next_id, orders_refused, both
            if exit_at < 0:
                p_next = until_bar
            if last and exit_at < 0:  # the last minute, on its ticks
                for j in range(len(tick_msc)):
                    if tick_msc[j] <= max(p_open_msc, end_minute - 1):
                        continue
                    price = tick_bid[j] if buy else tick_ask[j]
                    s_hit = p_sl != 0.0 and (price <= p_sl if buy else price >= p_sl)
                    t_hit = p_tp != 0.0 and (price >= p_tp if buy else price <= p_tp)
                    if s_hit or t_hit:
                        exit_at = tick_msc[j]
                        exit_price = price
                        exit_reason = 1 if s_hit else 2
                        break
                    moved = (price - p_price) * p_side
                    if not p_safe:
                        margin = round_exact(
                            margin_amount * (1.0 if margin_in_account else p_price), 2
                        )
                        allow = abs(p_swap) + swap_day * volume * 2
                        equity = balance + moved * contract * volume - allow - 1.0
                        if equity * 100.0 <= stop_out * margin * 1.01:
                            return STOP_OUT, n_trades, next_id, orders_refused, both
            # swaps at midnights in [swept, exit or now)
            charge_until = exit_at if exit_at >= 0 else (end_at + 1 if last else until)
            if swaps and charge_until > p_swept:
                m = np.searchsorted(midnight, p_swept)
                while m < len(midnight) and midnight[m] < charge_until:
                    if traded[m]:
                        points = swap_long if buy else swap_short
                        amount = points * point * contract * volume * swap_days[m]
                        p_swap = round_exact(p_swap + amount * 1.0, 2)
                    m += 1
            p_swept = max(p_swept, charge_until)
            if exit_at >= 0:
                sign = 1.0 if buy else -1.0
                profit = round_exact(sign * (exit_price - p_price) * contract * volume * 1.0, 2)
                commission = -round_exact(per_lot * volume, 2) if per_lot else 0.0
                balance = round_exact(balance + profit + p_swap + commission, 2)
                out_i[n_trades, 0] = p_id
                out_i[n_trades, 1] = p_side
                out_i[n_trades, 2] = p_open_msc
                out_i[n_trades, 3] = exit_at
                out_i[n_trades, 4] = exit_reason
                out_f[n_trades, 0] = p_open_utc
                out_f[n_trades, 1] = np.nan
                out_f[n_trades, 2] = p_price
                out_f[n_trades, 3] = round_exact(exit_price * volume / volume, 8)
                out_f[n_trades, 4] = profit
                out_f[n_trades, 5] = round_exact(p_swap, 2)
                out_f[n_trades, 6] = round_exact(p_commission + commission, 2)
                n_trades += 1
                p_side = 0
        if last:
            if p_side != 0 and end_has_quote and end_open:
                buy = p_side > 0
                price = end_bid if buy else end_ask
                if slip:
                    price = round_exact(price - slip if buy else price + slip, digits)
                sign = 1.0 if buy else -1.0
                profit = round_exact(sign * (price - p_price) * contract * volume * 1.0, 2)
                commission = -round_exact(per_lot * volume, 2) if per_lot else 0.0
                balance = round_exact(balance + profit + p_swap + commission, 2)
                out_i[n_trades, 0] = p_id
                out_i[n_trades, 1] = p_side
                out_i[n_trades, 2] = p_open_msc
                out_i[n_trades, 3] = end_at
                out_i[n_trades, 4] = 3
                out_f[n_trades, 0] = p_open_utc
                out_f[n_trades, 1] = np.nan
                out_f[n_trades, 2] = p_price
                out_f[n_trades, 3] = round_exact(price * volume / volume, 8)
                out_f[n_trades, 4] = profit
                out_f[n_trades, 5] = round_exact(p_swap, 2)
                out_f[n_trades, 6] = round_exact(p_commission + commission, 2)
                n_trades += 1
                p_side = 0
            break
        if not admitted[k]:
            continue
        # -- the decision ---------------------------------------------------------------------
        code = refused[k]
        if code < 0:
            if not has_quote[k]:
                code = _NO_QUOTE
            elif ages[k] > max_age:
                code = _STALE_QUOTE
        if code >= 0:
            counts[code] += 1
            continue
        side = sides[k]
        bid, ask = bids[k], asks[k]
        if reverse and p_side != 0:
            if p_side != side and market_open[k]:
                buy = p_side > 0
                price = bid if buy else ask
                if slip:
                    price = round_exact(price - slip if buy else price + slip, digits)
                sign = 1.0 if buy else -1.0
                profit = round_exact(sign * (price - p_price) * contract * volume * 1.0, 2)
                commission = -round_exact(per_lot * volume, 2) if per_lot else 0.0
                balance = round_exact(balance + profit + p_swap + commission, 2)
                out_i[n_trades, 0] = p_id
                out_i[n_trades, 1] = p_side
                out_i[n_trades, 2] = p_open_msc
                out_i[n_trades, 3] = at_msc[k]
                out_i[n_trades, 4] = 0
                out_f[n_trades, 0] = p_open_utc
                out_f[n_trades, 1] = at_utc[k]
                out_f[n_trades, 2] = p_price
                out_f[n_trades, 3] = round_exact(price * volume / volume, 8)
                out_f[n_trades, 4] = profit
                out_f[n_trades, 5] = round_exact(p_swap, 2)
                out_f[n_trades, 6] = round_exact(p_commission + commission, 2)
                n_trades += 1
                p_side = 0
            elif p_side == side:
                counts[_POSITION_HELD] += 1
                continue
        sl, tp = sls[k], tps[k]
        entry = ask if side > 0 else bid
        trigger = bid if side > 0 else ask
        points = (ask - bid) / point
        if spread_limit >= 0 and points > spread_limit + 1e-6:
            counts[_SPREAD] += 1
            continue
        distance = (trigger - sl) * side
        if distance <= 0:
            counts[_INVALID_STOP] += 1
            continue
        if distance < stops_level * point - tolerance:
            counts[_STOP_CLOSE] += 1
            continue
        if tp:
            target = (tp - trigger) * side
            if target <= tolerance:
                counts[_INVALID_TP] += 1
                continue
            if target < stops_level * point - tolerance:
                counts[_TP_CLOSE] += 1
                continue
        stop_points = abs(entry - sl) / point
        share = points / stop_points * 100 if stop_points else 100.0
        if share > max_spread_share:
            counts[_SPREAD] += 1
            continue
        if p_side != 0:
            counts[_MAX_OPEN if max_open <= 1 else _MAX_SYMBOL] += 1
            continue
        equity = balance
        if volume_code >= 0:
            counts[volume_code] += 1
            continue
        risk_amount = volume * (abs(entry - sl) / tick_size * tick_value)
        max_risk = equity * risk_percent / 100.0 * multiplier
        if risk_amount > max_risk + 1e-9:
            counts[_RISK] += 1
            continue
        if exposed and tick_size > 0:
            notional = abs(volume * entry * tick_value / tick_size * side)
            limit = equity * exposure_percent / 100
            if notional > limit and notional > 0.0 + 1e-9:
                counts[_EXPOSURE] += 1
                continue
        required = round_exact(margin_amount * (1.0 if margin_in_account else entry), 2)
        if required > equity:
            counts[_NO_MARGIN] += 1
            continue
        if required > equity * usage_percent / 100:
            counts[_MARGIN_LIMIT] += 1
            continue
        trade_id = next_id
        next_id += 1
        # -- the order at the terminal ----------------------------------------------------
        new_sl = round_exact(sl, digits) if sl else 0.0
        new_tp = round_exact(tp, digits) if tp else 0.0
        minimum = max(stops_level, 1) * point
        if new_sl and 0 < (trigger - new_sl) * side < minimum - point * 1e-3:
            new_sl = _round_toward(trigger - side * minimum, -side, digits)
        if new_tp and 0 < (new_tp - trigger) * side < minimum - point * 1e-3:
            new_tp = _round_toward(trigger + side * minimum, side, digits)
        if not market_open[k]:
            orders_refused += 1
            continue
        buy = side > 0
        price = ask if buy else bid
        if slip:
            price = round_exact(price + slip if buy else price - slip, digits)
        sl_r, tp_r = round_exact(new_sl, digits), round_exact(new_tp, digits)
        sign = 1.0 if buy else -1.0
        ok = sl_r >= 0 and tp_r >= 0
        if ok and sl_r and not _far_enough(sign * (trigger - sl_r), point, stops_level):
            ok = False
        if ok and tp_r and not _far_enough(sign * (tp_r - trigger), point, stops_level):
            ok = False
        need = round_exact(margin_amount * (1.0 if margin_in_account else price), 2)
        if not ok or need > balance + epsilon:
            orders_refused += 1
            continue
        commission = -round_exact(per_lot * volume, 2) if per_lot else 0.0
        balance = round_exact(balance + 0.0 + 0.0 + commission, 2)
        worst = balance - volume * (contract * price_range + swap_day * test_days) - 1.0
        p_side, p_id, p_price, p_sl, p_tp = side, trade_id, price, sl_r, tp_r
        p_open_msc, p_open_utc, p_commission, p_swap = at_msc[k], at_utc[k], commission, 0.0
        p_next, p_swept = bars[k], at_msc[k]
        p_safe = worst * 100.0 > stop_out * need * 1.01
    return DONE, n_trades, next_id, orders_refused, both


def warm() -> None:
    """Compile the loop, or load it from numba's cache (~0.25 s once per process), on empty
    inputs of the real call's types: a benchmark or a pool worker pays it before timing."""
    i64, f64, b = np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.bool_)
    run(
        i64, f64, i64, i64, f64, f64, b, i64, b, f64, f64, f64, b,
        i64, i64, f64, f64, f64, f64, f64, f64,
        i64, b, i64,
        0, 0, 0, i64, f64, f64, False, 0.0, 0.0, False,
        np.ones(24, np.float64), np.zeros(8, np.int64),
        np.zeros((1, 7), np.float64), np.zeros((1, 5), np.int64), np.zeros(len(CODES), np.int64),
    )  # fmt: skip
