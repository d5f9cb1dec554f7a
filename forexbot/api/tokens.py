"""Access tokens: JWT signed with HS256 (pyjwt).

Rules:

* Only HS256 is accepted when verifying (the algorithm list is fixed, never read from the
  token), with a secret of at least 32 characters.
* A token names its issuer and audience (``forexbot`` / ``forexbot-api``) and must carry
  ``sub``, ``username``, ``role``, ``exp``, ``iat`` and ``jti``; anything missing, malformed,
  badly signed, expired, issued in the future or with an unknown role is an
  :class:`~forexbot.errors.AuthError`.
* Expiry is checked against the injected clock, which must be the **wall clock**: in paper
  trading the trading clock may run hundreds of times faster, and a token must not expire in
  seconds because simulated hours pass. pyjwt's own expiry check (``time.time``) is turned off
  so that tests can move a :class:`~forexbot.clock.ManualClock` instead of sleeping.
* A token is valid from ``iat`` until strictly before ``exp`` (RFC 7519 §4.1.4).
* **Rotating the secret**: tokens are signed with the current secret; the previous ones
  (``FOREXBOT_JWT_PREVIOUS_SECRETS``) are still accepted, so access tokens issued before the
  rotation work until they expire. Refresh tokens are not JWTs and survive any rotation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt

from forexbot.api.roles import Role
from forexbot.clock import Clock
from forexbot.errors import AuthError, ConfigError

ALGORITHM = "HS256"
ISSUER = "forexbot"
AUDIENCE = "forexbot-api"
MIN_SECRET_LENGTH = 32
# Tolerated clock difference for ``iat`` in the future (several processes may issue tokens).
_IAT_LEEWAY_SECONDS = 30
_REQUIRED = ["sub", "username", "role", "exp", "iat", "jti", "iss", "aud"]


class TokenSubject(Protocol):
    """What a token is issued for: a user record."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified content of an access token.

    ``sub`` is the user id as a string (JWT requires a string subject); :attr:`user_id` gives
    it as an integer. ``exp`` and ``iat`` are UTC epoch seconds.
    """

    sub: str
    username: str
    role: Role
    exp: int
    iat: int
    jti: str
    family: str | None = None  # the login session (refresh-token family) it belongs to
    api_key: int | None = None  # the API key the request came with, if it did

    @property
    def user_id(self) -> int:
        return int(self.sub)


#: Where the signing secrets come from, named in a refusal.
ENV_SECRETS = "FOREXBOT_JWT_SECRET, FOREXBOT_JWT_PREVIOUS_SECRETS"


@dataclass(frozen=True, slots=True)
class JwtKeys:
    """The secret access tokens are signed with, and the rotated-out ones still accepted.

    Not settings: they come from ``FOREXBOT_JWT_SECRET`` or the data directory
    (:mod:`forexbot.api.jwt_secret`), never from a file someone may share. Each must be at
    least :data:`MIN_SECRET_LENGTH` characters (a short HS256 key can be brute-forced); neither
    appears in ``repr``.
    """

    secret: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for key in (self.secret, *self.previous):
            if len(key) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"a JWT signing secret ({ENV_SECRETS}) must be at least "
                    f"{MIN_SECRET_LENGTH} characters, got {len(key)}"
                )


class TokenService:
    """Issues and verifies access tokens.

    ``clock`` must be the wall clock (see the module docstring); ``ttl_seconds`` is how long an
    issued token stays valid.
    """

    def __init__(
        self, secret: str, ttl_seconds: int, clock: Clock, previous: tuple[str, ...] = ()
    ) -> None:
        if any(len(s) < MIN_SECRET_LENGTH for s in (secret, *previous)):
            raise ValueError(
                f"the JWT secret must be at least {MIN_SECRET_LENGTH} characters, got {len(secret)}"
            )
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")
        self._secret = secret
        self._previous = previous  # accepted for verification only: a rotation's grace
        self._ttl = ttl_seconds
        self._clock = clock

    def __repr__(self) -> str:
        # Never show the secret, even in a debug dump.
        return f"TokenService(ttl_seconds={self._ttl})"

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def now(self) -> float:
        """The wall clock the tokens are timed by."""
        return self._clock.time()

    def issue(self, user: TokenSubject, family: str | None = None) -> tuple[str, int]:
        """A signed token for ``user`` and its lifetime in seconds (the ``expires_in`` field);
        ``family`` names the login session it belongs to (logout ends it)."""
        role = Role(user.role)  # a user with an unknown role gets no token
        iat = int(self._clock.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user.id),
            "username": user.username,
            "role": role.value,
            "iat": iat,
            "exp": iat + self._ttl,
            "jti": secrets.token_hex(16),
        }
        if family is not None:
            payload["fam"] = family
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), self._ttl

    def verify(self, token: str) -> Claims:
        """The claims of ``token``; :class:`AuthError` when it is invalid or expired."""
        payload = self._decode(token)
        try:
            claims = Claims(
                sub=_user_id(payload["sub"]),
                username=_str(payload["username"]),
                role=Role(payload["role"]),
                exp=_int(payload["exp"]),
                iat=_int(payload["iat"]),
                jti=_str(payload["jti"]),
                family=None if payload.get("fam") is None else _str(payload["fam"]),
            )
        except (TypeError, ValueError):
            raise AuthError("invalid token: malformed claims") from None
        now = self._clock.time()
        if now >= claims.exp:
            raise AuthError("token expired")
        if claims.iat > now + _IAT_LEEWAY_SECONDS:
            raise AuthError("invalid token: issued in the future")
        return claims

    def _decode(self, token: str) -> dict[str, Any]:
        """The payload under the current secret, or under a previous one while a rotation's
        tokens run out."""
        for n, secret in enumerate((self._secret, *self._previous)):
            try:
                payload: dict[str, Any] = jwt.decode(
                    token,
                    secret,
                    algorithms=[ALGORITHM],
                    audience=AUDIENCE,
                    issuer=ISSUER,
                    options={
                        "require": _REQUIRED,
                        "verify_exp": False,  # checked against the injected clock
                        "verify_iat": False,
                        "verify_nbf": False,
                    },
                )
            except jwt.InvalidSignatureError as exc:
                if n == len(self._previous):
                    raise AuthError(f"invalid token: {exc}") from None
                continue
            except jwt.InvalidTokenError as exc:
                raise AuthError(f"invalid token: {exc}") from None
            return payload
        raise AssertionError("unreachable")


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value


def _user_id(value: object) -> str:
    text = _str(value)
    if not text.isascii() or not text.isdigit():
        raise ValueError("the subject must be a user id")
    return text


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value
