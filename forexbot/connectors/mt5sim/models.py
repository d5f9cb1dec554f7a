"""Price models: how each kind of symbol moves within a server day.

A day's quotes are a path from the day's anchor to the next day's anchor (see
:mod:`anchors`). Every model first draws the day's *free* path with its documented dynamics,
one increment per second, from counter-based random numbers keyed by (seed, symbol, minute,
second); then it bends the path into a bridge that ends exactly on the next anchor:

    x_bridge(t) = x(t) - w(t) * (x(T) - target),   w(t) = cumulative variance fraction

which for a Brownian path is the exact Brownian bridge. Because the randomness of a minute
depends only on that minute, and the day-level numbers (minute start levels, the correction)
are cached in a :class:`DayPlan`, any minute can be regenerated on demand and comes out
identical to the day that built the M1 bars: ticks are the very path the bar aggregates.

Models (all times server time):

* **Forex**: trades Monday 00:00 to Friday 24:00 (New York 17:00 to 17:00). Per-second
  volatility follows a session profile (quiet Asian hours, busiest London/New York overlap)
  and so does the tick rate (a tick in a given second with probability 0.2 to 0.8, i.e. one
  every ~1.25-5 s). The spread widens in thin hours and most around the 00:00 rollover.
  Weekend anchor moves make Monday gaps.
* **Volatility N**: driftless GBM with sigma = N % a year, one tick every 2 s, 24/7.
* **Boom/Crash N**: one tick a second; with probability 1/N a spike of mean 0.1 % (up for
  Boom, down for Crash), otherwise a small opposite step sized for zero drift (folded-normal
  magnitudes, reference section 7), 24/7.
* **Step**: +/-0.1 every second with probability 1/2 each, 24/7. Its bridge is exact on the
  0.1 lattice: the day's number of up-steps is fixed by the anchors and spread over minutes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from .anchors import AnchorPath
from .grid import SECONDS, SLOT_INDEX, SLOTS, MinuteGrid, drop_unchanged, force_one_tick
from .rng import F64Array, derive_key, hash64, normals_from, split_uniforms
from .symbols import SymbolKind, SymbolSpec
from .timeutil import DAY, MINUTES_PER_DAY, weekday

YEAR_SECONDS = 365 * DAY
_DT = 1.0 / YEAR_SECONDS
_IS_SECOND = SLOT_INDEX < SECONDS
_EVEN_SECOND = _IS_SECOND & (SLOT_INDEX % 2 == 0)

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DayPlan:
    """The day-level numbers needed to regenerate any minute of ``day`` on its own."""

    day: int
    a0: float  # anchor at the day's start
    x_start: F64Array  # (1440,) free-path level (log or lattice units) at each minute start
    correction: float  # free end minus target, spread over the day by the variance weights
    ups: IntArray | None = None  # Step only: up-steps per minute


class PriceModel(ABC):
    """One symbol's price process; stateless apart from its cached anchor path."""

    streams = 2  # uniform-pair streams per cell the model consumes
    drop_repeats = False  # forex terminals record changes only; synthetics tick on schedule

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.spec = spec
        self.key = derive_key(seed, spec.name)
        self.point = spec.point
        self.anchors = self._anchor_path(derive_key(seed, spec.name, "anchors"))

    @abstractmethod
    def _anchor_path(self, key: int) -> AnchorPath: ...

    def trades_on(self, day: int) -> bool:
        """Whether the symbol quotes at all on server day ``day``."""
        return True

    def is_open(self, server_seconds: float) -> bool:
        return self.trades_on(int(server_seconds // DAY))

    def plan(self, day: int) -> tuple[DayPlan, MinuteGrid]:
        """Generate the whole day: its plan and the grid of all its minutes."""
        rows = np.arange(MINUTES_PER_DAY)
        pairs = self._uniforms(day, rows)
        local = np.cumsum(self._increments(rows, pairs), axis=1)
        ends = np.cumsum(local[:, -1])
        x_start = np.concatenate(([0.0], ends[:-1]))
        a0, a1 = self.anchors.level(day), self.anchors.level(day + 1)
        plan = DayPlan(day, a0, x_start, float(ends[-1]) - math.log(a1 / a0))
        return plan, self._finish(plan, rows, local, pairs)

    def grid(self, plan: DayPlan, first_row: int, count: int) -> MinuteGrid:
        """Regenerate ``count`` consecutive minutes of the planned day, from ``first_row``."""
        return self.rows_grid(plan, np.arange(first_row, first_row + count))

    def rows_grid(self, plan: DayPlan, rows: IntArray) -> MinuteGrid:
        """Regenerate the planned day's minutes ``rows`` (increasing, not necessarily
        consecutive) in one vectorised call: every step is elementwise or along a row, so
        each row comes out as it does in the whole day."""
        pairs = self._uniforms(plan.day, rows)
        local = np.cumsum(self._increments(rows, pairs), axis=1)
        return self._finish(plan, rows, local, pairs)

    def _uniforms(self, day: int, rows: IntArray) -> list[tuple[F64Array, F64Array]]:
        minutes = (day * MINUTES_PER_DAY + rows).astype(np.uint64)
        base = (minutes * np.uint64(4 * SLOTS))[:, None] + SLOT_INDEX.astype(np.uint64)
        return [
            split_uniforms(hash64(self.key, base + np.uint64(j * SLOTS)))
            for j in range(self.streams)
        ]

    @abstractmethod
    def _increments(self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> F64Array:
        """Per-second increments of the free path, zero in the padding columns."""

    @abstractmethod
    def _weights(self, rows: IntArray) -> F64Array:
        """Cumulative variance fraction of the day at each cell (the bridge's w(t))."""

    @abstractmethod
    def _mask(
        self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]
    ) -> NDArray[np.bool_]: ...

    @abstractmethod
    def _spread(
        self, rows: IntArray, bid: F64Array, pairs: list[tuple[F64Array, F64Array]]
    ) -> NDArray[np.int32]: ...

    def _msc(self, minutes: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> IntArray:
        result: IntArray = minutes[:, None] * 60_000 + SLOT_INDEX * 1000
        return result

    def _level(self, plan: DayPlan, rows: IntArray, local: F64Array) -> F64Array:
        x = plan.x_start[rows, None] + local - self._weights(rows) * plan.correction
        result: F64Array = np.round(plan.a0 * np.exp(x), self.spec.digits)
        return result

    def _finish(
        self,
        plan: DayPlan,
        rows: IntArray,
        local: F64Array,
        pairs: list[tuple[F64Array, F64Array]],
    ) -> MinuteGrid:
        bid = self._level(plan, rows, local)
        spread = self._spread(rows, bid, pairs)
        ask = np.round(bid + spread.astype(np.float64) * self.point, self.spec.digits)
        mask = self._mask(rows, pairs)
        if self.drop_repeats:
            mask = drop_unchanged(mask, bid, ask)
        minutes = plan.day * MINUTES_PER_DAY + rows
        return MinuteGrid(minutes, mask, bid, ask, spread, self._msc(minutes, pairs))


# --- forex -------------------------------------------------------------------------------

# Activity by server hour (UTC+2/+3): rollover lull, Tokyo, London open (~10:00), the London /
# New York overlap (15:00-18:00), New York afternoon, evening lull.
_ACTIVITY = (0.35, 0.45, 0.5, 0.55, 0.55, 0.55, 0.55, 0.55, 0.6, 0.8, 1.0, 1.0,
             0.9, 0.9, 1.2, 1.5, 1.6, 1.4, 1.1, 0.9, 0.75, 0.6, 0.5, 0.4)  # fmt: skip
# Spread multiplier by server hour: widest around the 00:00 rollover, wider in thin hours.
SPREAD_BY_HOUR = (3.5, 2.0, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.2, 1.0, 1.0, 1.0,
                  1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.6, 3.0)  # fmt: skip


@cache
def _forex_profile() -> tuple[F64Array, F64Array, F64Array]:
    """Per minute of the day: relative volatility, tick probability per second, weights."""
    hours = (np.arange(MINUTES_PER_DAY) + 0.5) / 60.0
    activity = np.interp(hours, np.arange(24) + 0.5, _ACTIVITY, period=24)
    lo, hi = min(_ACTIVITY), max(_ACTIVITY)
    tick_prob = 0.2 + 0.6 * (activity - lo) / (hi - lo)
    variance = np.where(_IS_SECOND, activity[:, None] ** 2, 0.0)
    weights = np.cumsum(variance).reshape(MINUTES_PER_DAY, SLOTS) / variance.sum()
    # Scale so that the day's variance is 1: multiply by the daily sigma.
    rel_sigma = activity / math.sqrt(float(variance.sum()))
    return rel_sigma, tick_prob, weights


class ForexModel(PriceModel):
    streams = 2
    drop_repeats = True
    WEEKEND_FACTOR = 0.15  # a weekend day moves 15 % of a trading day: Monday gaps

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.day_sigma = spec.annual_vol / math.sqrt(260)
        super().__init__(spec, seed)
        rel_sigma, self._tick_prob, self._w = _forex_profile()
        self._sigma = self.day_sigma * rel_sigma
        hours = np.arange(MINUTES_PER_DAY) // 60
        factor = np.asarray(SPREAD_BY_HOUR)[hours]
        self._base_spread = np.maximum(1, np.round(spec.spread_points * factor)).astype(np.int32)

    def _anchor_path(self, key: int) -> AnchorPath:
        def sigma(day: int) -> float:
            return self.day_sigma * (1.0 if self.trades_on(day) else self.WEEKEND_FACTOR)

        return AnchorPath(key, self.spec.ref_price, sigma)

    def trades_on(self, day: int) -> bool:
        return weekday(day) < 5

    def _increments(self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> F64Array:
        z = normals_from(pairs[0][0])
        result: F64Array = np.where(_IS_SECOND, self._sigma[rows, None] * z, 0.0)
        return result

    def _weights(self, rows: IntArray) -> F64Array:
        result: F64Array = self._w[rows]
        return result

    def _mask(self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> NDArray[np.bool_]:
        score = pairs[0][1]
        mask = _IS_SECOND & (score < self._tick_prob[rows, None])
        return force_one_tick(mask, score)

    def _spread(
        self, rows: IntArray, bid: F64Array, pairs: list[tuple[F64Array, F64Array]]
    ) -> NDArray[np.int32]:
        jitter = np.floor(pairs[1][1] * 3.0).astype(np.int32)
        result: NDArray[np.int32] = self._base_spread[rows, None] + jitter
        return result

    def _msc(self, minutes: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> IntArray:
        millis = np.floor(pairs[1][0] * 1000.0).astype(np.int64)
        return super()._msc(minutes, pairs) + millis


# --- synthetic indices -------------------------------------------------------------------


@cache
def _uniform_weights() -> F64Array:
    variance = np.where(_IS_SECOND, 1.0, 0.0)
    weights: F64Array = np.cumsum(np.tile(variance, MINUTES_PER_DAY)).reshape(
        MINUTES_PER_DAY, SLOTS
    ) / (SECONDS * MINUTES_PER_DAY)
    return weights


class _SyntheticModel(PriceModel):
    tick_cells = _IS_SECOND

    def _weights(self, rows: IntArray) -> F64Array:
        result: F64Array = _uniform_weights()[rows]
        return result

    def _mask(self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> NDArray[np.bool_]:
        return np.broadcast_to(self.tick_cells, (rows.size, SLOTS))

    def _spread(
        self, rows: IntArray, bid: F64Array, pairs: list[tuple[F64Array, F64Array]]
    ) -> NDArray[np.int32]:
        points = np.round(bid * self.spec.spread_pct / self.point)
        return np.maximum(1, points).astype(np.int32)


class VolatilityModel(_SyntheticModel):
    streams = 1
    tick_cells = _EVEN_SECOND  # one tick every 2 s

    def _anchor_path(self, key: int) -> AnchorPath:
        sigma = self.spec.annual_vol / math.sqrt(365)
        return AnchorPath(key, self.spec.ref_price, lambda _day: sigma)

    def _increments(self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> F64Array:
        sigma = self.spec.annual_vol
        step = -0.5 * sigma * sigma * _DT + sigma * math.sqrt(_DT) * normals_from(pairs[0][0])
        result: F64Array = np.where(_IS_SECOND, step, 0.0)
        return result


def _folded_mgf(t: float) -> float:
    """E[exp(t |Y|)] for Y ~ N(1, 1)."""

    def phi(x: float) -> float:
        return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

    return math.exp(t * t / 2 + t) * phi(1 + t) + math.exp(t * t / 2 - t) * phi(t - 1)


# E|Y| for Y ~ N(1, 1): sqrt(2/pi) e^(-1/2) + (1 - 2 Phi(-1)) = 1.1666
_FOLDED_MEAN = math.sqrt(2 / math.pi) * math.exp(-0.5) + math.erf(1 / math.sqrt(2))


def boom_crash_scales(n: int, boom: bool) -> tuple[float, float]:
    """(small-step scale, spike scale) of Boom/Crash ``n`` in log units per |N(1,1)|.

    The spike's mean is ln(0.999) (MDT = ln(0.999)/sqrt(dt) in the reference's notation),
    negative for Crash, mirrored for Boom; the small step solves
    (1 - 1/n) M(small) + (1/n) M(spike) = 1, i.e. zero drift of the price.
    """
    p = 1.0 / n
    spike = math.log(0.999) / _FOLDED_MEAN * (-1.0 if boom else 1.0)
    target = (1.0 - p * _folded_mgf(spike)) / (1.0 - p)
    lo, hi = (-1e-3, 0.0) if boom else (0.0, 1e-3)
    for _ in range(200):  # bisection; M is increasing
        mid = 0.5 * (lo + hi)
        if _folded_mgf(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), spike


class BoomCrashModel(_SyntheticModel):
    streams = 1

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.small, self.spike = boom_crash_scales(spec.model_n, spec.kind is SymbolKind.BOOM)
        p = 1.0 / spec.model_n
        # E|Y|^2 = 2 for Y ~ N(1, 1)
        self.tick_variance = 2.0 * ((1 - p) * self.small**2 + p * self.spike**2)
        super().__init__(spec, seed)

    def _anchor_path(self, key: int) -> AnchorPath:
        sigma = math.sqrt(self.tick_variance * DAY)
        return AnchorPath(key, self.spec.ref_price, lambda _day: sigma)

    def _increments(self, rows: IntArray, pairs: list[tuple[F64Array, F64Array]]) -> F64Array:
        magnitude = np.abs(normals_from(pairs[0][0]) + 1.0)
        spike = pairs[0][1] < 1.0 / self.spec.model_n
        step = np.where(spike, self.spike, self.small) * magnitude
        result: F64Array = np.where(_IS_SECOND, step, 0.0)
        return result


class StepModel(_SyntheticModel):
    """+/- one lattice unit (0.1) per second; the bridge is exact on the lattice."""

    streams = 1
    UNIT = 0.1

    def _anchor_path(self, key: int) -> AnchorPath:
        sigma = self.UNIT * math.sqrt(DAY)
        return AnchorPath(
            key, self.spec.ref_price, lambda _day: sigma, additive=True, quantum=self.UNIT
        )

    def plan(self, day: int) -> tuple[DayPlan, MinuteGrid]:
        a0 = round(self.anchors.level(day) / self.UNIT)
        a1 = round(self.anchors.level(day + 1) / self.UNIT)
        steps = SECONDS * MINUTES_PER_DAY
        ups_total = min(max((steps + a1 - a0) // 2, 0), steps)
        # Which of the day's seconds step up: the ups_total smallest of per-second uniforms.
        seconds = (day * steps + np.arange(steps)).astype(np.uint64)
        score = split_uniforms(hash64(self.key ^ 0x5EED, seconds))[0]
        ups = np.zeros(MINUTES_PER_DAY, dtype=np.int64)
        if ups_total:
            chosen = np.argpartition(score, ups_total - 1)[:ups_total]
            ups = np.bincount(chosen // SECONDS, minlength=MINUTES_PER_DAY).astype(np.int64)
        ends = np.cumsum(2 * ups - SECONDS)
        x_start = np.concatenate(([0], ends[:-1])).astype(np.float64)
        plan = DayPlan(day, float(a0), x_start, 0.0, ups)
        return plan, self.grid(plan, 0, MINUTES_PER_DAY)

    def rows_grid(self, plan: DayPlan, rows: IntArray) -> MinuteGrid:
        pairs = self._uniforms(plan.day, rows)
        return self._finish(plan, rows, self._increments(rows, pairs, plan), pairs)

    def _increments(
        self,
        rows: IntArray,
        pairs: list[tuple[F64Array, F64Array]],
        plan: DayPlan | None = None,
    ) -> F64Array:
        assert plan is not None
        assert plan.ups is not None
        # Within a minute the up-steps go to the seconds with the lowest uniforms.
        score = np.where(_IS_SECOND, pairs[0][0], 2.0)
        ranks = np.empty((rows.size, SLOTS), dtype=np.int64)
        np.put_along_axis(ranks, np.argsort(score, axis=1), SLOT_INDEX[None, :], axis=1)
        up = ranks < plan.ups[rows, None]
        result: F64Array = np.cumsum(np.where(_IS_SECOND, np.where(up, 1.0, -1.0), 0.0), axis=1)
        return result

    def _level(self, plan: DayPlan, rows: IntArray, local: F64Array) -> F64Array:
        units = plan.a0 + plan.x_start[rows, None] + local
        result: F64Array = np.round(units * self.UNIT, self.spec.digits)
        return result

    def _spread(
        self, rows: IntArray, bid: F64Array, pairs: list[tuple[F64Array, F64Array]]
    ) -> NDArray[np.int32]:
        return np.full((rows.size, SLOTS), self.spec.spread_points, dtype=np.int32)


def model_for(spec: SymbolSpec, seed: int) -> PriceModel:
    """The price model of a catalogue symbol."""
    if spec.kind is SymbolKind.FOREX:
        return ForexModel(spec, seed)
    if spec.kind is SymbolKind.VOLATILITY:
        return VolatilityModel(spec, seed)
    if spec.kind is SymbolKind.STEP:
        return StepModel(spec, seed)
    return BoomCrashModel(spec, seed)
