"""``forexbot user create`` and ``forexbot user mfa``: API users from the machine's shell.

The same code paths as ``POST /api/users`` (:mod:`forexbot.api.accounts`): the username and
password rules, and the one-time codes every admin signs in with, set up with the user.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forexbot.api.accounts import (
    MIN_PASSWORD,
    USERNAME_PATTERN,
    create_account,
    enroll,
    enrollment_lines,
    needs_mfa,
)
from forexbot.api.mfa import Enrollment, Mfa
from forexbot.cli.runner import EXIT_OK, database_engine, run_coroutine
from forexbot.clock import RealtimeClock
from forexbot.database.encryption import Sealer, load_or_create_data_key
from forexbot.database.users import UserRepository
from forexbot.errors import ConfigError, InvalidInputError, NotFoundError
from forexbot.text import PROBLEM, is_client_text

ROLES = ("admin", "trader", "viewer")


def add_user_commands(
    sub: Any,
    add_common: Callable[[argparse.ArgumentParser], None],
) -> None:
    user = sub.add_parser("user", help="manage API users")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_sub.add_parser("create", help="create a user")
    add_common(create)
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
    add_common(mfa)
    mfa.add_argument("--username", required=True)


def run_user_command(args: argparse.Namespace, data_dir: Path) -> int:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.user_command == "mfa":
        return run_coroutine(_enroll_mfa(data_dir, args.username))
    password = _read_password(args.password_stdin)
    return run_coroutine(_create_user(data_dir, args.username, args.role, password))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise InvalidInputError("the passwords do not match")
    else:
        raise ConfigError("no terminal to prompt for a password: use --password-stdin")
    if not is_client_text(password):
        raise InvalidInputError(f"the password {PROBLEM}")
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


async def _create_user(data_dir: Path, username: str, role: str, password: str) -> int:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise InvalidInputError(
            f"username {username!r} is not allowed: 1 to 64 letters, digits and . _ @ -, "
            "starting with a letter or a digit"
        )
    async with database_engine(data_dir) as engine:
        users = UserRepository(engine)
        # Admins sign in with a one-time code: it is set up with the user (the same code
        # path as POST /api/users).
        mfa = _mfa(users, data_dir) if needs_mfa(role) else None
        user, enrollment = await create_account(users, username, password, role, mfa=mfa)
    print(f"user {user.username!r} created with role {user.role}")
    if enrollment is not None:
        _print_enrollment(user.username, enrollment)
    return EXIT_OK


async def _enroll_mfa(data_dir: Path, username: str) -> int:
    async with database_engine(data_dir) as engine:
        users = UserRepository(engine)
        user = await users.get_by_username(username)
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        enrollment = await enroll(_mfa(users, data_dir), user)
    _print_enrollment(user.username, enrollment)
    return EXIT_OK


def _mfa(users: UserRepository, data_dir: Path) -> Mfa:
    """The MFA service on ``users``, sealing with the data key (made on first use)."""
    return Mfa(users, Sealer(load_or_create_data_key(data_dir, os.environ)), RealtimeClock())


def _print_enrollment(username: str, enrollment: Enrollment) -> None:
    for line in enrollment_lines(username, enrollment):
        print(line)
