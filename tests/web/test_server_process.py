"""Login on a real `centralita serve`: the first admin, the CLI, and refusals without login."""

from __future__ import annotations

import asyncio
import stat
import sys

import aiohttp

from tests.conftest import ServerFactory
from tests.e2e.api import get_json
from tests.helpers.server import REPO_ROOT, ServerOptions, ServerProcess


async def _cli(server: ServerProcess, *args: str, stdin: str = "") -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", *args, "--data-dir", str(server.data_dir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=str(REPO_ROOT),
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_first_admin_cli_users_and_refusals(server_factory: ServerFactory) -> None:
    server = await server_factory(ServerOptions(tls=False))
    password_file = server.data_dir / "admin-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 20
    log = server.stderr_path.read_text()
    assert str(password_file) in log and password not in log

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(server.http_base + "/healthz") as resp:
            assert resp.status == 200
        for path in ("/api/debug/calls", "/api/debug/media", "/api/cases/1", "/api/users"):
            async with http.get(server.http_base + path) as resp:
                assert resp.status == 401, path
        async with http.post(
            server.http_base + "/api/login", json={"username": "admin", "password": password}
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["role"] == "admin"
        async with http.get(server.http_base + "/api/debug/calls") as resp:
            assert resp.status == 200 and await resp.json() == []

    # The helpers' bearer token (admin, from the config file) works too.
    assert await get_json(server, "/api/debug/calls") == []

    # An agent added from the shell while the server runs can log in, with the agent role.
    out = await _cli(server, "users", "add", "bob", "--role", "agent", stdin="bobs long password\n")
    assert "bob" in out and "bobs long password" not in out
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob:
        async with bob.post(
            server.http_base + "/api/login",
            json={"username": "bob", "password": "bobs long password"},
        ) as resp:
            assert resp.status == 200
        async with bob.get(server.http_base + "/api/cases/1") as resp:
            assert resp.status == 404  # allowed in; there is no case 1
        async with bob.get(server.http_base + "/api/debug/calls") as resp:
            assert resp.status == 403
        # A new password set from the shell ends bob's session in the running server too
        # (it re-reads a session's user at most every 2 s).
        await _cli(server, "users", "passwd", "bob", stdin="bobs second password\n")
        await asyncio.sleep(2.2)
        async with bob.get(server.http_base + "/api/cases/1") as resp:
            assert resp.status == 401

    # A token made with the CLI is printed once and works as a bearer token.
    token = (await _cli(server, "tokens", "add", "--role", "supervisor", "--name", "crm")).strip()
    async with aiohttp.ClientSession() as http, http.get(
        server.http_base + "/api/me", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert await resp.json() == {"user": "token:crm", "role": "supervisor", "via": "token"}
    listed = await _cli(server, "tokens", "list")
    assert "crm\tsupervisor" in listed and token not in listed
    assert token not in server.stderr_path.read_text()
