"""An mt5linux-style rpyc *classic* server (SlaveService), for the classic client's tests.

Usage: ``python classic_server.py PORT_FILE``. It binds 127.0.0.1 on a free port, writes the
port to PORT_FILE once listening, and serves until killed. This is the unsafe kind of server
the bridge replaces; it exists here only to prove the compatibility client works.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer


def main() -> None:
    port_file = Path(sys.argv[1])
    server = ThreadedServer(SlaveService, hostname="127.0.0.1", port=0, reuse_addr=True)
    server._listen()  # bind + listen now, so the port can be published before serving
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(str(server.port))
    os.replace(tmp, port_file)
    server.start()


if __name__ == "__main__":
    main()
