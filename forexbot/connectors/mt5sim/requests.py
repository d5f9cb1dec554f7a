"""Turning an ``order_send``/``order_check`` dict into a :class:`TradeRequest`.

This is the terminal-side argument check of the real module: a malformed request never reaches
the trade server, the call returns None and ``last_error()`` names the argument:

* ``volume`` must be a float (an int is refused: ``Invalid "volume" argument``) and is
  required for TRADE_ACTION_DEAL and TRADE_ACTION_PENDING;
* ``comment`` must be a str of at most 31 characters (``Invalid "comment" argument``);
* integer fields must be ints, price fields numbers, ``symbol`` a str;
* ``action`` is required.

Unknown keys are ignored. A refusal is raised as :class:`InvalidRequest`, which the terminal
turns into None + ``last_error``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forexbot.connectors.mt5_constants import TRADE_ACTION_DEAL, TRADE_ACTION_PENDING

from .errors import ErrorPair, SimulatorError, invalid_argument
from .structures import TradeRequest

MAX_COMMENT = 31
_INT_FIELDS = (
    "action",
    "magic",
    "order",
    "deviation",
    "type",
    "type_filling",
    "type_time",
    "expiration",
    "position",
    "position_by",
)
_PRICE_FIELDS = ("price", "stoplimit", "sl", "tp")


class InvalidRequest(SimulatorError):
    """A request the terminal refuses before sending; ``error`` is the last_error pair."""

    def __init__(self, error: ErrorPair) -> None:
        super().__init__(error[1])
        self.error = error


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def parse_request(raw: object) -> TradeRequest:
    """The request as a :class:`TradeRequest`; raises :class:`InvalidRequest` to refuse it."""
    if not isinstance(raw, dict):
        raise InvalidRequest(invalid_argument("request"))
    values: dict[str, Any] = {}
    for name in _INT_FIELDS:
        if name in raw:
            if not _is_int(raw[name]):
                raise InvalidRequest(invalid_argument(name))
            values[name] = int(raw[name])
    if "action" not in values:
        raise InvalidRequest(invalid_argument("action"))
    for name in _PRICE_FIELDS:
        if name in raw:
            if not _is_number(raw[name]):
                raise InvalidRequest(invalid_argument(name))
            values[name] = float(raw[name])
    volume = raw.get("volume")
    if volume is not None or "volume" in raw:
        if not isinstance(volume, float | np.floating):
            raise InvalidRequest(invalid_argument("volume"))
        values["volume"] = float(volume)
    elif values["action"] in (TRADE_ACTION_DEAL, TRADE_ACTION_PENDING):
        raise InvalidRequest(invalid_argument("volume"))
    if "symbol" in raw:
        if not isinstance(raw["symbol"], str):
            raise InvalidRequest(invalid_argument("symbol"))
        values["symbol"] = raw["symbol"]
    if "comment" in raw:
        comment = raw["comment"]
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise InvalidRequest(invalid_argument("comment"))
        values["comment"] = comment
    return TradeRequest(**values)
