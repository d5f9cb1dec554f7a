"""Crosses built tick by tick from their USD legs, so the currency triangle always holds.

A forex pair without USD (EURJPY, EURGBP, AUDNZD, ...) is not generated on its own: at every
tick of either leg its mid is the product of the legs' mids (EURJPY = EURUSD x USDJPY,
EURGBP = EURUSD / GBPUSD), so a strategy trading EURUSD, USDJPY and EURJPY never sees a free
triangular arbitrage. Rules:

* a cross ticks whenever one of its legs ticks, from the moment both legs have ticked that
  server day (each day is built from that day's leg ticks only, so nothing depends on the
  future or on how a query is cut);
* bid = mid - spread/2 rounded to the symbol's digits, ask = bid + spread, the spread being
  the symbol's typical spread scaled by the hour (widest at the rollover, like the majors)
  plus 0-2 points of jitter; a tick that changes neither bid nor ask is not recorded;
* M1 bars (and so every timeframe) are built from those ticks the terminal's way.

A day costs about two leg-days of tick generation, so crosses are a few times slower than
majors on long cold history requests; built days are cached.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import TICK_FLAG_ASK, TICK_FLAG_BID

from .models import SPREAD_BY_HOUR
from .rng import derive_key, hash64, split_uniforms
from .structures import TICKS_DTYPE
from .symbols import Catalogue, SymbolKind, SymbolSpec

Ticks = NDArray[np.void]
_BOTH = TICK_FLAG_BID | TICK_FLAG_ASK


def cross_legs(spec: SymbolSpec, catalogue: Catalogue) -> list[tuple[str, float]] | None:
    """The USD pairs (and exponents) whose product is the cross ``spec``; None if not a cross.

    EURJPY -> [("EURUSD", 1), ("USDJPY", 1)]; EURGBP -> [("EURUSD", 1), ("GBPUSD", -1)].
    """
    base, quote = spec.currency_base, spec.currency_profit
    if spec.kind is not SymbolKind.FOREX or "USD" in (base, quote):
        return None
    legs: list[tuple[str, float]] = []
    for currency, sign in ((base, 1.0), (quote, -1.0)):
        direct, inverse = catalogue.pair(currency, "USD"), catalogue.pair("USD", currency)
        if direct is not None:
            legs.append((direct.name, sign))
        elif inverse is not None:
            legs.append((inverse.name, -sign))
        else:
            return None
    return legs


class CrossBuilder:
    """One cross's day of ticks from its legs' day of ticks (see the module docstring)."""

    def __init__(
        self,
        spec: SymbolSpec,
        legs: list[tuple[str, float]],
        leg_day_ticks: Callable[[str, int], Ticks],
        seed: int,
    ) -> None:
        self.spec = spec
        self.legs = legs
        self._leg_day_ticks = leg_day_ticks
        self._key = derive_key(seed, spec.name, "cross")
        factors = np.asarray(SPREAD_BY_HOUR)
        self._spread_by_hour = np.maximum(1, np.round(spec.spread_points * factors)).astype(int)

    def day_ticks(self, day: int) -> Ticks:
        legs = [(self._leg_day_ticks(name, day), exponent) for name, exponent in self.legs]
        if any(len(ticks) == 0 for ticks, _ in legs):
            return np.zeros(0, dtype=TICKS_DTYPE)
        start = max(int(ticks["time_msc"][0]) for ticks, _ in legs)
        times = np.sort(np.concatenate([ticks["time_msc"] for ticks, _ in legs]), kind="stable")
        times = times[times >= start]
        times = times[np.concatenate(([True], times[1:] != times[:-1]))]
        mid = np.ones(times.size)
        for ticks, exponent in legs:
            at = np.searchsorted(ticks["time_msc"], times, side="right") - 1
            mid *= ((ticks["bid"][at] + ticks["ask"][at]) / 2.0) ** exponent
        spec = self.spec
        hours = (times // 3_600_000) % 24
        jitter = np.floor(split_uniforms(hash64(self._key, times.astype(np.uint64)))[0] * 3.0)
        spread = (self._spread_by_hour[hours] + jitter.astype(int)) * spec.point
        bid = np.round(mid - spread / 2.0, spec.digits)
        ask = np.round(bid + spread, spec.digits)
        changed = np.ones(times.size, dtype=bool)
        changed[1:] = (bid[1:] != bid[:-1]) | (ask[1:] != ask[:-1])
        times, bid, ask = times[changed], bid[changed], ask[changed]
        out = np.zeros(times.size, dtype=TICKS_DTYPE)
        out["time_msc"] = times
        out["time"] = times // 1000
        out["bid"] = bid
        out["ask"] = ask
        flags = np.full(times.size, _BOTH, dtype=np.uint32)
        flags[1:] = (bid[1:] != bid[:-1]) * TICK_FLAG_BID + (ask[1:] != ask[:-1]) * TICK_FLAG_ASK
        out["flags"] = flags
        return out
