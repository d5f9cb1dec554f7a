"""The API's listening sockets, taken before anything can trade.

A daemon that connects its terminal, reconciles and warms up its strategies and only then
finds its port taken has already done what it must not do twice. So the sockets are bound
and set listening first thing at start-up; the server is attached to them once the engine is
ready (until then a client's connection waits in the backlog). Any failure is one
:class:`~forexbot.errors.ListenError` naming the address and what to do (exit code 4).

Every address the host resolves to gets its own socket (``localhost`` is ``127.0.0.1`` and
``::1``), all on one port: with port 0 the first socket's port is reused for the others.
``SO_REUSEADDR`` lets a restarted daemon listen again while old connections linger in
``TIME_WAIT``; it does not let two daemons listen on one port.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from forexbot.errors import ListenError

BACKLOG = 128


def bind_listeners(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address of ``host`` at ``port`` (see the module rules)."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"api.host {host!r} cannot be resolved: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, str | int]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address[0]) in seen:
                continue
            seen.add((family, address[0]))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port, *address[2:]))
            sock.listen(BACKLOG)
            port = port or int(sock.getsockname()[1])
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(_explain(host, port, exc)) from None
    return sockets


def _explain(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        hint = "ports below 1024 need privileges: choose api.port ≥ 1024"
    elif exc.errno == errno.EADDRINUSE:
        hint = "another program (or another forexbot) listens there: stop it or set api.port"
    else:
        hint = "check api.host and api.port"
    return f"the API cannot listen on {where}: {reason}; {hint}"


def close_all(sockets: list[socket.socket]) -> None:
    """Close sockets the server never took over (a start that failed later)."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()
