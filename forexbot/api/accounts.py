"""Creating users and enrolling their one-time codes: one code path for the CLI and the API.

``forexbot user create`` / ``forexbot user mfa`` and ``POST /api/users`` /
``POST /api/users/{id}/mfa`` all go through here, so a user made either way is made the same.

Rules:

* The password is hashed with Argon2 (:mod:`forexbot.api.passwords`) in a worker thread, off
  the event loop; only the hash is stored.
* **An admin signs in with a one-time code** (:mod:`forexbot.api.mfa`), so creating an admin
  enrols it at once when an MFA service is given (:func:`needs_mfa` says which roles must).
  The :class:`~forexbot.api.mfa.Enrollment` — TOTP secret, its ``otpauth://`` URI, ten
  recovery codes — is returned to be shown **once**: it is stored only sealed and hashed.
* Enrolling again (:func:`enroll`) replaces the secret and the recovery codes: the old ones
  stop working at once.
* An enrolment is shown the same way everywhere: :func:`enrollment_lines` for a terminal,
  :func:`enrollment_json` for the API (``totp_secret``, ``otpauth_uri``, ``recovery_codes``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, TypeVar

from forexbot.api.mfa import Enrollment, Mfa
from forexbot.api.passwords import hash_password

#: Roles that must sign in with a one-time code.
MFA_ROLES = frozenset({"admin"})
#: The shortest password accepted, whoever sets it (CLI, API, reset).
MIN_PASSWORD = 12
#: What a username may be: 1 to 64 letters, digits and ``. _ @ -``, starting with a
#: letter or a digit — nothing that needs escaping in a URL, a log line or a shell.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class Account(Protocol):
    """The fields of a user record this module reads."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


A = TypeVar("A", bound=Account)
A_co = TypeVar("A_co", bound=Account, covariant=True)


class AccountStore(Protocol[A_co]):
    """Creates users (``forexbot.database.users.UserRepository``)."""

    async def create(self, username: str, password_hash: str, role: str) -> A_co: ...


def needs_mfa(role: str) -> bool:
    """Whether a user of ``role`` must sign in with a one-time code."""
    return role in MFA_ROLES


async def create_account(
    users: AccountStore[A], username: str, password: str, role: str, *, mfa: Mfa | None
) -> tuple[A, Enrollment | None]:
    """Create an active user; for a role that needs it, enrol its one-time codes with
    ``mfa`` (``None``: no MFA service, nothing enrolled). Raises what ``users.create`` does
    (``DuplicateUser`` for a taken name)."""
    password_hash = await asyncio.to_thread(hash_password, password)
    user = await users.create(username, password_hash, role)
    enrollment = await enroll(mfa, user) if mfa is not None and needs_mfa(role) else None
    return user, enrollment


async def enroll(mfa: Mfa, user: Account) -> Enrollment:
    """A new TOTP secret and recovery codes for ``user``, replacing any earlier ones."""
    return await mfa.enroll(user.id, user.username)


def enrollment_lines(username: str, enrollment: Enrollment) -> list[str]:
    """The enrolment as the command line prints it."""
    return [
        f"one-time codes for {username!r}: add this to an authenticator app",
        f"  secret: {enrollment.secret}",
        f"  uri:    {enrollment.uri}",
        "recovery codes (each works once; keep them offline):",
        *(f"  {code}" for code in enrollment.recovery_codes),
    ]


def enrollment_json(enrollment: Enrollment) -> dict[str, Any]:
    """The enrolment as the API answers it (once)."""
    return {
        "totp_secret": enrollment.secret,
        "otpauth_uri": enrollment.uri,
        "recovery_codes": list(enrollment.recovery_codes),
    }
