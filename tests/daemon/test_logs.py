"""Log output: JSON lines when not on a terminal, with the bound context."""

from __future__ import annotations

import io
import json
import logging

import structlog

from forexbot.logs import configure_logging


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


def test_standard_library_loggers_share_the_json_format() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("asyncpg").warning("pool exhausted")
    record = json.loads(stream.getvalue().splitlines()[0])
    assert record["event"] == "pool exhausted"
    assert record["logger"] == "asyncpg"
    assert record["level"] == "warning"


def test_an_exception_is_rendered_into_the_json_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("forexbot.test").exception("handler failed")
    record = json.loads(stream.getvalue().splitlines()[0])
    assert "ValueError: boom" in record["exception"]


def test_console_format_is_readable_text() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    structlog.get_logger("forexbot.test").info("ready", port=8080)
    text = stream.getvalue()
    assert "ready" in text
    assert "port=8080" in text
    assert not text.lstrip().startswith("{")
