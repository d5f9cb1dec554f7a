"""Where tick polling resumes for one symbol, and which ticks it has already seen.

``copy_ticks_from`` takes its start in whole seconds, so every poll reads again the ticks of
the second it resumes in. They are told apart by their millisecond time — several ticks can
share one millisecond, so the cursor also counts how many of the last millisecond it has
passed on. A tick older than the cursor is never passed on again; a poll that returns the
same ticks twice passes on none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class TickCursor:
    """The newest millisecond passed on (``-1``: none yet) and how many ticks of it were."""

    last_msc: int = -1
    seen_at_last: int = 0

    def unseen(self, times: Sequence[int]) -> list[int]:
        """The indices of the ticks in ``times`` (a poll's, oldest first) not passed on yet,
        in order; the cursor then stands after them."""
        fresh: list[int] = []
        skip_same = self.seen_at_last
        for i, msc in enumerate(times):
            if msc < self.last_msc:
                continue
            if msc == self.last_msc:
                if skip_same > 0:
                    skip_same -= 1
                    continue
                self.seen_at_last += 1
            else:
                self.last_msc = msc
                self.seen_at_last = 1
                skip_same = 0
            fresh.append(i)
        return fresh
