"""Saving and loading the paper account, atomically.

A broker keeps the account when the terminal restarts; so does the simulator when given a
``state_path``. The file is JSON with a ``version`` field, written with
:func:`forexbot.durable_file.write_durably`, so a crash leaves either the old or the new
state, never a torn file.
"""

from __future__ import annotations

import pathlib

import orjson

from forexbot.durable_file import write_durably

from .account import AccountState
from .errors import SimulatorStateError


def save_state(state: AccountState, path: pathlib.Path) -> None:
    """Write ``state`` to ``path`` atomically."""
    payload = orjson.dumps(state.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    write_durably(path, payload)


def load_state(path: pathlib.Path) -> AccountState:
    """Read a state file written by :func:`save_state`."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SimulatorStateError(f"cannot read paper-account state {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SimulatorStateError(f"paper-account state {path} is not a JSON object")
    return AccountState.from_dict(data)
