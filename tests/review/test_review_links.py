"""The link to the review page from the desk and the supervisor's page (issue 11), in headless
Chromium over the real auth, recordings and review API: worded for who follows it, in English
and Spanish, and what it leads to is what that role may see (the review API's rule): agent Ana
finds her own recording and not Bo's; Sam, supervisor of Ana's team, finds Ana's; root (admin)
both. The review page links back to the desk, and to the supervisor's page for those who may
open it. The three pages load their shared modules from /common/static with no error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cases.events import InProcessBus
from cases.review_store import ReviewStore
from cases.store import CaseStore
from centralita.recording import CaseInteractions
from media.clock import FakeClock
from recordings.service import Recordings
from recordings.storage import FileStorage, RecordingIndex
from tests.helpers.chromium import CHROMIUM
from tests.helpers.webapp import start_app
from tests.recordings.test_review_api import ROLES, START, TEAMS
from tests.review.test_review_api import record
from tests.web.conftest import PASSWORD, hasher, make_auth, users
from tests.web.desk_fake import FakeDeskService
from web.app import build_app
from web.auth.store import UserStore
from web.desk import add_desk_routes
from web.recordings_api import RecordingsApi, add_recording_routes
from web.review import ReviewApi, add_review_routes
from web.supervisor.api import add_supervisor_routes
from web.supervisor.feed import WallboardFeed

__all__ = ["hasher", "users"]  # tests/web's fixtures, used here

pytestmark = pytest.mark.slow


@dataclass
class Pages:
    base: str
    recording: dict[str, str]  # agent -> the id of their recorded call


@pytest.fixture
async def pages(tmp_path: Path, users: UserStore) -> AsyncIterator[Pages]:
    for name, role in ROLES.items():
        await users.add_user(name, PASSWORD, role)
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    cases = await CaseStore.open(db, bus=InProcessBus())
    recordings = await Recordings.open(
        FileStorage(tmp_path / "rec"), await RecordingIndex.open(db), wall=lambda: START
    )
    review = await ReviewStore.open(db)
    recorded = {
        agent: await record(recordings, cases, f"call-{agent}", agent) for agent in ("ana", "bo")
    }

    async def board() -> dict[str, Any]:
        return {"queues": {}, "agents": {}, "channels": {}, "calls": {}}

    async def history(since: float | None, until: float | None) -> dict[str, Any]:
        return {}

    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    recordings_api = RecordingsApi(
        recordings, CaseInteractions(cases), TEAMS, wall=lambda: START.timestamp()
    )
    add_recording_routes(app, recordings_api)
    add_review_routes(app, ReviewApi(recordings_api, review))
    add_desk_routes(app, FakeDeskService(), heartbeat=5)
    add_supervisor_routes(app, WallboardFeed(board), history)
    runner, base = await start_app(app, access_log=None)
    try:
        yield Pages(base, recorded)
    finally:
        await runner.cleanup()
        await review.close()
        await recordings.close()
        await cases.close()


async def _open(browser: Any, base: str, who: str, path: str, locale: str = "en-US") -> Any:
    context = await browser.new_context(base_url=base, locale=locale)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            page.errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    reply = await page.request.post("/api/login", data={"username": who, "password": PASSWORD})
    assert reply.ok, await reply.text()
    await page.goto(path)
    return page


async def _follow_to_review(page: Any, words: str) -> set[str]:
    """Click the review link once it reads `words`; the recordings the review page lists."""
    link = page.locator("#review-link")
    await page.wait_for_function(
        "(words) => document.getElementById('review-link').textContent === words", arg=words
    )
    assert await link.get_attribute("href") == "/review"
    await link.click()
    await page.wait_for_selector("body[data-view='list']")
    hrefs = await page.eval_on_selector_all(
        "#recent a", "els => els.map(e => e.getAttribute('href'))"
    )
    return {str(h).removeprefix("/review/") for h in hrefs}


async def test_each_role_follows_its_link_to_the_recordings_it_may_see(pages: Pages) -> None:
    from playwright.async_api import async_playwright

    ana, bo = pages.recording["ana"], pages.recording["bo"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            desk = await _open(browser, pages.base, "ana", "/desk")
            assert await _follow_to_review(desk, "My recordings") == {ana}
            assert await desk.is_visible("#desk-link")
            assert not await desk.is_visible("#supervisor-link")
            assert desk.errors == [], desk.errors

            sam = await _open(browser, pages.base, "sam", "/supervisor?lang=es", "en-US")
            assert await sam.text_content("#queues thead th") == "Cola"
            assert await _follow_to_review(sam, "Grabaciones de mis equipos") == {ana}
            assert await sam.text_content("#supervisor-link") == "Supervisión"
            assert await sam.is_visible("#supervisor-link")
            await sam.click("#supervisor-link")
            await sam.wait_for_selector("#queues")
            assert sam.errors == [], sam.errors

            # A supervisor on the desk finds the same recordings there.
            sam_desk = await _open(browser, pages.base, "sam", "/desk?lang=en")
            assert await _follow_to_review(sam_desk, "My teams' recordings") == {ana}

            root = await _open(browser, pages.base, "root", "/supervisor", "es-ES")
            assert await _follow_to_review(root, "Todas las grabaciones") == {ana, bo}
            assert root.errors == [], root.errors
        finally:
            await browser.close()
