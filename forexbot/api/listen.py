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
import ssl

from forexbot.errors import ConfigError, ListenError

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
    unavailable: OSError | None = None
    try:
        for family, kind, proto, _, address in infos:
            if (family, address[0]) in seen:
                continue
            seen.add((family, address[0]))
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:  # a family this kernel lacks (IPv6 disabled): as asyncio
                unavailable = exc
                continue
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address[0], port, *address[2:]))
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    raise
                sockets.remove(sock)  # an address this host does not have (no ::1)
                sock.close()
                unavailable = exc
                continue
            sock.listen(BACKLOG)
            port = port or int(sock.getsockname()[1])
        if not sockets:
            raise unavailable or OSError(errno.EADDRNOTAVAIL, "no address to listen on")
    except OSError as exc:
        close_all(sockets)
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


def tls_context(certificate: str | None, key: str | None) -> ssl.SSLContext | None:
    """The server's TLS context when a certificate and key are configured (TLS 1.2+); a
    certificate that cannot be loaded is a :class:`~forexbot.errors.ConfigError` (exit 2).
    The daemon loads it with its sockets, before anything can trade."""
    if certificate is None or key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certificate, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {certificate}: {exc}") from None
    return context
