"""The VAPID key pair (RFC 8292) that identifies this daemon to push services.

Rules: the private key is made on first start and kept in ``<data_dir>/vapid_private_key.pem``
under the rules of :mod:`forexbot.secret_files` (0600, created exclusively, a file readable by
others refused). Browsers subscribe with the public key (the "application server key"), so
replacing the file invalidates every subscription: keep it with the data directory's backups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid, Vapid02, b64urlencode

from forexbot.errors import ConfigError
from forexbot.secret_files import load_or_create

FILE_NAME = "vapid_private_key.pem"


@dataclass(frozen=True, slots=True)
class VapidKey:
    """The signing key and its public half as browsers take it (base64url, no padding, of the
    65-byte uncompressed P-256 point)."""

    signer: Vapid02
    public_key: str


def _generate() -> str:
    fresh = Vapid()
    fresh.generate_keys()
    return str(fresh.private_pem().decode("ascii")).strip()


def vapid_key_from_pem(pem: str) -> VapidKey:
    """The key of a PEM PKCS#8 private key; :class:`ConfigError` when it is not one."""
    try:
        signer = Vapid.from_pem(pem.encode("ascii"))
    except Exception as exc:  # py_vapid raises bare Exceptions for bad keys
        raise ConfigError(f"the VAPID private key is unreadable: {exc}") from None
    raw = signer.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKey(signer, str(b64urlencode(raw)))


def load_or_create_vapid_key(data_dir: Path) -> VapidKey:
    """The VAPID key of ``data_dir`` (created when missing)."""
    path = data_dir / FILE_NAME
    return vapid_key_from_pem(load_or_create(path, _generate, "the VAPID private key"))


SUBJECT_ENV_VAR = "FOREXBOT_VAPID_SUBJECT"
DEFAULT_SUBJECT = "mailto:forexbot@localhost"


def vapid_subject(environ: Mapping[str, str]) -> str:
    """The VAPID ``sub`` claim: how a push service reaches the operator
    (``FOREXBOT_VAPID_SUBJECT``, a ``mailto:`` or ``https:`` URL; some push services refuse
    the default's ``localhost``, so set it on a server that pushes to iPhones)."""
    subject = environ.get(SUBJECT_ENV_VAR, DEFAULT_SUBJECT).strip()
    if not subject.startswith(("mailto:", "https://")):
        raise ConfigError(f"{SUBJECT_ENV_VAR} must be a mailto: or https:// URL, got {subject!r}")
    return subject
