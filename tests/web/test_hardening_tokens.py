"""Bearer tokens act for whom they are bound to, never for whoever their name matches (issue
17, finding 6).

A token's name was its principal: an admin could mint a token called "ana" (of any role)
and act as the agent ana, or an agent token for somebody who does not exist. Now an agent
token names the existing agent it acts for, and is refused once that agent is gone, disabled
or no longer an agent; other tokens act as "token:NAME", which no user can be.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.helpers.server import REPO_ROOT
from tests.web.conftest import Desk, bearer
from web.auth import Role
from web.auth.store import UserStore

ADMIN = bearer(Role.ADMIN)


async def _mint(
    desk: Desk, http: aiohttp.ClientSession, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(desk.url("/api/tokens"), json=body, headers=ADMIN) as resp:
        return resp.status, await resp.json()


async def _me(desk: Desk, http: aiohttp.ClientSession, token: str) -> tuple[int, Any]:
    async with http.get(desk.url("/api/me"),
                        headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


async def test_an_agent_token_must_name_an_existing_agent(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    for body in (
        {"name": "ana", "role": "agent"},  # the name alone made it act as ana
        {"name": "crm", "role": "agent"},
        {"name": "crm", "role": "agent", "agent": "ghost"},  # nobody
        {"name": "crm", "role": "agent", "agent": "sam"},  # a supervisor, not an agent
        {"name": "crm", "role": "agent", "agent": "Not A Name"},
        {"name": "crm", "role": "supervisor", "agent": "ana"},  # only agent tokens act for one
    ):
        status, answer = await _mint(desk, http, body)
        assert status == 400, (body, answer)
        assert answer["error"]["where"] == "agent", (body, answer)
    async with http.get(desk.url("/api/tokens"), headers=ADMIN) as resp:
        assert (await resp.json())["tokens"] == []


async def test_a_token_named_like_a_user_does_not_act_as_them(
    desk: Desk, http: aiohttp.ClientSession
) -> None:
    status, made = await _mint(desk, http, {"name": "ana", "role": "admin"})
    assert status == 201, made
    assert made["acts_as"] == "token:ana" and made["agent"] is None
    assert await _me(desk, http, made["token"]) == (
        200, {"user": "token:ana", "role": "admin", "via": "token"})
    # Tokens from the config file too.
    async with http.get(desk.url("/api/me"), headers=bearer(Role.SUPERVISOR)) as resp:
        assert (await resp.json())["user"] == "token:config-supervisor"


async def test_a_token_bound_to_ana_acts_as_ana_only_while_she_is_an_agent(
    desk: Desk, users: UserStore, http: aiohttp.ClientSession
) -> None:
    status, made = await _mint(desk, http, {"name": "phone", "role": "agent", "agent": "ana"})
    assert status == 201, made
    assert (made["name"], made["role"], made["agent"], made["acts_as"]) == (
        "ana:phone", "agent", "ana", "ana")
    assert await _me(desk, http, made["token"]) == (
        200, {"user": "ana", "role": "agent", "via": "token"})
    # Agent rights only: no user list, no tokens.
    token = {"Authorization": f"Bearer {made['token']}"}
    for path in ("/api/users", "/api/tokens"):
        async with http.get(desk.url(path), headers=token) as resp:
            assert resp.status == 403, path
    # Listed and revoked by its record name.
    async with http.get(desk.url("/api/tokens"), headers=ADMIN) as resp:
        assert [t["name"] for t in (await resp.json())["tokens"]] == ["ana:phone"]

    # Ana made a supervisor: the token no longer acts for anyone; an agent again: it does.
    await users.update_user("ana", role=Role.SUPERVISOR)
    status, answer = await _me(desk, http, made["token"])
    assert status == 401 and answer["error"]["code"] == "invalid_token"
    await users.update_user("ana", role=Role.AGENT)
    assert (await _me(desk, http, made["token"]))[0] == 200
    await users.update_user("ana", disabled=True)
    assert (await _me(desk, http, made["token"]))[0] == 401
    await users.update_user("ana", disabled=False)
    async with http.delete(desk.url("/api/tokens/ana:phone"), headers=ADMIN) as resp:
        assert resp.status == 204
    assert (await _me(desk, http, made["token"]))[0] == 401


async def _cli(data_dir: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "centralita", *args, "--data-dir", str(data_dir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=str(REPO_ROOT),
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_tokens_command_binds_agent_tokens_too(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    code, _, err = await _cli(data_dir, "tokens", "add", "--role", "agent", "--name", "ana")
    assert code == 1 and "agent" in err
    code, _, err = await _cli(data_dir, "tokens", "add", "--role", "agent", "--agent", "ana")
    assert code == 1 and "no enabled user 'ana'" in err
    code, _, err = await _cli(data_dir, "users", "add", "ana", "--role", "agent",
                              stdin="anas long password\n")
    assert code == 0, err
    code, out, err = await _cli(data_dir, "tokens", "add", "--role", "agent", "--agent", "ana",
                                "--name", "phone")
    assert code == 0, err
    assert "acts as ana" in err
    store = await UserStore.open(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        view = await store.find_token(out.strip())
    finally:
        await store.close()
    assert view is not None and (view.name, view.principal) == ("ana:phone", "ana")
