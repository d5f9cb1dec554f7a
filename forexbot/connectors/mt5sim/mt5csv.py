"""Reading MetaTrader 5's CSV exports of bars and ticks.

What the terminal writes (Symbols window, "Bars"/"Ticks" tab, Export):

* **bars**: ``<DATE>\\t<TIME>\\t<OPEN>\\t<HIGH>\\t<LOW>\\t<CLOSE>\\t<TICKVOL>\\t<VOL>\\t<SPREAD>``,
  dates ``2024.01.02``, times ``00:00`` or ``00:00:00``; D1 and longer exports have no
  ``<TIME>`` column.
* **ticks**: ``<DATE>\\t<TIME>\\t<BID>\\t<ASK>\\t<LAST>\\t<VOLUME>\\t<FLAGS>``, times
  ``00:00:00.123``; a field is *empty* when that value did not change (a tick that moved only
  the ask has an empty ``<BID>``), so prices are carried forward from the previous tick.

The reader is liberal in what it accepts, because files reach it through spreadsheets and
scripts: tab, comma or semicolon separators (or runs of spaces), a header with or without the
angle brackets (or none: the layout is then told by the column count and the time format),
CRLF or LF line ends, UTF-8 (with or without BOM) or UTF-16 (with BOM, or LE without one),
dates ``YYYY.MM.DD``/``YYYY-MM-DD``/``YYYY/MM/DD``/``YYYYMMDD``, times with or without seconds
and milliseconds, MetaTrader 4's ``VOLUME``-only bars. Leading ticks before the first known
bid or ask take the first known value; a missing ``<FLAGS>`` column is derived from which
fields are present. Times are broker server time and are kept as they are.

A bars export exactly as the terminal writes it (the bracketed header, tabs, ``YYYY.MM.DD``,
``HH:MM:SS``, nothing else in a row) is parsed in one compiled pass over its bytes
(:mod:`~forexbot.connectors.mt5sim.mt5csv_jit`: a million M1 bars in ~0.1 s instead of half a
minute), or, for what that pass leaves (prices of 16 digits or more, volumes written ``12.0``,
a UTF-16 file), over whole columns with pandas (~0.8 s), to the same bars: anything neither
would read exactly as the row-by-row reader does goes row by row.

It is strict about content: a bad number, a row with the wrong number of fields, a bar whose
high is below its open, close or low, times out of order or repeated: each raises
:class:`ReplayDataError` naming the file and the line.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import os
import pathlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import (
    TICK_FLAG_ASK,
    TICK_FLAG_BID,
    TICK_FLAG_LAST,
    TICK_FLAG_VOLUME,
)

from .errors import SimulatorError
from .structures import RATES_DTYPE, TICKS_DTYPE

Kind = Literal["bars", "ticks"]

_DATE = re.compile(r"^(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$|^(\d{2})(\d{2})(\d{2})?$")
_NAMES = {
    "DATE": "date",
    "TIME": "time",
    "DATETIME": "datetime",
    "OPEN": "open",
    "HIGH": "high",
    "LOW": "low",
    "CLOSE": "close",
    "TICKVOL": "tick_volume",
    "TICKVOLUME": "tick_volume",
    "VOL": "real_volume",
    "REALVOLUME": "real_volume",
    "VOLUME": "volume",
    "SPREAD": "spread",
    "BID": "bid",
    "ASK": "ask",
    "LAST": "last",
    "FLAGS": "flags",
}
# Headerless layouts: value columns after the date (and time) columns, by count.
_HEADERLESS_BARS = {
    4: ("open", "high", "low", "close"),
    5: ("open", "high", "low", "close", "tick_volume"),  # MetaTrader 4
    6: ("open", "high", "low", "close", "tick_volume", "real_volume"),
    7: ("open", "high", "low", "close", "tick_volume", "real_volume", "spread"),
}
_HEADERLESS_TICKS = {
    2: ("bid", "ask"),
    3: ("bid", "ask", "last"),
    4: ("bid", "ask", "last", "volume"),
    5: ("bid", "ask", "last", "volume", "flags"),
}


class ReplayDataError(SimulatorError):
    """A replay file cannot be used; the message names the file and, when known, the line."""


@dataclass(frozen=True, slots=True)
class Export:
    """One parsed export: bars (RATES_DTYPE, in time order) or ticks (TICKS_DTYPE)."""

    path: pathlib.Path
    kind: Kind
    data: NDArray[np.void]


def decode(raw: bytes, path: pathlib.Path) -> str:
    """The file's text: UTF-16 by BOM (or LE by its NUL bytes), else UTF-8."""
    if raw.startswith(codecs.BOM_UTF16_LE):
        encoding, raw = "utf-16-le", raw[2:]
    elif raw.startswith(codecs.BOM_UTF16_BE):
        encoding, raw = "utf-16-be", raw[2:]
    elif raw.startswith(codecs.BOM_UTF8):
        encoding, raw = "utf-8", raw[3:]
    elif len(raw) >= 4 and raw[1] == 0 and raw[3] == 0 and raw[0] != 0:
        encoding = "utf-16-le"
    else:
        encoding = "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ReplayDataError(f"{path}: not UTF-8 or UTF-16 text ({exc})") from exc
    if "\x00" in text:
        raise ReplayDataError(f"{path}: binary data, not a CSV export")
    return text


@lru_cache(maxsize=65_536)
def _day_of(text: str) -> int | None:
    match = _DATE.match(text)
    if match is None:
        return None
    parts = [g for g in match.groups() if g is not None]
    try:
        date = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None
    return date.toordinal() - 719_163  # days since 1970-01-01


def _msc_of_time(text: str) -> int | None:
    match = _TIME.match(text)
    if match is None:
        return None
    g = match.groups()
    if g[0] is not None:
        hour, minute, second = int(g[0]), int(g[1]), int(g[2] or 0)
        millis = int((g[3] or "0").ljust(3, "0")[:3])
    else:
        hour, minute, second, millis = int(g[4]), int(g[5]), int(g[6] or 0), 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return ((hour * 60 + minute) * 60 + second) * 1000 + millis


class _Table:
    """Rows of one file, split, with their line numbers and column roles."""

    def __init__(self, path: pathlib.Path, text: str, kind: Kind | None) -> None:
        self.path = path
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not lines:
            raise ReplayDataError(f"{path}: empty file")
        first = lines[0][1]
        self.sep: str | None = next((s for s in ("\t", ";", ",") if s in first), None)
        head = self.split(first)
        if not head[0].strip().strip("<>")[:1].isdigit():
            self.columns = self._named(head, lines[0][0])
            self.rows = lines[1:]
        else:
            self.columns = self._headerless(head, kind)
            self.rows = lines
        if kind is None:
            kind = "ticks" if "bid" in self.columns else "bars"
        self.kind: Kind = kind
        self._check_columns()

    def split(self, line: str) -> list[str]:
        parts = line.split(self.sep) if self.sep else line.split()
        return [p.strip() for p in parts]

    def fail(self, line: int | None, reason: str) -> ReplayDataError:
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return ReplayDataError(f"{where}: {reason}")

    def _named(self, head: list[str], line: int) -> list[str]:
        names = [h.strip().strip("<>").upper().replace("_", "").replace(" ", "") for h in head]
        unknown = [h for h, n in zip(head, names, strict=True) if n not in _NAMES]
        if unknown:
            raise self.fail(line, f"unknown column {unknown[0]!r} in the header")
        columns = [_NAMES[n] for n in names]
        if "volume" in columns and "bid" not in columns:  # bars: MT4's VOLUME is tick volume
            other = "real_volume" if "tick_volume" in columns else "tick_volume"
            columns[columns.index("volume")] = other
        return columns

    def _headerless(self, head: list[str], kind: Kind | None) -> list[str]:
        has_time = len(head) > 1 and _msc_of_time(head[1]) is not None and ":" in head[1]
        stamp = ["date", "time"] if has_time else ["date"]
        values = len(head) - len(stamp)
        fractional = has_time and "." in head[1]
        if kind is None:
            kind = "ticks" if fractional or any(not h for h in head) else "bars"
        layouts = _HEADERLESS_TICKS if kind == "ticks" else _HEADERLESS_BARS
        if values not in layouts:
            raise self.fail(None, f"no header and {len(head)} columns: not an MT5 {kind} export")
        return stamp + list(layouts[values])

    def _check_columns(self) -> None:
        needed = ("bid", "ask") if self.kind == "ticks" else ("open", "high", "low", "close")
        if self.kind == "ticks" and "time" not in self.columns and "datetime" not in self.columns:
            needed = (*needed, "time")
        if "date" not in self.columns and "datetime" not in self.columns:
            needed = (*needed, "date")
        missing = [c for c in needed if c not in self.columns]
        if missing:
            raise self.fail(None, f"not an MT5 {self.kind} export: no <{missing[0].upper()}>")

    def stamp(self, fields: dict[str, str], line: int) -> int:
        """The row's server time in epoch milliseconds."""
        date_text = fields.get("date") or fields.get("datetime", "")
        time_text = fields.get("time", "")
        if " " in date_text and not time_text:
            date_text, time_text = date_text.split(None, 1)
        day = _day_of(date_text)
        if day is None:
            raise self.fail(line, f"bad date {date_text!r}")
        millis = _msc_of_time(time_text) if time_text else 0
        if millis is None:
            raise self.fail(line, f"bad time {time_text!r}")
        return day * 86_400_000 + millis

    def fields(self, line: int, text: str) -> dict[str, str]:
        parts = self.split(text)
        if len(parts) < len(self.columns) and self.kind == "ticks":
            parts += [""] * (len(self.columns) - len(parts))  # trailing empty fields
        if len(parts) != len(self.columns):
            raise self.fail(line, f"{len(parts)} fields, the header has {len(self.columns)}")
        return dict(zip(self.columns, parts, strict=True))

    def number(self, fields: dict[str, str], name: str, line: int) -> float | None:
        text = fields.get(name, "")
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise self.fail(line, f"<{name.upper()}> is not a number: {text!r}") from None


def read_export(path: str | os.PathLike[str], *, kind: Kind | None = None) -> Export:
    """Parse an MT5 bars or ticks export (``kind`` forces the layout of a headerless file)."""
    path = pathlib.Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReplayDataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if kind != "ticks":
        fast = _plain_bars(raw)
        if fast is not None:
            return Export(path, "bars", fast)
    table = _Table(path, decode(raw, path), kind)
    data = _bars(table) if table.kind == "bars" else _ticks(table)
    return Export(path, table.kind, data)


#: The header MetaTrader 5 writes on an intraday bars export.
_PLAIN_HEADER = b"<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
#: Every byte a plain bars export's rows may hold (no spaces, signs, letters or quotes).
_PLAIN_BYTES_CR = b"0123456789.:-\t\n\r"
#: Where a row's date and time characters are: ``YYYY.MM.DD\tHH:MM:SS\t``.
_STAMP_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_MARK_AT = np.array([4, 7, 10, 13, 16, 19])
_MARKS = np.array([ord("."), ord("."), 9, ord(":"), ord(":"), 9], dtype=np.uint8)
#: pandas before 3.1 parses floats with its own converter unless asked for Python's.
_PRECISION: Literal["round_trip"] | None = (
    "round_trip" if tuple(int(p) for p in re.findall(r"\d+", pd.__version__)[:2]) < (3, 1) else None
)


def _plain_bars(raw: bytes) -> NDArray[np.void] | None:
    """The bars of an export exactly as MetaTrader 5 writes one (the header above, tabs,
    ``YYYY.MM.DD``, ``HH:MM:SS``, one row a line), parsed over whole columns at once; ``None``
    for anything else, or anything :func:`_bars` would refuse, which then reads it row by row
    (and names the line at fault). What it returns is what :func:`_bars` returns: the numbers
    through a float parser that rounds correctly, as ``float()`` does, and the same checks."""
    compiled = _compiled_bars(raw)
    if compiled is not None:
        return compiled
    if not raw.isascii():
        try:
            text = decode(raw, pathlib.Path("-"))
        except ReplayDataError:
            return None
        if not text.isascii():
            return None
        raw = text.encode("ascii")
    buf = np.frombuffer(raw, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    if not len(newlines) or raw[: int(newlines[0])].rstrip(b"\r") != _PLAIN_HEADER:
        return None
    if raw[int(newlines[0]) + 1 :].translate(None, _PLAIN_BYTES_CR):
        return None
    returns = np.flatnonzero(buf == 13)
    if len(returns) and (returns[-1] + 1 >= len(buf) or np.any(buf[returns + 1] != 10)):
        return None  # a CR that does not end a line
    tail = raw[int(newlines[-1]) + 1 :]
    starts = newlines + 1
    ends = np.r_[newlines[1:], len(buf)]
    if tail.strip():
        ends[-1] = len(buf)
    else:  # the file ends with a line break
        starts, ends = starts[:-1], ends[:-1]
    ends = ends - (buf[np.maximum(ends - 1, 0)] == 13)
    if not len(starts) or np.any(ends - starts < 21):  # a blank line, a short row
        return None
    # Eight tabs a row: counted over the file and on the first row (which sets the columns
    # pandas expects); a row with more then leaves one with fewer, which pandas refuses.
    first_row = raw.count(b"\t", int(starts[0]), int(ends[0]))
    if first_row != 8 or raw.count(b"\t") != 8 * (len(starts) + 1):
        return None
    for at, mark in zip(_MARK_AT.tolist(), _MARKS.tolist(), strict=True):
        if np.any(buf[starts + at] != mark):
            return None
    digits = np.empty((len(starts), len(_STAMP_DIGITS)), dtype=np.int32)
    for k, at in enumerate(_STAMP_DIGITS.tolist()):
        column = buf[starts + at] - np.uint8(ord("0"))
        if np.any(column > 9):
            return None
        digits[:, k] = column
    d = digits
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
    clock = (d[:, 8] * 10 + d[:, 9]) * 3600 + (d[:, 10] * 10 + d[:, 11]) * 60
    clock += d[:, 12] * 10 + d[:, 13]
    late = (d[:, 8] * 10 + d[:, 9] > 23) | (d[:, 10] > 5) | (d[:, 12] > 5)
    if np.any((year < 1) | (month < 1) | (month > 12) | (day < 1) | late):
        return None
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day - 1)
    if np.any(days.astype("datetime64[M]") != months):  # the 31st of a 30-day month...
        return None
    seconds = days.astype(np.int64) * 86_400 + clock
    if np.any(seconds[1:] <= seconds[:-1]):
        return None
    body = raw[int(starts[0]) :]
    try:
        values = pd.read_csv(
            io.BytesIO(body),
            sep="\t",
            header=None,
            usecols=range(2, 9),
            dtype=np.float64,
            engine="c",
            na_filter=False,
            float_precision=_PRECISION,
        ).to_numpy()
    except (ValueError, pd.errors.ParserError):
        return None
    if values.shape != (len(starts), 7):
        return None
    o, h, lo, c = values[:, 0], values[:, 1], values[:, 2], values[:, 3]
    counts = values[:, 4:]
    with np.errstate(invalid="ignore"):
        sound = (lo > 0) & (lo <= np.minimum(o, c)) & (h >= np.maximum(o, c))
        whole = (counts >= 0) & (counts == np.floor(counts)) & (counts < 2.0**53)
    if not (sound.all() and whole.all() and np.all(counts[:, 2] < 2.0**31)):
        return None
    out = np.zeros(len(starts), dtype=RATES_DTYPE)
    out["time"] = seconds
    out["open"], out["high"], out["low"], out["close"] = o, h, lo, c
    out["tick_volume"] = counts[:, 0].astype(np.uint64)
    out["real_volume"] = counts[:, 1].astype(np.uint64)
    out["spread"] = counts[:, 2].astype(np.int32)
    return out


def _compiled_bars(raw: bytes) -> NDArray[np.void] | None:
    """The bars of an export in the strict subset of MetaTrader 5's format that
    :mod:`~forexbot.connectors.mt5sim.mt5csv_jit` parses in one pass; ``None`` otherwise."""
    for line_end in (b"\r\n", b"\n"):
        if raw.startswith(_PLAIN_HEADER + line_end):
            start = len(_PLAIN_HEADER) + len(line_end)
            break
    else:
        return None
    if start == len(raw):
        return None
    from . import mt5csv_jit  # noqa: PLC0415 - numba is imported for the first export only

    rows = raw.count(b"\n", start) + (not raw.endswith(b"\n"))
    out = np.zeros(rows, dtype=RATES_DTYPE)
    if mt5csv_jit.parse_rows(raw, start, out) != rows:
        return None
    return out


def _bars(table: _Table) -> NDArray[np.void]:
    rows = table.rows
    out = np.zeros(len(rows), dtype=RATES_DTYPE)
    previous = None
    for i, (line, text) in enumerate(rows):
        fields = table.fields(line, text)
        msc = table.stamp(fields, line)
        if msc % 1000:
            raise table.fail(line, "bar times have no milliseconds")
        if previous is not None and msc <= previous:
            order = "repeats the previous bar's time" if msc == previous else "is out of order"
            raise table.fail(line, f"bar time {fields.get('time', '')!r} {order}")
        previous = msc
        prices = [table.number(fields, name, line) for name in ("open", "high", "low", "close")]
        if any(p is None for p in prices):
            raise table.fail(line, "a bar needs <OPEN>, <HIGH>, <LOW> and <CLOSE>")
        o, h, lo, c = (float(p) for p in prices if p is not None)
        if not (lo > 0 and lo <= min(o, c) and h >= max(o, c)):
            raise table.fail(line, f"inconsistent bar: open {o} high {h} low {lo} close {c}")
        counts = [table.number(fields, n, line) for n in ("tick_volume", "real_volume", "spread")]
        if any(v is not None and (v < 0 or v != int(v)) for v in counts):
            raise table.fail(line, "<TICKVOL>, <VOL> and <SPREAD> must be whole numbers >= 0")
        tick_volume, real_volume, spread = (int(v or 0) for v in counts)
        out[i] = (msc // 1000, o, h, lo, c, tick_volume, spread, real_volume)
    if not len(out):
        raise table.fail(None, "no bars")
    return out


def _ticks(table: _Table) -> NDArray[np.void]:
    rows = table.rows
    out = np.zeros(len(rows), dtype=TICKS_DTYPE)
    bid = ask = last = None
    first_bid: int | None = None
    first_ask: int | None = None
    previous = -1
    has_flags = "flags" in table.columns
    for i, (line, text) in enumerate(rows):
        fields = table.fields(line, text)
        msc = table.stamp(fields, line)
        if msc < previous:
            raise table.fail(line, f"tick time {fields.get('time', '')!r} is out of order")
        previous = msc
        new_bid = table.number(fields, "bid", line)
        new_ask = table.number(fields, "ask", line)
        new_last = table.number(fields, "last", line)
        volume = table.number(fields, "volume", line)
        if any(p is not None and p <= 0 for p in (new_bid, new_ask)):
            raise table.fail(line, "bid and ask must be positive")
        if new_bid is not None:
            bid = new_bid
            first_bid = i if first_bid is None else first_bid
        if new_ask is not None:
            ask = new_ask
            first_ask = i if first_ask is None else first_ask
        last = new_last if new_last is not None else last
        if has_flags:
            flags_value = table.number(fields, "flags", line)
            if flags_value is not None and (flags_value < 0 or flags_value != int(flags_value)):
                raise table.fail(line, f"bad <FLAGS> {fields['flags']!r}")
            flags = int(flags_value or 0)
        else:
            flags = (
                (TICK_FLAG_BID if new_bid is not None else 0)
                | (TICK_FLAG_ASK if new_ask is not None else 0)
                | (TICK_FLAG_LAST if new_last is not None else 0)
                | (TICK_FLAG_VOLUME if volume else 0)
            )
        volume = volume or 0.0
        out[i] = (msc // 1000, bid or 0.0, ask or 0.0, last or 0.0, int(volume), msc, flags, volume)
    if first_bid is None or first_ask is None:
        missing = "<BID>" if first_bid is None else "<ASK>"
        raise table.fail(None, f"no tick has a {missing} value")
    out["bid"][:first_bid] = out["bid"][first_bid]
    out["ask"][:first_ask] = out["ask"][first_ask]
    return out


def format_bars(bars: NDArray[np.void], digits: int, *, daily: bool = False) -> str:
    """Bars (``RATES_DTYPE``, server time) as MetaTrader 5 exports them: tab-separated, with
    the bracketed header, ``YYYY.MM.DD`` dates, ``HH:MM:SS`` times (no ``<TIME>`` column for
    ``daily`` bars), prices with the symbol's ``digits``; :func:`read_export` reads it back
    to the same bars."""
    head = ["<DATE>", *([] if daily else ["<TIME>"]), "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>",
            "<TICKVOL>", "<VOL>", "<SPREAD>"]  # fmt: skip
    lines = ["\t".join(head)]
    for row in bars:
        stamp = dt.datetime.fromtimestamp(int(row["time"]), tz=dt.UTC)
        when = [stamp.strftime("%Y.%m.%d"), *([] if daily else [stamp.strftime("%H:%M:%S")])]
        prices = [f"{float(row[k]):.{digits}f}" for k in ("open", "high", "low", "close")]
        counts = [str(int(row[k])) for k in ("tick_volume", "real_volume", "spread")]
        lines.append("\t".join([*when, *prices, *counts]))
    return "\r\n".join(lines) + "\r\n"
