"""An MT5 bars export exactly as the terminal writes it is parsed over whole columns at once,
and gives the bars the row-by-row reader gives, bit for bit; anything else (another layout,
a row the reader refuses) goes row by row as before, with the same result or error."""

from __future__ import annotations

import pathlib
import random

import numpy as np
import pytest

from forexbot.connectors.mt5sim import mt5csv
from forexbot.connectors.mt5sim.mt5csv import ReplayDataError, format_bars, read_export
from forexbot.connectors.mt5sim.structures import RATES_DTYPE

MONDAY = 19_786 * 86_400  # 2024-03-04, server time


def _bars(n: int, seed: int, digits: int = 5) -> np.ndarray:
    """``n`` M1 bars with a weekend gap in the middle and varied counts."""
    rng = np.random.default_rng(seed)
    times = MONDAY + np.arange(n, dtype=np.int64) * 60
    times[n // 2 :] += 2 * 86_400  # a weekend
    close = np.round(1.08 + np.cumsum(rng.normal(scale=2e-4, size=n)), digits)
    open_ = np.r_[close[0], close[:-1]]
    bars = np.zeros(n, dtype=RATES_DTYPE)
    bars["time"] = times
    bars["open"], bars["close"] = open_, close
    bars["high"] = np.maximum(open_, close) + np.round(rng.random(n) * 3e-4, digits)
    bars["low"] = np.minimum(open_, close) - np.round(rng.random(n) * 3e-4, digits)
    bars["tick_volume"] = rng.integers(1, 400, n)
    bars["real_volume"] = rng.integers(0, 3, n) * 1_000_000
    bars["spread"] = rng.integers(0, 30, n)
    return bars


def _row_by_row(path: pathlib.Path) -> np.ndarray:
    raw = path.read_bytes()
    table = mt5csv._Table(path, mt5csv.decode(raw, path), None)
    return mt5csv._bars(table)


def _export(tmp_path: pathlib.Path, text: str, name: str = "EURUSD_M1.csv") -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


@pytest.mark.parametrize("digits", [3, 5])
def test_a_terminal_export_reads_to_the_row_by_row_bars(
    tmp_path: pathlib.Path, digits: int
) -> None:
    bars = _bars(3_000, digits, digits)
    path = _export(tmp_path, format_bars(bars, digits))
    assert mt5csv._plain_bars(path.read_bytes()) is not None  # the column-wise reader ran
    got = read_export(path)
    assert got.kind == "bars"
    assert got.data.dtype == RATES_DTYPE
    assert got.data.tobytes() == _row_by_row(path).tobytes()
    assert np.array_equal(got.data["time"], bars["time"])


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("LF line ends", lambda text: text.replace("\r\n", "\n")),
        ("no final line break", lambda text: text.rstrip("\r\n")),
        ("UTF-16 with a BOM", lambda text: text),
    ],
)
def test_the_terminals_encodings_and_line_ends_read_column_wise(
    tmp_path: pathlib.Path, name: str, change: object
) -> None:
    text = change(format_bars(_bars(500, 1), 5))  # type: ignore[operator]
    path = tmp_path / "EURUSD_M1.csv"
    path.write_bytes(text.encode("utf-16") if "UTF-16" in name else text.encode())
    assert mt5csv._plain_bars(path.read_bytes()) is not None
    assert read_export(path).data.tobytes() == _row_by_row(path).tobytes()


def test_prices_are_parsed_as_float_does(tmp_path: pathlib.Path) -> None:
    rng = random.Random(5)
    lines = [format_bars(_bars(1, 0), 5).splitlines()[0]]
    for i in range(5_000):
        low = rng.uniform(0.5, 150)
        texts = [repr(low * (1 + rng.random() * 1e-3)) for _ in range(3)]
        texts += [f"{low:.{rng.randint(0, 17)}f}"]
        o, c, h = sorted(texts[:3], key=float)[0], texts[1], max(texts[:3], key=float)
        lo = min(texts[3], o, c, key=float)
        minute = f"{i // 60 % 24:02d}:{i % 60:02d}:00"
        day = f"2024.03.{1 + i // 1440:02d}"
        lines.append("\t".join([day, minute, o, h, lo, c, "7", "0", "12"]))
    path = _export(tmp_path, "\r\n".join(lines) + "\r\n")
    got = read_export(path).data
    assert mt5csv._plain_bars(path.read_bytes()) is not None
    assert got.tobytes() == _row_by_row(path).tobytes()
    parsed = [line.split("\t") for line in lines[1:]]
    assert got["high"].tolist() == [float(p[3]) for p in parsed]
    assert got["low"].tolist() == [float(p[4]) for p in parsed]


ROW = "2024.03.04\t10:00:00\t1.08500\t1.08520\t1.08490\t1.08510\t12\t0\t8"
NEXT = "2024.03.04\t10:01:00\t1.08510\t1.08530\t1.08500\t1.08520\t9\t0\t8"
HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("HH:MM times", [ROW.replace("10:00:00", "10:00"), NEXT.replace("10:01:00", "10:01")]),
        ("ISO dates", [ROW.replace("2024.03.04", "2024-03-04"), NEXT]),
        ("a blank line", [ROW, "", NEXT]),
        ("spaces around a field", [ROW.replace("\t12\t", "\t 12 \t"), NEXT]),
        ("an empty volume", [ROW.replace("\t12\t", "\t\t"), NEXT]),
    ],
)
def test_other_layouts_read_row_by_row_to_the_same_bars(
    tmp_path: pathlib.Path, name: str, rows: list[str]
) -> None:
    path = _export(tmp_path, "\r\n".join([HEADER, *rows]) + "\r\n")
    assert mt5csv._plain_bars(path.read_bytes()) is None
    assert read_export(path).data.tobytes() == _row_by_row(path).tobytes()


def test_a_whole_volume_written_with_decimals_reads_as_row_by_row(tmp_path: pathlib.Path) -> None:
    path = _export(tmp_path, "\r\n".join([HEADER, ROW.replace("\t12\t", "\t12.0\t"), NEXT]))
    assert read_export(path).data.tobytes() == _row_by_row(path).tobytes()
    assert read_export(path).data["tick_volume"].tolist() == [12, 9]


@pytest.mark.parametrize(
    ("name", "rows", "error"),
    [
        ("high below close", [ROW.replace("1.08520", "1.08505", 1), NEXT], r":2: inconsistent"),
        ("a repeated time", [ROW, ROW], r":3: bar time '10:00:00' repeats"),
        ("out of order", [NEXT, ROW], r":3: bar time '10:00:00' is out of order"),
        ("a bad number", [ROW.replace("1.08490", "1.0849x"), NEXT], r":2: <LOW> is not a num"),
        ("a negative volume", [ROW.replace("\t12\t", "\t-12\t"), NEXT], r":2: <TICKVOL>, <VOL>"),
        ("a fractional spread", [ROW.replace("\t8", "\t8.5"), NEXT], r":2: <TICKVOL>, <VOL>"),
        ("a tenth field", [ROW + "\t1", NEXT], r":2: 10 fields, the header has 9"),
        ("a missing field", [ROW.rsplit("\t", 1)[0], NEXT], r":2: 8 fields, the header has 9"),
        ("the 31st of April", [ROW.replace("03.04", "04.31"), NEXT], r":2: bad date"),
        ("hour 24", [ROW.replace("10:00:00", "24:00:00"), NEXT], r":2: bad time"),
        ("a zero low", [ROW.replace("1.08490", "0"), NEXT], r":2: inconsistent"),
    ],
)
def test_a_row_the_reader_refuses_is_named_as_before(
    tmp_path: pathlib.Path, name: str, rows: list[str], error: str
) -> None:
    path = _export(tmp_path, "\r\n".join([HEADER, *rows]) + "\r\n")
    assert mt5csv._plain_bars(path.read_bytes()) is None
    with pytest.raises(ReplayDataError, match=error):
        read_export(path)
