"""The bridge's shared-secret check: an HMAC challenge-response, in both directions.

Why not just send the secret? The bridge speaks plain TCP; a secret sent as is can be read by
anyone on the path and replayed. Instead, per connection:

1. the server's ``hello()`` returns a fresh random 32-byte nonce;
2. the client picks its own nonce and sends ``HMAC-SHA256(secret, "client" | server nonce |
   client nonce)``; the server compares it with :func:`hmac.compare_digest` (constant time);
3. on success the server answers ``HMAC-SHA256(secret, "server" | ...)``, which the client
   checks too, so a client with a secret also knows it reached a server holding the secret.

Nothing here encrypts the calls that follow: across machines, tunnel the port (SSH,
WireGuard). A failed attempt costs the caller a delay and ends authentication on that
connection (one attempt per connection), which makes guessing slow.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NONCE_BYTES = 32
_CLIENT_LABEL = b"forexbot-bridge/1 client\x00"
_SERVER_LABEL = b"forexbot-bridge/1 server\x00"


def new_nonce() -> bytes:
    """A fresh random challenge."""
    return secrets.token_bytes(NONCE_BYTES)


def client_proof(secret: bytes, server_nonce: bytes, client_nonce: bytes) -> bytes:
    """What the client sends to prove it knows ``secret``."""
    return hmac.new(secret, _CLIENT_LABEL + server_nonce + client_nonce, hashlib.sha256).digest()


def server_proof(secret: bytes, server_nonce: bytes, client_nonce: bytes) -> bytes:
    """What the server answers to prove it knows ``secret`` too."""
    return hmac.new(secret, _SERVER_LABEL + server_nonce + client_nonce, hashlib.sha256).digest()


def valid_nonce(value: object) -> bool:
    """Whether ``value`` is an acceptable nonce (bytes of the expected length)."""
    return type(value) is bytes and len(value) == NONCE_BYTES


def matches(expected: bytes, given: object) -> bool:
    """Constant-time comparison of a proof that arrived over the wire."""
    return type(given) is bytes and hmac.compare_digest(expected, given)
