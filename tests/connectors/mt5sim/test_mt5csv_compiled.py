"""The compiled one-pass reader of plain MT5 bars exports (mt5csv_jit) gives the row-by-row
reader's bars bit for bit on what it accepts, and leaves everything else to the other readers
(which then give the same bars or name the same line)."""

from __future__ import annotations

import datetime as dt
import pathlib
import random

import numpy as np
import pytest

from forexbot.connectors.mt5sim import mt5csv
from forexbot.connectors.mt5sim.mt5csv import ReplayDataError, format_bars, read_export
from forexbot.connectors.mt5sim.structures import RATES_DTYPE

HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
ROW = "2024.03.04\t10:00:00\t1.08500\t1.08520\t1.08490\t1.08510\t12\t0\t8"
NEXT = "2024.03.04\t10:01:00\t1.08510\t1.08530\t1.08500\t1.08520\t9\t0\t8"


def _row_by_row(path: pathlib.Path) -> np.ndarray:
    raw = path.read_bytes()
    return mt5csv._bars(mt5csv._Table(path, mt5csv.decode(raw, path), None))


def _export(tmp_path: pathlib.Path, lines: list[str], end: str = "\r\n") -> pathlib.Path:
    path = tmp_path / "EURUSD_M1.csv"
    path.write_bytes((end.join(lines) + end).encode())
    return path


def _bars(n: int, seed: int, digits: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    times = 19_786 * 86_400 + np.arange(n, dtype=np.int64) * 60
    times[n // 2 :] += 2 * 86_400  # a weekend
    close = np.round(1.08 + np.cumsum(rng.normal(scale=2e-4, size=n)), digits) + 10.0**-digits
    open_ = np.r_[close[0], close[:-1]]
    bars = np.zeros(n, dtype=RATES_DTYPE)
    bars["time"] = times
    bars["open"], bars["close"] = open_, close
    bars["high"] = np.maximum(open_, close) + np.round(rng.random(n) * 3e-4, digits)
    bars["low"] = np.maximum(np.minimum(open_, close) - np.round(rng.random(n) * 3e-4, digits), 1.0)
    bars["tick_volume"] = rng.integers(1, 10**15, n)
    bars["real_volume"] = rng.integers(0, 3, n) * 1_000_000
    bars["spread"] = rng.integers(0, 2**31, n)
    return bars


@pytest.mark.parametrize("digits", [0, 1, 3, 5, 7])
def test_a_terminal_export_reads_to_the_row_by_row_bars(
    tmp_path: pathlib.Path, digits: int
) -> None:
    bars = _bars(2_000, digits, digits)
    path = tmp_path / "EURUSD_M1.csv"
    path.write_text(format_bars(bars, digits), newline="")
    got = mt5csv._compiled_bars(path.read_bytes())
    assert got is not None
    assert got.tobytes() == _row_by_row(path).tobytes()
    assert read_export(path).data.tobytes() == got.tobytes()
    assert got["time"].tolist() == bars["time"].tolist()


@pytest.mark.parametrize(
    ("name", "end", "final"), [("LF", "\n", True), ("no last end", "\r\n", False)]
)
def test_lf_line_ends_and_a_missing_last_line_end_are_read(
    tmp_path: pathlib.Path, name: str, end: str, final: bool
) -> None:
    path = tmp_path / "EURUSD_M1.csv"
    text = end.join([HEADER, ROW, NEXT]) + (end if final else "")
    path.write_bytes(text.encode())
    got = mt5csv._compiled_bars(path.read_bytes())
    assert got is not None
    assert got.tobytes() == _row_by_row(path).tobytes()
    assert got["tick_volume"].tolist() == [12, 9]


def _decimal(rng: random.Random) -> str:
    """A positive decimal of up to 15 significant digits and 18 digits in all, with or
    without leading and trailing zeros."""
    digits = rng.randint(1, 15)
    mantissa = str(rng.randrange(1, 10**digits)).rjust(rng.randint(digits, 17), "0")
    decimals = rng.randint(0, min(22, len(mantissa)))
    if not decimals:
        return mantissa
    return f"{mantissa[: len(mantissa) - decimals] or '0'}.{mantissa[len(mantissa) - decimals :]}"


def test_prices_are_the_floats_float_gives(tmp_path: pathlib.Path) -> None:
    rng = random.Random(11)
    lines = [HEADER]
    start = dt.datetime(2024, 3, 4)
    for i in range(20_000):
        texts = sorted((_decimal(rng) for _ in range(4)), key=float)
        low, o, c, high = texts[0], texts[1 + i % 2], texts[2 - i % 2], texts[3]
        when = (start + dt.timedelta(minutes=i)).strftime("%Y.%m.%d\t%H:%M:%S")
        lines.append("\t".join([when, o, high, low, c, "7", "0", "12"]))
    path = _export(tmp_path, lines)
    got = mt5csv._compiled_bars(path.read_bytes())
    assert got is not None
    rows = [line.split("\t") for line in lines[1:]]
    for k, name in enumerate(("open", "high", "low", "close")):
        assert got[name].tolist() == [float(r[2 + k]) for r in rows]
    assert got.tobytes() == _row_by_row(path).tobytes()


def test_dates_over_the_calendar_are_the_row_by_row_times(tmp_path: pathlib.Path) -> None:
    rng = random.Random(3)
    days = sorted(rng.sample(range(1, dt.date.max.toordinal() + 1), 3_000))
    days += [dt.date(y, 2, 29).toordinal() for y in (1600, 2000, 2024)]
    days += [dt.date(y, m, d).toordinal() for y in (1900, 2100) for m, d in ((2, 28), (3, 1))]
    lines = [HEADER]
    for ordinal in sorted(set(days)):
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        day = dt.date.fromordinal(ordinal)
        stamp = f"{day.year:04d}.{day.month:02d}.{day.day:02d}\t{clock}"
        lines.append(f"{stamp}\t1.1\t1.2\t1.0\t1.1\t1\t0\t2")
    path = _export(tmp_path, lines)
    got = mt5csv._compiled_bars(path.read_bytes())
    assert got is not None
    assert got["time"].tolist() == _row_by_row(path)["time"].tolist()


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("a 17-digit price", [ROW.replace("1.08500", "1.0850000000000001"), NEXT]),
        ("a volume written 12.0", [ROW.replace("\t12\t", "\t12.0\t"), NEXT]),
        ("a price ending in a dot", [ROW.replace("1.08520", "2."), NEXT]),
        ("a 16-digit volume", [ROW.replace("\t12\t", "\t1234567890123456\t"), NEXT]),
    ],
)
def test_what_it_leaves_is_read_by_the_column_reader_to_the_same_bars(
    tmp_path: pathlib.Path, name: str, rows: list[str]
) -> None:
    path = _export(tmp_path, [HEADER, *rows])
    assert mt5csv._compiled_bars(path.read_bytes()) is None
    assert read_export(path).data.tobytes() == _row_by_row(path).tobytes()


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("HH:MM times", [ROW.replace("10:00:00", "10:00"), NEXT.replace("10:01:00", "10:01")]),
        ("a price starting with a dot", [ROW.replace("1.08490", ".08490"), NEXT]),
        ("a blank line", [ROW, "", NEXT]),
        ("a trailing blank line", [ROW, NEXT, ""]),
        ("spaces around a field", [ROW.replace("\t12\t", "\t 12 \t"), NEXT]),
        ("an empty volume", [ROW.replace("\t12\t", "\t\t"), NEXT]),
        ("a line ending CR CR LF", [ROW + "\r", NEXT]),
    ],
)
def test_other_layouts_are_left_to_the_row_by_row_reader(
    tmp_path: pathlib.Path, name: str, rows: list[str]
) -> None:
    path = _export(tmp_path, [HEADER, *rows])
    assert mt5csv._compiled_bars(path.read_bytes()) is None
    assert read_export(path).data.tobytes() == _row_by_row(path).tobytes()


@pytest.mark.parametrize(
    ("name", "rows", "error"),
    [
        ("high below close", [ROW.replace("1.08520", "1.08505", 1), NEXT], r":2: inconsistent"),
        ("a zero low", [ROW.replace("1.08490", "0"), NEXT], r":2: inconsistent"),
        ("a repeated time", [ROW, ROW], r":3: bar time '10:00:00' repeats"),
        ("out of order", [NEXT, ROW], r":3: bar time '10:00:00' is out of order"),
        ("a bad number", [ROW.replace("1.08490", "1.0849x"), NEXT], r":2: <LOW> is not a num"),
        ("a negative volume", [ROW.replace("\t12\t", "\t-12\t"), NEXT], r":2: <TICKVOL>, <VOL>"),
        ("a fractional spread", [ROW.replace("\t8", "\t8.5"), NEXT], r":2: <TICKVOL>, <VOL>"),
        ("a tenth field", [ROW + "\t1", NEXT], r":2: 10 fields, the header has 9"),
        ("a missing field", [ROW.rsplit("\t", 1)[0], NEXT], r":2: 8 fields, the header has 9"),
        ("the 31st of April", [ROW.replace("03.04", "04.31"), NEXT], r":2: bad date"),
        (
            "the 29th of February 2100",
            [ROW.replace("2024.03.04", "2100.02.29"), NEXT],
            r":2: bad date",
        ),
        ("year 0", [ROW.replace("2024.03.04", "0000.03.04"), NEXT], r":2: bad date"),
        ("hour 24", [ROW.replace("10:00:00", "24:00:00"), NEXT], r":2: bad time"),
        ("second 60", [ROW.replace("10:00:00", "10:00:60"), NEXT], r":2: bad time"),
    ],
)
def test_a_row_the_reader_refuses_is_left_to_it_and_named(
    tmp_path: pathlib.Path, name: str, rows: list[str], error: str
) -> None:
    path = _export(tmp_path, [HEADER, *rows])
    assert mt5csv._compiled_bars(path.read_bytes()) is None
    with pytest.raises(ReplayDataError, match=error):
        read_export(path)


def test_a_header_without_rows_is_left_to_the_reader(tmp_path: pathlib.Path) -> None:
    path = _export(tmp_path, [HEADER])
    assert mt5csv._compiled_bars(path.read_bytes()) is None
    with pytest.raises(ReplayDataError, match="no bars"):
        read_export(path)


def test_a_utf16_export_is_left_to_the_column_reader(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "EURUSD_M1.csv"
    path.write_bytes("\r\n".join([HEADER, ROW, NEXT, ""]).encode("utf-16"))
    assert mt5csv._compiled_bars(path.read_bytes()) is None
    assert read_export(path).data.tobytes() == _row_by_row(path).tobytes()
