"""``POST /api/system/restart``: a graceful restart of the daemon (admin).

Rules:

* Answers 202 at once with how the daemon comes back (``mode``: ``systemd``, which starts it
  again after it exits with ``exit_code`` 75, or ``exec``, the process replacing itself),
  audits the request, and the daemon stops through the path SIGTERM takes: from then on
  ``/api/health`` answers 503 and trading is refused (503) until the new process is ready.
* A second request while a restart is pending, or while the daemon is stopping, is 409
  ``restart_pending``.
* The mechanics (detection of systemd, exit code, re-exec): :mod:`forexbot.daemon.restart`.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of, requires_role, session_only
from forexbot.api.operations import operation
from forexbot.api.ports import RestartControl, SystemLogStore
from forexbot.api.responses import json_response
from forexbot.api.roles import Role


class RestartAccepted(BaseModel):
    """A restart under way."""

    model_config = ConfigDict(frozen=True)

    status: Literal["restarting"]
    mode: Literal["systemd", "exec"] = Field(
        description="systemd: the process exits with exit_code and the unit starts it again; "
        "exec: the process replaces itself with the same command line."
    )
    exit_code: int | None = Field(description="The exit status systemd sees (systemd mode).")


class RestartRoutes:
    """Restart requests, handed to a :class:`RestartControl`."""

    def __init__(self, restart: RestartControl, system_logs: SystemLogStore) -> None:
        self._restart = restart
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/system/restart", self.restart)]

    @requires_role(Role.ADMIN)
    @operation(
        "Restart the daemon gracefully",
        tag="system",
        responses={202: RestartAccepted},
        errors={409: "A restart is already under way, or the daemon is stopping."},
    )
    @session_only
    async def restart(self, request: web.Request) -> web.Response:
        """Stop gracefully (as on SIGTERM) and start again: under systemd the unit restarts
        the daemon (exit status 75), otherwise the process re-executes itself."""
        accepted = self._restart.request_restart(actor=claims_of(request).username)
        await audit(
            self._audit,
            request,
            "restart_requested",
            f"restart requested ({accepted['mode']})",
            dict(accepted),
        )
        return json_response(accepted, status=202)
