"""The desk in Spanish: a browser whose language is Spanish gets the page in Spanish (its
<html lang> and its words), in headless Chromium, with a screenshot kept in the test's tmp
dir; `?lang=es` is the user's own choice and outlasts the browser's; the Spanish catalogue
has exactly the English one's keys and placeholders."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from media.clock import FakeClock
from tests.helpers.chromium import CHROMIUM
from tests.helpers.webapp import start_app
from tests.web.conftest import CHEAP, PASSWORD, make_auth
from tests.web.desk_fake import FakeDeskService
from web.app import build_app
from web.auth import Role
from web.auth.passwords import PasswordHasher
from web.auth.store import UserStore
from web.desk import add_desk_routes
from web.desk.api import STATIC_DIR

_ENTRY = re.compile(r'^\s*"([a-z_.]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$', re.MULTILINE)


def catalogue(name: str) -> dict[str, str]:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    if name == "i18n.js":  # the `en` object only
        text = text[text.index("export const en"):text.index("};")]
    return dict(_ENTRY.findall(text))


def test_spanish_has_every_english_key_and_placeholder() -> None:
    en, es = catalogue("i18n.js"), catalogue("i18n_es.js")
    assert len(en) > 100
    assert sorted(en) == sorted(es)
    for key, text in en.items():
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", es[key])), key


async def test_the_desk_speaks_spanish_to_a_spanish_browser(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    users = await UserStore.open(f"sqlite:///{tmp_path}/users.db", hasher=PasswordHasher(CHEAP))
    await users.add_user("ana", PASSWORD, Role.AGENT)
    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    add_desk_routes(app, FakeDeskService(), heartbeat=5)
    runner, base = await start_app(app, access_log=None)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
            try:
                context = await browser.new_context(base_url=base, locale="es-ES",
                                                    viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                reply = await page.request.post("/api/login",
                                                data={"username": "ana", "password": PASSWORD})
                assert reply.ok, await reply.text()
                await page.goto("/desk")
                await page.wait_for_function("() => window.desk && window.desk.state.agent")
                assert await page.get_attribute("html", "lang") == "es"
                assert await page.title() == "Escritorio de Centralita"
                assert await page.text_content("#state-available") == "Disponible"
                assert await page.text_content("#state-break") == "Pausa"
                await page.screenshot(path=str(tmp_path / "desk-es.png"), full_page=True)
                assert (tmp_path / "desk-es.png").stat().st_size > 10_000

                # The user's own choice wins over the browser's and is kept.
                english = await browser.new_context(base_url=base, locale="en-US")
                page = await english.new_page()
                await page.request.post("/api/login",
                                        data={"username": "ana", "password": PASSWORD})
                await page.goto("/desk")
                await page.wait_for_function("() => window.desk && window.desk.state.agent")
                assert await page.get_attribute("html", "lang") == "en"
                assert await page.text_content("#state-available") == "Available"
                await page.goto("/desk?lang=es")
                await page.wait_for_function("() => window.desk && window.desk.state.agent")
                assert await page.text_content("#state-available") == "Disponible"
                await page.goto("/desk")
                await page.wait_for_function("() => window.desk && window.desk.state.agent")
                assert await page.get_attribute("html", "lang") == "es"
                assert errors == []
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
        await users.close()
