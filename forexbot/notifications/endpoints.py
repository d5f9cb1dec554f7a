"""What a browser's PushSubscription must look like to be stored.

Rules:

* The endpoint is an ``https`` URL: a push carries trade data (encrypted, but its timing and
  size tell something) and a VAPID token, neither of which goes over plain HTTP.
* Its host is a push service's: the browsers' own (:data:`BROWSER_PUSH_HOSTS`, a host or any
  subdomain of one) or one the operator added (``notifications.push_hosts``). Any signed-in
  user may subscribe, and the daemon POSTs to the endpoint: without this rule a user could make
  it send requests to the VPS's private network or loopback services (a Prometheus or
  Alertmanager ``/-/quit``), an SSRF. The host is matched by name, so DNS cannot steer it.
* A loopback host over plain ``http`` (``127.0.0.1``, ``::1``, ``localhost``) is allowed only
  when ``notifications.allow_loopback_push`` is on: a push service run by a test on the same
  machine. It is off by default.
* ``p256dh`` is the browser's P-256 public key, base64url, 65 bytes uncompressed (``0x04``
  first); ``auth`` its 16-byte authentication secret, base64url. Anything else could not be
  encrypted for, so it is refused when subscribing rather than failing at every push.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

#: Characters that URL parsers read differently (``\\`` is a path separator to some, part of
#: the user name to others): such an endpoint could pass the check for one host and reach
#: another.
_UNSAFE = frozenset('\\^`{}|<>"')
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_ENDPOINT_LENGTH = 2048
#: The push services of Chrome/Android (FCM), Firefox (autopush), Safari (Apple) and Edge
#: (WNS): what a browser's ``PushSubscription.endpoint`` points at.
BROWSER_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """Which push endpoints the daemon may post to (see the module docstring)."""

    push_hosts: tuple[str, ...] = BROWSER_PUSH_HOSTS
    allow_loopback: bool = False

    def check(self, url: str) -> str:
        """``url`` when it is a push endpoint we may post to; :class:`ValueError` saying why
        not."""
        if len(url) > MAX_ENDPOINT_LENGTH:
            raise ValueError(f"the endpoint is longer than {MAX_ENDPOINT_LENGTH} characters")
        if any(c in _UNSAFE or c.isspace() or not c.isprintable() for c in url):
            raise ValueError("the endpoint holds characters a URL must not (spaces, \\, control)")
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        if not host or parts.scheme not in ("https", "http"):
            raise ValueError("the endpoint must be an absolute https URL")
        if "@" in parts.netloc:
            raise ValueError("the endpoint must not carry a user name or password")
        try:  # what the HTTP client will connect to must be what was checked
            sent_to = (parse_url(url).host or "").rstrip(".").lower().strip("[]")
            port = parts.port
        except (LocationParseError, ValueError):
            raise ValueError("the endpoint is not a valid URL") from None
        if sent_to != host:
            raise ValueError("the endpoint's host is ambiguous")
        if host in LOOPBACK_HOSTS and self.allow_loopback:
            return url
        if parts.scheme != "https":
            raise ValueError("the endpoint must be an https URL")
        if not any(host == h or host.endswith("." + h) for h in self.push_hosts):
            raise ValueError(
                f"{host} is not a known push service (notifications.push_hosts lists them)"
            )
        if port not in (None, 443):
            raise ValueError("a push service listens on port 443")
        return url


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
