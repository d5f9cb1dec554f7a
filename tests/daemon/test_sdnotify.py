"""Specification of :class:`forexbot.daemon.sdnotify.SystemdNotifier` against a real unix socket."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from forexbot.daemon.sdnotify import SystemdNotifier


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd, bound in a short temporary directory
    (unix socket paths are limited to ~107 bytes, pytest's tmp_path can be longer)."""
    with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
        path = str(Path(directory) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(2.0)
        try:
            yield sock, path
        finally:
            sock.close()


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def nothing_pending(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(2.0)
    return False


def test_ready_sends_ready_1(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})

    assert notifier.ready() is True
    assert received(sock) == "READY=1"
    assert nothing_pending(sock)


def test_ready_with_status_sends_both_lines(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener

    assert SystemdNotifier({"NOTIFY_SOCKET": path}).ready("trading 5 symbols") is True
    assert received(sock) == "READY=1\nSTATUS=trading 5 symbols"


def test_stopping_sends_stopping_1(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener

    assert SystemdNotifier({"NOTIFY_SOCKET": path}).stopping() is True
    assert received(sock) == "STOPPING=1"


def test_watchdog_sends_watchdog_1(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener

    assert SystemdNotifier({"NOTIFY_SOCKET": path}).watchdog() is True
    assert received(sock) == "WATCHDOG=1"


def test_status_sends_the_text(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener

    assert SystemdNotifier({"NOTIFY_SOCKET": path}).status("reconnecting to the terminal")
    assert received(sock) == "STATUS=reconnecting to the terminal"


def test_each_message_is_its_own_datagram(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})

    notifier.ready()
    notifier.watchdog()
    notifier.stopping()

    assert [received(sock) for _ in range(3)] == ["READY=1", "WATCHDOG=1", "STOPPING=1"]


def test_abstract_socket_name_with_at_sign_works() -> None:
    name = f"forexbot-test-{os.getpid()}-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2.0)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})

        assert notifier.ready() is True
        assert received(sock) == "READY=1"


def test_without_notify_socket_the_notifier_is_disabled() -> None:
    notifier = SystemdNotifier({})

    assert notifier.enabled is False
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.watchdog_interval is None


def test_empty_notify_socket_means_disabled() -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": ""}).enabled is False


def test_missing_socket_path_returns_false_without_raising(tmp_path: Path) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "no-such-socket")})

    assert notifier.enabled is True
    assert notifier.ready() is False
    assert notifier.status("x") is False


def test_watchdog_interval_is_half_the_watchdog_period(
    listener: tuple[socket.socket, str],
) -> None:
    _, path = listener

    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})

    assert notifier.watchdog_interval == 15.0


@pytest.mark.parametrize("usec", ["", "0", "abc", "-5"])
def test_no_valid_watchdog_usec_means_no_watchdog(
    listener: tuple[socket.socket, str], usec: str
) -> None:
    _, path = listener

    assert SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": usec}).watchdog_interval is None


def test_watchdog_usec_without_notify_socket_means_no_watchdog() -> None:
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval is None


def test_a_reader_that_stopped_reading_never_blocks_the_sender(
    listener: tuple[socket.socket, str],
) -> None:
    """A full datagram queue (systemd stuck) makes sends fail fast instead of blocking."""
    _, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    results = [notifier.watchdog() for _ in range(500)]
    assert results[0] is True
    assert results[-1] is False
