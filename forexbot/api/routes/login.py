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
  ``login_failed`` and counted by reason; a wrong password or one-time code on an existing
  account is also published on the bus (:class:`~forexbot.events.types.FailedLoginEvent`:
  reason, username, address, time, never what was tried), so the account's owner gets a push
  alert (``failed_login``). An unknown username is counted only: there is no one to tell.
* At most ``login_attempts_per_minute`` attempts per source address (429 with
  ``Retry-After`` beyond), before any password is checked.
* Argon2 runs in a worker thread: it costs tens of milliseconds of CPU by design, which must
  not stall the trading loop.

Second factor (when the API has an MFA service, :mod:`forexbot.api.mfa`): an admin — and any
user who enrolled — adds ``totp`` (the 6-digit code) or ``recovery_code`` to the body. A
missing code is 401 ``mfa_required`` (the password was right: the client asks for the code);
a wrong one counts as a failed login; an admin not enrolled is 403
``mfa_enrollment_required``.

Sessions (when the API has a refresh-token store):

* A login starts a session: with the short-lived access token comes a ``refresh_token``.
  ``POST /api/auth/refresh`` with it returns a new access token and a *new* refresh token;
  the old one is spent. Presenting a spent refresh token again means it was copied: the whole
  session is ended (its refresh tokens revoked, its access tokens refused), audited as
  ``refresh_token_reused``, and the answer is 401. An inactive user cannot refresh.
* ``POST /api/auth/logout`` ends the session of the access token presented (and of the
  ``refresh_token`` given in the body, if it is the same user's): both kinds of token stop
  working at once. Audited as ``logout``.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any, Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from forexbot.api.audit import AuditEntry, log_and_record
from forexbot.api.auth import claims_of, public
from forexbot.api.errors import ApiError, unauthenticated
from forexbot.api.login_failures import TOLD_REASONS, LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.api.operations import NO_BODY, operation
from forexbot.api.passwords import hash_password, verify_password
from forexbot.api.ports import LoginUser, RefreshTokenStore, SystemLogStore, UserStore
from forexbot.api.ratelimit import TokenBuckets, too_many
from forexbot.api.responses import json_response
from forexbot.api.sessions import RevokedSessions
from forexbot.api.tokens import TokenService
from forexbot.api.validation import read_json
from forexbot.clock import Clock, utc_datetime
from forexbot.database.refresh_tokens import (
    IssuedRefreshToken,
    RefreshTokenInvalid,
    RefreshTokenReused,
)
from forexbot.events.types import FailedLoginEvent

_log = structlog.get_logger("forexbot.api")

INVALID_CREDENTIALS = "invalid username or password"


class LoginRequest(BaseModel):
    """The login body."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024, repr=False)
    totp: str | None = Field(default=None, pattern=r"^[0-9]{6}$", repr=False)
    recovery_code: str | None = Field(default=None, min_length=8, max_length=32, repr=False)


class RefreshRequest(BaseModel):
    """The body of ``POST /api/auth/refresh``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    refresh_token: str = Field(min_length=16, max_length=256, repr=False)


class LogoutRequest(BaseModel):
    """The (optional) body of ``POST /api/auth/logout``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    refresh_token: str | None = Field(default=None, min_length=16, max_length=256, repr=False)


class TokenPair(BaseModel):
    """A new access token, and the refresh token of the session when sessions are kept."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str | None = None
    refresh_expires_in: int | None = Field(default=None, description="seconds the session lasts")


class LoginRoutes:
    """The login, refresh and logout endpoints. :meth:`on_startup` must run before they serve
    (it makes the dummy hash and loads the sessions ended lately)."""

    def __init__(
        self,
        users: UserStore,
        system_logs: SystemLogStore,
        tokens: TokenService,
        clock: Clock,
        *,
        lock_after: int,
        lock_for: timedelta,
        refresh: RefreshTokenStore | None = None,
        sessions: RevokedSessions | None = None,
        attempts: TokenBuckets | None = None,
        mfa: Mfa | None = None,
        failures: LoginFailures | None = None,
    ) -> None:
        self._users = users
        self._failures = failures or LoginFailures()
        self._lock_after = lock_after
        self._lock_for = lock_for
        self._audit = system_logs
        self._tokens = tokens
        self._clock = clock
        self._refresh = refresh
        self._attempts = attempts
        self._mfa = mfa
        self._sessions = sessions or RevokedSessions(clock, tokens.ttl_seconds)
        self._dummy_hash: str | None = None

    def routes(self) -> list[web.RouteDef]:
        routes = [web.post("/api/auth/login", self.login)]
        if self._refresh is not None:
            routes.append(web.post("/api/auth/refresh", self.refresh))
            routes.append(web.post("/api/auth/logout", self.logout))
        return routes

    async def on_startup(self, app: web.Application) -> None:
        """Hash a random password, off the loop, to verify against for unknown users; load
        the sessions ended within an access token's lifetime."""
        self._dummy_hash = await asyncio.to_thread(hash_password, secrets.token_urlsafe(16))
        if self._refresh is not None:
            since = utc_datetime(self._clock) - timedelta(seconds=self._tokens.ttl_seconds)
            self._sessions.load(await self._refresh.revoked_since(since))

    @public
    @operation(
        "Sign in: an access token (and a refresh token)",
        tag="auth",
        body=LoginRequest,
        responses={200: TokenPair},
        errors={
            401: "Wrong credentials, a locked or disabled account, or mfa_required.",
            403: "An admin without a one-time code set up (mfa_enrollment_required).",
        },
    )
    async def login(self, request: web.Request) -> web.Response:
        if self._dummy_hash is None:
            raise RuntimeError("LoginRoutes.on_startup has not run")
        source_ip = request.remote
        if self._attempts is not None:
            wait = self._attempts.take(f"login:{source_ip}")
            if wait:
                self._failures.record("throttled")
                _log.warning("login throttled", source_ip=source_ip, retry_after=wait)
                raise too_many(wait, "login attempts from this address")
        creds = await read_json(request, LoginRequest)
        user = await self._users.get_by_username(creds.username)
        stored_hash = user.password_hash if user is not None else self._dummy_hash
        password_ok = await asyncio.to_thread(verify_password, stored_hash, creds.password)

        reason = self._refusal(user, password_ok)
        if user is None or reason is not None:
            if user is not None and not password_ok:
                await self._users.record_login_failure(
                    user.id, lock_after=self._lock_after, lock_for=self._lock_for
                )
            await self._refused(creds.username, reason, user, source_ip)
            raise unauthenticated(INVALID_CREDENTIALS)

        await self._second_factor(user, creds, source_ip)
        await self._users.record_login_success(user.id)
        session: dict[str, Any] = {}
        family = None
        if self._refresh is not None:
            issued = await self._refresh.issue(user.id, source_ip=source_ip)
            family = issued.family
            session = self._refresh_fields(issued)
        token, expires_in = self._tokens.issue(user, family)
        await log_and_record(
            self._audit,
            AuditEntry(
                "info",
                "login",
                "user logged in",
                {"user_id": user.id, "role": user.role},
                actor=user.username,
                source_ip=source_ip,
            ),
        )
        return json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": expires_in, **session}
        )

    async def _second_factor(
        self, user: LoginUser, creds: LoginRequest, source_ip: str | None
    ) -> None:
        """The one-time code an admin (or an enrolled user) must give with the password."""
        if self._mfa is None or (user.role != "admin" and user.totp_secret is None):
            return
        if user.totp_secret is None:
            await self._refused(user.username, "mfa_not_enrolled", user, source_ip)
            raise ApiError(
                403,
                "mfa_enrollment_required",
                "an admin signs in with a one-time code: set it up on the server with "
                f"`forexbot user mfa --username {user.username}`",
            )
        if creds.totp is None and creds.recovery_code is None:
            raise ApiError(
                401, "mfa_required", "a one-time code (totp) or a recovery code is required"
            )
        if not await self._mfa.check(user, creds.totp, creds.recovery_code):
            await self._users.record_login_failure(
                user.id, lock_after=self._lock_after, lock_for=self._lock_for
            )
            await self._refused(user.username, "bad_second_factor", user, source_ip)
            raise unauthenticated(INVALID_CREDENTIALS)
        if creds.recovery_code is not None:
            await log_and_record(
                self._audit,
                AuditEntry(
                    "warning",
                    "recovery_code_used",
                    "a recovery code was used to sign in",
                    {"user_id": user.id},
                    actor=user.username,
                    source_ip=source_ip,
                ),
            )

    def _refresh_fields(self, issued: IssuedRefreshToken) -> dict[str, Any]:
        lifetime = issued.expires_at.timestamp() - self._clock.time()
        return {"refresh_token": issued.token, "refresh_expires_in": round(lifetime)}

    @public
    @operation(
        "Rotate a refresh token: a new access token and refresh token",
        tag="auth",
        body=RefreshRequest,
        responses={200: TokenPair},
        errors={401: "Unknown, expired or spent refresh token (a spent one ends the session)."},
    )
    async def refresh(self, request: web.Request) -> web.Response:
        assert self._refresh is not None  # the route exists only with a store
        body = await read_json(request, RefreshRequest)
        source_ip = request.remote
        try:
            issued = await self._refresh.rotate(body.refresh_token, source_ip=source_ip)
        except RefreshTokenReused as exc:
            self._sessions.revoke(exc.family)
            await log_and_record(
                self._audit,
                AuditEntry(
                    "warning",
                    "refresh_token_reused",
                    "a spent refresh token was presented again: the session is ended",
                    {"user_id": exc.user_id, "session": exc.family},
                    actor=None,
                    source_ip=source_ip,
                ),
            )
            raise unauthenticated("refresh token already used: the session is ended") from None
        except RefreshTokenInvalid as exc:
            raise unauthenticated(str(exc)) from None
        user = await self._users.get(issued.user_id)
        if user is None or self._refusal(user, password_ok=True) is not None:
            await self._refresh.revoke_family(issued.family, "user disabled")
            self._sessions.revoke(issued.family)
            raise unauthenticated("the account may not sign in")
        token, expires_in = self._tokens.issue(user, issued.family)
        _log.info("token refreshed", actor=user.username, source_ip=source_ip)
        return json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": expires_in,
                **self._refresh_fields(issued),
            }
        )

    @operation(
        "Sign out: end this session (and the one of the refresh token given)",
        tag="auth",
        body=LogoutRequest,
        body_optional=True,
        responses={204: NO_BODY},
    )
    async def logout(self, request: web.Request) -> web.Response:
        assert self._refresh is not None
        claims = claims_of(request)
        body = await read_json(request, LogoutRequest) if request.can_read_body else LogoutRequest()
        families = {claims.family} if claims.family else set()
        if body.refresh_token is not None:
            found = await self._refresh.family_of(body.refresh_token)
            if found is not None and found[0] == claims.user_id:
                families.add(found[1])
        for family in families:
            await self._refresh.revoke_family(family, "logout")
            self._sessions.revoke(family)
        await log_and_record(
            self._audit,
            AuditEntry(
                "info",
                "logout",
                "user logged out",
                {"user_id": claims.user_id, "sessions": len(families)},
                actor=claims.username,
                source_ip=request.remote,
            ),
        )
        return web.Response(status=204)

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

    async def _refused(
        self, username: str, reason: str | None, user: LoginUser | None, source_ip: str | None
    ) -> None:
        """A refused sign-in: counted by reason, logged and audited (``login_failed``); a wrong
        password or code on an existing account is published too (:class:`FailedLoginEvent`:
        its owner is told, never what was tried)."""
        if user is not None and reason in TOLD_REASONS:
            self._failures.wrong_secret(
                FailedLoginEvent(user.id, user.username, reason, source_ip, self._clock.time())
            )
        else:
            self._failures.record(str(reason))
        actor = user.username if user is not None else None
        context = {"username": username, "reason": reason}
        await log_and_record(
            self._audit,
            AuditEntry(
                "warning",
                "login_failed",
                "login refused",
                context,
                actor=actor,
                source_ip=source_ip,
            ),
        )
