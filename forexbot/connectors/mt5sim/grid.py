"""Ticks of consecutive minutes as fixed-size grids, and the M1 bars they aggregate to.

A price model produces, for ``k`` consecutive minutes, ``(k, 64)`` arrays: one row per minute,
one column per second (columns 60-63 are padding that never holds a tick, so rows are
SIMD-aligned and a one-minute grid computes bit-for-bit like the same row of a whole day).
``mask`` says which cells hold a tick. Turning a grid into MetaTrader's tick array and M1 bars
is model-independent and lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import TICK_FLAG_ASK, TICK_FLAG_BID

from .structures import RATES_DTYPE, TICKS_DTYPE

SLOTS = 64
SECONDS = 60
SLOT_INDEX = np.arange(SLOTS)
_BOTH = TICK_FLAG_BID | TICK_FLAG_ASK


@dataclass(frozen=True, slots=True)
class MinuteGrid:
    """Generated quotes of minutes ``minutes`` (global server-time minute indices)."""

    minutes: NDArray[np.int64]  # (k,)
    mask: NDArray[np.bool_]  # (k, 64) a tick exists in this cell
    bid: NDArray[np.float64]  # (k, 64)
    ask: NDArray[np.float64]  # (k, 64)
    spread: NDArray[np.int32]  # (k, 64) points
    msc: NDArray[np.int64]  # (k, 64) server-time epoch milliseconds

    def ticks(self) -> NDArray[np.void]:
        """The grid's ticks in time order as a MetaTrader tick array.

        Flags say what changed since the previous tick of the same minute (BID = 2, ASK = 4);
        a minute's first tick, and a scheduled synthetic tick that repeats the last quote,
        carry both. (Forex grids drop repeats, see :func:`drop_unchanged`.)
        """
        flags = _flags(self.mask, self.bid, self.ask)
        out = np.zeros(int(self.mask.sum()), dtype=TICKS_DTYPE)
        msc = self.msc[self.mask]
        out["time"] = msc // 1000
        out["time_msc"] = msc
        out["bid"] = self.bid[self.mask]
        out["ask"] = self.ask[self.mask]
        out["flags"] = flags[self.mask]
        return out

    def counts(self) -> NDArray[np.int64]:
        """Ticks per minute (row)."""
        counts: NDArray[np.int64] = self.mask.sum(axis=1, dtype=np.int64)
        return counts

    def bars(self) -> NDArray[np.void]:
        """M1 bid bars of the minutes that have ticks.

        open/close are the first/last tick's bid, high/low the extremes, tick_volume the number
        of ticks and spread the bar's *minimum* spread in points (MetaTrader's convention).
        """
        has = self.mask.any(axis=1)
        mask = self.mask[has]
        bid = self.bid[has]
        rows = np.arange(mask.shape[0])
        first = np.argmax(mask, axis=1)
        last = SLOTS - 1 - np.argmax(mask[:, ::-1], axis=1)
        out = np.zeros(mask.shape[0], dtype=RATES_DTYPE)
        out["time"] = self.minutes[has] * 60
        out["open"] = bid[rows, first]
        out["close"] = bid[rows, last]
        out["high"] = np.where(mask, bid, -np.inf).max(axis=1)
        out["low"] = np.where(mask, bid, np.inf).min(axis=1)
        out["tick_volume"] = mask.sum(axis=1)
        out["spread"] = np.where(mask, self.spread[has], np.iinfo(np.int32).max).min(axis=1)
        return out


def _previous_tick_index(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """For every cell, the column of the previous tick in the same row (-1 if none)."""
    idx = np.where(mask, SLOT_INDEX, -1)
    last: NDArray[np.int64] = np.maximum.accumulate(idx, axis=1)
    prev = np.empty_like(last)
    prev[:, 0] = -1
    prev[:, 1:] = last[:, :-1]
    return prev


def _changes(
    mask: NDArray[np.bool_], bid: NDArray[np.float64], ask: NDArray[np.float64]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    prev = _previous_tick_index(mask)
    first = prev < 0
    safe = np.maximum(prev, 0)
    bid_changed = first | (bid != np.take_along_axis(bid, safe, axis=1))
    ask_changed = first | (ask != np.take_along_axis(ask, safe, axis=1))
    return first, bid_changed, ask_changed


def drop_unchanged(
    mask: NDArray[np.bool_], bid: NDArray[np.float64], ask: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """``mask`` without the cells that repeat the previous tick's bid and ask."""
    _, bid_changed, ask_changed = _changes(mask, bid, ask)
    result: NDArray[np.bool_] = mask & (bid_changed | ask_changed)
    return result


def _flags(
    mask: NDArray[np.bool_], bid: NDArray[np.float64], ask: NDArray[np.float64]
) -> NDArray[np.uint32]:
    first, bid_changed, ask_changed = _changes(mask, bid, ask)
    flags = bid_changed * TICK_FLAG_BID + ask_changed * TICK_FLAG_ASK
    return np.where(first | (flags == 0), _BOTH, flags).astype(np.uint32)


def force_one_tick(mask: NDArray[np.bool_], score: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``mask`` with, in every row, at least the cell of lowest ``score`` (among seconds)."""
    forced = np.zeros_like(mask)
    forced[np.arange(mask.shape[0]), np.argmin(score[:, :SECONDS], axis=1)] = True
    result: NDArray[np.bool_] = mask | forced
    return result


def m1_from_ticks(ticks: NDArray[np.void], point: float) -> NDArray[np.void]:
    """M1 bid bars of ``ticks`` (in time order), built the way the terminal builds its own.

    open/close are the minute's first/last bid, high/low its extremes, tick_volume the number
    of ticks, real_volume the sum of their volumes and spread the minimum spread in points.
    """
    if len(ticks) == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    minutes = ticks["time_msc"] // 60_000
    first = np.flatnonzero(np.concatenate(([True], minutes[1:] != minutes[:-1])))
    last = np.concatenate((first[1:], [len(ticks)])) - 1
    bid = ticks["bid"]
    out = np.zeros(len(first), dtype=RATES_DTYPE)
    out["time"] = minutes[first] * 60
    out["open"] = bid[first]
    out["close"] = bid[last]
    out["high"] = np.maximum.reduceat(bid, first)
    out["low"] = np.minimum.reduceat(bid, first)
    out["tick_volume"] = last - first + 1
    out["real_volume"] = np.add.reduceat(ticks["volume"], first)
    spreads = np.round((ticks["ask"] - bid) / point)
    out["spread"] = np.minimum.reduceat(spreads, first)
    return out
