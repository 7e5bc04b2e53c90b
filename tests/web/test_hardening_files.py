"""The data directory is 0700 and the case database 0600 (issue 17, finding 6).

The directory was made 0755 and cases.db 0644 (with the usual umask 022): password hashes,
token digests and every customer's data readable by any local user. A real server start (and
the `centralita users` command) in a tmp dir: a new directory and database are private, an
existing too-open directory and database are tightened, with one warning.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from centralita.server import Server
from tests.helpers.server import REPO_ROOT
from tests.web.test_hardening_json import in_process_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start services with: files 0644 and directories 0755 unless
    the server asks for less."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def assert_private(data_dir: Path) -> None:
    assert mode(data_dir) == 0o700
    db = data_dir / "cases.db"
    assert mode(db) == 0o600
    companions = [data_dir / f"cases.db{s}" for s in ("-wal", "-shm", "-journal")]
    for path in companions:
        if path.exists():
            assert mode(path) == 0o600, path


async def test_a_new_data_dir_and_database_are_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "new" / "data"
    server = Server(in_process_settings(tmp_path, data_dir=data_dir, debug_api=False))
    try:
        await server.start()
        # The first admin was written: the database and its WAL exist now.
        assert (data_dir / "cases.db-wal").exists()
        assert_private(data_dir)
    finally:
        await server.stop()
    assert_private(data_dir)
    assert not [r for r in caplog.records if "made it private" in r.getMessage()]


async def test_an_existing_open_data_dir_and_database_are_tightened_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    sqlite3.connect(data_dir / "cases.db").close()  # as an older version left it: 0644
    assert mode(data_dir / "cases.db") == 0o644
    caplog.set_level(logging.WARNING)
    server = Server(in_process_settings(tmp_path, data_dir=data_dir, debug_api=False))
    try:
        await server.start()
        assert_private(data_dir)
    finally:
        await server.stop()
    warnings = [r.getMessage() for r in caplog.records if "made it private" in r.getMessage()]
    assert sum("data directory" in w for w in warnings) == 1, warnings
    assert any("cases.db was readable" in w for w in warnings), warnings


async def test_the_users_command_makes_a_private_data_dir_too(tmp_path: Path) -> None:
    data_dir = tmp_path / "cli-data"
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", "users", "add", "bob", "--role", "agent",
        "--password-file", str(password), "--data-dir", str(data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(REPO_ROOT),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert_private(data_dir)
