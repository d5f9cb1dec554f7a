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
  would hide that. Symbolic links are not followed.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from forexbot.api.tokens import MIN_SECRET_LENGTH
from forexbot.errors import ConfigError

ENV_VAR = "FOREXBOT_JWT_SECRET"
FILE_NAME = "jwt_secret"
# Not every platform has O_NOFOLLOW (Windows); where it is missing, plain open semantics apply.
_O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)


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
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / FILE_NAME
    created = _create(path)
    return created if created is not None else _read(path)


def _create(path: Path) -> str | None:
    """Generate and write a new secret; ``None`` when the file already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
    except FileExistsError:
        return None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return secret


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
    except OSError as exc:
        raise ConfigError(f"cannot read the JWT secret file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "r", encoding="ascii", errors="replace") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the JWT secret file {path} has mode {stat.S_IMODE(mode):04o}: it must be "
                f"readable by its owner only. Fix with 'chmod 600 {path}', or delete it to "
                f"generate a new secret (existing tokens then become invalid)"
            )
        secret = handle.read().strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"the JWT secret file {path} holds {len(secret)} characters, at least "
            f"{MIN_SECRET_LENGTH} are required; delete it to generate a new secret"
        )
    return secret
