"""Which strategy instances run: the configured ones, overridden by run-time changes.

The configured entries come from one source, the strategies file or the ``strategy`` section
(:func:`forexbot.config.loader.load_strategy_instances` chooses, refuses an ambiguous
configuration and logs which). Rules:

* Each entry becomes one instance per symbol (its ``symbols``, else the watchlist).
* A ``strategy_config`` row for the same (strategy, symbol, timeframe) wins: its parameters,
  risk multiplier and enabled flag replace the file's (a change made from the API survives a
  restart). A row for an instance the file does not have adds it, if its symbol is watched.
* A stored row that no longer validates (a parameter renamed by an upgrade, say) is reported
  and the file's settings are used: a stale row must not stop the daemon from starting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from forexbot.config.models import StrategyInstanceSettings, TradeManagement
from forexbot.database.strategy_configs import StrategyConfigRecord
from forexbot.domain.market import Timeframe
from forexbot.errors import ConfigError, InvalidInputError
from forexbot.strategies import create
from forexbot.strategies.manager import StrategyInstance

_log = structlog.get_logger("forexbot.strategies")


@dataclass(frozen=True, slots=True)
class _Wanted:
    strategy: str
    symbol: str
    timeframe: str
    params: dict[str, Any]
    risk_multiplier: float
    enabled: bool
    management: dict[str, Any]
    volume: float | None = None


def build_instances(
    configured: Sequence[StrategyInstanceSettings],
    stored: Sequence[StrategyConfigRecord],
    watchlist: Sequence[str],
) -> list[StrategyInstance]:
    """The instances to run, in file order, then stored-only ones."""
    wanted: dict[tuple[str, str, str], _Wanted] = {}
    for entry in configured:
        for symbol in entry.symbols or watchlist:
            key: tuple[str, str, str] = (str(entry.strategy), symbol, entry.timeframe)
            wanted[key] = _Wanted(
                *key,
                dict(entry.params),
                entry.risk_multiplier,
                entry.enabled,
                entry.management.model_dump(),
                entry.volume,
            )
    instances: dict[tuple[str, str, str], StrategyInstance] = {}
    for key, want in wanted.items():
        try:
            instances[key] = _instance(want)
        except InvalidInputError as exc:  # the file's values: the configuration is wrong
            raise ConfigError(str(exc)) from None
    for row in stored:
        key = (row.strategy, row.symbol, row.timeframe)
        if row.symbol not in watchlist:
            _log.warning("stored strategy settings for an unwatched symbol ignored", key=key)
            continue
        configured_management = wanted[key].management if key in wanted else {}
        want = _Wanted(
            *key,
            dict(row.params),
            float(row.risk_multiplier),
            bool(row.enabled),
            dict(row.management) or configured_management,
            wanted[key].volume if key in wanted else None,
        )
        try:
            instances[key] = _instance(want)
        except (InvalidInputError, ValueError, ValidationError) as exc:
            _log.error("stored strategy settings are invalid; using the file's", key=key,
                       error=str(exc))  # fmt: skip
    return list(instances.values())


def _instance(want: _Wanted) -> StrategyInstance:
    return StrategyInstance(
        create(want.strategy, **want.params),
        want.symbol,
        Timeframe.parse(want.timeframe),
        risk_multiplier=want.risk_multiplier,
        enabled=want.enabled,
        management=TradeManagement.model_validate(want.management),
        volume=want.volume,
    )
