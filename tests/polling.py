"""Waiting for state that no event announces: poll a condition until it holds, or fail.

Some state is only visible from outside (a server's counters, a connector's state, a
subprocess's port file, a daemon's health route), so a test must poll it. Every such wait goes
through :func:`eventually` (in a test's event loop) or :func:`eventually_sync` (in a fixture or
a thread with no loop), so that every timeout fails the same way: an ``AssertionError`` naming
what was awaited and for how long.

The rules:

- the condition is checked first, then every ``interval`` seconds until ``timeout`` seconds
  have passed; the first truthy value it returns is the helper's result, so a wait can hand
  back what it found (an event, a response body);
- a condition may raise to stop waiting at once (a subprocess that died will never answer);
- ``detail`` is called only on failure, for what the failure message should show (a log tail,
  the events seen so far).

Import it as ``from polling import eventually`` (``tests/`` is on ``sys.path``, as for
``trading_rig`` and ``symbol_specs``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

INTERVAL = 0.005


def _failure(what: str, timeout: float, detail: Callable[[], str] | None) -> AssertionError:
    message = f"timed out after {timeout:g} s waiting for {what}"
    if detail is not None:
        message += f"\n{detail()}"
    return AssertionError(message)


@overload
async def eventually(
    condition: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    what: str,
    interval: float = ...,
    detail: Callable[[], str] | None = ...,
) -> T: ...


@overload
async def eventually(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = ...,
    detail: Callable[[], str] | None = ...,
) -> T: ...


async def eventually(
    condition: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = INTERVAL,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Await until ``condition()`` (sync or async) is truthy and return that value.

    Yields to the loop between checks, so the tasks that change the state run while the test
    waits; raises ``AssertionError`` naming ``what`` after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise _failure(what, timeout, detail)
        await asyncio.sleep(interval)


def eventually_sync(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = INTERVAL,
    detail: Callable[[], str] | None = None,
) -> T:
    """Block until ``condition()`` is truthy and return that value (for code with no loop).

    Same rules as :func:`eventually`; sleeps the thread between checks.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _failure(what, timeout, detail)
        time.sleep(interval)
