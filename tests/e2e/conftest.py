"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_kit import Seeds, scratch_dir


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory outside pytest's ``tmp_path``: as root, the embedded PostgreSQL runs
    as the ``pgserver`` user, and pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 whenever
    another session starts, which would lock the server out of its own files.

    ``FOREXBOT_KEEP_E2E=1`` keeps it (the daemon's log and data) for a post-mortem."""
    path = scratch_dir()
    yield path
    if not os.environ.get("FOREXBOT_KEEP_E2E"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def seeds() -> Iterator[Seeds]:
    """Data directories with users in them, made once and copied for each daemon
    (:class:`daemon_kit.Seeds`)."""
    path = scratch_dir()
    yield Seeds(path)
    shutil.rmtree(path, ignore_errors=True)
