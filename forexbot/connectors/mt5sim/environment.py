"""The module-level terminal's configuration, from environment variables.

``import forexbot.connectors.mt5sim as mt5`` in a script has no constructor to pass
arguments to, so the terminal the first ``mt5.initialize()`` creates reads:

* ``FOREXBOT_SIM_SEED``: the price-history seed (default 20240101): two processes with the
  same seed see the same history.
* ``FOREXBOT_SIM_STATE``: a paper-account file. When set, the account is saved there and the
  next process finds it again (positions, orders, history), like a demo account at a broker.
  Unset: a fresh in-memory account per process.
* ``FOREXBOT_SIM_START``: run the clock from this UTC time (ISO-8601, e.g.
  ``2024-03-07T10:00:00Z``, or epoch seconds) at real speed, instead of the wall clock; with a
  saved account that stopped later, the clock resumes there (time never runs backwards).
  Scripts are then reproducible and independent of weekends.
* ``FOREXBOT_SIM_SPEED``: with ``FOREXBOT_SIM_START``, how many times faster than real time
  the clock runs (default 1).
* ``FOREXBOT_SIM_REPLAY``: MT5 CSV exports to replay, ``SYMBOL=path`` entries separated by
  ``;`` (repeat a symbol for several files), e.g. ``EURUSD=/data/EURUSD_M1_2024.csv``; see
  :mod:`.replay`.

A bad value makes ``initialize()`` fail with ``(-10003, 'IPC initialize failed, ...')``
naming the variable.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from datetime import UTC, datetime

from forexbot.clock import AcceleratedClock, Clock

from .errors import SimulatorError
from .terminal import DEFAULT_SEED, SimulatedTerminal

SEED_ENV = "FOREXBOT_SIM_SEED"
STATE_ENV = "FOREXBOT_SIM_STATE"
START_ENV = "FOREXBOT_SIM_START"
SPEED_ENV = "FOREXBOT_SIM_SPEED"
REPLAY_ENV = "FOREXBOT_SIM_REPLAY"


def _seed(environ: Mapping[str, str]) -> int:
    raw = environ.get(SEED_ENV, "")
    try:
        return int(raw) if raw.strip() else DEFAULT_SEED
    except ValueError:
        raise SimulatorError(f"{SEED_ENV}={raw!r} is not an integer") from None


def _start(raw: str) -> float:
    text = raw.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SimulatorError(f"{START_ENV}={raw!r} is not an ISO-8601 time or epoch") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _speed(environ: Mapping[str, str]) -> float:
    raw = environ.get(SPEED_ENV, "").strip()
    try:
        speed = float(raw) if raw else 1.0
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise SimulatorError(f"{SPEED_ENV}={raw!r} is not a positive number")
    return speed


def _replay(environ: Mapping[str, str]) -> dict[str, list[pathlib.Path]]:
    files: dict[str, list[pathlib.Path]] = {}
    for entry in environ.get(REPLAY_ENV, "").split(";"):
        if not entry.strip():
            continue
        symbol, sep, path = entry.partition("=")
        if not sep or not symbol.strip() or not path.strip():
            raise SimulatorError(f"{REPLAY_ENV}: {entry!r} is not SYMBOL=path")
        files.setdefault(symbol.strip(), []).append(pathlib.Path(path.strip()).expanduser())
    return files


def terminal_from_environment(environ: Mapping[str, str]) -> SimulatedTerminal:
    """The module's default terminal (a USD hedging demo account, 10,000, 1:100)."""
    seed = _seed(environ)
    state = environ.get(STATE_ENV, "").strip()
    state_path = pathlib.Path(state).expanduser() if state else None
    clock: Clock | None = None
    if environ.get(START_ENV, "").strip():
        start = _start(environ[START_ENV])
        saved = SimulatedTerminal.saved_clock_time(state_path) if state_path else None
        clock = AcceleratedClock(max(start, saved or start), _speed(environ))
    replay = _replay(environ)
    return SimulatedTerminal(seed=seed, clock=clock, state_path=state_path, replay=replay or None)
