"""Freezing the start-up heap: what is alive then is out of the collector's full passes, and
what is allocated after stays collectable."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from forexbot.daemon.heap import freeze_start_up_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process goes on with a normal heap


def test_objects_alive_at_start_up_leave_the_collectors_generations(unfrozen: None) -> None:
    kept = [Node() for _ in range(100)]
    freeze_start_up_heap()
    scanned = {id(obj) for obj in gc.get_objects()}  # generations 0-2, not the frozen
    assert not [node for node in kept if id(node) in scanned]
    gc.unfreeze()
    scanned = {id(obj) for obj in gc.get_objects()}
    assert all(id(node) in scanned for node in kept)


def test_cycles_made_after_the_freeze_are_still_collected(unfrozen: None) -> None:
    freeze_start_up_heap()
    later = Node()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None


def test_the_start_up_garbage_is_collected_before_the_freeze(unfrozen: None) -> None:
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    freeze_start_up_heap()
    assert gone() is None
