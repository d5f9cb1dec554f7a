"""``/api/notifications``: Web Push alerts — the key to subscribe with, the caller's devices,
and which alerts the caller wants.

Rules:

* Every signed-in user (any role) manages their own devices and preferences, and only theirs:
  another user's subscription is 404, as if it did not exist.
* ``GET /api/notifications/vapid-key`` answers ``{"public_key"}``: the application server key
  (base64url) to pass to ``PushManager.subscribe({applicationServerKey, userVisibleOnly})``.
* ``POST /api/notifications/subscriptions`` takes the browser's ``PushSubscription.toJSON()``
  (``{"endpoint", "expirationTime", "keys": {"p256dh", "auth"}}``) and an optional ``device``
  label; 201 with the stored subscription. The endpoint must be https (http only on a loopback
  host, for tests: :mod:`forexbot.notifications.endpoints`); subscribing the same endpoint again
  replaces it (it may change owner: the browser's last signed-in user gets its alerts).
* ``GET`` lists the caller's subscriptions; ``DELETE .../{id}`` removes one of them.
* ``GET /api/notifications/preferences`` lists every alert type with the caller's level
  (``on``/``silent``/``off``), its default and what it means; ``PUT`` sets some of them
  (``{"preferences": {"fill": "silent", ...}}``) and answers as ``GET``.
* Subscribing and unsubscribing are audited (``push_subscribed``, ``push_unsubscribed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of
from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import NotificationPort, SystemLogStore
from forexbot.api.responses import json_response
from forexbot.api.schemas import Id
from forexbot.api.validation import read_json
from forexbot.notifications.alerts import DEFAULTS, DESCRIPTIONS, AlertLevel, AlertType
from forexbot.notifications.endpoints import check_auth, check_p256dh

Level = Literal["on", "silent", "off"]


class SubscriptionKeys(BaseModel):
    """The browser's keys for this subscription (base64url)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    p256dh: Annotated[str, Field(max_length=200), AfterValidator(check_p256dh)]
    auth: Annotated[str, Field(max_length=100), AfterValidator(check_auth)]


class SubscriptionRequest(BaseModel):
    """The body of ``POST /api/notifications/subscriptions``: ``PushSubscription.toJSON()``
    plus an optional device label."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Which hosts are allowed is the daemon's setting (notifications.push_hosts): the
    # notifier checks it when storing, and the route answers 422 on this field.
    endpoint: str = Field(min_length=1, max_length=2048)
    keys: SubscriptionKeys
    expirationTime: float | None = None  # noqa: N815 - the browser's own field name
    device: str | None = Field(default=None, min_length=1, max_length=100)


class Subscription(BaseModel):
    """A stored push subscription (its keys are not shown)."""

    id: int
    endpoint: str
    device: str | None
    created_at: datetime


class SubscriptionList(BaseModel):
    """The caller's push subscriptions, oldest first."""

    items: list[Subscription]


class VapidKeyAnswer(BaseModel):
    """The application server key, base64url (65-byte uncompressed P-256 point)."""

    public_key: str


class Preference(BaseModel):
    """One alert type: the caller's level, the default and what the type means."""

    type: AlertType
    level: Level
    default: Level
    description: str


class PreferenceList(BaseModel):
    """Every alert type, in a fixed order."""

    items: list[Preference]


class PreferencesRequest(BaseModel):
    """The body of ``PUT /api/notifications/preferences``: levels to set, by alert type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preferences: dict[AlertType, Level] = Field(min_length=1)


def _preference_list(levels: dict[AlertType, AlertLevel]) -> dict[str, object]:
    return {
        "items": [
            {
                "type": t.value,
                "level": levels[t].value,
                "default": DEFAULTS[t].value,
                "description": DESCRIPTIONS[t],
            }
            for t in AlertType
        ]
    }


class NotificationRoutes:
    """The push alert endpoints (see the module docstring)."""

    def __init__(self, notifier: NotificationPort, system_logs: SystemLogStore) -> None:
        self._notifier = notifier
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/notifications/vapid-key", self.vapid_key),
            web.get("/api/notifications/subscriptions", self.list_subscriptions),
            web.post("/api/notifications/subscriptions", self.subscribe),
            web.delete("/api/notifications/subscriptions/{subscription_id}", self.unsubscribe),
            web.get("/api/notifications/preferences", self.get_preferences),
            web.put("/api/notifications/preferences", self.put_preferences),
        ]

    @operation(
        "The VAPID public key to subscribe with",
        tag="notifications",
        responses={200: VapidKeyAnswer},
    )
    async def vapid_key(self, request: web.Request) -> web.Response:
        return json_response({"public_key": self._notifier.vapid_public_key})

    @operation(
        "List your push subscriptions", tag="notifications", responses={200: SubscriptionList}
    )
    async def list_subscriptions(self, request: web.Request) -> web.Response:
        devices = await self._notifier.devices(claims_of(request).user_id)
        return json_response({"items": [d.to_api() for d in devices]})

    @operation(
        "Subscribe this device to push alerts",
        tag="notifications",
        body=SubscriptionRequest,
        responses={201: Subscription},
        errors={409: "You already have the most devices allowed; remove one first."},
    )
    async def subscribe(self, request: web.Request) -> web.Response:
        body = await read_json(request, SubscriptionRequest)
        try:
            stored = await self._notifier.add_device(
                claims_of(request).user_id,
                body.endpoint,
                body.keys.p256dh,
                body.keys.auth,
                body.device,
            )
        except ValueError as exc:  # the endpoint is not an allowed push service
            raise ApiError(
                422,
                "validation_error",
                f"invalid request body (endpoint: {exc})",
                details=[{"field": "endpoint", "message": str(exc), "type": "value_error"}],
            ) from None
        await audit(
            self._audit,
            request,
            "push_subscribed",
            f"push subscription {stored.id} added",
            {"subscription_id": stored.id, "device": stored.device},
        )
        return json_response(stored.to_api(), status=201)

    @operation(
        "Remove one of your push subscriptions",
        tag="notifications",
        responses={200: Subscription},
        errors={404: "No such subscription of yours."},
        path={"subscription_id": Id},
    )
    async def unsubscribe(self, request: web.Request) -> web.Response:
        user_id = claims_of(request).user_id
        raw = request.match_info["subscription_id"]
        wanted = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 else 0
        found = next((d for d in await self._notifier.devices(user_id) if d.id == wanted), None)
        if found is None or not await self._notifier.remove_device(user_id, found.id):
            raise ApiError(404, "not_found", f"push subscription {raw!r} does not exist")
        await audit(
            self._audit,
            request,
            "push_unsubscribed",
            f"push subscription {found.id} removed",
            {"subscription_id": found.id},
        )
        return json_response(found.to_api())

    @operation(
        "Your alert preferences, per alert type",
        tag="notifications",
        responses={200: PreferenceList},
    )
    async def get_preferences(self, request: web.Request) -> web.Response:
        levels = await self._notifier.preferences(claims_of(request).user_id)
        return json_response(_preference_list(levels))

    @operation(
        "Set some of your alert preferences",
        tag="notifications",
        body=PreferencesRequest,
        responses={200: PreferenceList},
    )
    async def put_preferences(self, request: web.Request) -> web.Response:
        body = await read_json(request, PreferencesRequest)
        changes = {t: AlertLevel(level) for t, level in body.preferences.items()}
        levels = await self._notifier.set_preferences(claims_of(request).user_id, changes)
        return json_response(_preference_list(levels))
