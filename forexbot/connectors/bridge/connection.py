"""Opening the rpyc connection of a bridge client, the same way for both kinds of server.

Both clients (:class:`~.client.BridgeTerminal` for ``forexbot bridge-server`` and
:class:`~.classic.ClassicBridgeTerminal` for an mt5linux server) treat the server as untrusted,
so they connect alike: the TCP connect waits :data:`CONNECT_TIMEOUT` seconds at most (less when
the call timeout is shorter) and makes one attempt, the client serves rpyc's ``VoidService``
under :data:`CLIENT_CONFIG` (the server may not touch anything of ours), and every call is
bounded by the terminal's ``timeout``.
"""

from __future__ import annotations

from typing import Any

import rpyc
from rpyc.core.stream import SocketStream

CONNECT_TIMEOUT = 3.0

#: rpyc configuration of the client side: the server may not touch anything of ours.
CLIENT_CONFIG: dict[str, Any] = {
    "allow_public_attrs": False,
    "allow_all_attrs": False,
    "allow_pickle": False,
    "allow_setattr": False,
    "allow_delattr": False,
    "import_custom_exceptions": False,
    "instantiate_custom_exceptions": False,
    "include_local_traceback": False,
}


def connect(host: str, port: int, timeout: float) -> Any:
    """An rpyc connection to ``host:port`` whose calls wait ``timeout`` seconds at most.

    Raises the transport's error when the server cannot be reached (see
    :meth:`~.remote.RemoteTerminal._connect` for how each is reported).
    """
    stream = SocketStream.connect(
        host,
        port,
        timeout=min(CONNECT_TIMEOUT, timeout),
        attempts=1,
        nodelay=True,
        keepalive=True,
        ipv6=":" in host,
    )
    config = dict(CLIENT_CONFIG, sync_request_timeout=timeout)
    return rpyc.utils.factory.connect_stream(stream, rpyc.VoidService, config)
