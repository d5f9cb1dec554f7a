"""JWT access tokens: issue, verify, expiry on the injected wall clock."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
import pytest

from forexbot.api.roles import Role
from forexbot.api.tokens import Claims, TokenService
from forexbot.clock import ManualClock
from forexbot.errors import AuthError

SECRET = "s" * 48


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str


ALICE = User(id=7, username="alice", role="trader")


def make(clock: ManualClock, ttl: int = 3600) -> TokenService:
    return TokenService(SECRET, ttl, clock)


def test_issued_token_verifies_to_the_users_claims() -> None:
    clock = ManualClock(1_700_000_000.0)
    token, expires_in = make(clock).issue(ALICE)
    claims = make(clock).verify(token)
    assert expires_in == 3600
    assert isinstance(claims, Claims)
    assert (claims.sub, claims.user_id, claims.username, claims.role) == (
        "7",
        7,
        "alice",
        Role.TRADER,
    )
    assert (claims.iat, claims.exp) == (1_700_000_000, 1_700_003_600)
    assert len(claims.jti) == 32


def test_each_token_has_its_own_jti() -> None:
    service = make(ManualClock(1_700_000_000.0))
    first, _ = service.issue(ALICE)
    second, _ = service.issue(ALICE)
    assert service.verify(first).jti != service.verify(second).jti


def test_token_is_valid_until_just_before_exp_and_expired_at_exp() -> None:
    clock = ManualClock(1_700_000_000.0)
    service = make(clock, ttl=60)
    token, _ = service.issue(ALICE)
    clock.advance(59.999)
    assert service.verify(token).username == "alice"
    clock.advance(0.001)
    with pytest.raises(AuthError, match="expired"):
        service.verify(token)


def test_expiry_follows_the_injected_clock_not_the_system_time() -> None:
    # Issued "a day ago" on the injected clock: valid for it, although pyjwt's own check
    # (system time) would call it expired.
    clock = ManualClock(time.time() - 86_400)
    service = make(clock, ttl=60)
    token, _ = service.issue(ALICE)
    assert service.verify(token).username == "alice"


def test_token_signed_with_another_secret_is_refused() -> None:
    clock = ManualClock(1_700_000_000.0)
    token, _ = TokenService("o" * 48, 3600, clock).issue(ALICE)
    with pytest.raises(AuthError, match="invalid token"):
        make(clock).verify(token)


def test_unsigned_alg_none_token_is_refused() -> None:
    clock = ManualClock(1_700_000_000.0)
    good, _ = make(clock).issue(ALICE)
    payload = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode({**payload, "role": "admin"}, key=None, algorithm="none")
    with pytest.raises(AuthError):
        make(clock).verify(forged)


def test_token_without_a_required_claim_is_refused() -> None:
    clock = ManualClock(1_700_000_000.0)
    payload = {"iss": "forexbot", "aud": "forexbot-api", "sub": "7", "username": "alice"}
    payload |= {"role": "viewer", "iat": 1_700_000_000, "exp": 1_700_003_600}  # no jti
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="jti"):
        make(clock).verify(token)


def test_token_with_an_unknown_role_is_refused() -> None:
    clock = ManualClock(1_700_000_000.0)
    payload = {"iss": "forexbot", "aud": "forexbot-api", "sub": "7", "username": "alice"}
    payload |= {"role": "root", "iat": 1_700_000_000, "exp": 1_700_003_600, "jti": "x"}
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="malformed claims"):
        make(clock).verify(token)


def test_token_issued_in_the_future_is_refused() -> None:
    issuer_clock = ManualClock(1_700_000_100.0)
    token, _ = make(issuer_clock).issue(ALICE)
    with pytest.raises(AuthError, match="future"):
        make(ManualClock(1_700_000_000.0)).verify(token)


def test_garbage_is_refused() -> None:
    with pytest.raises(AuthError):
        make(ManualClock(0.0)).verify("not.a.jwt")


def test_user_with_unknown_role_gets_no_token() -> None:
    with pytest.raises(ValueError, match="superuser"):
        make(ManualClock(0.0)).issue(User(id=1, username="x", role="superuser"))


def test_secret_shorter_than_32_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        TokenService("short", 3600, ManualClock(0.0))


def test_repr_does_not_show_the_secret() -> None:
    assert SECRET not in repr(make(ManualClock(0.0)))
