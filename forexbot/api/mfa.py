"""Multi-factor sign-in: TOTP one-time codes (pyotp) and single-use recovery codes.

Rules:

* **Admins must use it**: an admin signs in with a password *and* a one-time code; an admin
  not yet enrolled is refused with what to run on the server (``forexbot user mfa``). Other
  users are held to it once they have enrolled.
* Enrolment (:meth:`Mfa.enroll`, done from the server's command line or by an admin through
  ``/api/users``, both via :mod:`forexbot.api.accounts`) makes a new secret and ten recovery
  codes, shown once; the secret is stored sealed with the data key, the codes hashed.
  Enrolling again replaces both.
* A code is RFC 6238: 6 digits, 30-second steps, accepted one step early or late (clock
  drift). **A code works once**: the step it belongs to is recorded, and a code of that step or
  an earlier one is refused afterwards (no replay of an overheard code).
* A recovery code (``xxxxx-xxxxx``) stands in for a one-time code, once.
* Times come from the injected wall clock.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

import pyotp

from forexbot.clock import Clock
from forexbot.database.encryption import Sealer

ISSUER = "forexbot"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def recovery_hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()


class MfaUsers(Protocol):
    """What the MFA service needs of the user repository."""

    async def set_totp(self, user_id: int, sealed_secret: str, code_hashes: list[str]) -> None: ...

    async def accept_totp_step(self, user_id: int, step: int) -> bool: ...

    async def use_recovery_code(self, user_id: int, code_hash: str) -> bool: ...


class MfaSubject(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def totp_secret(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Enrollment:
    """What a person needs once: the secret (for an authenticator app), its URI (a QR code)
    and the recovery codes."""

    secret: str
    uri: str
    recovery_codes: tuple[str, ...]


class Mfa:
    """Enrols users and checks their second factor (see the module docstring)."""

    def __init__(self, users: MfaUsers, sealer: Sealer, clock: Clock) -> None:
        self._users = users
        self._sealer = sealer
        self._clock = clock

    async def enroll(self, user_id: int, username: str) -> Enrollment:
        secret = pyotp.random_base32()
        codes = tuple(_recovery_code() for _ in range(RECOVERY_CODES))
        await self._users.set_totp(
            user_id, self._sealer.seal(secret), [recovery_hash(c) for c in codes]
        )
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
        return Enrollment(secret, uri, codes)

    async def check(self, user: MfaSubject, code: str | None, recovery_code: str | None) -> bool:
        """Whether the one-time code (or the recovery code) is good, spending it if so."""
        if user.totp_secret is None:
            return False
        if code is not None:
            totp = pyotp.TOTP(self._sealer.open(user.totp_secret))
            now = self._clock.time()
            for drift in (0, -1, 1):
                at = now + drift * STEP_SECONDS
                if totp.verify(code, for_time=int(at)):
                    return await self._users.accept_totp_step(user.id, int(at // STEP_SECONDS))
            return False
        if recovery_code is not None:
            return await self._users.use_recovery_code(user.id, recovery_hash(recovery_code))
        return False


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"
