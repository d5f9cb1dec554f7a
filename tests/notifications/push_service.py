"""A push service on 127.0.0.1 for tests, and a browser's side of a subscription.

:class:`Browser` holds what a real browser keeps secret (the P-256 private key and the auth
secret) and decrypts a push as RFC 8291 says (aes128gcm, through http_ece), so a test proves
the payload, not just that a request was made. :class:`PushService` records every request and
answers with :attr:`PushService.status`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from multidict import CIMultiDict

from forexbot.notifications.endpoints import EndpointPolicy

#: The daemon's rule for endpoints with this test push service allowed (it listens on
#: 127.0.0.1 over plain http, which the default refuses).
LOCAL_PUSH = EndpointPolicy(allow_loopback=True)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's push keys."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        """The JSON payload of an aes128gcm push (RFC 8291), decrypted with this browser's keys."""
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        payload: dict[str, Any] = json.loads(plain)
        return payload


@dataclass(frozen=True)
class Received:
    """One push as the service received it."""

    path: str
    headers: CIMultiDict[str]
    body: bytes

    def vapid_claims(self, public_key: str) -> dict[str, Any]:
        """The VAPID JWT's claims, its signature checked against ``public_key`` (base64url
        point) and its ``k=`` parameter required to be that key (RFC 8292)."""
        scheme, _, params = self.headers["Authorization"].partition(" ")
        assert scheme == "vapid"
        fields = dict(p.strip().split("=", 1) for p in params.split(","))
        assert fields["k"] == public_key
        point = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(public_key)
        )
        claims: dict[str, Any] = jwt.decode(
            fields["t"], key=point, algorithms=["ES256"], options={"verify_aud": False}
        )
        return claims


@dataclass
class PushService:
    """Records pushes; answers each with ``status``."""

    base_url: str = ""
    status: int = 201
    #: With a 3xx ``status``: where the answer sends the client (its ``Location``).
    location: str | None = None
    received: list[Received] = field(default_factory=list)

    def endpoint(self, name: str) -> str:
        return f"{self.base_url}/push/{name}"

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received(request.path, CIMultiDict(request.headers), await request.read())
        )
        headers = {"Location": self.location} if self.location else None
        return web.Response(status=self.status, headers=headers)


@asynccontextmanager
async def running_push_service() -> AsyncIterator[PushService]:
    """A :class:`PushService` listening on 127.0.0.1 (a free port) until the block ends."""
    service = PushService()
    app = web.Application()
    app.router.add_post("/push/{name}", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    service.base_url = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()
