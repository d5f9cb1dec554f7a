"""Rate limiting: a token bucket per client, 429 with ``Retry-After`` when it is empty.

Rules:

* Every request draws one token from its client's bucket; a bucket holds at most ``burst``
  tokens and refills at ``rate`` per second. An empty bucket answers 429 ``rate_limited``
  with ``Retry-After``: the whole seconds until a token is back.
* Two buckets apply: one per source IP address (before authentication, so floods of bad
  tokens and logins are limited too) and one per authenticated user (so one client cannot
  starve the others behind a shared proxy address, and a stolen token cannot hammer the API).
* Login attempts have a bucket of their own per IP, much smaller: guessing passwords is slowed
  down before the account lock-out even starts counting.
* Buckets are kept in memory (one process); idle full buckets are forgotten.
* Times come from the injected wall clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from forexbot.api.auth import CLAIMS_KEY
from forexbot.api.errors import ApiError
from forexbot.clock import Clock

#: Buckets kept before idle full ones are swept.
SWEEP_AFTER = 10_000


@dataclass(frozen=True, slots=True)
class Limit:
    """``rate`` tokens per second, at most ``burst`` at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, got {self}")


class TokenBuckets:
    """One token bucket per key (see the module docstring)."""

    def __init__(self, limit: Limit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when granted, else the seconds until one is back."""
        now = self._clock.time()
        tokens, at = self._buckets.get(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > SWEEP_AFTER:
                self._sweep(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.limit.rate

    def _sweep(self, now: float) -> None:
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.limit.rate >= self.limit.burst
        ]
        for key in full:
            del self._buckets[key]


def too_many(wait: float, what: str) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        "rate_limited",
        f"too many {what}: try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def ip_limit_middleware(buckets: TokenBuckets) -> Middleware:
    """Per source address, before authentication."""

    @web.middleware
    async def limit_ip(request: web.Request, handler: Handler) -> web.StreamResponse:
        _draw(buckets, f"ip:{request.remote}", "requests from this address")
        return await handler(request)

    return limit_ip


def user_limit_middleware(buckets: TokenBuckets) -> Middleware:
    """Per authenticated user, after authentication (public routes are not counted)."""

    @web.middleware
    async def limit_user(request: web.Request, handler: Handler) -> web.StreamResponse:
        claims = request.get(CLAIMS_KEY)
        if claims is not None:
            _draw(buckets, f"user:{claims.sub}", "requests for this user")
        return await handler(request)

    return limit_user


def _draw(buckets: TokenBuckets, key: str, what: str) -> None:
    """Take ``key``'s token, or refuse the request with 429 naming ``what`` is limited."""
    wait = buckets.take(key)
    if wait:
        raise too_many(wait, what)


def login_limit(per_minute: float) -> Limit:
    """Login attempts per address: ``per_minute``, with a burst of one minute's."""
    return Limit(per_minute / 60.0, max(1, int(per_minute)))


@dataclass(frozen=True, slots=True)
class RateLimiters:
    """The running token buckets, whose limits ``PUT /api/system/settings`` changes live
    (buckets keep their tokens; refill rate and cap change)."""

    per_ip: TokenBuckets
    per_user: TokenBuckets
    login_attempts: TokenBuckets

    def set_limits(
        self,
        *,
        ip_rate_per_second: float,
        ip_burst: int,
        user_rate_per_second: float,
        user_burst: int,
        login_attempts_per_minute: float,
    ) -> None:
        self.per_ip.limit = Limit(ip_rate_per_second, ip_burst)
        self.per_user.limit = Limit(user_rate_per_second, user_burst)
        self.login_attempts.limit = login_limit(login_attempts_per_minute)
