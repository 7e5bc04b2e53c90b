"""The chat widget in headless Chromium (Playwright, Debian's /usr/bin/chromium): a shop's
page on another origin embeds it with one script tag under a strict CSP (no inline script,
the chat server allowed for script, style and connect only); the visitor chats, the agent
answers through `POST /api/cases/{id}/chat`, the visitor sees it (and the agent typing), the
line goes delivered and read; the visitor reloads and continues the same conversation, on
the same case. The page is in Spanish (`lang="es"`): the widget speaks it."""

from __future__ import annotations

import asyncio
import html
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cases.events import InProcessBus
from cases.store import CaseStore
from channels.chat import ChatService
from channels.chat_config import ChatSettings
from channels.chat_tokens import VisitorTokens, load_secret, user_hash
from media.clock import FakeClock
from tests.helpers.chromium import CHROMIUM
from tests.helpers.webapp import start_app
from tests.web.conftest import CHEAP, bearer, make_auth
from web.app import build_app
from web.auth import Role
from web.auth.passwords import PasswordHasher
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.chat_api import add_chat_routes

pytestmark = pytest.mark.slow
SITE_SECRET = "the-shop-and-the-chat-server-share-this-0123"

PAGE = """<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Tienda</title></head>
<body><h1>Tienda de ejemplo</h1>
<script type="module" src="{chat}/chat/widget.js"{extra}></script>
</body></html>
"""


async def until(check: Any, what: str) -> None:
    """Wait up to 10 s for the async `check()` to be true (polling the store: the status is
    written by the server's own task after the widget's ack)."""
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[str, str, CaseStore]]:
    """(the chat server's base URL, the shop's, the case store)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed")
    users = await UserStore.open(f"sqlite:///{tmp_path}/users.db", hasher=PasswordHasher(CHEAP))
    bus = InProcessBus()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/cases.db", bus=bus)
    chat: dict[str, str] = {}  # the shop's page names the chat server, started after it

    async def page(request: web.Request) -> web.Response:
        base, ws_base = chat["base"], chat["base"].replace("http://", "ws://")
        user, given = request.query.get("user"), request.query.get("hash")
        # What the shop's server writes for a logged-in user (escaped: the test's own values).
        extra = f' data-user-id="{html.escape(user)}" data-user-hash="{html.escape(given or "")}"' \
            if user else ""
        return web.Response(text=PAGE.format(chat=base, extra=extra), content_type="text/html",
                            headers={
            "Content-Security-Policy": (
                f"default-src 'self'; script-src {base}; style-src {base}; "
                f"connect-src {ws_base}; object-src 'none'; base-uri 'none'")})

    shop = web.Application()
    shop.router.add_get("/", page)
    shop_runner, shop_base = await start_app(shop)
    service = ChatService(cases, bus, VisitorTokens(load_secret(tmp_path / "data")),
                          ChatSettings(allowed_origins=(shop_base,),
                                       site_secrets=(SITE_SECRET.encode(),)))
    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    add_case_routes(app, cases, bus, heartbeat=5)
    add_chat_routes(app, service)
    chat_runner, chat_base = await start_app(app)
    chat["base"] = chat_base
    try:
        yield chat_base, shop_base, cases
    finally:
        await chat_runner.cleanup()
        await shop_runner.cleanup()
        await cases.close()
        await users.close()


async def test_a_visitor_chats_reloads_and_continues(
    servers: tuple[str, str, CaseStore], tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    chat_base, shop_base, cases = servers
    problems: list[str] = []
    async with async_playwright() as p, aiohttp.ClientSession() as http:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = await (await browser.new_context()).new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                    and "Failed to load resource" not in m.text else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(shop_base + "/")
            launcher = page.locator("#centralita-chat .launcher")
            await launcher.wait_for()
            assert await launcher.text_content() == "Chatea con nosotros"
            await launcher.click()
            await page.locator("#centralita-chat .input").fill("Hola, ¿dónde está mi pedido?")
            await page.locator("#centralita-chat .input").press("Enter")
            mine = page.locator("#centralita-chat .line.visitor")
            await mine.locator(".status", has_text="Enviado").wait_for()

            token = await page.evaluate(
                "Object.keys(localStorage).filter(k => k.endsWith(':token'))"
                ".map(k => localStorage.getItem(k))[0]")
            ref = await cases.open_text_interaction(
                channel="chat", address="visitor:" + token.split(".")[0])
            public = await cases.public_id(ref.case_id)
            agent = {**bearer(Role.ADMIN)}
            # The agent opens the conversation: the visitor sees their line was read.
            assert await cases.mark_read(ref.interaction_id) == 1
            await mine.locator(".status", has_text="Leído").wait_for()

            async with http.post(f"{chat_base}/api/cases/{public}/chat/typing",
                                 json={"active": True}, headers=agent) as resp:
                assert resp.status == 204
            await page.locator("#centralita-chat .typing").wait_for(state="visible")
            async with http.post(f"{chat_base}/api/cases/{public}/chat",
                                 json={"body": "Sale hoy. ¿Algo más?"}, headers=agent) as resp:
                assert resp.status == 201
                answer = await resp.json()
            await page.locator("#centralita-chat .line.agent .body",
                               has_text="Sale hoy. ¿Algo más?").wait_for()
            await page.locator("#centralita-chat .typing").wait_for(state="hidden")

            async def read() -> bool:
                timeline = await cases.timeline(ref.case_id)
                found = [e["message"] for e in timeline["entries"] if e["type"] == "message"
                         and e["message"]["id"] == answer["id"]]
                return bool(found) and found[0]["status"] == "read"
            await until(read, "the agent's line read")
            await page.screenshot(path=str(tmp_path / "chat-1.png"))

            await page.reload()
            await page.locator("#centralita-chat .line.agent .body",
                               has_text="Sale hoy. ¿Algo más?").wait_for()
            assert await page.locator("#centralita-chat .line").count() == 2
            await mine.first.locator(".status", has_text="Leído").wait_for()  # kept on reload
            await page.locator("#centralita-chat .input").fill("No, gracias")
            await page.locator("#centralita-chat .send").click()
            await mine.nth(1).locator(".status", has_text="Enviado").wait_for()
            await page.screenshot(path=str(tmp_path / "chat-2.png"))
        finally:
            await browser.close()

    timeline = await cases.timeline(ref.case_id)
    bodies = [e["message"]["body"] for e in timeline["entries"] if e["type"] == "message"]
    assert bodies == ["Hola, ¿dónde está mi pedido?", "Sale hoy. ¿Algo más?", "No, gracias"]
    assert [i["channel"] for i in timeline["interactions"]] == ["chat"]  # one conversation
    assert problems == []  # no CSP violation, no script error


async def test_a_forged_user_hash_is_refused_and_a_real_one_joins_the_customer(
    servers: tuple[str, str, CaseStore],
) -> None:
    from playwright.async_api import async_playwright

    _, shop_base, cases = servers
    known = await cases.open_text_interaction(channel="chat", address="site:cust-9",
                                              verified=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{shop_base}/?user=cust-9&hash={'ab' * 32}")
            await page.locator("#centralita-chat .launcher").click()
            error = page.locator("#centralita-chat .error")
            await error.wait_for(state="visible")
            assert await error.text_content() == \
                "No pudimos confirmar quién eres. Vuelve a iniciar sesión en este sitio."
            await page.locator("#centralita-chat .composer").wait_for(state="hidden")

            page = await (await browser.new_context()).new_page()
            good = user_hash(SITE_SECRET.encode(), "cust-9")
            await page.goto(f"{shop_base}/?user=cust-9&hash={good}")
            await page.locator("#centralita-chat .launcher").click()
            await page.locator("#centralita-chat .input").fill("Soy cliente")
            await page.locator("#centralita-chat .input").press("Enter")
            # Five more at once: the sixth is over the rate, said in words, and sent later.
            for n in range(5):
                await page.locator("#centralita-chat .input").fill(f"línea {n}")
                await page.locator("#centralita-chat .input").press("Enter")
            await page.locator("#centralita-chat .error", has_text="demasiado rápido").wait_for()
            await page.locator("#centralita-chat .line.visitor .status",
                               has_text="Enviado").nth(5).wait_for(timeout=10_000)
        finally:
            await browser.close()
    timeline = await cases.timeline(known.case_id)
    bodies = [e["message"]["body"] for e in timeline["entries"] if e["type"] == "message"]
    assert bodies == ["Soy cliente"] + [f"línea {n}" for n in range(5)]
