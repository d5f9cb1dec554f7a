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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from forexbot.domain.market import Bar
from forexbot.domain.trading import Signal
from forexbot.market_condition.detector import MarketCondition
from forexbot.market_condition.stream import ConditionStream
from forexbot.strategies.base_strategy import Strategy

T = TypeVar("T")


def fork(state: T, *shared: object) -> T:
    """A deep copy of ``state`` that shares ``shared`` objects (immutable ones: a strategy's
    parameter model) instead of copying them; bars share themselves (see ``Bar.__deepcopy__``)."""
    return copy.deepcopy(state, {id(obj): obj for obj in shared})


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
