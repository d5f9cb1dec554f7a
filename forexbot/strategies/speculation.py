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
    ``__dict__``) are rebuilt attribute by attribute; arrays of numbers are copied; anything
    else goes to ``copy.deepcopy`` with the same memo, so shared objects and cycles are kept.
    Like ``copy.deepcopy``, it shares functions (a closure over the state included) and weak
    references: a state must not keep either (none of ours does; a test walks every
    registered strategy's fork for objects it shares with the original)."""
    memo: dict[int, Any] = {id(obj): obj for obj in shared}
    return cast(T, _fork(state, memo))


#: Values that never change once made: shared between a state and its fork.
_IMMUTABLE: frozenset[type] = frozenset(
    {int, float, bool, str, bytes, type(None), np.float64, np.int64, Bar}
)
#: Built-in containers: a project class deriving from one is copied by ``copy.deepcopy``.
_CONTAINERS = (dict, list, tuple, set, frozenset, deque)

_UNSET = object()


def _fork(obj: Any, memo: dict[int, Any]) -> Any:
    """The fork of one object (see :func:`fork`); ``memo`` maps ids already forked (or
    shared) to their forks, registered before an object's contents so cycles close."""
    kind: type = type(obj)
    if kind in _IMMUTABLE or isinstance(obj, Enum):
        return obj
    if isinstance(obj, BaseModel) and obj.model_config.get("frozen"):
        return obj  # parameters: validated once, never changed
    if kind is tuple and _IMMUTABLE.issuperset(map(type, obj)):
        return obj  # a rolling window's (index, value) pair
    known = memo.get(id(obj))
    if known is not None:
        return known
    if kind is deque or kind is list:
        if _IMMUTABLE.issuperset(map(type, obj)):
            return _remember(obj, deque(obj, obj.maxlen) if kind is deque else list(obj), memo)
        copied = _remember(obj, deque(maxlen=obj.maxlen) if kind is deque else [], memo)
        copied.extend([_fork(item, memo) for item in obj])
        return copied
    if kind is dict:
        copied = _remember(obj, {}, memo)
        copied.update({key: _fork(value, memo) for key, value in obj.items()})
        return copied
    if kind is np.ndarray and obj.dtype != object:
        return _remember(obj, obj.copy(), memo)
    if (
        kind.__module__.startswith("forexbot.")
        and not isinstance(obj, BaseModel)
        and not issubclass(kind, _CONTAINERS)
    ):
        copied = _remember(obj, object.__new__(kind), memo)
        for name in _slot_names(kind):
            value = getattr(obj, name, _UNSET)
            if value is not _UNSET:
                object.__setattr__(copied, name, _fork(value, memo))
        if hasattr(obj, "__dict__"):
            for name, value in vars(obj).items():
                object.__setattr__(copied, name, _fork(value, memo))
        return copied
    return copy.deepcopy(obj, memo)


def _remember(original: Any, copied: Any, memo: dict[int, Any]) -> Any:
    """Register ``copied`` as the fork of ``original``; returns it."""
    memo[id(original)] = copied
    return copied


#: Per class, its slots as stored (computed once per class: the MRO walk costs microseconds).
_SLOT_NAMES: dict[type, tuple[str, ...]] = {}


def _slot_names(kind: type) -> tuple[str, ...]:
    """Every slot of ``kind`` and its bases, as stored (a private ``__x`` of class ``C`` is
    the attribute ``_C__x``)."""
    names = _SLOT_NAMES.get(kind)
    if names is None:
        names = _SLOT_NAMES[kind] = tuple(
            _stored_name(klass, name)
            for klass in kind.__mro__
            for name in _slots_of(klass)
            if name not in ("__dict__", "__weakref__")
        )
    return names


def _slots_of(klass: type) -> tuple[str, ...]:
    slots = klass.__dict__.get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


def _stored_name(klass: type, name: str) -> str:
    if name.startswith("__") and not name.endswith("__"):
        return f"_{klass.__name__.lstrip('_')}{name}"
    return name


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

    def holds_for(self, bar: Bar, version: int, detector: ConditionStream) -> bool:
        """Whether this is the analysis of ``bar`` on the stream's state as it is: the same
        bar in every field, forked at ``version`` (the bars analysed before ``bar``) from
        ``detector`` (the live one)."""
        return self.bar == bar and self.version == version and self.detector_original is detector

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
