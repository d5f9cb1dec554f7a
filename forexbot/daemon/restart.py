"""Restarting the daemon on request (``POST /api/system/restart``).

Rules this module enforces:

* A restart is a graceful stop through the very path SIGTERM takes
  (:meth:`forexbot.daemon.app.Daemon.request_stop`: ``STOPPING=1`` to systemd, ``/api/health`` 503,
  trading refused with 503, polling stopped, the bus drained, a last reconciliation,
  everything closed), then a fresh start of the same command: new configuration files, new
  code after an upgrade, stored run-time settings re-read.
* Who starts it again depends on what runs the daemon (:func:`restart_mode`):

  - **systemd** (``INVOCATION_ID`` or ``NOTIFY_SOCKET`` in the environment): the process
    exits with :data:`EXIT_RESTART` (75) and the unit starts it again.
    ``systemd/forexbot.service`` lists 75 in ``SuccessExitStatus=`` (a requested restart is
    not a failure) and in ``RestartForceExitStatus=`` (restarted whatever ``Restart=`` says),
    while a ``systemctl stop`` still stops it for good (SIGTERM, exit 0, and a stop job
    never restarts);
  - **exec** (``forexbot run`` in a terminal, a container without a supervisor): after the
    clean stop the process replaces itself with the same command line (``os.execv`` of
    ``sys.orig_argv``: same PID, environment and working directory), so it comes back on
    the same port.

  ``FOREXBOT_RESTART_MODE=systemd|exec`` overrides the detection (a shell started by a
  systemd user service inherits ``INVOCATION_ID``; a supervisor that restarts on exit
  code 75 wants ``systemd``).
* One restart at a time: a request while one is pending, or while the daemon is already
  stopping, is refused (:class:`RestartRefused`, 409).
* The request is answered (202) before the stop gets anywhere: asking only sets the daemon's
  stop event, and the API, stopped last, lets in-flight answers finish.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal

import structlog

from forexbot.errors import ConfigError, StateConflictError

_log = structlog.get_logger("forexbot.daemon.restart")

#: The exit status of a requested restart under systemd (EX_TEMPFAIL: "try again").
EXIT_RESTART = 75

RestartMode = Literal["systemd", "exec"]
MODE_VARIABLE = "FOREXBOT_RESTART_MODE"


class RestartRefused(StateConflictError):
    """A restart cannot be requested now (one is pending, or the daemon is stopping):
    ``restart_pending``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="restart_pending")


def restart_mode(environ: Mapping[str, str]) -> RestartMode:
    """``systemd`` under systemd (or when told), else ``exec``. Raises
    :class:`~forexbot.errors.ConfigError` for a bad ``FOREXBOT_RESTART_MODE``."""
    told = environ.get(MODE_VARIABLE)
    if told:
        if told not in ("systemd", "exec"):
            raise ConfigError(f"{MODE_VARIABLE} = {told!r}: must be 'systemd' or 'exec'")
        return "systemd" if told == "systemd" else "exec"
    if environ.get("INVOCATION_ID") or environ.get("NOTIFY_SOCKET"):
        return "systemd"
    return "exec"


class RestartSwitch:
    """Takes restart requests for a daemon: ``stop`` starts its graceful stop, ``stopping``
    tells whether one is under way."""

    def __init__(
        self, stop: Callable[[], None], stopping: Callable[[], bool], mode: RestartMode
    ) -> None:
        self._stop = stop
        self._stopping = stopping
        self.mode: RestartMode = mode
        self._requested_by: str | None = None

    @property
    def pending(self) -> bool:
        """Whether a restart was requested (the CLI restarts after the stop when it was)."""
        return self._requested_by is not None

    def request_restart(self, *, actor: str) -> dict[str, Any]:
        """Start the graceful stop and remember to start again; :class:`RestartRefused` when
        a restart is pending or the daemon is already stopping."""
        if self._requested_by is not None:
            raise RestartRefused(f"a restart is already under way (asked by {self._requested_by})")
        if self._stopping():
            raise RestartRefused("the daemon is already stopping")
        self._requested_by = actor
        _log.warning("restart requested", actor=actor, mode=self.mode)
        self._stop()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "status": "restarting",
            "mode": self.mode,
            "exit_code": EXIT_RESTART if self.mode == "systemd" else None,
        }


def start_again(mode: RestartMode) -> int:
    """After the clean stop: the exit status for systemd, or (exec mode) the same command
    line in place of this process, which then never returns."""
    if mode == "systemd":
        _log.info("stopped for a restart; systemd starts the daemon again", exit_code=EXIT_RESTART)
        return EXIT_RESTART
    argv = list(sys.orig_argv)
    _log.info("stopped for a restart; starting again", argv=argv)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as exc:  # the interpreter is gone (an upgrade half done?): let a supervisor try
        _log.error("could not start again", error=str(exc), exit_code=EXIT_RESTART)
    return EXIT_RESTART
