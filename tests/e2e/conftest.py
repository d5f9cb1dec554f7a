"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory outside pytest's ``tmp_path``: as root, the embedded PostgreSQL runs
    as the ``pgserver`` user, and pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 whenever
    another session starts, which would lock the server out of its own files.

    ``FOREXBOT_KEEP_E2E=1`` keeps it (the daemon's log and data) for a post-mortem."""
    path = Path(tempfile.mkdtemp(prefix="forexbot-e2e-"))
    path.chmod(0o755)
    yield path
    if not os.environ.get("FOREXBOT_KEEP_E2E"):
        shutil.rmtree(path, ignore_errors=True)
