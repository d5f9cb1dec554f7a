"""Analysing a bar before it closes, on forks of the stream's state.

Every M1 bar of every symbol closes in the same poll. Analysed one after the other, the last
symbol's signal waits for the whole burst: at 30 symbols × 4 strategies about 3 ms of
analysis, at 300 symbols about 30 ms. Yet the bar that closes is almost always the bar as
it stood at the poll before its end (a tick in the last poll interval is the exception).
So, during the quiet polls before the end, the strategy manager analyses each forming bar as
if it had closed — on forks of the stream's detector and strategies — and when the bar closes
equal to its speculation it adopts the forks and their outcome instead of computing again.

Rules:

* **Live state is never touched.** A speculation runs on :func:`fork`\\ s: deep copies that
  share what cannot change (bars, parameters).
* **Adopted only when it is what the close would compute**: the closed bar equals the
  speculated one in every field, no bar of the stream was analysed since the fork
  (:attr:`Speculation.version`), and the fork's original is still the live object (a
  strategy or detector replaced meanwhile is fed the bar itself). The same code on the same
  state and the same bar gives the same result, so adopting is invisible to the outcome:
  signals, conditions and every later bar are those of the analysis at the close.
* **Anything that raises voids it**: the analysis at the close meets the error and reports
  it as usual (counted once, logged once).
"""

from __future__ import annotations

import copy
import functools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar, cast

import numpy as np
from pydantic import BaseModel

from forexbot.domain.market import Bar
from forexbot.domain.trading import Signal
from forexbot.market_condition.detector import MarketCondition
from forexbot.market_condition.stream import ConditionStream
from forexbot.strategies.base_strategy import Strategy

T = TypeVar("T")


def fork(state: T, *shared: object) -> T:
    """A deep copy of ``state`` that shares ``shared`` objects (immutable ones: a strategy's
    parameter model) and every immutable value instead of copying them.

    ``copy.deepcopy`` would do, at three times the cost: it visits each of the hundreds of
    floats and bars a stream keeps. Here a deque or list of immutable values is copied in
    one step; frozen parameter models are shared; the project's own state objects (slots or
    ``__dict__``) are rebuilt attribute by attribute; arrays are copied; anything else goes to
    ``copy.deepcopy`` with the same memo (so shared objects and cycles are kept)."""
    memo: dict[int, Any] = {id(obj): obj for obj in shared}
    return cast(T, _fork(state, memo))


#: Values that never change once made: shared between a state and its fork.
_IMMUTABLE: frozenset[type] = frozenset(
    {int, float, bool, str, bytes, type(None), np.float64, np.int64, Bar}
)


_UNSET = object()


def _fork(obj: Any, memo: dict[int, Any]) -> Any:
    kind: type = type(obj)
    if kind in _IMMUTABLE or isinstance(obj, Enum):
        return obj
    if isinstance(obj, BaseModel) and obj.model_config.get("frozen"):
        return obj  # parameters: validated once, never changed
    known = memo.get(id(obj))
    if known is not None:
        return known
    if kind is deque or kind is list:
        if _IMMUTABLE.issuperset(map(type, obj)):
            copied = deque(obj, obj.maxlen) if kind is deque else list(obj)
        else:
            items = [_fork(item, memo) for item in obj]
            copied = deque(items, obj.maxlen) if kind is deque else items
    elif kind is dict:
        return _remember(obj, {key: _fork(value, memo) for key, value in obj.items()}, memo)
    elif kind is np.ndarray:
        return _remember(obj, obj.copy(), memo)
    elif kind.__module__.startswith("forexbot.") and not isinstance(obj, BaseModel):
        copied = object.__new__(kind)
        memo[id(obj)] = copied  # before the attributes: a back reference finds the copy
        for name in _slot_names(kind):
            value = getattr(obj, name, _UNSET)
            if value is not _UNSET:
                object.__setattr__(copied, name, _fork(value, memo))
        if hasattr(obj, "__dict__"):
            for name, value in vars(obj).items():
                object.__setattr__(copied, name, _fork(value, memo))
        return copied
    else:
        return copy.deepcopy(obj, memo)
    return _remember(obj, copied, memo)


def _remember(original: Any, copied: Any, memo: dict[int, Any]) -> Any:
    memo[id(original)] = copied
    return copied


@functools.cache
def _slot_names(kind: type) -> tuple[str, ...]:
    return tuple(
        name
        for klass in kind.__mro__
        for name in getattr(klass, "__slots__", ())
        if name not in ("__dict__", "__weakref__")
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One strategy's analysis of the speculated bar."""

    original: Strategy
    fork: Strategy
    signal: Signal | None


@dataclass(frozen=True, slots=True)
class Speculation:
    """The analysis of one stream's forming bar, ready to adopt if the bar closes equal."""

    bar: Bar
    #: The stream's count of analysed bars when it was forked.
    version: int
    detector_original: ConditionStream
    detector: ConditionStream
    condition: MarketCondition | None
    outcomes: tuple[Outcome, ...]

    def outcome_for(self, strategy: Strategy) -> Outcome | None:
        """The outcome forked from ``strategy`` (None: that strategy was not the live one)."""
        for outcome in self.outcomes:
            if outcome.original is strategy:
                return outcome
        return None


def speculate(
    bar: Bar, version: int, detector: ConditionStream, strategies: Sequence[Strategy]
) -> Speculation | None:
    """Analyse ``bar`` as if closed on forks of ``detector`` and ``strategies``; None when
    anything raises (see the module docstring)."""
    try:
        detector_fork = fork(detector)
        condition = detector_fork.update(bar)
        outcomes = []
        for strategy in strategies:
            strategy_fork = fork(strategy, strategy.params)
            outcomes.append(Outcome(strategy, strategy_fork, strategy_fork.on_bar(bar)))
    except Exception:
        return None
    return Speculation(bar, version, detector, detector_fork, condition, tuple(outcomes))
