"""Bar times in server time become UTC as ``from_server_array`` converts them, computed once
per server hour from where the hour changes (the bars are in time order)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from forexbot.backtest.prices import utc_of_ordered
from forexbot.connectors.mt5sim.timeutil import from_server_array, to_server_array


def _server_minutes(first: datetime, days: int) -> np.ndarray:
    utc = int(first.timestamp()) + np.arange(days * 1_440, dtype=np.int64) * 60
    return to_server_array(utc)


def test_minutes_across_both_dst_switches_convert_as_from_server_array() -> None:
    # November's switch repeats a server hour: those minutes are not in order, but each
    # hour's still follow each other.
    for first in (datetime(2024, 3, 8, tzinfo=UTC), datetime(2024, 10, 31, tzinfo=UTC)):
        server = _server_minutes(first, 5)
        assert utc_of_ordered(server).tolist() == from_server_array(server).tolist()


def test_every_minute_of_three_years_converts_as_from_server_array() -> None:
    server = _server_minutes(datetime(2021, 1, 1, tzinfo=UTC), 3 * 365)
    assert utc_of_ordered(server).tolist() == from_server_array(server).tolist()


def test_sparse_ordered_times_over_years_convert_as_from_server_array() -> None:
    rng = np.random.default_rng(2)
    server = np.unique(rng.integers(1_500_000_000, 1_800_000_000, 20_000)).astype(np.int64)
    assert utc_of_ordered(server).tolist() == from_server_array(server).tolist()


def test_no_times_give_no_times() -> None:
    assert utc_of_ordered(np.zeros(0, dtype=np.int64)).tolist() == []
