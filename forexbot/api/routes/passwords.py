"""``POST /api/auth/reset-password``: change a password, ending the user's sessions.

Rules:

* A user changes their own password with ``{"current_password", "new_password"}``; a wrong
  current password is 401 and counts as a failed login (it is a password guess too).
* An admin resets another user's with ``{"username", "new_password"}`` (no current password:
  the user forgot it). Only an admin may name a user (403 otherwise), and only from inside
  ``api.admin_networks`` (403 outside: it is an account takeover); an unknown one is 404.
* A new password has 12 to 1024 characters and differs from the current one.
* Afterwards every session of that user ends: refresh tokens revoked, access tokens refused
  (:mod:`forexbot.api.sessions`); a changed password is the answer to a suspected leak, and a
  thief's session must not outlive it. Audited as ``password_changed``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.accounts import MIN_PASSWORD
from forexbot.api.audit import audit
from forexbot.api.auth import admin_powers, claims_of, session_only, use_admin_power
from forexbot.api.errors import ApiError, unauthenticated
from forexbot.api.login_failures import LoginFailures
from forexbot.api.operations import NO_BODY, operation
from forexbot.api.passwords import hash_password, verify_password
from forexbot.api.ports import RefreshTokenStore, SystemLogStore, UserStore
from forexbot.api.sessions import RevokedSessions
from forexbot.api.validation import read_json

_log = structlog.get_logger("forexbot.api")

#: The admin power of this route (see :func:`forexbot.api.auth.admin_powers`).
RESET_ANOTHER = "reset another user's password"


class PasswordChange(BaseModel):
    """The body of ``POST /api/auth/reset-password``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    new_password: str = Field(min_length=MIN_PASSWORD, max_length=1024, repr=False)
    current_password: str | None = Field(default=None, min_length=1, max_length=1024, repr=False)
    username: str | None = Field(default=None, min_length=1, max_length=64)


class PasswordRoutes:
    """The password endpoint (see the module docstring)."""

    def __init__(
        self,
        users: UserStore,
        system_logs: SystemLogStore,
        refresh: RefreshTokenStore | None,
        sessions: RevokedSessions,
        *,
        lock_after: int,
        lock_for: timedelta,
        failures: LoginFailures | None = None,
    ) -> None:
        self._failures = failures or LoginFailures()
        self._users = users
        self._audit = system_logs
        self._refresh = refresh
        self._sessions = sessions
        self._lock_after = lock_after
        self._lock_for = lock_for

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/auth/reset-password", self.reset)]

    @operation(
        "Change your password, or (admin) reset someone's",
        tag="auth",
        body=PasswordChange,
        responses={204: NO_BODY},
        errors={
            401: "The current password is wrong.",
            404: "No such user.",
        },
    )
    @admin_powers(RESET_ANOTHER)
    @session_only
    async def reset(self, request: web.Request) -> web.Response:
        claims = claims_of(request)
        body = await read_json(request, PasswordChange)
        if body.username is not None and body.username.lower() != claims.username.lower():
            use_admin_power(
                request,
                RESET_ANOTHER,
                refusal=ApiError(
                    403, "forbidden", "only an admin may reset another user's password"
                ),
            )
            user = await self._users.get_by_username(body.username)
            if user is None:
                raise ApiError(404, "not_found", f"user {body.username!r} does not exist")
        else:
            user = await self._users.get(claims.user_id)
            if user is None:
                raise unauthenticated("the account no longer exists")
            if body.current_password is None:
                raise ApiError(422, "validation_error", "give current_password to change yours")
            ok = await asyncio.to_thread(verify_password, user.password_hash, body.current_password)
            if not ok:
                self._failures.record("bad_current_password")
                _log.warning(
                    "password change refused: wrong current password",
                    actor=claims.username,
                    source_ip=request.remote,
                )
                await self._users.record_login_failure(
                    user.id, lock_after=self._lock_after, lock_for=self._lock_for
                )
                raise unauthenticated("the current password is wrong")
        same = await asyncio.to_thread(verify_password, user.password_hash, body.new_password)
        if same:
            raise ApiError(422, "validation_error", "the new password must differ from the old one")
        await self._users.set_password(
            user.id, await asyncio.to_thread(hash_password, body.new_password)
        )
        ended: list[str] = []
        if self._refresh is not None:
            ended = await self._refresh.revoke_user(user.id, "password changed")
        for family in ended:
            self._sessions.revoke(family)
        await audit(
            self._audit,
            request,
            "password_changed",
            f"password of {user.username!r} changed",
            {"user_id": user.id, "sessions_ended": len(ended)},
        )
        return web.Response(status=204)
