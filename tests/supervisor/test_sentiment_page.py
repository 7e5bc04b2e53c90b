"""How the supervisor's page shows a call's sentiment (issue 16 item 5), in headless Chromium
over the real feed, socket and auth: a call in progress has no trend until a segment is scored;
a delta that brings a negative point turns its label negative and adds a red mark, in English
and in Spanish, with no new snapshot. (Where the figures come from, on a real call with real
speech: tests/supervisor/test_sentiment_live.py.)"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media.clock import FakeClock
from tests.helpers.chromium import CHROMIUM
from tests.helpers.webapp import start_app
from tests.web.conftest import PASSWORD, hasher, make_auth, users
from web.app import build_app
from web.auth.roles import Role
from web.auth.store import UserStore
from web.supervisor.api import add_supervisor_routes
from web.supervisor.feed import WallboardFeed

__all__ = ["hasher", "users"]  # tests/web's fixtures, used here

pytestmark = pytest.mark.slow

CALL = {
    "agent": "ana",
    "queue": "support",
    "caller": "+34612000111",
    "phase": "connected",
    "case_id": "k1",
    "since": 1000.0,
    "muted": False,
    "supervisors": {},
}
POSITIVE = {"speaker": "agent", "start": 2.0, "sentiment": 0.62}
NEGATIVE = {"speaker": "caller", "start": 6.2, "sentiment": -0.71}


class Board:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {
            "queues": {},
            "agents": {},
            "channels": {},
            "calls": {"c1": dict(CALL)},
        }

    async def __call__(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


@pytest.fixture
async def page_app(users: UserStore) -> AsyncIterator[tuple[str, Board, WallboardFeed]]:
    await users.add_user("sue", PASSWORD, Role.SUPERVISOR)
    board = Board()
    feed = WallboardFeed(board, refresh=60.0, settle=0.01)

    async def history(since: float | None, until: float | None) -> dict[str, Any]:
        return {}

    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    add_supervisor_routes(app, feed, history)
    runner, base = await start_app(app, access_log=None)
    try:
        yield base, board, feed
    finally:
        await runner.cleanup()


async def _points(page: Any) -> list[tuple[str, str]]:
    marks = await page.eval_on_selector_all(
        '#calls li[data-call="c1"] .trend .point',
        "els => els.map(e => [e.dataset.speaker, e.dataset.level])",
    )
    return [(str(s), str(v)) for s, v in marks]


@pytest.mark.parametrize(
    ("locale", "negative"), [("en-US", "Sentiment: negative"), ("es-ES", "Sentimiento: negativo")]
)
async def test_a_negative_point_pushed_moves_the_calls_trend(
    page_app: tuple[str, Board, WallboardFeed],
    locale: str,
    negative: str,
) -> None:
    from playwright.async_api import async_playwright

    base, board, feed = page_app
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = await browser.new_context(base_url=base, locale=locale)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            reply = await page.request.post(
                "/api/login", data={"username": "sue", "password": PASSWORD}
            )
            assert reply.ok, await reply.text()
            await page.goto("/supervisor")
            row = '#calls li[data-call="c1"]'
            await page.wait_for_selector(row)
            assert await page.locator(f"{row} .sentiment").count() == 0  # nothing scored yet

            board.data["calls"]["c1"]["sentiment"] = {
                "label": "positive",
                "score": 0.62,
                "count": 1,
                "trend": [POSITIVE],
                "topics": [],
            }
            feed.poke()
            await page.wait_for_selector(f'{row} .sentiment[data-level="positive"]')
            assert await _points(page) == [("agent", "positive")]

            board.data["calls"]["c1"]["sentiment"] = {
                "label": "negative",
                "score": -0.05,
                "count": 2,
                "trend": [POSITIVE, NEGATIVE],
                "topics": ["delivery"],
            }
            feed.poke()
            await page.wait_for_selector(f'{row} .sentiment[data-level="negative"]')
            assert await _points(page) == [("agent", "positive"), ("caller", "negative")]
            words = await page.text_content(f"{row} .sentiment") or ""
            assert negative in words, words
            assert ("delivery" if locale == "en-US" else "entrega") in words, words
            title = await page.get_attribute(f"{row} .trend .point[data-level=negative]", "title")
            assert title == (
                "Caller at 6 s: negative"
                if locale == "en-US"
                else "Cliente en el segundo 6: negativo"
            ), title
            received = await page.evaluate("window.supervisor.received()")
            assert received["snapshot"] == 1 and received["delta"] >= 2, received
            assert errors == [], errors
        finally:
            await browser.close()
