"""The desk offers the customer's preferred channel first under "Continue by…", in headless
Chromium against the real desk page, auth, case API and preferred-channel routes over a real
case store (a fake `DeskService` tells the page which conversation the agent has): inferred
from how the customer writes (SMS), then chosen by them (email)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.preferences import PreferenceStore
from cases.store import CaseStore, system_clock
from media.clock import FakeClock
from tests.helpers.chromium import CHROMIUM
from tests.helpers.webapp import start_app
from tests.web.conftest import PASSWORD, USERS, clock, hasher, make_auth, users  # noqa: F401
from tests.web.desk_fake import FakeDeskService
from web.app import build_app
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.desk import add_desk_routes
from web.preference_api import add_preference_routes

CUSTOMER = "+34612345678"


@dataclass
class Rig:
    base: str
    cases: CaseStore
    preferences: PreferenceStore
    service: FakeDeskService


@pytest.fixture
async def rig(tmp_path: Path, users: UserStore, clock: FakeClock) -> AsyncIterator[Rig]:  # noqa: F811
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    bus = InProcessBus()
    url = f"sqlite:///{tmp_path}/preferred-cases.db"
    cases = await CaseStore.open(url, bus=bus)
    preferences = await PreferenceStore.open(url, now=system_clock)
    service = FakeDeskService()
    app = build_app(lambda: {"http": True}, None, make_auth(users, clock))
    add_case_routes(app, cases, bus, heartbeat=5)
    add_preference_routes(app, preferences)
    add_desk_routes(app, service, heartbeat=5)
    runner, base = await start_app(app, access_log=None)
    try:
        yield Rig(base, cases, preferences, service)
    finally:
        await runner.cleanup()
        await preferences.close()
        await cases.close()


def conv(conv_id: int, case_id: str) -> dict[str, Any]:
    return {"id": conv_id, "case_id": case_id, "channel": "sms", "queue": "help",
            "state": "assigned", "agent": "ana", "unread": 0, "last_message_at": None,
            "waiting_since": None, "customer": CUSTOMER}


@pytest.mark.slow
async def test_the_desk_offers_the_preferred_channel_first(rig: Rig) -> None:
    from playwright.async_api import async_playwright

    text = await rig.cases.store_message(MessageDraft(
        channel="sms", direction="inbound", sender=CUSTOMER, recipient="+34910000000",
        body="Where is my parcel?", external_id="SM" + "2" * 32, verified=True))
    await rig.cases.set_text_interaction(text.interaction_id, agent="ana", queue="help")
    public = await rig.cases.public_id(text.case_id)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await (await browser.new_context(base_url=rig.base)).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            reply = await page.request.post("/api/login",
                                            data={"username": "ana", "password": PASSWORD})
            assert reply.ok, await reply.text()

            async def buttons() -> list[tuple[str, str, str | None]]:
                found: list[tuple[str, str, str | None]] = await page.eval_on_selector_all(
                    ".handover-channels button",
                    "els => els.map(e => [e.dataset.channel, e.textContent,"
                    " e.dataset.preferred || null])")
                return [tuple(b) for b in found]  # type: ignore[misc]

            async def open_case() -> None:
                await page.goto("/desk")
                await page.wait_for_function("() => window.desk && window.desk.state.agent")
                await rig.service.send("ana", {"type": "conversation", "conversation": conv(
                    text.interaction_id, public)})
                await page.locator(
                    f".conversation[data-id='{text.interaction_id}'] button").click()
                await page.locator(".handover-channels button[data-preferred]").wait_for()

            # They write by SMS: SMS is inferred, first and marked.
            await open_case()
            assert (await buttons())[0] == ("sms", "SMS (preferred)", "inferred")
            # They chose email: email comes first now, the others after it.
            await rig.preferences.choose_for_case(text.case_id, "email")
            await open_case()
            got = await buttons()
            assert got[0] == ("email", "Email (preferred)", "explicit"), got
            assert [b[0] for b in got[1:]] == ["sms", "whatsapp", "chat"]
            assert all(b[2] is None for b in got[1:])
            assert errors == []
        finally:
            await browser.close()
