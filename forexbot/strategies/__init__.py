"""Strategies: the interface, the strategies themselves and :func:`create`."""

from __future__ import annotations

from typing import Any

from forexbot.errors import InvalidInputError
from forexbot.strategies.base_strategy import Strategy
from forexbot.strategies.break_and_retest_strategy import BreakAndRetestStrategy
from forexbot.strategies.jhook_pattern_strategy import JHookStrategy
from forexbot.strategies.ma_rsi_strategy import MaRsiStrategy
from forexbot.strategies.sma_cross_strategy import SmaCrossStrategy
from forexbot.strategies.stochastic_cross_strategy import StochasticCrossStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        MaRsiStrategy,
        StochasticCrossStrategy,
        BreakAndRetestStrategy,
        JHookStrategy,
        SmaCrossStrategy,
    )
}


def create(name: str, /, **params: Any) -> Strategy:
    """Build a strategy by its name with validated parameters (:class:`InvalidInputError`
    otherwise; a caller reading a configuration file makes it a ``ConfigError``).

    ``name`` is positional-only, as are ``self`` in :class:`Strategy`'s ``__init__`` and
    ``with_params``: parameters come from clients, and one called ``name`` or ``self`` must be
    refused as unknown, not collide with the argument (a ``TypeError``, i.e. a 500)."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise InvalidInputError(f"unknown strategy {name!r}; known strategies: {known}") from None
    return cls(**params)


__all__ = ["STRATEGIES", "Strategy", "create"]
