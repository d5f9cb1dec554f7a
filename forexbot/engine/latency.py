"""Latency samples of the order path, kept for ``/metrics`` and the benchmarks.

A bounded window of the most recent samples (seconds): percentiles describe the daemon as it
runs now, and memory stays constant however long it runs.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class LatencyWindow:
    """The last ``size`` samples of one latency, with their percentiles."""

    def __init__(self, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._samples: deque[float] = deque(maxlen=size)
        self.count = 0

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.count += 1

    def samples(self) -> list[float]:
        return list(self._samples)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100) of the window, ``None`` when it is empty."""
        if not self._samples:
            return None
        return float(np.percentile(np.fromiter(self._samples, dtype=float), q))
