"""The tick cursor: every tick is passed on once, whatever a poll reads again."""

from __future__ import annotations

from forexbot.connectors.tick_cursor import TickCursor


def test_a_new_cursor_passes_on_every_tick_and_stands_after_the_last() -> None:
    cursor = TickCursor()
    assert cursor.unseen([1000, 1005, 1005, 1010]) == [0, 1, 2, 3]
    assert (cursor.last_msc, cursor.seen_at_last) == (1010, 1)


def test_ticks_read_again_are_not_passed_on_twice() -> None:
    cursor = TickCursor()
    cursor.unseen([1000, 1005])
    assert cursor.unseen([1000, 1005]) == []
    assert cursor.unseen([1000, 1005, 1007]) == [2]


def test_ticks_sharing_the_last_millisecond_are_counted_not_dropped() -> None:
    cursor = TickCursor()
    cursor.unseen([1000, 1005, 1005])  # two ticks at 1005 passed on
    assert cursor.unseen([1005, 1005, 1005, 1006]) == [2, 3]  # the third 1005 is new
    assert (cursor.last_msc, cursor.seen_at_last) == (1006, 1)


def test_ticks_older_than_the_cursor_are_never_passed_on() -> None:
    cursor = TickCursor(last_msc=2000, seen_at_last=1)
    assert cursor.unseen([1500, 1999, 2000, 2001]) == [3]


def test_a_cursor_seeded_at_the_current_tick_skips_that_tick_only() -> None:
    cursor = TickCursor(last_msc=2000, seen_at_last=1)
    assert cursor.unseen([2000, 2000]) == [1]
