"""``/api/users``: user management, for admins only.

Rules:

* **Admin only**, every route: traders and viewers get 403.
* ``GET /api/users`` lists every user, active or not, by id; ``GET /api/users/{id}`` shows one
  (404 otherwise). Never the password hash nor the TOTP secret: ``mfa_enrolled`` says whether
  the user has one-time codes.
* ``POST /api/users`` ``{"username", "password", "role"}`` creates an active user (201). The
  username is 1 to 64 letters, digits and ``. _ @ -`` starting with a letter or a digit, unique
  in any letter case (409 ``conflict``); the password has 12 to 1024 characters. An admin
  signs in with a one-time code, so when the server has MFA configured a new admin is enrolled
  at once: ``mfa_enrollment`` holds the TOTP secret, its ``otpauth://`` URI and ten recovery
  codes, **shown this once** (what ``forexbot user create`` prints: the same code path,
  :mod:`forexbot.api.accounts`); it is ``null`` otherwise.
* ``PUT /api/users/{id}`` ``{"role"?, "is_active"?}`` (at least one) changes the role, or
  disables or enables the user. Disabling a user or changing its role **ends all its sessions
  at once** (refresh tokens revoked, access tokens refused: a token carries the role it was
  issued with) and revokes its API keys — all of them when disabled, those scoped above the
  new role otherwise. Making a user admin who has no one-time codes enrols it, as at creation.
  Nothing may leave the daemon without an active admin: demoting or disabling the last one
  (yourself included) is 409 ``last_admin`` and changes nothing.
* ``POST /api/users/{id}/mfa`` (when MFA is configured) enrols the user again, e.g. after a
  lost phone: a new secret and ten new recovery codes, shown once; the old secret and codes
  stop working at once.
* **No DELETE**: users are disabled, never deleted — the audit trail names them.
* A path id that is not an integer in 1..2**63-1 is 404, like an unknown one.
* Every change is audited (``user_created``, ``user_updated``, ``user_mfa_enrolled``): who,
  what, from where — never a password, a secret or a recovery code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from forexbot.api.accounts import (
    MIN_PASSWORD,
    USERNAME_PATTERN,
    create_account,
    enroll,
    enrollment_json,
    needs_mfa,
)
from forexbot.api.audit import audit
from forexbot.api.auth import requires_role, session_only
from forexbot.api.errors import ApiError
from forexbot.api.mfa import RECOVERY_CODES, Enrollment, Mfa
from forexbot.api.operations import operation
from forexbot.api.ports import ApiKeyStore, ApiUser, RefreshTokenStore, SystemLogStore, UserStore
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.schemas import Id
from forexbot.api.sessions import RevokedSessions
from forexbot.api.validation import read_json

RoleName = Literal["admin", "trader", "viewer"]
_MAX_ID = 2**63 - 1


class UserCreate(BaseModel):
    """The body of ``POST /api/users``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    username: str = Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024, repr=False)
    role: RoleName


class UserUpdate(BaseModel):
    """The body of ``PUT /api/users/{user_id}``: what to change, at least one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    role: RoleName | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UserUpdate:
        if self.role is None and self.is_active is None:
            raise ValueError("give role or is_active")
        return self


class MfaEnrollment(BaseModel):
    """One-time codes just set up, shown this once: the secret for an authenticator app, its
    ``otpauth://`` URI (a QR code) and the single-use recovery codes."""

    totp_secret: str
    otpauth_uri: str
    recovery_codes: list[str] = Field(min_length=RECOVERY_CODES, max_length=RECOVERY_CODES)


class User(BaseModel):
    """A user (never its password hash nor its TOTP secret)."""

    id: int
    username: str
    role: RoleName
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    failed_logins: int = Field(ge=0)
    locked_until: datetime | None
    mfa_enrolled: bool


class UserList(BaseModel):
    """Every user, by id."""

    items: list[User]


class NewUser(User):
    """A user just created, with its one-time codes when it was enrolled (an admin, with MFA
    configured): shown this once, ``null`` otherwise."""

    mfa_enrollment: MfaEnrollment | None


class ChangedUser(User):
    """A user after a change: the sessions ended, the API keys revoked, and the one-time codes
    when making it admin enrolled it (shown this once, ``null`` otherwise)."""

    mfa_enrollment: MfaEnrollment | None
    sessions_ended: int = Field(ge=0)
    api_keys_revoked: list[int]


class EnrolledUser(User):
    """A user enrolled again: its new one-time codes, shown this once, and the sessions
    ended (whoever holds the old phone must not stay signed in)."""

    mfa_enrollment: MfaEnrollment
    sessions_ended: int = Field(ge=0)


class UserRoutes:
    """The user management endpoints (see the module docstring)."""

    def __init__(
        self,
        users: UserStore,
        system_logs: SystemLogStore,
        sessions: RevokedSessions,
        *,
        refresh: RefreshTokenStore | None = None,
        api_keys: ApiKeyStore | None = None,
        mfa: Mfa | None = None,
        on_keys_revoked: Callable[[Iterable[int]], None] = lambda ids: None,
    ) -> None:
        self._users = users
        self._on_keys_revoked = on_keys_revoked
        self._audit = system_logs
        self._sessions = sessions
        self._refresh = refresh
        self._keys = api_keys
        self._mfa = mfa

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/api/users", self.list_users),
            web.post("/api/users", self.create),
            web.get("/api/users/{user_id}", self.get_user),
            web.put("/api/users/{user_id}", self.update),
        ]
        if self._mfa is not None:
            routes.append(web.post("/api/users/{user_id}/mfa", self.reenroll))
        return routes

    @requires_role(Role.ADMIN)
    @operation("List every user", tag="users", responses={200: UserList})
    async def list_users(self, request: web.Request) -> web.Response:
        return json_response({"items": [user.to_api() for user in await self._users.list()]})

    @requires_role(Role.ADMIN)
    @operation(
        "Show a user",
        tag="users",
        responses={200: User},
        errors={404: "No such user."},
        path={"user_id": Id},
    )
    async def get_user(self, request: web.Request) -> web.Response:
        return json_response((await self._user(request)).to_api())

    @requires_role(Role.ADMIN)
    @operation(
        "Create a user (an admin gets its one-time codes, shown once)",
        tag="users",
        body=UserCreate,
        responses={201: NewUser},
        errors={409: "A user of that name (in any letter case) exists."},
    )
    @session_only
    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request, UserCreate)
        user, enrollment = await create_account(
            self._users, body.username, body.password, body.role, mfa=self._mfa
        )
        if enrollment is not None:
            user = await self._reread(user)
        await audit(
            self._audit,
            request,
            "user_created",
            f"user {user.username!r} created with role {user.role}",
            {
                "user_id": user.id,
                "username": user.username,
                "role": user.role,
                "mfa_enrolled": user.mfa_enrolled,
            },
        )
        return json_response(_with_enrollment(user, enrollment), status=201)

    @requires_role(Role.ADMIN)
    @operation(
        "Change a user's role, or disable or enable it (ends its sessions)",
        tag="users",
        body=UserUpdate,
        responses={200: ChangedUser},
        errors={
            404: "No such user.",
            409: "It would leave no active admin (last_admin).",
        },
        path={"user_id": Id},
    )
    @session_only
    async def update(self, request: web.Request) -> web.Response:
        user_id = _user_id(request)
        body = await read_json(request, UserUpdate)
        before, after = await self._users.set_access(
            user_id, role=body.role, is_active=body.is_active
        )
        role_changed = before.role != after.role
        ended: list[str] = []
        revoked: list[int] = []
        if role_changed or (before.is_active and not after.is_active):
            reason = "user disabled" if not after.is_active else "role changed"
            ended = await self._end_sessions(after.id, reason)
            if self._keys is not None:
                above = after.role if after.is_active else None
                revoked = list(await self._keys.revoke_for_user(after.id, above=above))
                self._on_keys_revoked(revoked)
        enrollment = None
        if (
            role_changed
            and needs_mfa(after.role)
            and not after.mfa_enrolled
            and self._mfa is not None
        ):
            enrollment = await enroll(self._mfa, after)
            after = await self._reread(after)
        if (before.role, before.is_active) != (after.role, after.is_active):
            changes: dict[str, Any] = {}
            if role_changed:
                changes["role"] = {"from": before.role, "to": after.role}
            if before.is_active != after.is_active:
                changes["is_active"] = {"from": before.is_active, "to": after.is_active}
            await audit(
                self._audit,
                request,
                "user_updated",
                f"user {after.username!r} changed: {', '.join(changes)}",
                {
                    "user_id": after.id,
                    "username": after.username,
                    "changes": changes,
                    "sessions_ended": len(ended),
                    "api_keys_revoked": revoked,
                    "mfa_enrolled": enrollment is not None,
                },
            )
        return json_response(
            {
                **_with_enrollment(after, enrollment),
                "sessions_ended": len(ended),
                "api_keys_revoked": revoked,
            }
        )

    @requires_role(Role.ADMIN)
    @operation(
        "Set up a user's one-time codes again (the old ones stop working)",
        tag="users",
        responses={200: EnrolledUser},
        errors={404: "No such user."},
        path={"user_id": Id},
    )
    @session_only
    async def reenroll(self, request: web.Request) -> web.Response:
        assert self._mfa is not None  # the route exists only with MFA configured
        user = await self._user(request)
        replaced = user.mfa_enrolled
        enrollment = await enroll(self._mfa, user)
        ended = await self._end_sessions(user.id, "one-time codes replaced")
        user = await self._reread(user)
        await audit(
            self._audit,
            request,
            "user_mfa_enrolled",
            f"one-time codes of {user.username!r} set up again",
            {
                "user_id": user.id,
                "username": user.username,
                "replaced": replaced,
                "sessions_ended": len(ended),
            },
        )
        return json_response({**_with_enrollment(user, enrollment), "sessions_ended": len(ended)})

    async def _user(self, request: web.Request) -> ApiUser:
        user = await self._users.get(_user_id(request))
        if user is None:
            raise _no_such_user(request)
        return user

    async def _reread(self, user: ApiUser) -> ApiUser:
        """The user as stored now (after an enrolment)."""
        fresh = await self._users.get(user.id)
        return user if fresh is None else fresh

    async def _end_sessions(self, user_id: int, reason: str) -> list[str]:
        """Revoke every refresh token of the user and refuse their access tokens at once."""
        if self._refresh is None:
            return []
        ended = await self._refresh.revoke_user(user_id, reason)
        for family in ended:
            self._sessions.revoke(family)
        return ended


def _user_id(request: web.Request) -> int:
    """The path's user id; 404 when it cannot be one (not digits, 0, past 2**63-1)."""
    raw = request.match_info["user_id"]
    digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(_MAX_ID))
    user_id = int(raw) if digits else 0
    if not 0 < user_id <= _MAX_ID:
        raise _no_such_user(request)
    return user_id


def _no_such_user(request: web.Request) -> ApiError:
    return ApiError(404, "not_found", f"user {request.match_info['user_id']!r} does not exist")


def _with_enrollment(user: ApiUser, enrollment: Enrollment | None) -> dict[str, Any]:
    return {
        **user.to_api(),
        "mfa_enrollment": None if enrollment is None else enrollment_json(enrollment),
    }
