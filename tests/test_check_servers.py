"""`scripts/check_servers.py`, run by scripts/run-tests.sh before the suite: passes when the
machine's PostgreSQL and Redis answer, and fails naming the one that does not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.server import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import check_servers  # noqa: E402


def run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "check_servers.py")],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_both_servers_answer_on_this_machine() -> None:
    done = run()
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_silent_redis_is_named() -> None:
    port = free_port(socket.SOCK_STREAM, also_tcp=False)
    done = run(CENTRALITA_TEST_REDIS=f"redis://127.0.0.1:{port}/0")
    assert done.returncode == 1
    assert f"not reachable: Redis at redis://127.0.0.1:{port}/0" in done.stderr
    assert "PostgreSQL" not in done.stderr


def test_a_silent_postgresql_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port(socket.SOCK_STREAM, also_tcp=False)
    monkeypatch.setattr(check_servers, "PG_PORT", port)
    assert check_servers.main() == 1
    err = capsys.readouterr().err
    assert f"not reachable: PostgreSQL at 127.0.0.1:{port}" in err
    assert "Redis at" not in err
