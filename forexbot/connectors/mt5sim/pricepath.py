"""A symbol's quotes over a window, as the replay of stops and stop-outs walks them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PricePath:
    """Quotes of one symbol over a window: ticks (open = low = high) or M1 bars."""

    t: NDArray[np.int64]  # event time of each step, server msc
    bid_open: F64
    bid_low: F64
    bid_high: F64
    ask_open: F64
    ask_low: F64
    ask_high: F64

    @classmethod
    def from_ticks(cls, ticks: NDArray[np.void]) -> PricePath:
        bid, ask = ticks["bid"], ticks["ask"]
        return cls(ticks["time_msc"], bid, bid, bid, ask, ask, ask)

    def stamped_at_bar_end(self) -> PricePath:
        """The same M1 steps, each stamped at its minute's last millisecond."""
        return PricePath(
            self.t + 59_999,
            self.bid_open,
            self.bid_low,
            self.bid_high,
            self.ask_open,
            self.ask_low,
            self.ask_high,
        )

    @classmethod
    def from_bars(cls, bars: NDArray[np.void], point: float, digits: int) -> PricePath:
        """Bid from the bar; ask = bid + the bar's (minimum) spread, on the price grid."""
        spread = bars["spread"] * point
        return cls(
            bars["time"] * 1000,
            bars["open"],
            bars["low"],
            bars["high"],
            np.round(bars["open"] + spread, digits),
            np.round(bars["low"] + spread, digits),
            np.round(bars["high"] + spread, digits),
        )
