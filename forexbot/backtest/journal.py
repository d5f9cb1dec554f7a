"""What a backtest's engine would have written to ``system_logs``, kept in memory.

The risk and position managers record rejections, limits, the kill switch and
reconciliation corrections through the :class:`~forexbot.audit.AuditLog` protocol; in a
backtest those records land here, are counted by event, and the last ones are kept for the
report (a run that trips the kill switch should say so).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from forexbot.clock import Clock


@dataclass(frozen=True, slots=True)
class JournalEntry:
    time: float
    level: str
    component: str
    event: str
    message: str
    context: dict[str, Any]


class Journal:
    """An :class:`~forexbot.audit.AuditLog` that counts every event and keeps the last
    ``keep`` entries."""

    def __init__(self, clock: Clock, keep: int = 500) -> None:
        self._clock = clock
        self.entries: deque[JournalEntry] = deque(maxlen=keep)
        self.counts: Counter[str] = Counter()

    async def add(
        self,
        *,
        level: str,
        component: str,
        event: str,
        message: str,
        context: dict[str, Any],
        actor: str | None = None,
        source_ip: str | None = None,
    ) -> None:
        self.counts[event] += 1
        self.entries.append(
            JournalEntry(self._clock.time(), level, component, event, message, dict(context))
        )
