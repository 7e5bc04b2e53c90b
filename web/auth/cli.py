"""`centralita users ...` and `centralita tokens ...`: manage logins from the shell.

    users add NAME --role R [--password-file F]   password from F, else stdin (asked twice
                                                  on a terminal)
    users passwd NAME [--password-file F]          set a new password; a running server ends
                                                  the user's sessions within 2 s
    users list
    tokens add --role R [--name N] [--agent A]     prints the token (shown this once); an
                                                  agent token acts for the existing agent A
    tokens list
    tokens revoke NAME

Wired by centralita/cli.py, which adds the options that say where the database is and
passes its URL to `run_auth_command`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from web.auth.bootstrap import read_secret_file
from web.auth.errors import AuthError
from web.auth.roles import ROLE_LABELS, Role
from web.auth.store import UserStore


def add_auth_parsers(subparsers: Any) -> list[argparse.ArgumentParser]:
    """Add `users` and `tokens`; returns the leaf parsers (to add database options to)."""
    users = subparsers.add_parser("users", help="people who log in to the web desk")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLE_LABELS)
    add.add_argument("--password-file", type=Path, help="read the password from this file")
    passwd = users_sub.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-file", type=Path, help="read the password from this file")
    listing = users_sub.add_parser("list", help="list users")

    tokens = subparsers.add_parser("tokens", help="bearer tokens for integrations")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    tadd = tokens_sub.add_parser("add", help="make a token and print it (shown once)")
    tadd.add_argument("--role", required=True, choices=ROLE_LABELS)
    tadd.add_argument("--name", help="a name to revoke it by (default: a random one)")
    tadd.add_argument(
        "--agent", help="the existing agent user an agent token acts for (agent tokens only)"
    )
    tlist = tokens_sub.add_parser("list", help="list tokens (names and roles, no secrets)")
    revoke = tokens_sub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("name")
    return [add, passwd, listing, tadd, tlist, revoke]


def _read_password(path: Path | None) -> str:
    if path is not None:
        return read_secret_file(path)
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise AuthError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


async def _users(args: argparse.Namespace, store: UserStore) -> None:
    if args.users_command == "add":
        password = _read_password(args.password_file)
        user = await store.add_user(args.name, password, Role.parse(args.role))
        print(f"user {user.name} added ({user.role.label})")
    elif args.users_command == "passwd":
        password = _read_password(args.password_file)
        await store.update_user(args.name, password=password)
        print(f"password of {args.name} changed")
    else:
        for user in await store.list_users():
            state = " (disabled)" if user.disabled else ""
            print(f"{user.name}\t{user.role.label}{state}")


async def _tokens(args: argparse.Namespace, store: UserStore) -> None:
    if args.tokens_command == "add":
        if args.role == Role.AGENT.label and args.agent is None:
            raise AuthError("an agent token acts for one agent: give --agent NAME")
        name = args.name or f"token-{secrets.token_hex(4)}"
        view, token = await store.add_token(
            name, Role.parse(args.role), created_by="cli", agent=args.agent
        )
        print(f"# token {view.name} ({view.role.label}, acts as {view.principal}); store it now,"
              " it is not shown again", file=sys.stderr)
        print(token)
    elif args.tokens_command == "list":
        for record in await store.list_tokens():
            print(f"{record.name}\t{record.role.label}\t{record.principal}\t"
                  f"{record.created_at.isoformat()}")
    else:
        await store.delete_token(args.name)
        print(f"token {args.name} revoked")


async def _run(database_url: str, action: Callable[[UserStore], Awaitable[None]]) -> None:
    store = await UserStore.open(database_url)
    try:
        await action(store)
    finally:
        await store.close()


def run_auth_command(args: argparse.Namespace, database_url: str) -> int:
    """Run a `users` or `tokens` command against `database_url`; the process exit code."""
    runner = _users if args.command == "users" else _tokens
    try:
        asyncio.run(_run(database_url, lambda store: runner(args, store)))
    except AuthError as exc:
        print(f"centralita {args.command}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"centralita {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
