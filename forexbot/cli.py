"""The ``forexbot`` command line.

Exit codes: 0 success; 1 a runtime failure (terminal, database...) with a one-line reason;
2 bad configuration or bad arguments, with a message naming the key, the value and what is
allowed; 3 ``run`` refused because another daemon runs on the data directory or trades the
account (or took the account over while this one ran); 4 ``run`` refused because the API
cannot listen where configured (port in use...); 75 ``run`` stopped for a restart requested
through the API under systemd, which starts it again (see :mod:`forexbot.restart`). Codes 2
to 4 are refusals nothing will cure by itself: the systemd unit does not restart on them.

Arguments follow the API's text rule (:mod:`forexbot.text`): no control characters, no
surrogates (what a shell passes for bytes that are not UTF-8) — in every text argument and in
the password read from standard input, so a username or symbol given here is one the API would
take too. File and directory paths are exempt: they are the file system's business. A refusal
names the argument, not its value, and exits with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from forexbot import __version__
from forexbot.cli_backtest import (
    add_backtest_command,
    add_optimize_command,
    run_backtest_command,
    run_optimize_command,
)
from forexbot.cli_data import add_data_commands, run_data_command
from forexbot.config import Settings, load_settings, resolve_data_dir
from forexbot.connectors.bridge.server import add_arguments as add_bridge_arguments
from forexbot.connectors.bridge.server import run as run_bridge_server
from forexbot.errors import ConfigError, ForexbotError, InstanceLockedError, ListenError
from forexbot.logging import configure_logging
from forexbot.text import PROBLEM, is_client_text

if TYPE_CHECKING:
    from forexbot.api.mfa import Enrollment, Mfa

T = TypeVar("T")
EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_IN_USE, EXIT_LISTEN = 0, 1, 2, 3, 4
ROLES = ("admin", "trader", "viewer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forexbot", description="Automated trading daemon for MetaTrader 5."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the trading daemon (paper trading by default)")
    _add_common(run)
    run.add_argument("--api-host", help="address of the REST/WebSocket API (127.0.0.1)")
    run.add_argument("--api-port", type=int, help="port of the API (8080; 0 picks a free one)")
    run.add_argument(
        "--sim-speed",
        type=float,
        help="run the simulated terminal's clock X times faster than real time",
    )
    run.add_argument(
        "--sim-start",
        metavar="TIME",
        help="start the simulated terminal's clock at this UTC time (ISO-8601) instead of now",
    )

    user = sub.add_parser("user", help="manage API users")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_sub.add_parser("create", help="create a user")
    _add_common(create)
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (first line) instead of prompting",
    )
    mfa = user_sub.add_parser(
        "mfa",
        help="set up (or reset) a user's one-time codes: prints the secret and recovery codes",
    )
    _add_common(mfa)
    mfa.add_argument("--username", required=True)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    _add_common(migrate)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", help="validate the configuration and print it")
    check.add_argument("--config", type=Path, help="configuration file (YAML)")
    reset = config_sub.add_parser(
        "reset-overrides",
        help="forget the settings changed through PUT /api/system/settings (daemon stopped)",
    )
    _add_common(reset)

    bridge = sub.add_parser(
        "bridge-server",
        help="serve a MetaTrader5 module to a daemon on another machine or Wine prefix",
        description=(
            "Serve the MetaTrader5 module (run it with the Python that has it, e.g. under Wine "
            "next to the terminal) as a restricted rpyc service. The shared secret is read "
            "from FOREXBOT_BRIDGE_SECRET."
        ),
    )
    add_bridge_arguments(bridge)

    add_backtest_command(sub, _add_common)
    add_optimize_command(sub, _add_common)
    add_data_commands(sub, _add_common)

    sub.add_parser("version", help="print the version")
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="configuration file (YAML)")
    parser.add_argument("--data-dir", help="data directory (FOREXBOT_DATA_DIR)")


#: Text arguments that are file or directory paths (the others are ``Path`` objects).
_PATH_ARGUMENTS = frozenset({"data_dir", "data"})


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest`` → the option as typed (``start`` → ``--from``), across every subcommand."""
    names: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= _option_names(sub)
        else:
            names.setdefault(action.dest, (action.option_strings or [action.dest])[-1])
    return names


def _check_text(args: argparse.Namespace, names: dict[str, str]) -> None:
    """Raise :class:`ConfigError` naming the first text argument breaking the text rule."""
    for dest, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if dest in _PATH_ARGUMENTS:
            continue
        if any(isinstance(v, str) and not is_client_text(v) for v in values):
            raise ConfigError(f"{names.get(dest, dest)} {PROBLEM}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_text(args, _option_names(parser))
        return _dispatch(args)
    except ConfigError as exc:
        print(f"forexbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except InstanceLockedError as exc:
        print(f"forexbot: {exc}", file=sys.stderr)
        return EXIT_IN_USE
    except ListenError as exc:
        print(f"forexbot: {exc}", file=sys.stderr)
        return EXIT_LISTEN
    except ForexbotError as exc:
        print(f"forexbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # a file, a socket, a disk: the system's words, without a traceback
        print(f"forexbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(f"forexbot {__version__}")
        return EXIT_OK
    if args.command == "bridge-server":
        configure_logging("INFO", "auto")
        return run_bridge_server(args)
    if args.command == "config" and args.config_command == "reset-overrides":
        data_dir = resolve_data_dir(args.data_dir)
        return _run(_with_engine(data_dir, _reset_overrides))
    if args.command == "config":
        settings = load_settings(args.config)
        print("configuration is valid")
        print(settings.model_dump_json(indent=2))
        return EXIT_OK

    overrides: dict[str, Any] = {}
    if args.command == "run":
        if args.api_host is not None:
            overrides["api.host"] = args.api_host
        if args.api_port is not None:
            overrides["api.port"] = args.api_port
        if args.sim_speed is not None:
            overrides["terminal.sim_speed"] = args.sim_speed
        if args.sim_start is not None:
            overrides["terminal.sim_start"] = args.sim_start
    settings = load_settings(args.config, overrides=overrides)
    level = settings.logging.level
    if args.command in ("backtest", "optimize", "data") and level in ("DEBUG", "INFO"):
        level = "WARNING"  # a tool's output, not a daemon's: only problems are logged
    configure_logging(
        level,
        settings.logging.format,
        stream=sys.stderr if args.command != "run" else None,
    )
    data_dir = resolve_data_dir(args.data_dir)
    if args.command == "run":
        return _run_daemon(settings, data_dir)
    if args.command == "migrate":
        return _migrate(data_dir)
    if args.command == "backtest":
        return run_backtest_command(args, settings, data_dir)
    if args.command == "optimize":
        return run_optimize_command(args, settings, data_dir)
    if args.command == "data":
        return run_data_command(args, data_dir)
    if args.command == "user":
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if args.user_command == "mfa":
            return _run(_with_users(data_dir, _enroll_mfa(args.username, data_dir)))
        password = _read_password(args.password_stdin)
        return _run(_create_user(data_dir, args.username, args.role, password))
    raise AssertionError(f"unhandled command {args.command}")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up, Linux only)
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


def _run_daemon(settings: Settings, data_dir: Path) -> int:
    from forexbot.app import Daemon  # noqa: PLC0415  (heavy imports only for `run`)

    daemon = Daemon(settings, data_dir)
    _run(daemon.run())
    if daemon.lost_account_lock:
        message = "forexbot: another daemon took over this one's trading lock: stopped"
        print(message, file=sys.stderr)
        return EXIT_IN_USE
    if daemon.restart.pending:  # POST /api/system/restart: exit 75 for systemd, or re-exec
        from forexbot.restart import start_again  # noqa: PLC0415

        return start_again(daemon.restart.mode)
    return EXIT_OK


def _migrate(data_dir: Path) -> int:
    from forexbot.app import provision_database  # noqa: PLC0415

    database = provision_database(data_dir, os.environ)
    database.stop()
    structlog.get_logger("forexbot.cli").info("database migrated", database=database.description)
    print("database is at the latest schema")
    return EXIT_OK


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise ConfigError("the passwords do not match")
    else:
        raise ConfigError("no terminal to prompt for a password: use --password-stdin")
    from forexbot.api.accounts import MIN_PASSWORD  # noqa: PLC0415

    if not is_client_text(password):
        raise ConfigError(f"the password {PROBLEM}")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


async def _create_user(data_dir: Path, username: str, role: str, password: str) -> int:
    from forexbot.api.accounts import (  # noqa: PLC0415
        USERNAME_PATTERN,
        create_account,
        needs_mfa,
    )

    if not re.fullmatch(USERNAME_PATTERN, username):
        raise ConfigError(
            f"username {username!r} is not allowed: 1 to 64 letters, digits and . _ @ -, "
            "starting with a letter or a digit"
        )

    async def create(users: Any) -> int:
        # Admins sign in with a one-time code: it is set up with the user (the same code
        # path as POST /api/users).
        mfa = _mfa(users, data_dir) if needs_mfa(role) else None
        user, enrollment = await create_account(users, username, password, role, mfa=mfa)
        print(f"user {user.username!r} created with role {user.role}")
        if enrollment is not None:
            _print_enrollment(user.username, enrollment)
        return EXIT_OK

    return await _with_users(data_dir, create)


def _enroll_mfa(username: str, data_dir: Path) -> Callable[[Any], Awaitable[int]]:
    async def enroll_user(users: Any) -> int:
        from forexbot.api.accounts import enroll  # noqa: PLC0415

        user = await users.get_by_username(username)
        if user is None:
            raise ConfigError(f"no user {username!r}")
        _print_enrollment(user.username, await enroll(_mfa(users, data_dir), user))
        return EXIT_OK

    return enroll_user


def _mfa(users: Any, data_dir: Path) -> Mfa:
    """The MFA service on ``users``, sealing with the data key (made on first use)."""
    from forexbot.api.mfa import Mfa  # noqa: PLC0415
    from forexbot.clock import RealtimeClock  # noqa: PLC0415
    from forexbot.database.encryption import Sealer, load_or_create_data_key  # noqa: PLC0415

    return Mfa(users, Sealer(load_or_create_data_key(data_dir, os.environ)), RealtimeClock())


def _print_enrollment(username: str, enrollment: Enrollment) -> None:
    from forexbot.api.accounts import enrollment_lines  # noqa: PLC0415

    for line in enrollment_lines(username, enrollment):
        print(line)


async def _with_users(data_dir: Path, action: Callable[[Any], Awaitable[int]]) -> int:
    """Run ``action`` with the user repository on the configured database."""
    from forexbot.database.users import UserRepository  # noqa: PLC0415

    async def with_repository(engine: Any) -> int:
        return await action(UserRepository(engine))

    return await _with_engine(data_dir, with_repository)


async def _with_engine(data_dir: Path, action: Callable[[Any], Awaitable[int]]) -> int:
    """Run ``action`` with the database engine of the configured (or embedded) database."""
    from forexbot.app import provision_database  # noqa: PLC0415
    from forexbot.database.engine import Database  # noqa: PLC0415

    provisioned = await asyncio.to_thread(provision_database, data_dir, os.environ)
    database = Database(provisioned.url)
    try:
        await database.connect()
        return await action(database.engine)
    finally:
        await database.close()
        await asyncio.to_thread(provisioned.stop)


async def _reset_overrides(engine: Any) -> int:
    """Forget the settings changed at run time, so the files and ``FOREXBOT_*`` apply again:
    the way back from a change that made the API unusable."""
    from forexbot.database.system_config import SystemConfigRepository  # noqa: PLC0415
    from forexbot.system_settings import SETTINGS_KEY  # noqa: PLC0415

    store = SystemConfigRepository(engine)
    stored = await store.get(SETTINGS_KEY) or {}
    await store.put(SETTINGS_KEY, {}, updated_by="forexbot config reset-overrides")
    if not stored:
        print("no setting was overridden at run time")
    for section, keys in sorted(stored.items()):
        for key, value in sorted(keys.items()):
            print(f"forgot {section}.{key} = {value!r}")
    return EXIT_OK
