"""Deeply nested JSON (issue 17, finding 6): a 400 on every JSON route of the real server, an
error message on the desk socket (which stays open), and one log line, never a traceback.

Python's json decoder recurses once per nesting level: 100,000 `[` (100 KB) raised
RecursionError inside it, a 500 with a traceback on login and the routing API and a 1011 close
on the desk socket. The walk covers every POST/PUT/PATCH route the server composes (the
debug API and the ACD on), so a JSON route added later is checked without touching this file.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from tests.helpers.server import LOOPBACK, REPO_ROOT, free_port, free_sip_port, random_rtp_block
from tests.web.conftest import PASSWORD, TOKENS, bearer
from web.auth import Role
from web.auth.tokens import digest
from web.jsonbody import MAX_DEPTH, JsonBodyError, check_depth, loads

# 100,000 levels (100 KB) for the routes that take up to 1 MiB, and 30,000 (60 KB) that fit
# the routing API's 64 KB limit too, so every route gets as far as decoding: before the fix,
# either raised RecursionError (the decoder gives up near 1,000 levels).
DEEP = "[" * 100_000
DEEP_60KB = "[" * 30_000 + "]" * 30_000
# Routes that take no body: they must not fail on one, but have nothing to refuse.
BODYLESS = {("POST", "/api/logout")}


def in_process_settings(tmp_path: Path, **overrides: object) -> Settings:
    """The server `tests/web/test_routes.py` walks: debug API and the demo ACD on, a config
    bearer token for each role (`tests.web.conftest.TOKENS`)."""
    low, high = random_rtp_block()
    values: dict[str, object] = {
        "sip_listen": HostPort(LOOPBACK, free_sip_port()),
        "http_listen": HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
        "data_dir": tmp_path / "data",
        "rtp_port_min": low,
        "rtp_port_max": high,
        "debug_api": True,
        "transcription": "off",
        "routing_file": REPO_ROOT / "routing" / "demo.yaml",
        "auth": AuthSettings(tokens=tuple(
            ConfigTokenSettings(f"test-{role.label}", role.label, digest(token))
            for role, token in TOKENS.items()
        )),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    running = Server(in_process_settings(tmp_path))
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


def base_of(server: Server) -> str:
    return f"http://{server.settings.http_listen}"


def _body_routes(app: web.Application, case_id: str) -> list[tuple[str, str]]:
    """Every route that takes a body, its parameters filled in: a case route names a case
    that exists (they check who may read the case before they read a body), the rest "1"."""
    found = []
    for route in app.router.routes():
        if route.method not in ("POST", "PUT", "PATCH"):
            continue
        assert route.resource is not None
        path = route.resource.canonical.replace("/api/cases/{id}", f"/api/cases/{case_id}")
        found.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}" for r in caplog.records
        if r.exc_info is not None or r.levelno >= logging.ERROR
        or "Traceback" in r.getMessage() or "RecursionError" in r.getMessage()
    ]


def _depth_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "nested deeper than" in r.getMessage()]


async def test_a_100k_deep_body_is_a_400_on_every_json_route_and_one_log_line(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert server.app is not None and server.store is not None
    ref = await server.store.start_voice_interaction(caller="+34600111222", call_id="deep-1")
    routes = _body_routes(server.app, await server.store.public_id(ref.case_id))
    paths = {p for _, p in routes}
    # The walk is not vacuous: login, users, tokens, the ACD and the debug API are in it.
    assert {"/api/login", "/api/users", "/api/tokens", "/api/queues", "/api/agents",
            "/api/debug/dial", "/api/agents/1/state"} <= paths
    checked = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        for method, path in routes:
            where = f"{method} {path}"
            headers = {**bearer(Role.ADMIN), "Content-Type": "application/json"}
            async with http.request(
                method, base_of(server) + path, data=DEEP, headers=headers
            ) as resp:
                text = await resp.text()
                assert resp.status != 500, (where, text[:300])
                if (method, path) not in BODYLESS:
                    assert resp.status == 400, (where, resp.status, text[:300])
            caplog.clear()
            async with http.request(
                method, base_of(server) + path, data=DEEP_60KB, headers=headers
            ) as resp:
                text = await resp.text()
                assert resp.status != 500, (where, text[:300])
                if (method, path) in BODYLESS:
                    continue
                assert resp.status == 400, (where, resp.status, text[:300])
                body = json.loads(text)
                error = body["error"]
                if path.startswith("/api/debug/"):
                    # The debug API's errors are plain strings.
                    assert f"nested deeper than {MAX_DEPTH}" in error, where
                else:
                    assert error["where"] == "body", where
                    assert error["code"] in ("invalid_input", "invalid_body"), where
                    assert f"nested deeper than {MAX_DEPTH}" in error["message"], where
            assert _problems(caplog) == [], where
            lines = _depth_lines(caplog)
            assert len(lines) == 1, (where, [r.getMessage() for r in caplog.records])
            assert lines[0].getMessage().count("\n") == 0
            assert path in lines[0].getMessage()
            checked += 1
    assert checked >= 10


async def test_login_answers_400_to_deep_json_without_a_session(server: Server) -> None:
    deep_object = '{"username": ' * 50 + '"x"' + "}" * 50
    async with aiohttp.ClientSession() as http:
        for body in (DEEP, deep_object):
            async with http.post(
                base_of(server) + "/api/login", data=body,
                headers={"Content-Type": "application/json"},
            ) as resp:
                assert resp.status == 400
                error = (await resp.json())["error"]
                assert error == {"code": "invalid_input", "where": "body",
                                 "message": f"JSON nested deeper than {MAX_DEPTH} levels"}
                assert "Set-Cookie" not in resp.headers


async def test_the_desk_socket_answers_an_error_and_stays_usable(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert server.users is not None
    await server.users.add_user("ana", PASSWORD, Role.AGENT)  # an agent of routing/demo.yaml
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(base_of(server) + "/api/login",
                             json={"username": "ana", "password": PASSWORD}) as resp:
            assert resp.status == 200, await resp.text()
        ws = await http.ws_connect(
            f"ws://{server.settings.http_listen}/api/desk/ws", max_msg_size=0)
        hello = await ws.receive_json(timeout=15)
        assert hello["type"] == "hello"
        caplog.clear()
        await ws.send_str(DEEP)
        error = await ws.receive_json(timeout=15)
        assert error == {"type": "error", "code": "invalid_json",
                         "message": f"JSON nested deeper than {MAX_DEPTH} levels"}
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json(timeout=15) == {"type": "pong"}
        assert not ws.closed
        await ws.close()
    assert _problems(caplog) == []
    assert len(_depth_lines(caplog)) == 1


# --- the reader itself -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "[" * 33 + "]" * 33,
    '{"a":' * 33 + "1" + "}" * 33,
    "[" * 1_000_000,
    '["' + "]" * 40 + '", ' + "[" * 33 + "]" * 33 + "]",
])
def test_too_deep_is_refused_before_decoding(text: str) -> None:
    with pytest.raises(JsonBodyError, match="nested deeper than 32"):
        loads(text)


@pytest.mark.parametrize("text", [
    "[" * 32 + "]" * 32,
    '{"a":' * 32 + "1" + "}" * 32,
    # Brackets inside strings (escaped quotes too) are text, not nesting.
    json.dumps({"note": "[" * 500 + '\\"' + "{" * 500}),
    json.dumps([[1], [2]] * 1000),
])
def test_deep_enough_and_brackets_in_strings_pass(text: str) -> None:
    check_depth(text)
    assert loads(text) == json.loads(text)


def test_bad_json_says_where() -> None:
    with pytest.raises(JsonBodyError, match="not JSON: Expecting value at line 1 column 10"):
        loads('{"name": ')
