"""One daemon per data directory, and the API's port taken before anything trades."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forexbot.api.listen import bind_listeners, close_all
from forexbot.daemon.instance_lock import LOCK_FILE, DataDirLock
from forexbot.errors import InstanceLockedError, ListenError


def test_a_second_lock_on_the_same_data_directory_is_refused_naming_the_holder(
    tmp_path: Path,
) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(InstanceLockedError) as refused:
            DataDirLock(tmp_path).acquire()
        assert str(refused.value) == (
            f"the data directory {tmp_path} is in use by another forexbot "
            f"(pid {os.getpid()}): one daemon per data directory"
        )
    finally:
        first.release()


def test_a_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    first.release()
    again = DataDirLock(tmp_path)
    again.acquire()
    try:
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(InstanceLockedError):  # held again: the next one is refused
            DataDirLock(tmp_path).acquire()
    finally:
        again.release()


def test_the_lock_does_not_outlive_a_sigkilled_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from forexbot.daemon.instance_lock import DataDirLock\n"
            "DataDirLock(pathlib.Path(sys.argv[1])).acquire()\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(InstanceLockedError, match=f"pid {holder.pid}"):
            DataDirLock(tmp_path).acquire()
        holder.kill()
        holder.wait(10)
        lock = DataDirLock(tmp_path)
        lock.acquire()
        assert (tmp_path / LOCK_FILE).read_text().strip() != str(holder.pid)
        lock.release()
    finally:
        holder.kill()
        holder.wait(10)


def test_listeners_take_every_address_of_the_host_on_one_port() -> None:
    sockets = bind_listeners("localhost", 0)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        families = {s.family for s in sockets}
        assert len(ports) == 1
        assert socket.AF_INET in families
    finally:
        close_all(sockets)


def test_listeners_accept_connections_before_the_server_serves() -> None:
    (sock,) = bind_listeners("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            # Queued in the backlog: taken when the server gets round to accepting.
            sock.settimeout(2)
            served, peer = sock.accept()
            served.close()
            assert peer == client.getsockname()
    finally:
        close_all([sock])


def test_a_port_in_use_is_one_clear_listen_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ListenError) as refused:
            bind_listeners("127.0.0.1", port)
        assert str(refused.value) == (
            f"the API cannot listen on 127.0.0.1:{port}: Address already in use; another "
            "program (or another forexbot) listens there: stop it or set api.port"
        )
    finally:
        taken.close()


def test_an_unresolvable_host_is_a_listen_error_naming_it() -> None:
    with pytest.raises(ListenError, match=r"api\.host 'no-such-host\.invalid' cannot be resolved"):
        bind_listeners("no-such-host.invalid", 0)


def test_a_restarted_daemon_listens_again_while_old_connections_linger() -> None:
    (first,) = bind_listeners("127.0.0.1", 0)
    port = first.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    served, _ = first.accept()
    served.close()  # the server closes first: its side lingers in TIME_WAIT
    client.close()
    first.close()
    time.sleep(0.05)
    (again,) = bind_listeners("127.0.0.1", port)
    try:
        assert again.getsockname() == ("127.0.0.1", port)
    finally:
        close_all([again])
