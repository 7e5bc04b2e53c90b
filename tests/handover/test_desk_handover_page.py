"""The desk's "Continue by SMS" in headless Chromium (Playwright, /usr/bin/chromium) against the
real desk page, auth, case API and handover routes, the real `TwilioMessaging` (the official
`twilio` client) pointed at the loopback stand-in; a fake `DeskService` plays routing's part
(it tells the page which conversation the agent has). The agent opens the SMS conversation,
clicks "SMS" under "Continue by…", sees the summary's text and the link, edits the text and
sends; the stand-in receives one SMS to the customer with the edited summary and the link,
and the link opens the chat page on that case."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.opt_outs import OptOutStore
from cases.store import CaseStore, system_clock
from channels.attachments import AttachmentStore
from channels.chat_tokens import VisitorTokens
from channels.chat_tokens import load_secret as load_chat_secret
from channels.handover import Handover
from channels.handover_tokens import HandoverTokens, load_secret
from channels.twilio_config import TwilioConfig
from channels.twilio_messaging import TwilioMessaging
from media.clock import FakeClock
from tests.helpers.chromium import CHROMIUM
from tests.helpers.twilio_standin import TwilioStandIn
from tests.helpers.webapp import start_app
from tests.web.conftest import PASSWORD, USERS, clock, hasher, make_auth, users  # noqa: F401
from tests.web.desk_fake import FakeDeskService
from voice.dialplan import DialPlan
from web.app import build_app
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.desk import add_desk_routes
from web.handover_api import add_handover_routes

ACCOUNT = "AC" + "6" * 32
TOKEN = "twilio-auth-token-for-desk-handover"
PUBLIC = "https://contact.example.test/pbx"
CUSTOMER = "+34612345678"
LINK = re.compile(r"https://contact\.example\.test/pbx/chat/continue\?t=(\S+)")


@dataclass
class Rig:
    base: str
    cases: CaseStore
    service: FakeDeskService
    twilio: TwilioStandIn


@pytest.fixture
async def rig(tmp_path: Path, users: UserStore, clock: FakeClock) -> AsyncIterator[Rig]:  # noqa: F811
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    bus = InProcessBus()
    url = f"sqlite:///{tmp_path}/handover-cases.db"
    cases = await CaseStore.open(url, bus=bus)
    opt_outs = await OptOutStore.open(url, now=system_clock)
    service = FakeDeskService()
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio:
        config = TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                              sms_number="+34910000000", api_base_url=twilio.base_url)
        messaging = TwilioMessaging.open(
            config, cases=cases, opt_outs=opt_outs, plan=DialPlan(region="ES"),
            attachments=AttachmentStore(tmp_path / "attachments"), default_region="ES")
        app = build_app(lambda: {"http": True}, None, make_auth(users, clock))
        add_case_routes(app, cases, bus, heartbeat=5)
        add_handover_routes(app, Handover(
            cases, HandoverTokens(load_secret(tmp_path / "data")), base_url=PUBLIC,
            wall=time.time, visitors=VisitorTokens(load_chat_secret(tmp_path / "data")),
            sms=messaging))
        add_desk_routes(app, service, heartbeat=5)
        runner, base = await start_app(app, access_log=None)
        try:
            yield Rig(base, cases, service, twilio)
        finally:
            await runner.cleanup()
            await messaging.close()
            await opt_outs.close()
            await cases.close()


def conv(conv_id: int, case_id: str) -> dict[str, Any]:
    return {"id": conv_id, "case_id": case_id, "channel": "sms", "queue": "help",
            "state": "assigned", "agent": "ana", "unread": 0, "last_message_at": None,
            "waiting_since": None, "customer": CUSTOMER}


@pytest.mark.slow
async def test_continue_by_sms_from_the_desk(rig: Rig) -> None:
    from playwright.async_api import async_playwright

    text = await rig.cases.store_message(MessageDraft(
        channel="sms", direction="inbound", sender=CUSTOMER, recipient="+34910000000",
        body="My order 4567 arrived broken. I want a replacement.",
        external_id="SM" + "1" * 32, verified=True))
    await rig.cases.set_text_interaction(text.interaction_id, agent="ana", queue="help")
    await rig.cases.refresh_summary(text.interaction_id)
    public = await rig.cases.public_id(text.case_id)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(base_url=rig.base)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            reply = await page.request.post("/api/login",
                                            data={"username": "ana", "password": PASSWORD})
            assert reply.ok, await reply.text()
            await page.goto("/desk")
            await page.wait_for_function("() => window.desk && window.desk.state.agent")
            await rig.service.send("ana", {"type": "conversation",
                                           "conversation": conv(text.interaction_id, public)})
            await page.locator(f".conversation[data-id='{text.interaction_id}'] button").click()
            await page.locator("#handover-sms").wait_for()
            await page.click("#handover-sms")
            await page.wait_for_function(
                "() => document.querySelector('#handover-text').value.includes('4567')")
            draft = await page.input_value("#handover-text")
            assert "broken" in draft
            assert LINK.search(await page.text_content("#handover-link") or "") is not None
            await page.fill("#handover-text", draft + " We will send a new one today.")
            await page.click("#handover-send")
            await page.locator("#handover-status", has_text="Sent").wait_for()
            assert errors == []
        finally:
            await browser.close()

    for _ in range(50):
        if rig.twilio.requests:
            break
        await asyncio.sleep(0.1)
    [sms] = rig.twilio.requests
    assert sms.form["To"] == CUSTOMER
    body = sms.form["Body"]
    assert "4567" in body and "We will send a new one today." in body
    link = LINK.search(body)
    assert link is not None
    async with aiohttp.ClientSession() as http, \
            http.get(rig.base + "/chat/continue", params={"t": link.group(1)}) as page_resp:
        assert page_resp.status == 200
        assert "data-visitor-token" in await page_resp.text()
