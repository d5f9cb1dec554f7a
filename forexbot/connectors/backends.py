"""Choosing the terminal backend from the configuration.

One function, :func:`open_terminal`, turns ``terminal.*`` settings into a
:class:`~forexbot.connectors.terminal_api.TerminalApi`, the clock the daemon runs on, and the
arguments of ``initialize()``:

* ``simulator``: the simulated terminal with its paper account in ``<data-dir>/sim/``, on an
  accelerated clock when ``sim_speed`` ≠ 1 or ``sim_start`` is set (resuming where the account
  stopped, so time never runs backwards for it);
* ``native``: the ``MetaTrader5`` module — on Linux a clear error pointing to the bridge;
* ``bridge``: ``forexbot bridge-server`` (or an mt5linux classic server) over rpyc.

Native and bridge run on the wall clock; their account password and the bridge secret come
from the environment (``FOREXBOT_MT5_PASSWORD``, ``FOREXBOT_BRIDGE_SECRET``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forexbot.clock import AcceleratedClock, Clock, RealtimeClock
from forexbot.config.models import TerminalSettings
from forexbot.connectors.bridge.client import create_bridge_terminal
from forexbot.connectors.mt5sim.faults import Faults
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.connectors.native import load_native_terminal
from forexbot.connectors.terminal_api import TerminalApi
from forexbot.errors import ConfigError

DEFAULT_SIM_SEED = 20240101
PASSWORD_ENV = "FOREXBOT_MT5_PASSWORD"
BRIDGE_SECRET_ENV = "FOREXBOT_BRIDGE_SECRET"
SIM_SEED_ENV = "FOREXBOT_SIM_SEED"


@dataclass(frozen=True, slots=True)
class OpenedTerminal:
    """A terminal, the clock that goes with it, and how to ``initialize()`` it."""

    terminal: TerminalApi
    clock: Clock
    initialize_kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def simulator_clock(speed: float, resume_at: float | None, start: float | None = None) -> Clock:
    """The simulated terminal's clock: from ``start`` (``terminal.sim_start``) when given,
    else from now — or from where the paper account stopped, when that is later (an
    accelerated account runs ahead of real time; a paper account's time never runs back).
    The wall clock itself when nothing moves it off real time."""
    origin = time.time() if start is None else start
    if speed == 1.0 and start is None and (resume_at is None or resume_at <= origin):
        return RealtimeClock()
    return AcceleratedClock(start=max(origin, resume_at or origin), speed=speed)


def open_terminal(
    settings: TerminalSettings, data_dir: Path, environ: Mapping[str, str]
) -> OpenedTerminal:
    """Build the configured backend (no I/O beyond reading the paper account's file)."""
    if settings.backend == "simulator":
        return _simulator(settings, data_dir, environ)
    if settings.sim_speed != 1.0:
        raise ConfigError(
            f"terminal.sim_speed = {settings.sim_speed:g} is only for the simulator; "
            f"a {settings.backend} terminal runs in real time"
        )
    if settings.sim_start is not None:
        raise ConfigError(
            f"terminal.sim_start = {settings.sim_start.isoformat()} is only for the simulator; "
            f"a {settings.backend} terminal runs on the wall clock"
        )
    kwargs = _account_kwargs(settings, environ)
    if settings.backend == "native":
        return OpenedTerminal(load_native_terminal(), RealtimeClock(), kwargs, "native")
    secret = environ.get(BRIDGE_SECRET_ENV) or None
    if settings.bridge_classic and secret:
        raise ConfigError(
            f"terminal.bridge_classic: an mt5linux classic server cannot check a secret; "
            f"unset {BRIDGE_SECRET_ENV} or use `forexbot bridge-server`"
        )
    terminal = create_bridge_terminal(
        settings.bridge_host,
        settings.bridge_port,
        secret,
        timeout=settings.call_timeout_seconds,
        classic=settings.bridge_classic,
    )
    where = f"bridge {settings.bridge_host}:{settings.bridge_port}"
    return OpenedTerminal(terminal, RealtimeClock(), kwargs, where)


def _simulator(
    settings: TerminalSettings, data_dir: Path, environ: Mapping[str, str]
) -> OpenedTerminal:
    state = data_dir / "sim" / "account.json"
    state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = settings.sim_seed
    if seed is None:
        raw = environ.get(SIM_SEED_ENV, "").strip()
        try:
            seed = int(raw) if raw else DEFAULT_SIM_SEED
        except ValueError:
            raise ConfigError(f"{SIM_SEED_ENV}={raw!r} is not an integer") from None
    start = None if settings.sim_start is None else settings.sim_start.timestamp()
    clock = simulator_clock(
        settings.sim_speed, SimulatedTerminal.saved_clock_time(state), start=start
    )
    terminal = SimulatedTerminal(
        seed=seed,
        clock=clock,
        balance=settings.sim_balance,
        leverage=settings.sim_leverage,
        currency=settings.sim_currency,
        hedging=settings.sim_hedging,
        state_path=state,
        faults=Faults(
            requote_probability=settings.sim_faults.requote_probability,
            reject_probability=settings.sim_faults.reject_probability,
            order_reply_delay_seconds=settings.sim_faults.order_reply_delay_seconds,
            seed=settings.sim_faults.seed,
        ),
    )
    return OpenedTerminal(terminal, clock, {}, "simulator")


def _account_kwargs(settings: TerminalSettings, environ: Mapping[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.path:
        kwargs["path"] = settings.path
    if settings.login is not None:
        kwargs["login"] = settings.login
        password = environ.get(PASSWORD_ENV)
        if not password:
            raise ConfigError(f"terminal.login is set: the password must be in {PASSWORD_ENV}")
        kwargs["password"] = password
    if settings.server:
        kwargs["server"] = settings.server
    kwargs["timeout"] = int(settings.call_timeout_seconds * 1000)
    return kwargs
