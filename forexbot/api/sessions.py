"""Ended sessions: access tokens of a logged-out (or stolen) session stop working at once.

Access tokens are stateless JWTs, valid until they expire. Each carries its session — the
refresh-token family started at login (``fam``). When a session ends (logout, a reused
refresh token, a password change), its family is recorded here and the authentication
middleware refuses its access tokens, although their signature and expiry are fine. An entry
is kept for the access tokens' lifetime (they expire by then); the API loads the families
revoked within that time at start-up, so a restart does not revive them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from forexbot.clock import Clock


class RevokedSessions:
    """The families whose access tokens are refused (see the module docstring)."""

    def __init__(self, clock: Clock, keep_seconds: float) -> None:
        self._clock = clock
        self._keep = keep_seconds
        self._ended: dict[str, float] = {}
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, on_revoke: Callable[[str], None]) -> None:
        """Call ``on_revoke(family)`` whenever a session ends here (open WebSockets close)."""
        self._listeners.append(on_revoke)

    def revoke(self, family: str) -> None:
        self._ended[family] = self._clock.time()
        self._prune()
        for on_revoke in self._listeners:
            on_revoke(family)

    def load(self, families: Mapping[str, datetime]) -> None:
        for family, when in families.items():
            self._ended[family] = max(self._ended.get(family, 0.0), when.timestamp())
        self._prune()

    def is_revoked(self, family: str) -> bool:
        return family in self._ended

    def _prune(self) -> None:
        horizon = self._clock.time() - self._keep
        for family in [f for f, when in self._ended.items() if when < horizon]:
            del self._ended[family]
