"""Where the JWT signing secret comes from.

Rules:

* ``FOREXBOT_JWT_SECRET`` wins when set; it must be at least 32 characters, otherwise start-up
  stops with a :class:`~forexbot.errors.ConfigError` (a short HS256 key can be brute-forced).
* Otherwise the secret lives in ``<data_dir>/jwt_secret``. On first start it is generated
  (``secrets.token_urlsafe(48)``, 64 characters) and written to a file created with
  ``O_CREAT | O_EXCL`` and mode 0600, so it is never readable by others, not even for an
  instant, and two processes cannot both create it. Later starts reuse it, so tokens survive a
  restart.
* An existing file readable or writable by group or others is refused with a message that
  says how to fix it: the secret may already have leaked, and silently tightening the mode
  would hide that. Symbolic links are not followed (:mod:`forexbot.secret_files`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from forexbot.api.tokens import MIN_SECRET_LENGTH
from forexbot.errors import ConfigError
from forexbot.secret_files import load_or_create

ENV_VAR = "FOREXBOT_JWT_SECRET"
FILE_NAME = "jwt_secret"


def load_or_create_jwt_secret(data_dir: Path, environ: Mapping[str, str]) -> str:
    """The JWT secret from ``environ`` or ``data_dir/jwt_secret`` (created when missing)."""
    from_env = environ.get(ENV_VAR)
    if from_env is not None:
        if len(from_env) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{ENV_VAR} is too short: {len(from_env)} characters, at least "
                f"{MIN_SECRET_LENGTH} are required (e.g. python -c "
                f"'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return from_env
    path = data_dir / FILE_NAME
    secret = load_or_create(path, lambda: secrets.token_urlsafe(48), "the JWT secret")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"the JWT secret file {path} holds {len(secret)} characters, at least "
            f"{MIN_SECRET_LENGTH} are required; delete it to generate a new secret"
        )
    return secret


PREVIOUS_ENV_VAR = "FOREXBOT_JWT_PREVIOUS_SECRETS"


def previous_jwt_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Secrets rotated out but still accepted (comma-separated in
    ``FOREXBOT_JWT_PREVIOUS_SECRETS``): set it to the old secret when changing
    ``FOREXBOT_JWT_SECRET``, and clear it once the old access tokens have expired."""
    secrets_ = tuple(s.strip() for s in environ.get(PREVIOUS_ENV_VAR, "").split(",") if s.strip())
    short = [s for s in secrets_ if len(s) < MIN_SECRET_LENGTH]
    if short:
        raise ConfigError(
            f"{PREVIOUS_ENV_VAR} holds a secret of {len(short[0])} characters; at least "
            f"{MIN_SECRET_LENGTH} are required"
        )
    return secrets_
