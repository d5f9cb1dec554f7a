"""Start and stop that survive failure: every started component registers its stop.

aiohttp's ``CleanupContext`` is the model. Rules this module enforces:

* A stop is registered the moment the thing it undoes has started (:meth:`Lifecycle.start`
  does both), so a start that fails half-way stops exactly what had started, no more.
* Stops run in the reverse order of registration, each once.
* A stop that raises does not skip the others: its error is logged with the step's name and
  collected, and the remaining stops run. When every stop has run, the collected errors are
  raised together as :class:`~forexbot.errors.StopFailedError` — unless an error is already
  on its way out (a failed start), which stays the one reported.
* Each stop is timed (debug), so a slow stop says which step was slow.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

import structlog

from forexbot.errors import StopFailedError

_log = structlog.get_logger("forexbot.daemon.lifecycle")

T = TypeVar("T")
#: Something that undoes a start: a plain function or a coroutine function, no arguments.
Stop = Callable[[], Awaitable[object] | object]


class Lifecycle:
    """The stops of what has started, run in reverse (see the module docstring).

    Use it as an async context manager around a start sequence: leaving the block, normally or
    with an exception, runs every registered stop."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Stop]] = []

    def on_stop(self, name: str, stop: Stop) -> None:
        """Register ``stop`` under ``name``; it runs before every stop registered earlier."""
        self._stops.append((name, stop))

    async def start(self, name: str, start: Awaitable[T], stop: Stop) -> T:
        """Await ``start``; once it has returned, register ``stop`` (a start that raises has
        nothing to undo: it must clean up after itself, as a constructor would)."""
        result = await start
        self.on_stop(name, stop)
        return result

    @property
    def registered(self) -> list[str]:
        """The names of the stops still to run, in the order they will run."""
        return [name for name, _ in reversed(self._stops)]

    async def stop(self) -> list[BaseException]:
        """Run every registered stop, last registered first; return the errors (each already
        logged). Stops registered while stopping run too."""
        errors: list[BaseException] = []
        while self._stops:
            name, stop = self._stops.pop()
            started = time.monotonic()
            try:
                result = stop()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                _log.exception("a stop step failed", step=name)
                errors.append(exc)
            else:
                seconds = round(time.monotonic() - started, 3)
                _log.debug("stop step done", step=name, seconds=seconds)
        return errors

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        errors = await self.stop()
        if errors and exc is None:
            raise StopFailedError(errors)
