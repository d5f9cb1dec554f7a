"""What a browser's PushSubscription must look like to be stored.

Rules:

* The endpoint is an ``https`` URL: a push carries trade data (encrypted, but its timing and
  size tell something) and a VAPID token, neither of which goes over plain HTTP. The one
  exception is a loopback host (``127.0.0.1``, ``::1``, ``localhost``), where ``http`` is
  allowed so a push service can run inside a test on this machine; no real push service
  listens there.
* ``p256dh`` is the browser's P-256 public key, base64url, 65 bytes uncompressed (``0x04``
  first); ``auth`` its 16-byte authentication secret, base64url. Anything else could not be
  encrypted for, so it is refused when subscribing rather than failing at every push.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_ENDPOINT_LENGTH = 2048


def check_endpoint(url: str) -> str:
    """``url`` when it is a push endpoint we may post to; :class:`ValueError` saying why not."""
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise ValueError(f"the endpoint is longer than {MAX_ENDPOINT_LENGTH} characters")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("the endpoint must be an absolute https URL")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url
    raise ValueError("the endpoint must be an https URL")


def _b64url(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def check_p256dh(value: str) -> str:
    """``value`` when it is an uncompressed P-256 public key, base64url."""
    raw = _b64url(value)
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError("p256dh must be a 65-byte uncompressed P-256 public key (base64url)")
    return value


def check_auth(value: str) -> str:
    """``value`` when it is a 16-byte authentication secret, base64url."""
    if len(_b64url(value)) != 16:
        raise ValueError("auth must be a 16-byte secret (base64url)")
    return value
