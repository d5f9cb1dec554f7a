"""Sending one order to the terminal: bounded retries, and no blind resend after a timeout.

:meth:`OrderSender.send` is the only place the engine calls ``order_send``. It enforces:

* **Retry only what is retryable** (:mod:`~forexbot.engine.retcodes`): a requote, a changed
  price, no prices, a server-side timeout, too many requests or no connection is resent, at a
  fresh price (the caller rebuilds the request from a fresh tick), after ``retry_delay_ms``,
  at most ``max_retries`` times. A fatal code ends the attempt at once.
* **A lost answer is not a failure.** When ``order_send`` times out (our worker's timeout, or
  the terminal's ``-10005``), the order may have executed: the caller's ``lookup`` searches
  the positions and the deal history for it, ``timeout_lookups`` times, before anything else
  happens. Found: that is the result. Not found: it counts as a retryable failure. The lookup
  itself failing (the terminal is down) ends the attempt as *unknown*: the trade stays
  ``submitted`` and reconciliation settles it when the terminal is back.
* Every attempt's return code is kept, and the latency of each ``order_send`` is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from forexbot.config.models import ExecutionSettings
from forexbot.domain.market import Tick
from forexbot.domain.trading import OrderResult
from forexbot.engine import retcodes
from forexbot.errors import TerminalError, TerminalTimeout

_log = structlog.get_logger("forexbot.execution")

#: Builds the request of an attempt from a fresh tick (``None`` on the first attempt: use the
#: last polled one), or returns a reason (a string) to stop, e.g. the price moved beyond the
#: approved risk; the reason ends up in :attr:`SendReport.stopped`.
RequestBuilder = Callable[[Tick | None], "dict[str, Any] | str"]
#: Looks for the order after a lost answer; a result when it executed, ``None`` when not.
Lookup = Callable[[], Awaitable[OrderResult | None]]


class OrderTerminal(Protocol):
    """What sending needs from the connector."""

    async def order_send(
        self, request: dict[str, Any], timeout: float | None = None
    ) -> OrderResult: ...

    async def fresh_tick(self, symbol: str) -> Tick: ...


@dataclass(slots=True)
class SendReport:
    """How an order fared.

    ``result`` is the last answer (a synthesised one when the order was found after a lost
    answer); ``None`` when the terminal refused the request itself (``error``), when the
    outcome is unknown (``unknown``), or when the builder stopped (``stopped``).
    """

    request: dict[str, Any] | None = None
    result: OrderResult | None = None
    retcodes: list[int] = field(default_factory=list)
    attempts: int = 0
    unknown: bool = False
    found_after_timeout: bool = False
    error: TerminalError | None = None
    stopped: str | None = None
    first_sent_at: float = 0.0
    latency_ms: float = 0.0

    @property
    def done(self) -> bool:
        return self.result is not None and self.result.done

    def details(self) -> dict[str, Any]:
        """JSON-ready execution details of the attempt(s)."""
        out: dict[str, Any] = {
            "attempts": self.attempts,
            "retcodes": list(self.retcodes),
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.result is not None:
            out.update(
                retcode=self.result.retcode,
                comment=self.result.comment,
                bid=self.result.bid,
                ask=self.result.ask,
            )
        if self.found_after_timeout:
            out["found_after_timeout"] = True
        if self.error is not None:
            out["error"] = str(self.error)
        if self.stopped is not None:
            out["stopped"] = self.stopped
        return out


def is_lost_answer(exc: TerminalError) -> bool:
    """Our worker timed out, or the terminal lost the answer (``-10005 IPC timeout``,
    ``-10002 IPC receive failed``): the request may have run."""
    return isinstance(exc, TerminalTimeout) or exc.code in (
        retcodes.IPC_TIMEOUT,
        retcodes.IPC_RECEIVE,
    )


class OrderSender:
    """Sends orders with the retry and timeout rules of the module docstring."""

    def __init__(
        self,
        terminal: OrderTerminal,
        settings: Callable[[], ExecutionSettings],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._terminal = terminal
        self._settings = settings
        self._sleep = sleep

    async def send(
        self,
        symbol: str,
        build: RequestBuilder,
        lookup: Lookup,
        at_terminal: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> SendReport:
        """Send the request ``build`` makes, retrying as allowed; see the module docstring.
        ``at_terminal`` is entered while an answer is awaited (the order path's state)."""
        settings = self._settings()
        report = SendReport()
        tick: Tick | None = None
        while True:
            built = build(tick)
            if isinstance(built, str):
                report.stopped = built
                return report
            report.request = built
            report.attempts += 1
            started = time.perf_counter()
            if report.attempts == 1:
                report.first_sent_at = started
            try:
                with at_terminal():
                    result = await self._terminal.order_send(built)
            except TerminalError as exc:
                report.latency_ms = (time.perf_counter() - started) * 1000
                if not is_lost_answer(exc):
                    report.error = exc
                    report.retcodes.append(exc.code)
                    return report
                report.retcodes.append(retcodes.IPC_TIMEOUT)
                found = await self._look_for(lookup, settings, report)
                if found is not None or report.unknown:
                    return report
                if report.attempts > settings.max_retries:
                    report.error = exc
                    return report
                _log.warning("order not executed after a lost answer; sending again", symbol=symbol)
                tick = await self._fresh_tick(symbol, report)
                if report.unknown:
                    return report
                continue
            report.latency_ms = (time.perf_counter() - started) * 1000
            report.result = result
            report.retcodes.append(result.retcode)
            if result.done or not retcodes.is_retryable(result.retcode):
                return report
            if report.attempts > settings.max_retries:
                return report
            _log.info(
                "order answered with a retryable code; sending again at a fresh price",
                symbol=symbol,
                retcode=retcodes.describe(result.retcode),
                attempt=report.attempts,
            )
            await self._sleep(settings.retry_delay_ms / 1000 * report.attempts)
            tick = await self._fresh_tick(symbol, report)
            if report.unknown:
                # The terminal went away between attempts: nothing was executed.
                report.unknown = False
                return report

    async def _look_for(
        self, lookup: Lookup, settings: ExecutionSettings, report: SendReport
    ) -> OrderResult | None:
        for attempt in range(settings.timeout_lookups):
            if attempt:
                await self._sleep(settings.timeout_lookup_ms / 1000)
            try:
                found = await lookup()
            except TerminalError as exc:
                _log.error("cannot look for an order whose answer was lost", error=str(exc))
                report.unknown = True
                report.error = exc
                return None
            if found is not None:
                report.result = found
                report.found_after_timeout = True
                return found
        return None

    async def _fresh_tick(self, symbol: str, report: SendReport) -> Tick | None:
        try:
            return await self._terminal.fresh_tick(symbol)
        except TerminalError as exc:
            report.unknown = True
            report.error = exc
            return None
