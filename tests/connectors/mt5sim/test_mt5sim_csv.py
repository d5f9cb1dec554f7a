"""Reading MT5 exports: every layout the terminal (or a spreadsheet) writes, strict content."""

from __future__ import annotations

import codecs
import pathlib
from collections.abc import Callable

import numpy as np
import pytest

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.mt5csv import ReplayDataError, read_export
from forexbot.connectors.mt5sim.replay import ReplayFeed
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.errors import ForexbotError

DATA = pathlib.Path(__file__).parent / "data"
M1_FILE = DATA / "EURUSD_M1_202403041000_202403041029.csv"
H1_FILE = DATA / "EURUSD_H1_202403040000_202403052300.csv"
TICKS_FILE = DATA / "GBPUSD_ticks_202403041000_202403041001.csv"
MONDAY = 19_786 * 86_400


def _lines(path: pathlib.Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: pathlib.Path, lines: list[str], encoding: str = "utf-8", eol: str = "\n") -> None:
    path.write_bytes(eol.join(lines).encode(encoding))


def _no_brackets(lines: list[str]) -> list[str]:
    return [lines[0].replace("<", "").replace(">", "").title(), *lines[1:]]


def _with_sep(sep: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [line.replace("\t", sep) for line in lines]


def _iso_dates(lines: list[str]) -> list[str]:
    return [lines[0]] + [line.replace(".", "-", 2) for line in lines[1:]]


def _short_times(lines: list[str]) -> list[str]:
    return [lines[0]] + [line.replace(":00\t", "\t", 1) for line in lines[1:]]  # 10:00:00 -> 10:00


BAR_VARIANTS: dict[str, Callable[[list[str]], list[str]]] = {
    "as exported": lambda lines: lines,
    "no angle brackets": _no_brackets,
    "no header": lambda lines: lines[1:],
    "commas": _with_sep(","),
    "semicolons": _with_sep(";"),
    "spaces": _with_sep("  "),
    "ISO dates": _iso_dates,
    "HH:MM times": _short_times,
}


@pytest.mark.parametrize("variant", list(BAR_VARIANTS))
def test_bar_layouts_read_the_same_bars(tmp_path: pathlib.Path, variant: str) -> None:
    path = tmp_path / "bars.csv"
    _write(path, BAR_VARIANTS[variant](_lines(M1_FILE)))
    assert np.array_equal(read_export(path).data, read_export(M1_FILE).data)


@pytest.mark.parametrize(
    ("encoding", "bom", "eol"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE, "\r\n"),  # what the terminal writes for some exports
        ("utf-16-le", b"", "\r\n"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "\n"),
        ("utf-8", codecs.BOM_UTF8, "\r\n"),
        ("utf-8", b"", "\r"),
    ],
)
def test_encodings_and_line_ends_read_the_same_ticks(
    tmp_path: pathlib.Path, encoding: str, bom: bytes, eol: str
) -> None:
    path = tmp_path / "ticks.csv"
    path.write_bytes(bom + eol.join(_lines(TICKS_FILE)).encode(encoding))
    assert np.array_equal(read_export(path).data, read_export(TICKS_FILE).data)


def test_headerless_ticks_are_told_by_their_milliseconds(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ticks.csv"
    _write(path, _lines(TICKS_FILE)[1:])
    export = read_export(path)
    assert export.kind == "ticks"
    assert np.array_equal(export.data, read_export(TICKS_FILE).data)


def test_missing_flags_column_is_derived_from_the_fields_present(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ticks.csv"
    rows = ["<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>"]
    rows += ["2024.03.04\t10:00:00.100\t1.1\t1.2\t\t", "2024.03.04\t10:00:00.200\t\t1.3\t\t"]
    _write(path, rows)
    ticks = read_export(path).data
    assert list(ticks["flags"]) == [mt5.TICK_FLAG_BID | mt5.TICK_FLAG_ASK, mt5.TICK_FLAG_ASK]
    assert list(ticks["bid"]) == [1.1, 1.1]


def test_leading_ticks_without_a_bid_take_the_first_known_bid(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ticks.csv"
    rows = ["<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>"]
    rows += ["2024.03.04\t10:00:00.100\t\t1.2\t\t\t4", "2024.03.04\t10:00:00.200\t1.1\t\t\t\t2"]
    _write(path, rows)
    ticks = read_export(path).data
    assert list(ticks["bid"]) == [1.1, 1.1]
    assert list(ticks["ask"]) == [1.2, 1.2]


def test_d1_export_without_a_time_column(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "EURUSD_Daily.csv"
    rows = ["<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    rows += [
        "2024.03.04\t1.0850\t1.0880\t1.0830\t1.0860\t50000\t0\t8",
        "2024.03.05\t1.0860\t1.0870\t1.0810\t1.0820\t52000\t0\t7",
    ]
    _write(path, rows)
    bars = read_export(path).data
    assert list(bars["time"]) == [MONDAY, MONDAY + 86_400]
    feed = ReplayFeed.from_files({"EURUSD": path})
    m1 = feed.day_bars("EURUSD", MONDAY // 86_400)
    assert len(m1) == 1440
    assert (m1["open"][0], m1["close"][-1], m1["high"].max(), m1["low"].min()) == (
        1.0850,
        1.0860,
        1.0880,
        1.0830,
    )
    assert m1["tick_volume"].sum() == 50_000


def test_metatrader4_bars_take_volume_as_tick_volume(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bars.csv"
    _write(path, ["2024.03.04,10:00,1.0850,1.0880,1.0830,1.0860,42"])
    bar = read_export(path).data[0]
    assert (bar["time"], bar["close"], bar["tick_volume"], bar["spread"]) == (
        MONDAY + 36_000,
        1.0860,
        42,
        0,
    )


def test_timeframe_comes_from_the_file_name_else_the_bar_spacing(tmp_path: pathlib.Path) -> None:
    named = ReplayFeed.from_files({"EURUSD": H1_FILE})
    unnamed_path = tmp_path / "eurusd.csv"
    unnamed_path.write_bytes(H1_FILE.read_bytes())
    unnamed = ReplayFeed.from_files({"EURUSD": unnamed_path})
    forced = ReplayFeed.from_files({"EURUSD": unnamed_path}, timeframe=mt5.TIMEFRAME_H1)
    day = MONDAY // 86_400
    for feed in (named, unnamed, forced):
        assert feed.span("EURUSD") == (MONDAY, MONDAY + 2 * 86_400)
        assert len(feed.day_bars("EURUSD", day)) > 24  # H1 bars expanded into M1


def test_replay_errors_are_forexbot_errors() -> None:
    assert issubclass(ReplayDataError, ForexbotError)


BAD_ROWS = [
    ("2024.03.04\t10:01:00\t1.1\tabc\t1.0\t1.05\t10\t0\t8", ":3: <HIGH> is not a number: 'abc'"),
    ("2024.03.04\t10:01:00\t1.1\t1.0\t1.05\t1.05\t10\t0\t8", ":3: inconsistent bar: open 1.1"),
    ("2024.03.04\t09:59:00\t1.1\t1.2\t1.0\t1.05\t10\t0\t8", ":3: bar time '09:59:00' is out"),
    ("2024.03.04\t10:00:00\t1.1\t1.2\t1.0\t1.05\t10\t0\t8", ":3: bar time '10:00:00' repeats"),
    ("2024.03.04\t10:01:00\t1.1\t1.2\t1.0\t1.05\t10\t0", ":3: 8 fields, the header has 9"),
    ("2024.13.04\t10:01:00\t1.1\t1.2\t1.0\t1.05\t10\t0\t8", ":3: bad date '2024.13.04'"),
    ("2024.03.04\t25:01:00\t1.1\t1.2\t1.0\t1.05\t10\t0\t8", ":3: bad time '25:01:00'"),
    ("2024.03.04\t10:01:00\t1.1\t1.2\t1.0\t1.05\t-3\t0\t8", ":3: <TICKVOL>, <VOL> and <SPREAD>"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_malformed_bar_names_the_file_and_line(
    tmp_path: pathlib.Path, row: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    _write(path, [*_lines(M1_FILE)[:2], row], eol="\r\n")
    with pytest.raises(ReplayDataError) as raised:
        read_export(path)
    assert str(raised.value).startswith(f"{path}{message}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("<DATE>\t<TIME>\t<PRICE>\n", ":1: unknown column '<PRICE>' in the header"),
        ("<DATE>\t<TIME>\t<BID>\n2024.03.04\t10:00:00.000\t1.1\n", "no <ASK>"),
        ("<DATE>\t<TIME>\t<BID>\t<ASK>\n2024.03.04\t10:00:00.000\t\t\n", "no tick has a <BID>"),
        ("2024.03.04\t10:00\t1\t2\t3\t4\t5\t6\t7\t8\t9\n", "no header and 11 columns"),
    ],
)
def test_unusable_file_is_refused_with_a_reason(
    tmp_path: pathlib.Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ReplayDataError, match=message):
        read_export(path)


def test_out_of_order_tick_names_its_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ticks.csv"
    lines = _lines(TICKS_FILE)
    lines[5], lines[6] = lines[6], lines[5]
    _write(path, lines)
    with pytest.raises(
        ReplayDataError, match=r"ticks.csv:7: tick time '10:00:\d\d\.\d{3}' is out of order"
    ):
        read_export(path)


def test_missing_file_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ReplayDataError, match="cannot read"):
        read_export(tmp_path / "nope.csv")


def test_binary_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "EURUSD.hcc"
    path.write_bytes(b"\x00\x01\x02\x03" * 10)
    with pytest.raises(ReplayDataError, match="binary data"):
        read_export(path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"EURXYZ": M1_FILE}, "'EURXYZ': not a symbol of the simulator"),
        ({"EURUSD": [M1_FILE, TICKS_FILE]}, "cannot mix bars and ticks"),
        ({"EURUSD": [M1_FILE, M1_FILE]}, "overlaps"),
        ({"EURUSD": [H1_FILE, M1_FILE]}, "overlaps"),
        ({"EURUSD": []}, "no file given for EURUSD"),
    ],
)
def test_unusable_replay_set_is_refused(files: dict[str, object], message: str) -> None:
    with pytest.raises(ReplayDataError, match=message):
        ReplayFeed.from_files(files)  # type: ignore[arg-type]


def test_weekly_bars_cannot_be_replayed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "EURUSD_W1_2024.csv"
    _write(path, [*_lines(M1_FILE)[:2]])
    with pytest.raises(ReplayDataError, match="W1/MN1 bars cannot be replayed"):
        ReplayFeed.from_files({"EURUSD": path})


def test_bars_off_their_timeframe_boundary_are_refused() -> None:
    with pytest.raises(ReplayDataError, match="is not on a 3600 s boundary"):
        ReplayFeed.from_files({"EURUSD": M1_FILE}, timeframe=mt5.TIMEFRAME_H1)


def test_terminal_constructor_reports_a_bad_replay_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "EURUSD.csv"
    path.write_text(
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\n2024.03.04\t10:00\t1\t0.5\t1\t1\n"
    )
    with pytest.raises(ReplayDataError, match=f"{path}:2: inconsistent bar"):
        SimulatedTerminal(clock=ManualClock(0), replay={"EURUSD": path})
