"""User roles, as stored in ``users.role`` and carried in access tokens.

Three roles, from most to least powerful: ``admin`` manages users and configuration, ``trader``
may act on trading, ``viewer`` may only read. Which routes each may call is declared per route
with :func:`forexbot.api.auth.requires_role`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role."""

    ADMIN = "admin"
    TRADER = "trader"
    VIEWER = "viewer"
