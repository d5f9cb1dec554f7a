"""Daily anchor levels: the coarse path every finer view of a symbol is built between.

``level(day)`` is the price at 00:00 server time of ``day`` (days since 1970-01-01). Anchors
are a mean-reverting random walk (Ornstein-Uhlenbeck with a half-life of about three years) in
log price (additive for the Step Index), pinned to the symbol's realistic level on 2024-01-01
and walked forwards and backwards from there. The mean reversion keeps any date within a
realistic range however far it is from the reference. Each day's innovation is a counter-based
normal keyed by (seed, symbol, day), so the path is a pure function of the seed; blocks of days
are computed lazily and cached.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .rng import normals

REFERENCE_DAY = 19_723  # 2024-01-01
_BLOCK = 1_024
_KAPPA = math.log(2) / (3 * 365)  # OU pull per day: half-life of three years


class AnchorPath:
    """Anchor levels of one symbol.

    ``day_sigma(day)`` is the standard deviation of the move from ``day`` to ``day + 1``
    (log units, or price units when ``additive``). With ``quantum`` (additive paths only)
    every anchor differs from the reference by a multiple of ``2 * quantum``: the Step Index
    path between two anchors is then an exact sequence of +/- quantum steps.
    """

    def __init__(
        self,
        key: int,
        ref_level: float,
        day_sigma: Callable[[int], float],
        *,
        additive: bool = False,
        quantum: float = 0.0,
    ) -> None:
        self._key = key
        self._ref = ref_level
        self._sigma = day_sigma
        self._additive = additive
        self._quantum = quantum
        # Deviations from the reference (log or additive): _forward[i] is day REF + i,
        # _backward[i] is day REF - i.
        self._forward: list[float] = [0.0]
        self._backward: list[float] = [0.0]

    def level(self, day: int) -> float:
        """The anchor price at 00:00 server time of ``day``."""
        offset = day - REFERENCE_DAY
        path = self._forward if offset >= 0 else self._backward
        while len(path) <= abs(offset):
            self._extend(forward=offset >= 0)
        x = path[abs(offset)]
        if self._additive:
            return self._ref + x
        return self._ref * math.exp(x)

    def _extend(self, *, forward: bool) -> None:
        path = self._forward if forward else self._backward
        start = len(path)
        # The move between day d and d + 1 uses the innovation of day d in both directions,
        # so the forward and backward walks are one consistent path.
        if forward:
            days = np.arange(REFERENCE_DAY + start - 1, REFERENCE_DAY + start - 1 + _BLOCK)
        else:
            days = np.arange(REFERENCE_DAY - start, REFERENCE_DAY - start - _BLOCK, -1)
        z = normals(self._key, days.astype(np.uint64))
        x = path[-1]
        pull = 1.0 - _KAPPA
        for day, shock in zip(days.tolist(), z.tolist(), strict=True):
            step = self._sigma(day) * shock
            if self._quantum:
                grid = 2.0 * self._quantum
                x = round((x * pull + step) / grid) * grid
            else:
                x = x * pull + step
            path.append(x)
