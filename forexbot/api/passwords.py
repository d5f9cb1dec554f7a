"""Password hashing with Argon2id (argon2-cffi, RFC 9106 parameters).

Rules:

* Only hashes are stored; the encoded hash carries its own salt and parameters, so raising the
  cost later needs no migration (:func:`needs_rehash` tells when a stored hash is outdated).
* :func:`verify_password` answers ``True``/``False`` and never raises for a wrong password or a
  malformed stored hash: a corrupt row must look like a failed login, not a 500.
* Verification compares in constant time (Argon2's own verification); the cost of a
  verification is the same for every password, which the login route relies on to avoid
  being a timing oracle (it verifies against a dummy hash when the user does not exist).

Hashing takes tens of milliseconds of CPU on purpose: callers on the event loop run these
functions in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def _hasher() -> PasswordHasher:
    # Built per call rather than kept as a module global: it only stores parameters, and
    # building it costs nothing next to an Argon2 computation.
    return PasswordHasher()


def hash_password(password: str) -> str:
    """The encoded Argon2id hash of ``password`` (``$argon2id$v=19$m=...``), with a fresh salt."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; ``False`` for a malformed hash too."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than today's (or is unreadable)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
