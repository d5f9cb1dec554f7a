"""``POST /api/auth/login``: exchange a username and password for an access token.

Rules:

* The body is ``{"username", "password"}`` and nothing else (unknown fields: 422).
* Unknown user, wrong password, inactive or locked account all get the **same** 401 body, so
  the answer does not reveal which usernames exist; the reason goes to the server log and the
  audit trail only.
* Not a timing oracle: a password is always verified by Argon2, against a dummy hash (made at
  start-up with the same parameters) when the user does not exist.
* A wrong password for an existing user is recorded (``record_login_failure``); after
  ``login_lock_after`` consecutive failures the user store sets ``locked_until`` to
  ``login_lock_seconds`` ahead, and until then even the right password is refused. A success
  resets the counter (``record_login_success``) and is audited in
  ``system_logs`` (event ``login``, actor, source IP). Failures are audited as
  ``login_failed``.
* Argon2 runs in a worker thread: it costs tens of milliseconds of CPU by design, which must
  not stall the trading loop.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.auth import public
from forexbot.api.errors import unauthenticated
from forexbot.api.passwords import hash_password, verify_password
from forexbot.api.responses import json_response
from forexbot.api.services import LoginUser, SystemLogStore, UserStore
from forexbot.api.tokens import TokenService
from forexbot.api.validation import read_json
from forexbot.clock import Clock, utc_datetime

_log = structlog.get_logger("forexbot.api")

INVALID_CREDENTIALS = "invalid username or password"


class LoginRequest(BaseModel):
    """The login body."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024, repr=False)


class LoginRoutes:
    """The login endpoint. :meth:`on_startup` must run before it serves (makes the dummy hash)."""

    def __init__(
        self,
        users: UserStore,
        system_logs: SystemLogStore,
        tokens: TokenService,
        clock: Clock,
        *,
        lock_after: int,
        lock_for: timedelta,
    ) -> None:
        self._users = users
        self._lock_after = lock_after
        self._lock_for = lock_for
        self._audit = system_logs
        self._tokens = tokens
        self._clock = clock
        self._dummy_hash: str | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/auth/login", self.login)]

    async def on_startup(self, app: web.Application) -> None:
        """Hash a random password, off the loop, to verify against for unknown users."""
        self._dummy_hash = await asyncio.to_thread(hash_password, secrets.token_urlsafe(16))

    @public
    async def login(self, request: web.Request) -> web.Response:
        if self._dummy_hash is None:
            raise RuntimeError("LoginRoutes.on_startup has not run")
        creds = await read_json(request, LoginRequest)
        source_ip = request.remote
        user = await self._users.get_by_username(creds.username)
        stored_hash = user.password_hash if user is not None else self._dummy_hash
        password_ok = await asyncio.to_thread(verify_password, stored_hash, creds.password)

        reason = self._refusal(user, password_ok)
        if user is None or reason is not None:
            if user is not None and not password_ok:
                await self._users.record_login_failure(
                    user.id, lock_after=self._lock_after, lock_for=self._lock_for
                )
            await self._record(
                "warning",
                "login_failed",
                "login refused",
                {"username": creds.username, "reason": reason},
                actor=user.username if user is not None else None,
                source_ip=source_ip,
            )
            raise unauthenticated(INVALID_CREDENTIALS)

        await self._users.record_login_success(user.id)
        token, expires_in = self._tokens.issue(user)
        await self._record(
            "info",
            "login",
            "user logged in",
            {"user_id": user.id, "role": user.role},
            actor=user.username,
            source_ip=source_ip,
        )
        return json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
        )

    def _refusal(self, user: LoginUser | None, password_ok: bool) -> str | None:
        """Why the login is refused, or ``None`` when it is accepted."""
        if user is None:
            return "unknown_user"
        if not password_ok:
            return "bad_password"
        if not user.is_active:
            return "inactive"
        if user.locked_until is not None and user.locked_until > utc_datetime(self._clock):
            return "locked"
        return None

    async def _record(
        self,
        level: str,
        event: str,
        message: str,
        context: dict[str, Any],
        *,
        actor: str | None,
        source_ip: str | None,
    ) -> None:
        log = _log.warning if level == "warning" else _log.info
        log(message, audit_event=event, actor=actor, source_ip=source_ip, **context)
        await self._audit.add(
            level=level,
            component="api",
            event=event,
            message=message,
            context=context,
            actor=actor,
            source_ip=source_ip,
        )
