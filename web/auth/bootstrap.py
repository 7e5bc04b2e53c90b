"""First start: with no users at all, create `admin` so someone can log in and add the rest.

Its password comes from `auth.admin_password_file` when the operator set one; otherwise it
is random and written to `<data_dir>/admin-password` (mode 0600). The log says where the
password is, never what it is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path

from web.auth.errors import Conflict
from web.auth.roles import Role
from web.auth.store import UserStore

log = logging.getLogger(__name__)

ADMIN_NAME = "admin"
ADMIN_PASSWORD_FILE = "admin-password"


def read_secret_file(path: Path) -> str:
    """A password or token kept in a file: its first line, without the line break."""
    text = path.read_text(encoding="utf-8")
    return text.splitlines()[0] if text else ""


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only (created 0600, then enforced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


async def ensure_admin(
    users: UserStore, data_dir: Path, password_file: Path | None = None
) -> Path | None:
    """Create `admin` when there are no users; the file holding its password, or None."""
    if await users.count_users() > 0:
        return None
    if password_file is not None:
        password = await asyncio.to_thread(read_secret_file, password_file)
        where = password_file
    else:
        password = secrets.token_urlsafe(18)
        where = data_dir / ADMIN_PASSWORD_FILE
        await asyncio.to_thread(write_private_file, where, password + "\n")
    try:
        await users.add_user(ADMIN_NAME, password, Role.ADMIN)
    except Conflict:
        # Another node sharing the database made it first; its password file is the one.
        return None
    log.warning("no users yet: created %r (admin); its password is in %s", ADMIN_NAME, where)
    return where
