"""What a person at the terminal is told once the daemon is ready.

Rules:

* The API's address is one a browser on this machine can open: ``https`` when the API serves
  TLS itself, the port actually bound (``api.port: 0`` picks one), an IPv6 address in brackets,
  and a wildcard listen address (``0.0.0.0``, ``::``, empty) shown as this machine's loopback
  (the API then answers on every address, which the greeting says).
* The API documents itself at ``/api/docs`` (:mod:`forexbot.api.routes.docs`); the phone app
  is at ``/app/`` (:mod:`forexbot.api.routes.app_shell`), announced only when its directory
  exists (a daemon installed without the source checkout has none unless ``api.app_dir``
  names one).
* Until the first user exists, the greeting says how to create one, as a command to copy:
  ``forexbot user create --username NAME --role admin``, with ``--data-dir`` whenever the daemon
  runs on a data directory other than the default one (chosen with ``--data-dir`` or
  ``FOREXBOT_DATA_DIR``, which another shell may not have). ``user create`` reads no other
  setting: its database is the data directory's, or ``DATABASE_URL``'s, which the command then
  needs as well.
* When watched markets are closed (the forex weekend), the readable lines say until when
  (:mod:`forexbot.daemon.market_hours` logs it as an event of its own).
* The same facts go into the structured ``forexbot ready`` event (:meth:`Greeting.fields`) and,
  on a console only, into a few readable lines (:meth:`Greeting.lines`).
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import structlog

from forexbot.api.routes.app_shell import APP_PATH
from forexbot.config.loader import resolve_data_dir
from forexbot.daemon.market_hours import MarketHours
from forexbot.errors import DatabaseError

_log = structlog.get_logger("forexbot.daemon.greeting")

#: Where the API serves its documentation page.
DOCS_PATH = "/api/docs"
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def api_url(host: str, port: int, *, tls: bool) -> str:
    """The address of the API listening on ``host``:``port`` (rules in the module docstring)."""
    shown = _WILDCARDS.get(host, host)
    try:
        if ipaddress.ip_address(shown).version == 6:
            shown = f"[{shown}]"
    except ValueError:
        pass  # a host name
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def first_user_command(data_dir: Path, default_data_dir: Path, *, database_url: bool) -> str:
    """The command that creates the first (admin) user of the daemon on ``data_dir``."""
    words = ["forexbot", "user", "create", "--username", "NAME", "--role", "admin"]
    if data_dir != default_data_dir:
        words += ["--data-dir", str(data_dir)]
    command = shlex.join(words)
    return f"DATABASE_URL=... {command}" if database_url else command


@dataclass(frozen=True, slots=True)
class Greeting:
    """Where the API is, where its documentation and the phone app (when ``app_served``)
    are, and (until a user exists) how to create the first user."""

    api: str
    first_user: str | None = None
    all_addresses: bool = False
    market: MarketHours | None = None
    app_served: bool = False

    @property
    def docs(self) -> str:
        return self.api + DOCS_PATH

    @property
    def app(self) -> str | None:
        return self.api + APP_PATH if self.app_served else None

    def fields(self) -> dict[str, str]:
        """The greeting as fields of the ``forexbot ready`` event."""
        fields = {"api": self.api, "docs": self.docs}
        if self.app is not None:
            fields["app"] = self.app
        if self.first_user is not None:
            fields["first_user"] = self.first_user
        return fields

    def lines(self) -> list[str]:
        """The greeting as lines for a person."""
        api = self.api + ("   (listening on every address)" if self.all_addresses else "")
        lines = ["", "  forexbot is ready", f"    API       {api}", f"    API docs  {self.docs}"]
        if self.app is not None:
            lines.append(f"    App       {self.app}")
        if self.market is not None and self.market.closed:
            lines.append(f"    {self.market.describe()}")
        if self.first_user is not None:
            lines += ["    no user yet: create the first one with", f"      {self.first_user}"]
        return [*lines, ""]

    def show(self, stream: TextIO | None) -> None:
        """Write :meth:`lines` to ``stream``, a console (nothing when ``None``: a JSON log)."""
        if stream is None:
            return
        stream.write("\n".join(self.lines()) + "\n")
        stream.flush()


class UserCount(Protocol):
    async def count(self) -> int: ...


async def count_users(users: UserCount) -> int | None:
    """How many users exist, or ``None`` when the database cannot say now: a hint is no
    reason to stop a daemon that is ready."""
    try:
        return await users.count()
    except DatabaseError as exc:
        _log.warning("users cannot be counted for the greeting", error=str(exc))
        return None


def greet(
    host: str,
    port: int,
    *,
    tls: bool,
    users: int | None,
    data_dir: Path,
    environ: Mapping[str, str],
    market: MarketHours | None = None,
    app_served: bool = False,
) -> Greeting:
    """The :class:`Greeting` of a daemon on ``data_dir`` whose API listens on
    ``host``:``port``, whose database holds ``users`` users (``None``: unknown, no hint),
    whose markets are in the state ``market`` and which serves the phone app when
    ``app_served``; ``environ`` is the daemon's."""
    first_user = None
    if users == 0:
        without_override = {k: v for k, v in environ.items() if k != "FOREXBOT_DATA_DIR"}
        first_user = first_user_command(
            data_dir,
            resolve_data_dir(None, without_override),
            database_url=bool(environ.get("DATABASE_URL")),
        )
    return Greeting(
        api_url(host, port, tls=tls),
        first_user,
        all_addresses=host in _WILDCARDS,
        market=market,
        app_served=app_served,
    )
