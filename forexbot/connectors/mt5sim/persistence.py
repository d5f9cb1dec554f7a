"""Saving and loading the paper account, atomically.

A broker keeps the account when the terminal restarts; so does the simulator when given a
``state_path``. The file is JSON with a ``version`` field. Writes go to a temporary file in
the same directory, are fsynced, then ``os.replace``d over the old file (and the directory
fsynced), so a crash leaves either the old or the new state, never a torn file.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile

import orjson

from .account import AccountState
from .errors import SimulatorStateError


def save_state(state: AccountState, path: pathlib.Path) -> None:
    """Write ``state`` to ``path`` atomically."""
    payload = orjson.dumps(state.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state(path: pathlib.Path) -> AccountState:
    """Read a state file written by :func:`save_state`."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SimulatorStateError(f"cannot read paper-account state {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SimulatorStateError(f"paper-account state {path} is not a JSON object")
    return AccountState.from_dict(data)
