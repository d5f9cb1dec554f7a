"""Market data values: timeframes, ticks, bars and symbol specifications.

Prices are floats (MetaTrader uses doubles); they are rounded to a symbol's digits only at the
order boundary. Times are UTC epoch seconds (``float`` for ticks, ``int`` for bar opens), already
converted from broker server time by the connector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Timeframe(Enum):
    """Bar periods, with MetaTrader's numeric ``TIMEFRAME_*`` value and their length."""

    M1 = (1, 60)
    M5 = (5, 300)
    M15 = (15, 900)
    M30 = (30, 1800)
    H1 = (16385, 3600)
    H4 = (16388, 14400)
    D1 = (16408, 86400)

    def __init__(self, mt5_value: int, seconds: int) -> None:
        self.mt5_value = mt5_value
        self.seconds = seconds

    @classmethod
    def parse(cls, name: str) -> Timeframe:
        """``"M15"`` → :attr:`M15`; a clear ``ValueError`` naming the allowed values otherwise."""
        try:
            return cls[name.upper()]
        except KeyError:
            allowed = ", ".join(tf.name for tf in cls)
            raise ValueError(f"unknown timeframe {name!r}; allowed: {allowed}") from None

    def open_time(self, epoch: float) -> int:
        """Open time of the bar of this timeframe that contains ``epoch``."""
        return int(epoch // self.seconds) * self.seconds


@dataclass(frozen=True, slots=True)
class Tick:
    """One quote. ``time`` is UTC epoch seconds with millisecond precision."""

    symbol: str
    time: float
    bid: float
    ask: float
    last: float = 0.0
    volume: float = 0.0

    @property
    def spread(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLC bar of bid prices, the way MetaTrader builds them.

    ``time`` is the bar's open time (UTC epoch seconds); ``spread`` is in points.
    """

    symbol: str
    timeframe: Timeframe
    time: int
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int = 0
    real_volume: int = 0

    def __copy__(self) -> Bar:
        return self  # immutable: a copy would be equal and interchangeable

    def __deepcopy__(self, memo: dict[int, object]) -> Bar:
        # Strategy states hold hundreds of bars; forking a state (a speculative analysis)
        # shares them instead of copying each.
        return self


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What the risk manager and the execution manager need to know about a symbol.

    ``tick_value`` is the account-currency value of one ``tick_size`` move for one lot (MT5's
    ``trade_tick_value_loss`` is used for sizing, the conservative of the two).
    ``filling_mode`` is MetaTrader's bitmask (1 = FOK allowed, 2 = IOC allowed).
    """

    name: str
    digits: int
    point: float
    tick_size: float
    tick_value: float
    contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    stops_level: int = 0
    freeze_level: int = 0
    filling_mode: int = 1
    currency_base: str = ""
    currency_profit: str = ""
    currency_margin: str = ""

    def round_price(self, price: float) -> float:
        """Round a price to the symbol's digits (what the terminal accepts)."""
        return round(price, self.digits)

    def volume_problem(self, volume: float) -> str | None:
        """Why the terminal would refuse ``volume`` (10014), or ``None`` when it is valid:
        within ``volume_min``..``volume_max`` and a multiple of ``volume_step``."""
        if not math.isfinite(volume) or volume <= 0:
            return f"volume must be a positive number, got {volume!r}"
        if volume < self.volume_min - 1e-9:
            return f"volume {volume:g} is below the minimum {self.volume_min:g} of {self.name}"
        if volume > self.volume_max + 1e-9:
            return f"volume {volume:g} is above the maximum {self.volume_max:g} of {self.name}"
        steps = volume / self.volume_step
        if abs(steps - round(steps)) > 1e-6:
            return f"volume {volume:g} is not a multiple of the step {self.volume_step:g}"
        return None

    def round_volume(self, volume: float) -> float:
        """``volume`` on the step grid (to the step's decimals): a validated 0.1 + 0.2 is sent
        as 0.3, not 0.30000000000000004, which a server may refuse (10014)."""
        steps = round(volume / self.volume_step)
        decimals = max(0, -math.floor(math.log10(self.volume_step) + 1e-12))
        return round(steps * self.volume_step, decimals)

    def floor_volume(self, volume: float) -> float:
        """Round a volume *down* to a multiple of the volume step.

        Rounding down is the rule: rounding up could risk more than the sizing allowed.
        A small epsilon absorbs float error such as 0.3/0.1 = 2.9999999999999996.
        """
        steps = math.floor(volume / self.volume_step + 1e-9)
        decimals = max(0, -math.floor(math.log10(self.volume_step) + 1e-12))
        return round(steps * self.volume_step, decimals)
