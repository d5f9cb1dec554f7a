"""The two pytz names MetaQuotes' examples use, for machines without pytz installed.

The doc-example test appends this directory to the *end* of ``sys.path``, so an installed
pytz always wins. ``pytz.timezone("Etc/UTC")`` as a ``tzinfo=`` argument behaves like the
standard library's ``ZoneInfo("Etc/UTC")`` (UTC has no LMT offset to get wrong).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

utc = UTC


def timezone(zone: str) -> tzinfo:
    return ZoneInfo(zone)
