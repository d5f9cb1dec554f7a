"""The ``forexbot`` command line.

Exit codes: 0 success; 1 a runtime failure (terminal, database...) with a one-line reason;
2 bad configuration or bad arguments (``ConfigError``, ``InvalidInputError``, and
``NotFoundError`` for a name that does not exist), with a message naming the key, the value
and what is allowed; 3 ``run`` refused because another daemon runs on the data directory or
trades the account (or took the account over while this one ran); 4 ``run`` refused because the API
cannot listen where configured (port in use...); 75 ``run`` stopped for a restart requested
through the API under systemd, which starts it again (see :mod:`forexbot.daemon.restart`). Codes 2
to 4 are refusals nothing will cure by itself: the systemd unit does not restart on them.

Arguments follow the API's text rule (:mod:`forexbot.text`): no control characters, no
surrogates (what a shell passes for bytes that are not UTF-8) — in every text argument and in
the password read from standard input, so a username or symbol given here is one the API would
take too. File and directory paths are exempt: they are the file system's business. A refusal
names the argument, not its value, and exits with 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from forexbot import __version__
from forexbot.cli.backtest_args import add_backtest_command, add_optimize_command
from forexbot.cli.data import add_data_commands, run_data_command
from forexbot.cli.runner import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_IN_USE,
    EXIT_LISTEN,
    EXIT_OK,
    database_engine,
    run_coroutine,
)
from forexbot.cli.users import add_user_commands, run_user_command
from forexbot.config.loader import load_settings, load_strategy_instances, resolve_data_dir
from forexbot.config.models import Settings
from forexbot.connectors.bridge.server import add_arguments as add_bridge_arguments
from forexbot.connectors.bridge.server import run as run_bridge_server
from forexbot.daemon.app import Daemon
from forexbot.daemon.provision import provision_database
from forexbot.daemon.restart import start_again
from forexbot.daemon.system_settings import SETTINGS_KEY
from forexbot.database.system_config import SystemConfigRepository
from forexbot.errors import (
    ConfigError,
    ForexbotError,
    InstanceLockedError,
    InvalidInputError,
    ListenError,
    NotFoundError,
)
from forexbot.logs import configure_logging
from forexbot.text import PROBLEM, is_client_text


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

    add_user_commands(sub, _add_common)
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
    except (ConfigError, InvalidInputError, NotFoundError) as exc:  # the command is wrong
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
        return run_coroutine(_reset_overrides(data_dir))
    if args.command == "config":
        configure_logging("INFO", "auto", stream=sys.stderr)  # which strategies source is used
        settings = load_settings(args.config)
        entries = load_strategy_instances(settings)  # refused here as `run` would refuse it
        print("configuration is valid")
        print(settings.model_dump_json(indent=2))
        print(f"{len(entries)} strategy entries: {[e.strategy for e in entries]}")
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
        from forexbot.cli.backtest import run_backtest_command  # noqa: PLC0415 - heavy, see backtest_args

        return run_backtest_command(args, settings, data_dir)
    if args.command == "optimize":
        from forexbot.cli.backtest import run_optimize_command  # noqa: PLC0415

        return run_optimize_command(args, settings, data_dir)
    if args.command == "data":
        return run_data_command(args, data_dir)
    if args.command == "user":
        return run_user_command(args, data_dir)
    raise AssertionError(f"unhandled command {args.command}")


def _run_daemon(settings: Settings, data_dir: Path) -> int:
    daemon = Daemon(settings, data_dir)
    run_coroutine(daemon.run())
    if daemon.lost_account_lock:
        message = "forexbot: another daemon took over this one's trading lock: stopped"
        print(message, file=sys.stderr)
        return EXIT_IN_USE
    if daemon.restart.pending:  # POST /api/system/restart: exit 75 for systemd, or re-exec
        return start_again(daemon.restart.mode)
    return EXIT_OK


def _migrate(data_dir: Path) -> int:
    database = provision_database(data_dir, os.environ)
    database.stop()
    structlog.get_logger("forexbot.cli").info("database migrated", database=database.description)
    print("database is at the latest schema")
    return EXIT_OK


async def _reset_overrides(data_dir: Path) -> int:
    """Forget the settings changed at run time, so the files and ``FOREXBOT_*`` apply again:
    the way back from a change that made the API unusable."""
    async with database_engine(data_dir) as engine:
        store = SystemConfigRepository(engine)
        stored = await store.get(SETTINGS_KEY) or {}
        await store.put(SETTINGS_KEY, {}, updated_by="forexbot config reset-overrides")
    if not stored:
        print("no setting was overridden at run time")
    for section, keys in sorted(stored.items()):
        for key, value in sorted(keys.items()):
            print(f"forgot {section}.{key} = {value!r}")
    return EXIT_OK
