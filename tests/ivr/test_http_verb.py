"""The `http` verb against a real aiohttp server on 127.0.0.1: success, timeout, bad JSON."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from ivr.interpreter import Interpreter
from ivr.services import Services
from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from media.clock import FakeClock
from tests.ivr.fakes_flow import make_call

SECRET = "Ana Secreta"


@pytest.fixture
async def crm() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    seen: list[dict[str, object]] = []

    async def lookup(request: web.Request) -> web.Response:
        seen.append({"phone": request.query.get("phone"), "auth": request.headers.get("X-Key")})
        return web.json_response({"customer": {"name": SECRET, "tier": "gold"}, "ids": [7]})

    async def post(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response({"ok": True})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def bad(request: web.Request) -> web.Response:
        return web.Response(text=f"<html>{SECRET}</html>", content_type="text/html")

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text=SECRET)

    async def deep(request: web.Request) -> web.Response:
        return web.Response(text="[" * 5_000 + "]" * 5_000, content_type="application/json")

    app = web.Application()
    app.router.add_get("/lookup", lookup)
    app.router.add_post("/post", post)
    app.router.add_get("/slow", slow)
    app.router.add_get("/bad", bad)
    app.router.add_get("/fail", fail)
    app.router.add_get("/deep", deep)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def crm_flow(url: str, extra: tuple[str, ...] = ()) -> str:
    lines = [
        "name: crm",
        'numbers: ["100"]',
        "steps:",
        "  - http:",
        f'      url: "{url}"',
        '      headers: {X-Key: "k-${dialed}"}',
        "      timeout: 0.5",
        "      result: {customer_name: customer.name, tier: customer.tier, first: ids.0,",
        "               nothing: customer.missing}",
        "      on_error: fallback",
        *(f"      {line}" for line in extra),
        "  - set: {route: crm}",
        "  - hangup:",
        "  - label: fallback",
        "    set: {route: fallback}",
    ]
    return "\n".join(lines) + "\n"


async def run_flow(text: str, http: aiohttp.ClientSession | None = None):  # type: ignore[no-untyped-def]
    problems = Problems()
    doc = parse_flow(text.encode(), pathlib.Path("/tmp/crm.yaml"), problems, file="crm.yaml")
    assert problems.lines() == [] and doc is not None
    run = await Interpreter(None, Services(http=http), clock=FakeClock()).run(make_call(), doc)
    assert run.session is not None
    return run.session


async def test_success_maps_fields_into_variables(crm, caplog) -> None:  # type: ignore[no-untyped-def]
    base, seen = crm
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as http:
        session = await run_flow(crm_flow(base + "/lookup?phone=${caller}"), http)
    assert session.vars["route"] == "crm"
    assert (session.vars["customer_name"], session.vars["tier"], session.vars["first"]) == (
        SECRET, "gold", 7)
    assert "nothing" not in session.vars
    assert seen == [{"phone": "+34600111222", "auth": "k-100"}]
    assert SECRET not in caplog.text and "+34600111222" not in caplog.text


async def test_post_sends_rendered_json_without_a_shared_session(crm) -> None:  # type: ignore[no-untyped-def]
    base, seen = crm
    text = crm_flow(base + "/post", extra=("method: POST", 'body: {phone: "${caller}"}'))
    session = await run_flow(text)
    assert seen == [{"phone": "+34600111222"}]
    assert session.vars["route"] == "crm"


@pytest.mark.parametrize(("path", "error"), [
    ("/slow", "no answer within 0.5 s"),
    ("/bad", "answer is not JSON (JSONDecodeError)"),
    ("/fail", "HTTP status 500"),
    ("/deep", "answer is not JSON (RecursionError)"),
])
async def test_failures_follow_on_error_and_never_log_the_body(crm, caplog, path, error) -> None:  # type: ignore[no-untyped-def]
    base, _ = crm
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as http:
        session = await run_flow(crm_flow(base + path), http)
    assert session.vars["route"] == "fallback"
    assert session.recorded("http") == [{"ok": False, "error": error}]
    assert error in caplog.text
    assert SECRET not in caplog.text


async def test_connection_refused_follows_on_error() -> None:
    session = await run_flow(crm_flow("http://127.0.0.1:9/lookup"))
    assert session.vars["route"] == "fallback"
    assert session.recorded("http")[0]["error"].startswith("request failed")
