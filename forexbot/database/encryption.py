"""Sensitive fields encrypted at rest: a TOTP secret (and, later, an MT5 password) is stored
sealed, so a copy of the database or of a backup does not hand them out.

Rules:

* Fields are sealed with Fernet (AES-128-CBC with an HMAC-SHA256, a timestamp and a random
  IV: the same value never seals twice the same way), under the **data key**.
* The data key is ``FOREXBOT_DATA_KEY`` when set (a Fernet key: 32 bytes, URL-safe base64),
  else the file ``<data-dir>/data_key``, generated once, mode 0600
  (:mod:`forexbot.secret_files`). Back it up with the database: without it the sealed fields
  are lost (users re-enrol their one-time codes).
* A data key that is not a Fernet key is a :class:`~forexbot.errors.ConfigError`. A sealed
  value that does not open under the key (a changed key, a tampered row) is a
  :class:`~forexbot.errors.SealedFieldError` naming the cause, never a silent wrong value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from forexbot.errors import ConfigError, SealedFieldError
from forexbot.secret_files import load_or_create

ENV_VAR = "FOREXBOT_DATA_KEY"
FILE_NAME = "data_key"
PREFIX = "fernet:"


def load_or_create_data_key(data_dir: Path, environ: Mapping[str, str]) -> str:
    """The data key from ``environ`` or ``data_dir/data_key`` (created when missing)."""
    key = environ.get(ENV_VAR) or load_or_create(
        data_dir / FILE_NAME, lambda: Fernet.generate_key().decode(), "the data key"
    )
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(
            f"the data key ({ENV_VAR} or {data_dir / FILE_NAME}) is not a Fernet key: 32 bytes "
            "in URL-safe base64"
        ) from None
    return key


class Sealer:
    """Seals and opens sensitive text with the data key."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def __repr__(self) -> str:
        return "Sealer()"  # never the key

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(PREFIX):
            raise SealedFieldError("a sealed field has no known format")
        try:
            return self._fernet.decrypt(sealed[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealedFieldError(
                "a sealed field does not open with the data key (was the key changed?)"
            ) from None
