"""The risk manager's rows in ``system_logs``: rejections, limits reached, the kill switch.

Why a row: the trader reads there why nothing was traded, or why everything was closed. The
decision never waits on its row being right: a failed write is logged here and raised to the
caller (the bus counts a failed handler), after the decision has taken effect.
"""

from __future__ import annotations

from typing import Any

import structlog

from forexbot.audit import AuditLog

_log = structlog.get_logger("forexbot.risk")


class RiskJournal:
    """Writes the risk manager's rows (``component`` ``risk``)."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def record(
        self,
        level: str,
        event: str,
        message: str,
        context: dict[str, Any],
        actor: str | None = None,
    ) -> None:
        try:
            await self._log.add(
                level=level.upper(),
                component="risk",
                event=event,
                message=message,
                context=context,
                actor=actor,
            )
        except Exception:
            # The decision stands; only its record failed. Logged, and counted by the bus.
            _log.exception("could not record a risk event", event=event)
            raise
