"""The systemd watchdog ping: proof that the event loop is alive, and the one-line status
``systemctl status`` shows.

The watchdog proves the loop runs, nothing more: a broker outage is not a reason for systemd to
kill the daemon mid-order (``/api/health`` reports it, and the status line says so).
"""

from __future__ import annotations

import asyncio

from forexbot.daemon.sdnotify import SystemdNotifier
from forexbot.monitoring.status import DaemonStatus


def status_words(status: DaemonStatus) -> str:
    """``healthy``, ``degraded: <first problem>`` or ``unhealthy: terminal <state>``."""
    healthy, details = status.is_healthy()
    if not healthy:
        return f"unhealthy: terminal {details.get('terminal')}"
    if details.get("problems"):
        return f"degraded: {details['problems'][0]}"
    return "healthy"


def start_watchdog(notifier: SystemdNotifier, status: DaemonStatus) -> asyncio.Task[None] | None:
    """The ping task at systemd's interval, or None when systemd set no watchdog. The status
    line is sent only when its words change."""
    interval = notifier.watchdog_interval
    if interval is None:
        return None

    async def ping() -> None:
        said = "healthy"  # READY's own status stands until something changes
        while True:
            words = status_words(status)
            notifier.watchdog()
            if words != said:
                notifier.status(words)
                said = words
            await asyncio.sleep(interval)

    return asyncio.get_running_loop().create_task(ping(), name="watchdog")
