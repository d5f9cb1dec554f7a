"""systemd's notification protocol (``sd_notify``), without libsystemd.

With ``Type=notify`` systemd waits for ``READY=1`` before it considers the service started,
expects ``WATCHDOG=1`` at least every ``WatchdogSec`` (it restarts a hung daemon otherwise) and
shows ``STATUS=`` in ``systemctl status``. The protocol is one datagram per message to the unix
socket named by ``NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace). When the
variable is unset (not under systemd) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

_log = structlog.get_logger("forexbot.daemon.sdnotify")


class SystemdNotifier:
    """Sends state changes to systemd when ``NOTIFY_SOCKET`` is set."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self._address: str | None = None
        if path:
            self._address = "\0" + path[1:] if path.startswith("@") else path
        self.watchdog_interval: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        if self._address and usec.isdigit() and int(usec) > 0:
            # Ping twice per period, as sd_watchdog_enabled(3) recommends.
            self.watchdog_interval = int(usec) / 1_000_000 / 2

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one message (``"READY=1"``, ``"STATUS=..."``). Returns whether it was sent.

        Never blocks and never raises: the send is non-blocking (a unix datagram socket whose
        reader is stuck fills after ~10 messages, and a blocking send would then freeze the
        event loop), and a failure is logged — systemd trouble must not stop trading.
        """
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.connect(self._address)
                sock.send(message.encode())
        except OSError as exc:
            _log.warning("sd_notify failed", message=message, error=str(exc))
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")
