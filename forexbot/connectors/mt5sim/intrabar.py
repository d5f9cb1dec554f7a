"""Filling in what a bars export does not say: M1 bars inside longer bars, ticks inside M1 bars.

A replayed bar must come back *exactly* (same open, high, low, close, volumes, spread) however
the terminal derives it, so everything synthesised inside a bar is built to aggregate back to
it. The rules:

* **Path.** Inside a bar the price goes open -> low -> high -> close when the bar closes at or
  above its open, open -> high -> low -> close otherwise (MetaTrader's tester convention), with
  a deterministic Brownian-bridge wiggle between those anchors, clamped to [low, high] and
  rounded to the symbol's digits. The anchors themselves are hit exactly, so the first value is
  the open, the last the close, the extremes the high and low: a stop loss inside the bar's
  range triggers, one outside does not.
* **M1 bars inside a longer bar** (an H1 export, say): as many active minutes as the bar has
  ticks, up to the period's minutes, spread evenly from the bar's open time. Consecutive M1
  bars share their boundary price; tick and real volume are split so they sum to the bar's,
  every M1 bar carries the bar's spread (so the minimum is the bar's). If the path's
  minute closes do not reach an extreme, the minute where the path passes it gets it as a wick.
  :func:`expand_many` expands many bars at once, bit for bit the same.
* **Ticks inside an M1 bar**: ``tick_volume`` ticks (at least as many as the path has anchors:
  a bar with one tick but different open and close gets two), evenly spaced in the minute,
  bid on the path, ask = bid + the bar's spread. Flags mark what changed (BID 2, ASK 4); the
  first tick and a repeat carry both. The first tick is at the minute's start, on the bar's
  open (:func:`first_tick` gives it without the rest).

Everything is a pure function of (key, bar time), so replays are reproducible.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import TICK_FLAG_ASK, TICK_FLAG_BID

from .rng import hash64, normals_from, split_uniforms
from .structures import RATES_DTYPE, TICKS_DTYPE

F64 = NDArray[np.float64]
MAX_TICKS_PER_MINUTE = 60_000  # one per millisecond
_BOTH = TICK_FLAG_BID | TICK_FLAG_ASK
BOTH_FLAGS = _BOTH  # a minute's first tick says both changed


def anchors(o: float, h: float, lo: float, c: float) -> list[float]:
    """The bar's turning points in time order, consecutive repeats removed."""
    order = [o, lo, h, c] if c >= o else [o, h, lo, c]
    out = [order[0]]
    for value in order[1:]:
        if value != out[-1]:
            out.append(value)
    return out


def path(
    points: list[float], n: int, key: int, index: int, bounds: tuple[float, float], digits: int
) -> F64:
    """``n >= len(points)`` values through ``points`` (hit exactly), within ``bounds``."""
    lo, hi = bounds
    if len(points) == 1 or n == 1:
        return np.full(n, points[0])
    positions = np.floor(np.arange(len(points)) * (n - 1) / (len(points) - 1) + 0.5)
    positions = positions.astype(np.int64)
    steps = np.arange(n, dtype=np.float64)
    line = np.interp(steps, positions, points)
    words = hash64(key, np.uint64(index) * np.uint64(1 << 17) + np.arange(n, dtype=np.uint64))
    walk = np.cumsum(normals_from(split_uniforms(words)[0]))
    bridge = walk - np.interp(steps, positions, walk[positions])
    scale = 0.5 * (hi - lo) / max(1.0, float(np.sqrt(n)))
    values: F64 = np.clip(np.round(line + scale * bridge, digits), lo, hi)
    values[positions] = points
    return values


def expand(bar: NDArray[np.void], minutes: int, key: int, digits: int) -> NDArray[np.void]:
    """The M1 bars of one bar of ``minutes`` minutes (``bar`` is a RATES_DTYPE scalar row)."""
    o, h, lo, c = (float(bar[f]) for f in ("open", "high", "low", "close"))
    volume, real = int(bar["tick_volume"]), int(bar["real_volume"])
    k = min(minutes, max(volume, 1))
    points = anchors(o, h, lo, c)
    if len(points) > k + 1:
        points = [o, c] if o != c else [o]
    start = int(bar["time"])
    p = path(points, k + 1, key, start // 60, (lo, h), digits)
    out = np.zeros(k, dtype=RATES_DTYPE)
    out["time"] = start + (np.arange(k) * minutes // k) * 60
    out["open"], out["close"] = p[:-1], p[1:]
    out["high"] = np.maximum(p[:-1], p[1:])
    out["low"] = np.minimum(p[:-1], p[1:])
    rising = c >= o
    if out["high"].max() < h:
        out["high"][k - 1 if rising else 0] = h
    if out["low"].min() > lo:
        out["low"][0 if rising else k - 1] = lo
    out["tick_volume"] = _split(volume, k)
    out["real_volume"] = _split(real, k)
    out["spread"] = bar["spread"]
    return out


def expand_many(bars: NDArray[np.void], minutes: int, key: int, digits: int) -> NDArray[np.void]:
    """:func:`expand` of every bar of ``bars``, joined in order, bit for bit: the bars whose
    paths have the same length and the same number of anchors are computed together (the
    same elementwise arithmetic on a row each; :func:`_interp_rows` is ``np.interp``'s), not
    one at a time at ~0.1 ms a bar."""
    count = len(bars)
    if not count:
        return np.zeros(0, dtype=RATES_DTYPE)
    o, h = bars["open"].astype(np.float64), bars["high"].astype(np.float64)
    lo, c = bars["low"].astype(np.float64), bars["close"].astype(np.float64)
    volume = bars["tick_volume"].astype(np.int64)
    real = bars["real_volume"].astype(np.int64)
    k = m1_counts(bars, minutes)
    rising = c >= o
    # anchors(): open, then low and high in the bar's direction, close; repeats removed
    order = np.where(
        rising[:, None], np.stack((o, lo, h, c), axis=1), np.stack((o, h, lo, c), axis=1)
    )
    keep = np.ones(order.shape, dtype=np.bool_)
    keep[:, 1:] = order[:, 1:] != order[:, :-1]
    n_points = keep.sum(axis=1)
    cut = n_points > k + 1  # more anchors than the path has points: open and close only
    n_points = np.where(cut, np.where(o != c, 2, 1), n_points)
    starts = bars["time"].astype(np.int64)
    offsets = np.concatenate(([0], np.cumsum(k)))
    out = np.zeros(int(offsets[-1]), dtype=RATES_DTYPE)
    shapes = k * 8 + n_points  # (path length, anchors) in one key: at most 4 anchors
    for shape in np.unique(shapes).tolist():
        rows = np.flatnonzero(shapes == shape)
        size, n_anchor = shape // 8, shape % 8
        n = size + 1
        points = np.empty((len(rows), n_anchor))
        whole, short = ~cut[rows], cut[rows]
        points[whole] = order[rows[whole]][keep[rows[whole]]].reshape(-1, n_anchor)
        if short.any():  # [open, close], or [open] when they are equal (n_anchor says)
            points[short] = np.stack((o[rows[short]], c[rows[short]]), axis=1)[:, :n_anchor]
        p = _paths(points, n, key, starts[rows] // 60, lo[rows], h[rows], digits)
        at = offsets[rows][:, None] + np.arange(size)
        out["time"][at] = starts[rows][:, None] + (np.arange(size) * minutes // size) * 60
        first, last = p[:, :-1], p[:, 1:]
        high, low = np.maximum(first, last), np.minimum(first, last)
        up = rising[rows]
        wick_high = high.max(axis=1) < h[rows]
        high[wick_high, np.where(up, size - 1, 0)[wick_high]] = h[rows][wick_high]
        wick_low = low.min(axis=1) > lo[rows]
        low[wick_low, np.where(up, 0, size - 1)[wick_low]] = lo[rows][wick_low]
        out["open"][at], out["close"][at] = first, last
        out["high"][at], out["low"][at] = high, low
        extra = np.arange(size)[None, :]
        out["tick_volume"][at] = (volume[rows] // size)[:, None] + (
            extra < (volume[rows] % size)[:, None]
        )
        out["real_volume"][at] = (real[rows] // size)[:, None] + (
            extra < (real[rows] % size)[:, None]
        )
        out["spread"][at] = bars["spread"][rows][:, None]
    return out


def m1_counts(bars: NDArray[np.void], minutes: int) -> NDArray[np.int64]:
    """How many M1 bars :func:`expand` makes of each bar: one a tick, up to ``minutes``."""
    counts: NDArray[np.int64] = np.minimum(
        minutes, np.maximum(bars["tick_volume"].astype(np.int64), 1)
    )
    return counts


def _paths(
    points: F64, n: int, key: int, index: NDArray[np.int64], lo: F64, hi: F64, digits: int
) -> F64:
    """:func:`path` of each row of ``points`` (its own ``index`` and bounds), all ``n`` long."""
    n_points = points.shape[1]
    if n_points == 1 or n == 1:
        return np.repeat(points[:, :1], n, axis=1)
    positions = np.floor(np.arange(n_points) * (n - 1) / (n_points - 1) + 0.5)
    positions = positions.astype(np.int64)
    steps = np.arange(n, dtype=np.float64)
    line = _interp_rows(steps, positions, points)
    base = index.astype(np.uint64)[:, None] * np.uint64(1 << 17)
    words = hash64(key, base + np.arange(n, dtype=np.uint64)[None, :])
    walk = np.cumsum(normals_from(split_uniforms(words)[0]), axis=1)
    bridge = walk - _interp_rows(steps, positions, walk[:, positions])
    scale = 0.5 * (hi - lo) / max(1.0, float(np.sqrt(n)))
    values: F64 = np.clip(
        np.round(line + scale[:, None] * bridge, digits), lo[:, None], hi[:, None]
    )
    values[:, positions] = points
    return values


def _interp_rows(x: F64, xp: NDArray[np.int64], fp: F64) -> F64:
    """``np.interp(x, xp, row)`` for each row of ``fp``, with its arithmetic: for ``xp[j] <
    x < xp[j + 1]``, ``slope * (x - xp[j]) + fp[j]`` with ``slope = (fp[j + 1] - fp[j]) /
    (xp[j + 1] - xp[j])``; ``fp[j]`` where ``x`` is ``xp[j]`` (``x`` within ``xp``'s range)."""
    dx = xp.astype(np.float64)
    j = np.clip(np.searchsorted(dx, x, side="right") - 1, 0, len(dx) - 2)
    slope = (fp[:, j + 1] - fp[:, j]) / (dx[j + 1] - dx[j])
    result: F64 = slope * (x - dx[j]) + fp[:, j]
    exact = x == dx[j]
    result[:, exact] = fp[:, j[exact]]
    at_end = x == dx[-1]
    result[:, at_end] = fp[:, -1:]
    return result


def _split(total: int, parts: int) -> NDArray[np.int64]:
    shares = np.full(parts, total // parts, dtype=np.int64)
    shares[: total % parts] += 1
    return shares


def ticks(bar: NDArray[np.void], key: int, digits: int, point: float) -> NDArray[np.void]:
    """The ticks of one M1 bar (a RATES_DTYPE scalar row)."""
    o, h, lo, c = (float(bar[f]) for f in ("open", "high", "low", "close"))
    points = anchors(o, h, lo, c)
    n = min(max(int(bar["tick_volume"]), len(points)), MAX_TICKS_PER_MINUTE)
    minute_msc = int(bar["time"]) * 1000
    bid = path(points, n, key, int(bar["time"]) // 60 + (1 << 40), (lo, h), digits)
    ask = np.round(bid + int(bar["spread"]) * point, digits)
    out = np.zeros(n, dtype=TICKS_DTYPE)
    out["time_msc"] = minute_msc + np.arange(n, dtype=np.int64) * 60_000 // n
    out["time"] = out["time_msc"] // 1000
    out["bid"] = bid
    out["ask"] = ask
    flags = np.full(n, _BOTH, dtype=np.uint32)
    if n > 1:
        changed = (bid[1:] != bid[:-1]) * TICK_FLAG_BID + (ask[1:] != ask[:-1]) * TICK_FLAG_ASK
        flags[1:] = np.where(changed == 0, _BOTH, changed)
    out["flags"] = flags
    return out


def first_tick(bar: NDArray[np.void], digits: int, point: float) -> NDArray[np.void]:
    """``ticks(bar, ...)[:1]`` without the path: the first tick is at the minute's start on
    the first anchor, the bar's open, which :func:`path` hits exactly whatever the key."""
    bid = np.full(1, float(bar["open"]))
    out = np.zeros(1, dtype=TICKS_DTYPE)
    out["time_msc"] = int(bar["time"]) * 1000
    out["time"] = int(bar["time"])
    out["bid"] = bid
    out["ask"] = np.round(bid + int(bar["spread"]) * point, digits)
    out["flags"] = _BOTH
    return out
