"""Specification of :class:`forexbot.connectors.worker.TerminalWorker` (module docstring rules)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import pytest_asyncio

from forexbot.connectors.worker import TerminalWorker
from forexbot.errors import TerminalError, TerminalTimeout


@pytest_asyncio.fixture(loop_scope="function")
async def worker():
    w = TerminalWorker(default_timeout=2.0, name="test-mt5")
    w.start()
    yield w
    await w.stop(timeout=3.0)


async def test_every_call_runs_on_one_thread_that_is_not_the_loop_thread(
    worker: TerminalWorker,
) -> None:
    loop_thread = threading.get_ident()

    idents = [await worker.call(threading.get_ident) for _ in range(5)]
    idents += await asyncio.gather(*(worker.call(threading.get_ident) for _ in range(20)))

    assert len(set(idents)) == 1
    assert idents[0] != loop_thread


async def test_calls_run_in_submission_order(worker: TerminalWorker) -> None:
    order: list[int] = []

    def record(n: int) -> int:
        time.sleep(0.001 if n % 3 else 0.0)
        order.append(n)
        return n * 10

    results = await asyncio.gather(*(worker.call(record, n) for n in range(50)))

    assert order == list(range(50))
    assert results == [n * 10 for n in range(50)]


async def test_arguments_and_keyword_arguments_are_passed(worker: TerminalWorker) -> None:
    def fn(a: int, b: int, *, scale: int) -> int:
        return (a - b) * scale

    assert await worker.call(fn, 7, 2, scale=3) == 15


async def test_an_exception_of_the_call_reaches_the_caller(worker: TerminalWorker) -> None:
    def broken() -> None:
        raise LookupError("no such symbol")

    with pytest.raises(LookupError, match="no such symbol"):
        await worker.call(broken)
    assert await worker.call(lambda: 42) == 42


async def test_slow_call_raises_terminal_timeout_with_ipc_timeout_code(
    worker: TerminalWorker,
) -> None:
    release = threading.Event()

    def order_send() -> str:
        release.wait(5.0)
        return "done"

    try:
        started = time.monotonic()
        with pytest.raises(TerminalTimeout) as info:
            await worker.call(order_send, timeout=0.1)
        elapsed = time.monotonic() - started
    finally:
        release.set()

    assert isinstance(info.value, TerminalError)
    assert info.value.code == -10005
    assert "order_send" in str(info.value)
    assert 0.09 <= elapsed < 2.0
    assert worker.timeouts == 1


async def test_loop_stays_responsive_while_a_call_is_stuck(worker: TerminalWorker) -> None:
    release = threading.Event()
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0.005)

    beating = asyncio.create_task(heartbeat())
    try:
        with pytest.raises(TerminalTimeout):
            await worker.call(release.wait, 5.0, timeout=0.2)
    finally:
        release.set()
        beating.cancel()

    # ~40 beats fit in 0.2 s; a blocked loop would give at most one.
    assert beats >= 5


async def test_later_calls_work_once_the_slow_call_has_finished(worker: TerminalWorker) -> None:
    release = threading.Event()
    finished: list[str] = []

    def slow() -> None:
        release.wait(5.0)
        finished.append("slow")

    with pytest.raises(TerminalTimeout):
        await worker.call(slow, timeout=0.05)
    later = asyncio.create_task(worker.call(lambda: finished.append("later") or "ok"))
    await asyncio.sleep(0.05)
    assert not later.done()  # queued behind the slow call on the single thread

    release.set()

    assert await later == "ok"
    assert finished == ["slow", "later"]


async def test_default_timeout_applies_when_none_is_given() -> None:
    w = TerminalWorker(default_timeout=0.05)
    w.start()
    release = threading.Event()
    try:
        with pytest.raises(TerminalTimeout, match=r"0\.05 s"):
            await w.call(release.wait, 5.0)
    finally:
        release.set()
        await w.stop(timeout=3.0)


async def test_call_before_start_raises() -> None:
    w = TerminalWorker(default_timeout=1.0)

    with pytest.raises(RuntimeError, match="not started"):
        await w.call(lambda: 1)


async def test_call_after_stop_raises() -> None:
    w = TerminalWorker(default_timeout=1.0)
    w.start()
    await w.stop()

    with pytest.raises(RuntimeError, match="not started"):
        await w.call(lambda: 1)


async def test_stop_lets_queued_calls_finish() -> None:
    w = TerminalWorker(default_timeout=2.0)
    w.start()
    done: list[int] = []
    pending = [
        asyncio.ensure_future(w.call(lambda n=n: (time.sleep(0.01), done.append(n))))
        for n in range(5)
    ]
    await asyncio.sleep(0)

    await w.stop(timeout=3.0)
    await asyncio.gather(*pending)

    assert done == [0, 1, 2, 3, 4]


async def test_cancelling_a_caller_whose_call_just_completed_still_cancels_it(
    worker: TerminalWorker,
) -> None:
    """The call completes, and its caller is cancelled before the loop hears of it: the
    caller must end cancelled, not go on with the result (what stopped a poller from
    stopping, with ``asyncio.wait_for`` before Python 3.12)."""
    started, release = threading.Event(), threading.Event()

    def call() -> int:
        started.set()
        release.wait(5)
        return 42

    caller = asyncio.get_running_loop().create_task(worker.call(call))
    await asyncio.to_thread(started.wait, 5)
    release.set()
    time.sleep(0.1)  # noqa: ASYNC251 - the loop must not run while the thread returns
    # Two turns of the loop: the result reaches the call's future, then its waiters; the
    # caller is cancelled just before it resumes with the result.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    caller.cancel()

    with pytest.raises(asyncio.CancelledError):
        await caller
