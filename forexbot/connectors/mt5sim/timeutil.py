"""Broker server time, timeframes and MetaTrader's date arguments.

MetaTrader returns every time as *broker server time encoded as if it were UTC*. The simulated
broker follows the most common retail convention, "New York close = 00:00": the server clock
is America/New_York + 7 h, i.e. UTC+2 in (US) winter and UTC+3 in (US) summer. A server day
therefore starts at 17:00 New York time, forex weeks run exactly Monday 00:00 to Saturday 00:00
server time and there are five D1 bars a week.

Date *arguments* (``copy_rates_from(..., date_from, ...)``) are compared with those server-time
epochs directly: an aware ``datetime`` becomes ``.timestamp()``, a naive one
``.timestamp()`` as Python computes it (in the machine's local zone, MetaTrader's well-known
pain point), an int or float is taken as is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import (
    TIMEFRAME_D1,
    TIMEFRAME_H1,
    TIMEFRAME_H2,
    TIMEFRAME_H3,
    TIMEFRAME_H4,
    TIMEFRAME_H6,
    TIMEFRAME_H8,
    TIMEFRAME_H12,
    TIMEFRAME_M1,
    TIMEFRAME_M2,
    TIMEFRAME_M3,
    TIMEFRAME_M4,
    TIMEFRAME_M5,
    TIMEFRAME_M6,
    TIMEFRAME_M10,
    TIMEFRAME_M12,
    TIMEFRAME_M15,
    TIMEFRAME_M20,
    TIMEFRAME_M30,
    TIMEFRAME_MN1,
    TIMEFRAME_W1,
)

DAY = 86_400
MINUTES_PER_DAY = 1_440
#: First server day with history (2000-01-01); earlier requests find no bars, like a broker.
HISTORY_START_DAY = 10_957

_NEW_YORK = ZoneInfo("America/New_York")
_SERVER_MINUS_NEW_YORK = 7 * 3600

#: Intraday timeframes (and D1) by their MetaTrader code: bar length in seconds. Every one
#: divides a day, so their bars never straddle a server midnight.
FIXED_TIMEFRAMES: dict[int, int] = {
    TIMEFRAME_M1: 60,
    TIMEFRAME_M2: 120,
    TIMEFRAME_M3: 180,
    TIMEFRAME_M4: 240,
    TIMEFRAME_M5: 300,
    TIMEFRAME_M6: 360,
    TIMEFRAME_M10: 600,
    TIMEFRAME_M12: 720,
    TIMEFRAME_M15: 900,
    TIMEFRAME_M20: 1200,
    TIMEFRAME_M30: 1800,
    TIMEFRAME_H1: 3600,
    TIMEFRAME_H2: 7200,
    TIMEFRAME_H3: 10800,
    TIMEFRAME_H4: 14400,
    TIMEFRAME_H6: 21600,
    TIMEFRAME_H8: 28800,
    TIMEFRAME_H12: 43200,
    TIMEFRAME_D1: DAY,
}
CALENDAR_TIMEFRAMES = frozenset({TIMEFRAME_W1, TIMEFRAME_MN1})


def is_valid_timeframe(timeframe: object) -> bool:
    """True for the 21 timeframes MetaTrader knows (an int, not a bool)."""
    return (
        isinstance(timeframe, int)
        and not isinstance(timeframe, bool)
        and (timeframe in FIXED_TIMEFRAMES or timeframe in CALENDAR_TIMEFRAMES)
    )


@lru_cache(maxsize=8192)
def _offset_for_hour(utc_hour: int) -> int:
    offset = datetime.fromtimestamp(utc_hour * 3600, tz=_NEW_YORK).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return int(offset.total_seconds()) + _SERVER_MINUS_NEW_YORK


def server_offset(utc_epoch: float) -> int:
    """Seconds to add to a UTC epoch to get the broker's server time (7200 or 10800).

    US DST switches at 02:00 local time, always on a whole UTC hour, so the offset is
    constant within a UTC hour and is cached per hour.
    """
    return _offset_for_hour(int(utc_epoch // 3600))


def from_server_seconds(server_epoch: float) -> float:
    """The UTC epoch whose server time is ``server_epoch`` (the later one in the repeated hour)."""
    utc = server_epoch - server_offset(server_epoch - 3 * 3600)
    return server_epoch - server_offset(utc)


def from_server_array(server_epochs: NDArray[np.int64]) -> NDArray[np.int64]:
    """:func:`from_server_seconds` for whole-second arrays (one lookup per hour)."""
    hours = server_epochs // 3600
    unique, inverse = np.unique(hours, return_inverse=True)
    shifts = np.array([int(h * 3600 - from_server_seconds(h * 3600)) for h in unique.tolist()])
    out: NDArray[np.int64] = server_epochs.astype(np.int64) - shifts.astype(np.int64)[inverse]
    return out


def to_server_array(utc_epochs: NDArray[np.int64]) -> NDArray[np.int64]:
    """UTC whole-second epochs as server time (one lookup per hour)."""
    hours = utc_epochs // 3600
    unique, inverse = np.unique(hours, return_inverse=True)
    shifts = np.array([server_offset(h * 3600) for h in unique.tolist()], dtype=np.int64)
    out: NDArray[np.int64] = utc_epochs.astype(np.int64) + shifts[inverse]
    return out


def to_server_msc(utc_epoch: float) -> int:
    """A UTC epoch (float seconds) as server-time epoch milliseconds."""
    return int((utc_epoch + server_offset(utc_epoch)) * 1000)


def date_argument(value: object) -> int | None:
    """MetaTrader's date argument as epoch seconds, or None when it is not a date.

    Bools are refused although they are ints, the way MetaTrader's argument parser refuses
    anything but ``datetime``/int.
    """
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


def weekday(day: int) -> int:
    """Monday = 0 … Sunday = 6 for a day index (days since 1970-01-01, a Thursday)."""
    return (day + 3) % 7


def week_start(day: int) -> int:
    """Day index of the Sunday that opens the W1 bar containing ``day`` (MetaTrader's W1)."""
    return day - (day + 4) % 7


def month_start(day: int) -> int:
    """Day index of the first day of the month containing ``day``."""
    date = datetime.fromtimestamp(day * DAY, tz=UTC)
    return int(datetime(date.year, date.month, 1, tzinfo=UTC).timestamp()) // DAY
