"""Log output: JSON lines when not on a terminal, readable (coloured) lines on one, with the
bound context, and the standard library's loggers in the same format."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import select
from collections.abc import Iterator
from typing import TextIO

import pytest
import structlog
from structlog.typing import EventDict

from forexbot.logs import configure_logging, console_stream

#: The console layout: time, [level], event, [logger], then key=value pairs.
CONSOLE_LINE = re.compile(r"^\S+Z \[(?P<level>\w+)\s*\] (?P<event>.+?)\s+\[(?P<logger>[\w.]+)\]")
ANSI = "\x1b["
SYSTEMD = {"JOURNAL_STREAM": "8:12345", "INVOCATION_ID": "0123456789abcdef"}


class Terminal:
    """A pseudo-terminal: what the daemon writes to when run in a terminal window."""

    def __init__(self) -> None:
        self._master, slave = os.openpty()
        self.stream: TextIO = os.fdopen(slave, "w", encoding="utf-8")

    def read(self) -> str:
        chunks = []
        while select.select([self._master], [], [], 0.2)[0]:
            chunks.append(os.read(self._master, 65536))
        return b"".join(chunks).decode().replace("\r\n", "\n")

    def close(self) -> None:
        self.stream.close()
        os.close(self._master)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    tty = Terminal()
    yield tty
    tty.close()


def test_not_a_tty_gives_one_json_object_per_line_with_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream=stream)
    log = structlog.get_logger("forexbot.test").bind(component="risk", symbol="EURUSD")
    log.info("signal rejected", code="max_open_positions")
    log.debug("not shown at INFO")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "signal rejected"
    assert record["component"] == "risk"
    assert record["symbol"] == "EURUSD"
    assert record["code"] == "max_open_positions"
    assert record["level"] == "info"
    assert record["timestamp"].endswith("Z")


def test_under_systemd_the_journal_gets_json_lines() -> None:
    read_end, write_end = os.pipe()  # the journal's stream is not a terminal
    with os.fdopen(write_end, "w", encoding="utf-8") as journal:
        configure_logging("INFO", "auto", stream=journal, environ=SYSTEMD)
        structlog.get_logger("forexbot.test").info("forexbot ready", api="http://127.0.0.1:8080")
    with os.fdopen(read_end, encoding="utf-8") as received:
        lines = received.read().splitlines()

    assert [json.loads(line)["event"] for line in lines] == ["forexbot ready"]
    assert json.loads(lines[0])["api"] == "http://127.0.0.1:8080"


def test_a_terminal_gets_coloured_console_lines(terminal: Terminal) -> None:
    configure_logging("INFO", "auto", stream=terminal.stream, environ={})
    structlog.get_logger("forexbot.test").info("forexbot ready", port=8080)

    text = terminal.read()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    [line] = plain.splitlines()
    match = CONSOLE_LINE.match(line)
    assert match is not None, line
    assert (match["level"], match["event"], match["logger"]) == (
        "info",
        "forexbot ready",
        "forexbot.test",
    )
    assert line.endswith("port=8080")
    assert ANSI in text


def test_no_color_keeps_the_console_lines_without_colours(terminal: Terminal) -> None:
    configure_logging("INFO", "auto", stream=terminal.stream, environ={"NO_COLOR": "1"})
    structlog.get_logger("forexbot.test").info("forexbot ready", port=8080)

    text = terminal.read()
    assert ANSI not in text
    match = CONSOLE_LINE.match(text)
    assert match is not None, text
    assert match["event"] == "forexbot ready"


def test_an_empty_no_color_does_not_turn_colours_off(terminal: Terminal) -> None:
    configure_logging("INFO", "auto", stream=terminal.stream, environ={"NO_COLOR": ""})
    structlog.get_logger("forexbot.test").info("forexbot ready")

    assert ANSI in terminal.read()


def test_a_terminal_that_inherited_journal_stream_still_gets_console_lines(
    terminal: Terminal,
) -> None:
    configure_logging("INFO", "auto", stream=terminal.stream, environ=SYSTEMD)
    structlog.get_logger("forexbot.test").info("forexbot ready")

    text = re.sub(r"\x1b\[[0-9;]*m", "", terminal.read())
    assert CONSOLE_LINE.match(text) is not None, text


def test_json_format_wins_over_a_terminal(terminal: Terminal) -> None:
    configure_logging("INFO", "json", stream=terminal.stream, environ={})
    structlog.get_logger("forexbot.test").info("forexbot ready")

    assert json.loads(terminal.read())["event"] == "forexbot ready"


def test_standard_library_loggers_share_the_json_format() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("asyncpg").warning("pool exhausted")
    record = json.loads(stream.getvalue().splitlines()[0])
    assert record["event"] == "pool exhausted"
    assert record["logger"] == "asyncpg"
    assert record["level"] == "warning"


def test_standard_library_loggers_share_the_console_format(terminal: Terminal) -> None:
    configure_logging("INFO", "auto", stream=terminal.stream, environ={"NO_COLOR": "1"})
    logging.getLogger("aiohttp.server").error("Error handling request")
    structlog.get_logger("forexbot.api").error("request failed")

    lines = terminal.read().splitlines()
    matches = [CONSOLE_LINE.match(line) for line in lines]
    assert [(m["level"], m["event"], m["logger"]) for m in matches if m] == [
        ("error", "Error handling request", "aiohttp.server"),
        ("error", "request failed", "forexbot.api"),
    ]


def test_an_exception_is_rendered_into_the_json_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("forexbot.test").exception("handler failed")
    record = json.loads(stream.getvalue().splitlines()[0])
    assert "ValueError: boom" in record["exception"]


def test_console_format_in_a_file_is_readable_text_without_colours() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream, environ={})
    structlog.get_logger("forexbot.test").info("ready", port=8080)
    text = stream.getvalue()
    match = CONSOLE_LINE.match(text)
    assert match is not None, text
    assert match["event"] == "ready"
    assert text.rstrip().endswith("port=8080")
    assert ANSI not in text


def test_text_for_a_person_goes_to_the_console_stream(terminal: Terminal) -> None:
    configure_logging("INFO", "auto", stream=terminal.stream, environ={})
    assert console_stream() is terminal.stream


def test_there_is_no_console_stream_when_the_log_is_json() -> None:
    configure_logging("INFO", "auto", stream=io.StringIO(), environ={})
    assert console_stream() is None


class CountingProcessor:
    """A processor placed just before the hand-over to the standard library: it sees every
    event the chain works on (time stamp, context, level name...) and counts them."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __call__(self, logger: object, method_name: str, event_dict: EventDict) -> EventDict:
        self.events.append(str(event_dict["event"]))
        return event_dict


def _count_processed_events() -> CountingProcessor:
    counter = CountingProcessor()
    *chain, hand_over = structlog.get_config()["processors"]
    structlog.configure(processors=[*chain, counter, hand_over])
    return counter


def test_an_event_below_the_level_is_never_processed_nor_written() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)
    counter = _count_processed_events()
    log = structlog.get_logger("forexbot.test").bind(component="backtest")
    log.info("position opened", trade=1)
    log.debug("fill details", trade=1)
    log.warning("margin low", trade=1)

    assert counter.events == ["margin low"]
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["margin low"]


def test_a_level_changed_at_run_time_decides_what_is_processed() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)
    counter = _count_processed_events()
    log = structlog.get_logger("forexbot.test")
    root = logging.getLogger()
    try:
        log.info("dropped at WARNING")
        root.setLevel(logging.DEBUG)  # what logging.level in the system settings does
        log.debug("kept at DEBUG")
        root.setLevel(logging.ERROR)
        log.warning("dropped at ERROR")
    finally:
        root.setLevel(logging.INFO)

    assert counter.events == ["kept at DEBUG"]
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
        "kept at DEBUG"
    ]
