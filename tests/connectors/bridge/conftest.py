"""Fixtures for the bridge tests: real bridge servers in subprocesses (see bridge_testkit).

Every process started is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bridge_testkit import BridgeProcess


@pytest.fixture
def bridge_factory(tmp_path: Path) -> Iterator[Callable[..., BridgeProcess]]:
    """``bridge_factory(secret=None, ...)``: a started :class:`BridgeProcess`."""
    started: list[BridgeProcess] = []

    def make(**kwargs: object) -> BridgeProcess:
        server = BridgeProcess(tmp_path / f"bridge{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shared_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """One server for a whole test module, for tests that do not change its account."""
    server = BridgeProcess(tmp_path_factory.mktemp("shared-bridge"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bridge(bridge_factory: Callable[..., BridgeProcess]) -> BridgeProcess:
    """A bridge server without a secret, serving a fresh simulated account."""
    return bridge_factory()
