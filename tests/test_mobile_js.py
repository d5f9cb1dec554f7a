"""The phone app's own checks (``mobile/tests/``, Node's built-in test runner): formatting,
session handling, stream reconnects, the service worker's file list. Run inside the suite so
that a change to the app is checked by the same command as the daemon."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MOBILE = Path(__file__).resolve().parents[1] / "mobile"


def test_the_app_checks_pass_under_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Debian's nodejs runs the app's checks)")
    result = subprocess.run(
        [node, "--test", str(MOBILE / "tests")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout  # checks ran, not merely none failed
