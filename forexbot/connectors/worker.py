"""The single worker thread that makes every terminal call.

The ``MetaTrader5`` module is blocking and not thread-safe: concurrent calls hang the process or
make ``copy_rates`` return None. So every call goes through one dedicated thread, in the order
the event loop asked for them, and the loop awaits the result with a timeout instead of
blocking.

A timed-out call keeps running on the thread (a thread cannot be interrupted); the caller gets
:class:`~forexbot.errors.TerminalTimeout` and later calls queue behind it. For ``order_send``
that means "unknown outcome", never "failed": the execution manager looks for the order before
it sends again.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from forexbot.errors import TerminalTimeout

T = TypeVar("T")


class TerminalWorker:
    """Runs callables on one thread, awaitable with a per-call timeout."""

    def __init__(self, default_timeout: float, name: str = "mt5-worker") -> None:
        self._default_timeout = default_timeout
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self.calls = 0
        self.timeouts = 0

    def start(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)

    async def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` on the worker thread and return its result.

        Raises :class:`TerminalTimeout` after ``timeout`` seconds (the default when None).
        """
        if self._executor is None:
            raise RuntimeError("the terminal worker is not started")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        self.calls += 1
        limit = self._default_timeout if timeout is None else timeout
        # asyncio.timeout, not wait_for: before Python 3.12, wait_for returns the result when
        # the call completes in the same loop iteration as a cancellation of the caller, and
        # the cancellation is lost (a poller that would not stop at shutdown).
        try:
            async with asyncio.timeout(limit):
                return await asyncio.shield(future)
        except TimeoutError:
            self.timeouts += 1
            name = getattr(fn, "__name__", repr(fn))
            raise TerminalTimeout(
                f"terminal call {name} did not return within {limit:g} s", code=-10005
            ) from None

    async def stop(self, timeout: float = 5.0) -> None:
        """Let queued calls finish (up to ``timeout``), then release the thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(None, functools.partial(executor.shutdown, wait=True))
        try:
            async with asyncio.timeout(timeout):
                await done
        except TimeoutError:
            executor.shutdown(wait=False, cancel_futures=True)


class InlineWorker(TerminalWorker):
    """Runs each call at once, on the event loop's own thread.

    Only for an in-process simulated terminal that nothing else uses — a backtest, which owns
    its terminal and its loop: there is nothing to protect the loop from (the simulator does
    not block) and no other thread to serialise against, and a thread hop per call would be
    most of a backtest's cost. A call cannot time out.
    """

    def start(self) -> None:
        return None

    async def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> T:
        self.calls += 1
        return fn(*args, **kwargs)

    async def stop(self, timeout: float = 5.0) -> None:
        return None
