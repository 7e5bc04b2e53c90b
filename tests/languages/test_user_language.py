"""A user's own language setting (issue 16: pages chosen by the user's setting or the
browser): Ana, on an English browser, picks Español on her desk; the page reloads in Spanish,
and another browser (another computer, also English) where she signs in shows her desk and
the review page in Spanish too, her session untouched; back to "Browser's language" and the
pages follow the browser again. The API refuses a language it has no catalogue for, naming
the field, and a token (which has no pages)."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd
from tests.e2e.test_desk_calls import add_agent_user, desk_for
from tests.helpers.chromium import CHROMIUM
from tests.pjsua.audio import make_tone

pytestmark = pytest.mark.slow


async def test_an_agents_language_follows_her_to_another_browser(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("sox") is None:
        pytest.fail("chromium and sox are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    server = await start_acd(server_factory, tmp_path, queues=[queue("support")],
                             agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}],
                             entry_queue="support",
                             config={"recordings": {"enabled": True}})  # the review page
    await add_agent_user(server, "ana")
    mic = make_tone(tmp_path / "mic.wav", 700.0, 5.0)
    async with async_playwright() as p:
        async with desk_for(p, server, "ana", tmp_path / "one", mic) as desk:
            assert await desk.page.text_content("#state-available") == "Available"
            async with desk.page.expect_navigation():
                await desk.page.select_option("#my-language", "es")
            await desk.visible("#idle")
            assert await desk.page.text_content("#state-available") == "Disponible"
            assert await desk.page.evaluate("document.documentElement.lang") == "es"
            me = await (await desk.page.request.get("/api/me")).json()
            assert me["language"] == "es" and me["user"] == "ana"  # same session
        async with desk_for(p, server, "ana", tmp_path / "two", mic) as other:
            assert await other.page.text_content("#state-available") == "Disponible"
            await other.page.goto("/review")
            assert await other.page.evaluate("document.documentElement.lang") == "es"
            await other.page.goto("/desk")
            await other.visible("#idle")
            async with other.page.expect_navigation():
                await other.page.select_option("#my-language", "")
            await other.visible("#idle")
            assert await other.page.text_content("#state-available") == "Available"

    async with aiohttp.ClientSession(headers=server.auth_headers) as http, \
            http.put(f"{server.http_base}/api/me/language", json={"language": "es"}) as resp:
        assert resp.status == 400  # a token: no pages to speak
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{server.http_base}/api/login",
                             json={"username": "ana", "password": "desk-test-password-1"}) as r:
            assert r.status == 200
            csrf = (await r.json())["csrf"]
        async with http.put(f"{server.http_base}/api/me/language", json={"language": "fr"},
                            headers={"X-CSRF-Token": csrf}) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["error"]["where"] == "language", body
