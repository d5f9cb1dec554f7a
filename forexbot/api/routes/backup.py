"""``POST /api/system/backup`` and ``GET /api/system/backups`` (admin only).

A backup is a ``pg_dump`` custom-format file in ``<data-dir>/backups/`` (the newest
``backup.keep`` are kept; see :mod:`forexbot.database.backup`, and ``docs/operations.md`` for
the restore command). ``POST`` answers 201 with the file's name, size and how long it took; it
is audited (``backup_created``). A failing ``pg_dump`` is 503 with its reason.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from forexbot.api.audit import audit
from forexbot.api.auth import requires_role
from forexbot.api.operations import operation
from forexbot.api.ports import BackupMaker, SystemLogStore
from forexbot.api.responses import json_response
from forexbot.api.roles import Role


class Backup(BaseModel):
    """A backup file in the data directory's ``backups/``."""

    file: str
    size_bytes: int
    created_at: datetime


class NewBackup(Backup):
    """A backup just written, and how long ``pg_dump`` took."""

    seconds: float


class BackupList(BaseModel):
    """The backups kept, newest first."""

    items: list[Backup]


class BackupRoutes:
    def __init__(self, backups: BackupMaker, system_logs: SystemLogStore) -> None:
        self._backups = backups
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/system/backup", self.create),
            web.get("/api/system/backups", self.list_backups),
        ]

    @requires_role(Role.ADMIN)
    @operation(
        "Back up the database now (pg_dump custom format, rotated)",
        tag="system",
        responses={201: NewBackup},
        errors={503: "pg_dump failed; the message says why."},
    )
    async def create(self, request: web.Request) -> web.Response:
        made, seconds = await self._backups.create()
        body = {**made.to_api(), "seconds": round(seconds, 3)}
        await audit(self._audit, request, "backup_created", f"backup {made.path.name}", body)
        return json_response(body, status=201)

    @requires_role(Role.ADMIN)
    @operation("List the backups kept", tag="system", responses={200: BackupList})
    async def list_backups(self, request: web.Request) -> web.Response:
        return json_response({"items": [b.to_api() for b in self._backups.list()]})
