"""Position sizing: how many lots risk a given share of equity at a given stop.

The rule: the money lost if the stop is hit,
``volume × (stop distance / tick size) × tick value``, must not exceed
``equity × risk percent / 100 × risk multiplier``. The volume is rounded *down* to the symbol's
volume step and capped at its maximum; if even the minimum volume would risk more than allowed,
there is no trade (rounding up to the minimum would break the rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from forexbot.domain.market import SymbolSpec
from forexbot.domain.rejection import RejectCode, Rejection


@dataclass(frozen=True, slots=True)
class Sizing:
    """Outcome of :func:`size_position`: a volume, or a refusal with its reason."""

    volume: float
    risk_amount: float
    max_risk: float
    refusal: Rejection | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def loss_per_lot(entry: float, stop: float, spec: SymbolSpec) -> float:
    """Account-currency loss of one lot between ``entry`` and ``stop``."""
    return abs(entry - stop) / spec.tick_size * spec.tick_value


def size_position(
    equity: float,
    risk_percent: float,
    entry: float,
    stop: float,
    spec: SymbolSpec,
    risk_multiplier: float = 1.0,
) -> Sizing:
    """Size an order so that hitting ``stop`` from ``entry`` loses at most the allowed risk."""
    max_risk = equity * risk_percent / 100.0 * risk_multiplier
    if equity <= 0:
        return _refused(max_risk, RejectCode.NO_EQUITY, "equity is not positive")
    if spec.tick_size <= 0 or spec.tick_value <= 0:
        return _refused(max_risk, RejectCode.NO_TICK_VALUE, "the symbol has no tick value")
    per_lot = loss_per_lot(entry, stop, spec)
    if per_lot <= 0:
        return _refused(max_risk, RejectCode.INVALID_STOP, "the stop-loss is at the entry price")
    raw = max_risk / per_lot
    volume = spec.floor_volume(min(raw, spec.volume_max))
    if volume < spec.volume_min or volume <= 0:
        return _refused(
            max_risk,
            RejectCode.VOLUME_BELOW_MINIMUM,
            f"the minimum volume {spec.volume_min:g} would risk {spec.volume_min * per_lot:.2f}, "
            f"more than the allowed {max_risk:.2f}",
        )
    return Sizing(volume, volume * per_lot, max_risk)


def _refused(max_risk: float, code: RejectCode, message: str) -> Sizing:
    return Sizing(0.0, 0.0, max_risk, Rejection(code, message))
