"""``/api/auth/api-keys``: API keys for scripts, managed by their owners.

Rules:

* ``POST`` creates a key for the caller: ``{"name", "scope", "expires_in_days"}`` (scope
  ``viewer``/``trader``/``admin``, never above the caller's role: 403 otherwise; expiry
  optional, 1 to 3650 days). The answer (201) holds the key itself, the only time it is shown.
* What only an admin may do here — an ``admin``-scoped key, everyone's list, revoking another
  user's key — are admin powers (:func:`~forexbot.api.auth.admin_powers`): refused (403) from
  outside ``api.admin_networks``, like the admin-only routes.
* Keys are made from a login session: a request authenticated by an API key may not create
  one (403), so a leaked key cannot mint itself successors.
* ``GET`` lists the caller's keys (an admin may add ``?all=true`` for everyone's), without
  secrets, with when each was last used.
* ``DELETE /api/auth/api-keys/{id}`` revokes a key of the caller's (an admin: anyone's); it
  stops working at once. Another user's key is 404 to a non-admin.
* Creating and revoking are audited (``api_key_created``, ``api_key_revoked``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.audit import audit
from forexbot.api.auth import admin_powers, claims_of, session_only, use_admin_power
from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import ApiKeyStore, SystemLogStore
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.schemas import Id
from forexbot.api.validation import parse_query, read_json
from forexbot.clock import Clock, utc_datetime
from forexbot.database.api_keys import ROLE_RANK

# The admin powers of these routes (see :func:`forexbot.api.auth.admin_powers`).
ADMIN_SCOPE = "create an admin-scoped key"
EVERYONES_KEYS = "list everyone's keys"
REVOKE_ANOTHERS = "revoke another user's key"


class ApiKeyRequest(BaseModel):
    """The body of ``POST /api/auth/api-keys``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=64)
    scope: Literal["viewer", "trader", "admin"]
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyListQuery(BaseModel):
    """The query string of ``GET /api/auth/api-keys``: ``all=true`` (admin) lists everyone's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: bool = False


class ApiKey(BaseModel):
    """An API key's record (never the key itself, which is shown once at creation)."""

    id: int
    user_id: int
    name: str
    prefix: str
    scope: Literal["viewer", "trader", "admin"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


class NewApiKey(ApiKey):
    """A key just created: ``key`` is shown this once and stored only hashed."""

    key: str


class ApiKeyList(BaseModel):
    """API keys, newest first."""

    items: list[ApiKey]


class ApiKeyRoutes:
    """The API key endpoints (see the module docstring)."""

    def __init__(
        self,
        keys: ApiKeyStore,
        system_logs: SystemLogStore,
        clock: Clock,
        *,
        on_revoked: Callable[[Iterable[int]], None] = lambda ids: None,
    ) -> None:
        """``on_revoked`` hears of every key revoked (its open WebSockets close)."""
        self._on_revoked = on_revoked
        self._keys = keys
        self._audit = system_logs
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/auth/api-keys", self.create),
            web.get("/api/auth/api-keys", self.list_keys),
            web.delete("/api/auth/api-keys/{key_id}", self.revoke),
        ]

    @operation(
        "Create an API key (from a login session)",
        tag="auth",
        body=ApiKeyRequest,
        responses={201: NewApiKey},
        errors={
            403: "Made with an API key, a scope above your role, or an admin scope from "
            "outside `api.admin_networks`."
        },
    )
    @admin_powers(ADMIN_SCOPE)
    @session_only
    async def create(self, request: web.Request) -> web.Response:
        claims = claims_of(request)
        body = await read_json(request, ApiKeyRequest)
        above = ApiError(
            403, "forbidden", f"a {claims.role.value} cannot make a key with scope {body.scope}"
        )
        if body.scope == Role.ADMIN.value:
            use_admin_power(request, ADMIN_SCOPE, refusal=above)
        elif ROLE_RANK[body.scope] > ROLE_RANK[claims.role.value]:
            raise above
        expires = (
            None
            if body.expires_in_days is None
            else utc_datetime(self._clock) + timedelta(days=body.expires_in_days)
        )
        key, record = await self._keys.create(claims.user_id, body.name, body.scope, expires)
        await audit(
            self._audit,
            request,
            "api_key_created",
            f"API key {record.prefix} created",
            {"key_id": record.id, "name": record.name, "scope": record.scope},
        )
        return json_response({**record.to_api(), "key": key}, status=201)

    @operation(
        "List your API keys (admin: everyone's with all=true)",
        tag="auth",
        query=ApiKeyListQuery,
        responses={200: ApiKeyList},
    )
    @admin_powers(EVERYONES_KEYS)
    async def list_keys(self, request: web.Request) -> web.Response:
        claims = claims_of(request)
        everyone = parse_query(request, ApiKeyListQuery).all
        if everyone:
            use_admin_power(
                request,
                EVERYONES_KEYS,
                refusal=ApiError(403, "forbidden", "only an admin may list everyone's keys"),
            )
        keys = await self._keys.list(None if everyone else claims.user_id)
        return json_response({"items": [k.to_api() for k in keys]})

    @operation(
        "Revoke an API key",
        tag="auth",
        responses={200: ApiKey},
        errors={404: "No such key of yours."},
        path={"key_id": Id},
    )
    @admin_powers(REVOKE_ANOTHERS)
    async def revoke(self, request: web.Request) -> web.Response:
        claims = claims_of(request)
        raw = request.match_info["key_id"]
        key_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 else 0
        record = await self._keys.get(key_id) if 0 < key_id < 2**63 else None
        missing = ApiError(404, "not_found", f"API key {raw!r} does not exist")
        if record is None:
            raise missing
        if record.user_id != claims.user_id:  # another user's key is 404 to a non-admin
            use_admin_power(request, REVOKE_ANOTHERS, refusal=missing)
        revoked = await self._keys.revoke(record.id)
        self._on_revoked([record.id])
        await audit(
            self._audit,
            request,
            "api_key_revoked",
            f"API key {record.prefix} revoked",
            {"key_id": record.id, "owner": record.user_id},
        )
        return json_response(revoked.to_api())
