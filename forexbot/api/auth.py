"""Who may call what: bearer-token authentication and per-route role requirements.

Rules:

* **Authenticated by default.** Every route requires a valid access token unless its handler
  is marked :func:`public`; forgetting a decorator therefore fails closed.
* The token comes from ``Authorization: Bearer <jwt>``; an API key (``fxb_…``) may come there
  or in ``X-API-Key``. Only handlers marked
  :func:`allow_query_token` (the WebSocket endpoints, because browsers cannot set headers on a
  WebSocket) also accept ``?token=``; REST routes refuse it, so tokens do not end up in URLs,
  proxies' logs and browser history.
* A missing, invalid or expired token is 401 with ``WWW-Authenticate: Bearer``, decided before
  the handler runs (so before a WebSocket upgrade). A token whose role is not among those the
  route allows (:func:`requires_role`) is 403.
* Unknown routes and wrong methods are answered 404/405 without asking for a token.
* **The admin allow-list** (``api.admin_networks``) guards every admin power, from one rule:
  a route only admins may use (:func:`requires_role` ``(Role.ADMIN)``) answers 403 to any
  address outside it, whatever the token, before its handler runs; a route any role may use
  but that does more for an admin (reset *another* user's password, list *everyone's* API
  keys...) declares those powers with :func:`admin_powers`, and the handler calls
  :func:`use_admin_power` at the exact point it uses one, which refuses a non-admin (the
  handler's own refusal) and an admin outside the allow-list (403). Using an undeclared power
  is a bug and fails closed (500), so the declarations the OpenAPI document exports
  (``x-admin-powers``, ``x-admin-networks``) cannot miss one.
* Routes marked :func:`session_only` (users, API keys, passwords, settings, restart) refuse API
  keys with 403 ``session_required``: a key is for scripts reading or trading, and a leaked
  one must not be able to create admins, take over one-time codes or mint more keys.
* The verified :class:`~forexbot.api.tokens.Claims` are available to the handler through
  :func:`claims_of`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from forexbot.api.errors import ApiError, unauthenticated
from forexbot.api.roles import Role
from forexbot.api.sessions import RevokedSessions
from forexbot.api.tokens import Claims, TokenService
from forexbot.database.api_keys import KEY_MARK, KeyIdentity
from forexbot.errors import AuthError

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

CLAIMS_KEY = web.RequestKey("forexbot_claims", Claims)
#: Whether the request comes from inside ``api.admin_networks`` (always, without a list).
ADMIN_ADDRESS_KEY = web.RequestKey("forexbot_admin_address", bool)
OUTSIDE_ADMIN_NETWORKS = "admin endpoints are not reachable from this address"
_POLICY_ATTR = "__forexbot_auth_policy__"


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """A route's access rule. ``roles`` ``None`` means any authenticated user;
    ``admin_powers`` names what the handler does more for an admin (:func:`admin_powers`)."""

    public: bool = False
    roles: frozenset[Role] | None = None
    query_token: bool = False
    session_only: bool = False
    admin_powers: tuple[str, ...] = ()

    @property
    def admin_only(self) -> bool:
        """Only admins may call the route at all."""
        return self.roles == frozenset({Role.ADMIN})

    @property
    def behind_admin_networks(self) -> bool:
        """``api.admin_networks`` guards the route: all of it when admin-only, else each of
        its admin powers at the point of use."""
        return self.admin_only or bool(self.admin_powers)


def policy_of(handler: Callable[..., Any]) -> AuthPolicy:
    """The policy declared on ``handler``; the default requires authentication."""
    policy = getattr(handler, _POLICY_ATTR, None)
    return policy if isinstance(policy, AuthPolicy) else AuthPolicy()


def _with_policy(handler: H, **changes: Any) -> H:
    policy = dataclasses.replace(policy_of(handler), **changes)
    # Bound methods read attributes from their function, so decorating a method works too.
    setattr(handler, _POLICY_ATTR, policy)
    return handler


def public(handler: H) -> H:
    """Mark a handler as callable without a token (health, login)."""
    return _with_policy(handler, public=True)


def requires_role(*roles: Role) -> Callable[[H], H]:
    """Allow only tokens whose role is one of ``roles`` (others get 403)."""
    if not roles:
        raise ValueError("requires_role needs at least one role")
    allowed = frozenset(roles)

    def decorate(handler: H) -> H:
        return _with_policy(handler, roles=allowed)

    return decorate


def session_only(handler: H) -> H:
    """Refuse API keys (403): the route manages accounts, credentials or the daemon itself,
    so a leaked script key must not be able to mint admins, codes or keys."""
    return _with_policy(handler, session_only=True)


def admin_powers(*powers: str) -> Callable[[H], H]:
    """Declare what more the handler does for an admin than for others, in words
    ("reset another user's password"). Each is used through :func:`use_admin_power` with the
    same words; the OpenAPI document lists them (``x-admin-powers``)."""
    if not powers or len(set(powers)) != len(powers):
        raise ValueError("admin_powers needs distinct powers")

    def decorate(handler: H) -> H:
        return _with_policy(handler, admin_powers=tuple(powers))

    return decorate


def use_admin_power(request: web.Request, power: str, *, refusal: ApiError) -> None:
    """Let the handler use its declared admin ``power`` now, or raise.

    A caller who is not an admin gets ``refusal`` (the handler's own answer: a 403, or a 404
    where existence must not leak); an admin outside ``api.admin_networks`` gets 403. A power
    the handler did not declare with :func:`admin_powers` raises ``RuntimeError`` (a 500):
    an undeclared power would be missing from the document and the allow-list tests.
    """
    if power not in policy_of(request.match_info.handler).admin_powers:
        raise RuntimeError(f"admin power {power!r} is not declared on this handler")
    if claims_of(request).role is not Role.ADMIN:
        raise refusal
    if not request.get(ADMIN_ADDRESS_KEY, False):
        raise ApiError(403, "forbidden", OUTSIDE_ADMIN_NETWORKS, details={"admin_power": power})


def allow_query_token(handler: H) -> H:
    """Also accept the token as ``?token=`` (WebSocket endpoints only)."""
    return _with_policy(handler, query_token=True)


def claims_of(request: web.Request) -> Claims:
    """The verified claims of the request's token (authenticated routes only)."""
    return request[CLAIMS_KEY]


def _bearer_token(request: web.Request, policy: AuthPolicy) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("the Authorization header must be 'Bearer <token>'")
        return token.strip()
    if policy.query_token:
        return request.query.get("token") or None
    return None


class KeyVerifier(Protocol):
    """Checks an API key (``forexbot.database.api_keys.ApiKeyRepository``)."""

    async def verify(self, key: str) -> KeyIdentity | None: ...


def auth_middleware(
    tokens: TokenService,
    sessions: RevokedSessions | None = None,
    api_keys: KeyVerifier | None = None,
    *,
    admin_networks: tuple[str, ...] = (),
) -> Middleware:
    """The middleware enforcing each route's :class:`AuthPolicy` with ``tokens``; an access
    token of a session in ``sessions`` (ended by logout or a reused refresh token) is 401.
    With ``api_keys``, an API key (``fxb_…``, as the bearer token or in ``X-API-Key``) is
    accepted too, acting with its role. With ``admin_networks`` (CIDRs), a route only admins
    may use answers 403 to any other source address, and :func:`use_admin_power` refuses
    admin powers there (the request carries :data:`ADMIN_ADDRESS_KEY`)."""
    networks = [ipaddress.ip_network(n, strict=False) for n in admin_networks]

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None:
            return await handler(request)  # 404/405: nothing to protect
        policy = policy_of(match.handler)
        if policy.public:
            return await handler(request)
        token = request.headers.get("X-API-Key") or _bearer_token(request, policy)
        if token is None:
            raise unauthenticated("authentication required")
        if api_keys is not None and token.startswith(KEY_MARK):
            claims = await _key_claims(api_keys, token, tokens)
        else:
            try:
                claims = tokens.verify(token)
            except AuthError as exc:
                raise unauthenticated(str(exc), invalid_token=True) from None
        if (
            claims.family is not None
            and sessions is not None
            and sessions.is_revoked(claims.family)
        ):
            raise unauthenticated("the session has ended: log in again", invalid_token=True)
        request[CLAIMS_KEY] = claims  # who it was, also for the audit of a refusal
        inside = not networks or _within(request.remote, networks)
        request[ADMIN_ADDRESS_KEY] = inside
        if policy.admin_only and not inside:
            raise ApiError(403, "forbidden", OUTSIDE_ADMIN_NETWORKS)
        if policy.roles is not None and claims.role not in policy.roles:
            raise ApiError(
                403,
                "forbidden",
                f"role {claims.role.value!r} may not use this endpoint",
                details={"allowed_roles": sorted(role.value for role in policy.roles)},
            )
        if policy.session_only and claims.api_key is not None:
            raise ApiError(
                403, "session_required", "this endpoint needs a login session, not an API key"
            )
        return await handler(request)

    return authenticate


def _within(address: str | None, networks: list[Any]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


async def _key_claims(api_keys: KeyVerifier, key: str, tokens: TokenService) -> Claims:
    identity = await api_keys.verify(key)
    if identity is None:
        raise unauthenticated("invalid API key", invalid_token=True)
    now = int(tokens.now())
    return Claims(
        sub=str(identity.user_id),
        username=identity.username,
        role=Role(identity.role),
        exp=now + 60,
        iat=now,
        jti=f"key-{identity.key_id}",
        api_key=identity.key_id,
    )
