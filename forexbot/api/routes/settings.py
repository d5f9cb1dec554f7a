"""``/api/system/settings``: the configuration in force, and changing it live.

Rules:

* ``GET /api/system/settings`` (admin): every setting in force (the files' and the
  environment's, with the keys changed at run time on top; the risk limits as the risk
  manager holds them), the keys overridden at run time (dotted, with their values) and the
  keys that can change live. The configuration holds no secret (they come from the
  environment), but it names the broker account, the terminal and the admin allow-list,
  which is why only admins read it.
* Both need a login session: an API key gets 403 ``session_required``.
* ``PUT /api/system/settings`` (admin): ``{section: {key: value}}`` of live keys to change,
  e.g. ``{"execution": {"max_retries": 5}, "logging": {"level": "DEBUG"}}``; ``null`` for a
  key (or a section) goes back to the file's value. Validated with the configuration's own
  models (422 naming the key, and nothing changes), stored in ``system_config`` (they win over
  the files from then on, also after a restart), applied to the running components, audited.
* A key that needs a restart (``api.port``, ``terminal.*``, ``watchlist``...) is refused with
  422 ``restart_required`` naming it and where to set it; ``risk.*`` is refused pointing to
  ``PUT /api/risk/limits``; an unknown key is 422 ``validation_error``. Which keys are live
  and why: :mod:`forexbot.daemon.system_settings`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of, requires_role, session_only
from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import SystemLogStore, SystemSettingsControl
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.validation import INVALID_TEXT, read_json
from forexbot.config.models import Settings
from forexbot.daemon.system_settings import Refusal, SettingsChanges, SettingsRefused, refusals


class SettingsView(BaseModel):
    """The configuration in force and what of it changes live."""

    model_config = ConfigDict(frozen=True)

    settings: Settings = Field(description="Every setting in force.")
    overridden: dict[str, Any] = Field(
        description="Keys changed at run time (dotted, e.g. execution.max_retries) and their "
        "values; they win over the configuration files, also after a restart."
    )
    live: list[str] = Field(description="The keys PUT /api/system/settings can change.")


def _refused(found: tuple[Refusal, ...] | list[Refusal]) -> ApiError:
    restart = all(r.type == "restart_required" for r in found)
    return ApiError(
        422,
        "restart_required" if restart else "validation_error",
        "; ".join(r.message for r in found) + "; nothing was changed",
        details=[r.to_api() for r in found],
    )


class SettingsRoutes:
    """The settings in force, and live changes, through a :class:`SystemSettingsControl`."""

    def __init__(self, settings: SystemSettingsControl, system_logs: SystemLogStore) -> None:
        self._settings = settings
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/system/settings", self.show),
            web.put("/api/system/settings", self.update),
        ]

    @requires_role(Role.ADMIN)
    @operation(
        "The settings in force, which are overridden, which change live",
        tag="system",
        responses={200: SettingsView},
    )
    @session_only
    async def show(self, request: web.Request) -> web.Response:
        """Every setting in force, the keys changed at run time and the keys that can
        change live. The configuration holds no secret."""
        return json_response(self._settings.describe())

    @requires_role(Role.ADMIN)
    @operation(
        "Change settings live",
        tag="system",
        body=SettingsChanges,
        responses={200: SettingsView},
        errors={
            422: "A bad value (validation_error, naming the key), an unknown key, a key that "
            "needs a restart (restart_required) or a risk limit (PUT /api/risk/limits); "
            "nothing was changed.",
        },
    )
    @session_only
    async def update(self, request: web.Request) -> web.Response:
        """Change live settings: ``{section: {key: value}}``; ``null`` goes back to the
        file's value. Stored (wins over the files, also after a restart), applied at once,
        audited."""
        try:
            body = await read_json(request, SettingsChanges)
        except ApiError as exc:
            if exc.status != 422 or _breaks_the_text_rule(exc):
                raise  # refused text is never named back, not even as an unknown key
            found = refusals(orjson.loads(await request.read()))
            if found:
                raise _refused(found) from None
            raise
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        if not any(keys is None or keys for keys in changes.values()):
            raise ApiError(422, "validation_error", "give at least one setting to change")
        try:
            view = await self._settings.update(changes, actor=claims_of(request).username)
        except SettingsRefused as exc:
            raise _refused(exc.refusals) from None
        await audit(
            self._audit,
            request,
            "system_settings_changed",
            "settings changed",
            {"changes": changes},
        )
        return json_response(view)


def _breaks_the_text_rule(exc: ApiError) -> bool:
    details = exc.details if isinstance(exc.details, list) else []
    return any(isinstance(p, dict) and p.get("type") == INVALID_TEXT for p in details)
