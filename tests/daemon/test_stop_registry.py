"""The daemon's start/stop registry: what started is stopped, in reverse, whatever fails."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from forexbot.daemon.lifecycle import Lifecycle
from forexbot.errors import StopFailedError


class Boom(Exception):
    """A start's or a stop step's failure."""


async def lifetime(stops: dict[str, Callable[[], object]], error: Exception | None = None) -> None:
    """Register ``stops`` in order on a lifecycle, then leave it (raising ``error``)."""
    async with Lifecycle() as lifecycle:
        for name, stop in stops.items():
            lifecycle.on_stop(name, stop)
        if error is not None:
            raise error


async def test_stops_run_in_reverse_order_of_registration() -> None:
    ran: list[str] = []
    async with Lifecycle() as lifecycle:
        lifecycle.on_stop("first", lambda: ran.append("first"))
        lifecycle.on_stop("second", lambda: ran.append("second"))
        lifecycle.on_stop("third", lambda: ran.append("third"))
    assert ran == ["third", "second", "first"]


async def test_coroutine_stops_are_awaited() -> None:
    ran: list[str] = []

    async def close() -> None:
        ran.append("closed")

    async with Lifecycle() as lifecycle:
        lifecycle.on_stop("closer", close)
    assert ran == ["closed"]


async def test_a_start_registers_its_stop_only_once_it_has_started() -> None:
    ran: list[str] = []

    async def starts() -> int:
        return 7

    async def fails() -> int:
        raise Boom("no start")

    lifecycle = Lifecycle()
    assert await lifecycle.start("worked", starts(), lambda: ran.append("worked")) == 7
    with pytest.raises(Boom):
        await lifecycle.start("failed", fails(), lambda: ran.append("failed"))
    assert lifecycle.registered == ["worked"]
    await lifecycle.stop()
    assert ran == ["worked"]


async def test_a_failing_start_stops_what_had_started_and_keeps_its_own_error() -> None:
    ran: list[str] = []
    stops = {
        "database closed": lambda: ran.append("database"),
        "worker stopped": lambda: ran.append("worker"),
    }
    with pytest.raises(Boom, match="the terminal did not start"):
        await lifetime(stops, Boom("the terminal did not start"))
    assert ran == ["worker", "database"]


async def test_a_failing_stop_does_not_skip_the_others_and_is_reported_after_all_ran() -> None:
    ran: list[str] = []

    def broken() -> None:
        raise Boom("flush failed")

    stops = {
        "database closed": lambda: ran.append("database"),
        "writer flushed": broken,
        "api stopped": lambda: ran.append("api"),
    }
    with pytest.raises(StopFailedError) as raised:
        await lifetime(stops)
    assert ran == ["api", "database"]
    assert [str(e) for e in raised.value.errors] == ["flush failed"]


async def test_stop_failures_do_not_hide_the_error_that_ended_the_start() -> None:
    def broken() -> None:
        raise Boom("cleanup failed")

    with pytest.raises(KeyError):
        await lifetime({"broken": broken}, KeyError("start failed"))


async def test_each_stop_runs_once_even_when_stop_is_called_twice() -> None:
    ran: list[str] = []
    lifecycle = Lifecycle()
    lifecycle.on_stop("once", lambda: ran.append("once"))
    assert await lifecycle.stop() == []
    assert await lifecycle.stop() == []
    assert ran == ["once"]
    assert lifecycle.registered == []
