"""The start-up greeting: where the API, its documentation and the phone app are, and how to
create the first user (rules in :mod:`forexbot.daemon.greeting`)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from forexbot.daemon.greeting import Greeting, api_url, count_users, first_user_command, greet
from forexbot.daemon.market_hours import market_hours
from forexbot.errors import DatabaseError

HOME_DATA = Path("/home/ann/.local/share/forexbot")
ENV = {"XDG_DATA_HOME": "/home/ann/.local/share"}


def test_the_api_address_has_the_bound_port() -> None:
    assert api_url("127.0.0.1", 41235, tls=False) == "http://127.0.0.1:41235"


def test_an_api_serving_tls_is_https() -> None:
    assert api_url("bot.example.org", 8443, tls=True) == "https://bot.example.org:8443"


def test_an_ipv6_address_is_bracketed() -> None:
    assert api_url("::1", 8080, tls=False) == "http://[::1]:8080"


def test_a_wildcard_address_is_shown_as_the_loopback() -> None:
    assert [api_url(host, 8080, tls=False) for host in ("0.0.0.0", "", "::")] == [
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
    ]


def test_the_docs_are_under_api_docs() -> None:
    assert Greeting("http://127.0.0.1:8080").docs == "http://127.0.0.1:8080/api/docs"


def test_the_first_user_command_on_the_default_data_directory_has_no_data_dir() -> None:
    command = first_user_command(HOME_DATA, HOME_DATA, database_url=False)
    assert command == "forexbot user create --username NAME --role admin"


def test_the_first_user_command_names_another_data_directory_quoted() -> None:
    command = first_user_command(Path("/srv/my bot"), HOME_DATA, database_url=False)
    assert command == "forexbot user create --username NAME --role admin --data-dir '/srv/my bot'"


def test_the_first_user_command_says_it_needs_the_database_url_too() -> None:
    command = first_user_command(HOME_DATA, HOME_DATA, database_url=True)
    assert command == "DATABASE_URL=... forexbot user create --username NAME --role admin"


def test_a_data_directory_from_forexbot_data_dir_is_named_in_the_command() -> None:
    environ = {**ENV, "FOREXBOT_DATA_DIR": "/var/lib/forexbot"}
    greeting = greet(
        "127.0.0.1", 8080, tls=False, users=0, data_dir=Path("/var/lib/forexbot"), environ=environ
    )
    assert greeting.first_user == (
        "forexbot user create --username NAME --role admin --data-dir /var/lib/forexbot"
    )


def test_the_default_data_directory_is_not_named_in_the_command() -> None:
    greeting = greet("127.0.0.1", 8080, tls=False, users=0, data_dir=HOME_DATA, environ=ENV)
    assert greeting.first_user == "forexbot user create --username NAME --role admin"


def test_once_a_user_exists_there_is_no_first_user_hint() -> None:
    greeting = greet("127.0.0.1", 8080, tls=False, users=1, data_dir=HOME_DATA, environ=ENV)
    assert greeting.first_user is None
    assert greeting.fields() == {
        "api": "http://127.0.0.1:8080",
        "docs": "http://127.0.0.1:8080/api/docs",
    }


def test_the_ready_event_fields_carry_the_first_user_command() -> None:
    greeting = Greeting(
        "http://127.0.0.1:8080", "forexbot user create --username NAME --role admin"
    )
    assert greeting.fields() == {
        "api": "http://127.0.0.1:8080",
        "docs": "http://127.0.0.1:8080/api/docs",
        "first_user": "forexbot user create --username NAME --role admin",
    }


def test_the_lines_for_a_person() -> None:
    greeting = greet(
        "0.0.0.0",
        8080,
        tls=False,
        users=0,
        data_dir=Path("/srv/forexbot"),
        environ=ENV,
    )
    assert greeting.lines() == [
        "",
        "  forexbot is ready",
        "    API       http://127.0.0.1:8080   (listening on every address)",
        "    API docs  http://127.0.0.1:8080/api/docs",
        "    no user yet: create the first one with",
        "      forexbot user create --username NAME --role admin --data-dir /srv/forexbot",
        "",
    ]


def test_the_lines_are_written_to_a_console() -> None:
    console = io.StringIO()
    Greeting("http://127.0.0.1:8080").show(console)
    assert console.getvalue().splitlines() == [
        "",
        "  forexbot is ready",
        "    API       http://127.0.0.1:8080",
        "    API docs  http://127.0.0.1:8080/api/docs",
        "",
    ]


def test_a_closed_market_is_said_in_the_lines() -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    market = market_hours(("EURUSD", "Volatility 75 Index"), saturday)
    greeting = greet(
        "127.0.0.1", 8080, tls=False, users=1, data_dir=HOME_DATA, environ=ENV, market=market
    )
    assert greeting.lines()[2:5] == [
        "    API       http://127.0.0.1:8080",
        "    API docs  http://127.0.0.1:8080/api/docs",
        "    market closed for EURUSD until Sun 29 Nov 22:00 UTC; Volatility 75 Index trades",
    ]


def test_an_open_market_is_not_in_the_lines() -> None:
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    market = market_hours(("EURUSD",), thursday)
    greeting = greet(
        "127.0.0.1", 8080, tls=False, users=1, data_dir=HOME_DATA, environ=ENV, market=market
    )
    assert not any("market" in line for line in greeting.lines())


class Users:
    def __init__(self, count: int | None) -> None:
        self._count = count

    async def count(self) -> int:
        if self._count is None:
            raise DatabaseError("counting users: connection refused")
        return self._count


async def test_the_users_are_counted() -> None:
    assert await count_users(Users(2)) == 2


async def test_a_database_that_cannot_count_gives_no_count() -> None:
    assert await count_users(Users(None)) is None


def test_an_unknown_user_count_gives_no_first_user_hint() -> None:
    greeting = greet("127.0.0.1", 8080, tls=False, users=None, data_dir=HOME_DATA, environ=ENV)
    assert greeting.first_user is None


def test_the_app_is_under_app() -> None:
    greeting = Greeting("http://127.0.0.1:8080", app_served=True)
    assert greeting.app == "http://127.0.0.1:8080/app/"


def test_the_ready_event_fields_carry_the_app_when_it_is_served() -> None:
    greeting = greet(
        "127.0.0.1", 8080, tls=True, users=1, data_dir=HOME_DATA, environ=ENV, app_served=True
    )
    assert greeting.fields() == {
        "api": "https://127.0.0.1:8080",
        "docs": "https://127.0.0.1:8080/api/docs",
        "app": "https://127.0.0.1:8080/app/",
    }


def test_the_lines_name_the_app_when_it_is_served() -> None:
    greeting = greet(
        "127.0.0.1", 8080, tls=False, users=1, data_dir=HOME_DATA, environ=ENV, app_served=True
    )
    assert greeting.lines()[2:5] == [
        "    API       http://127.0.0.1:8080",
        "    API docs  http://127.0.0.1:8080/api/docs",
        "    App       http://127.0.0.1:8080/app/",
    ]


def test_an_app_that_is_not_served_is_not_announced() -> None:
    greeting = greet("127.0.0.1", 8080, tls=False, users=1, data_dir=HOME_DATA, environ=ENV)
    assert greeting.app is None
    assert "app" not in greeting.fields()
    assert not any("App" in line for line in greeting.lines())
