"""The desk's inbox and composer in headless Chromium (Playwright, Debian's /usr/bin/chromium)
against the real desk routes, auth, case API (timeline and live socket) and chat route, with a
fake `DeskService` that plays routing's part (it sends the conversation messages a
`TextRouter` would and records the page's commands).

The agent accepts an offered chat (countdown on the offer), the page opens it, marks it read
and shows the visitor's line on the case timeline; typing in the composer tells the chat
(`/chat/typing`), sending stores the line through the real chat route and it appears live;
the visitor typing shows on the desk.
A second offer is declined. An email conversation with two unread messages and a customer
waiting shows its badge and waiting time; opened, its composer has "Re: <subject>" and the
customer's last email quoted, which the agent edits and sends (threaded onto that email).
An SMS conversation's composer counts segments as the server does (the JS module and
`channels.sms_segments` agree on the same strings), and a refusal from the SMS route (an
opted-out number) is shown to the agent in its own words; the unsent text waits there while
the agent looks at another conversation. Closing sends the command and the
row goes when routing says so. Every string the page names is in the catalogue (i18n.js).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.store import CaseStore
from channels.chat import ChatService
from channels.chat_config import ChatSettings
from channels.chat_protocol import Hello
from channels.chat_tokens import VisitorTokens, load_secret
from channels.sms_segments import count_segments
from media.clock import FakeClock
from tests.helpers.chromium import CHROMIUM
from tests.helpers.webapp import start_app
from tests.web.conftest import PASSWORD, USERS, make_auth
from tests.web.desk_fake import FakeDeskService
from web.app import build_app
from web.auth import Role, require
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.chat_api import add_chat_routes
from web.desk import add_desk_routes
from web.desk.api import STATIC_DIR
from web.desk.protocol import (
    ConversationAccept,
    ConversationClose,
    ConversationDecline,
    ConversationRead,
    DeskCommand,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "desk-inbox"
REFUSAL = ("+34612345678 has opted out of SMS (they replied STOP): nothing can be sent to "
           "them on SMS until they reply START")
# The same strings through both counters: GSM-7 at and past each limit, the extension table
# (two septets, never split), UCS-2 (accents outside GSM, emoji as surrogate pairs).
SEGMENT_CASES = [
    "", "hola", "a" * 160, "a" * 161, "a" * 306, "a" * 307, "€" * 80, "€" * 81,
    "a" * 152 + "€", "a" * 159 + "{", "ç" * 70, "ç" * 71, "é" * 200, "😀" * 35, "😀" * 36,
    "a" * 66 + "😀", "Hola, ¿qué tal? Tu pedido llega mañana.", "line\nbreak\r\n~|^",
]


def sms_segments_pairs() -> list[tuple[str, dict[str, Any]]]:
    return [(text, {"encoding": s.encoding, "units": s.units, "count": s.count,
                    "perSegment": s.per_segment})
            for text in SEGMENT_CASES for s in [count_segments(text)]]


@dataclass
class Sent:
    """What the stand-in SMS and email routes were posted (they answer as the real ones)."""

    sms: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Rig:
    base: str
    cases: CaseStore
    bus: InProcessBus
    service: FakeDeskService
    sent: Sent


@pytest.fixture
async def rig(tmp_path: Path, users: UserStore, clock: FakeClock) -> AsyncIterator[Rig]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    bus = InProcessBus()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/inbox-cases.db", bus=bus)
    service = FakeDeskService()
    sent = Sent()

    # The SMS and email routes answer as web/twilio_api.py and web/email_api.py do; their
    # own behaviour (Twilio, SMTP) is tested end to end elsewhere.
    async def sms_route(request: web.Request) -> web.Response:
        body = await request.json()
        sent.sms.append(body)
        return web.json_response({"error": {"code": "opted_out", "message": REFUSAL}},
                                 status=409)

    async def email_route(request: web.Request) -> web.Response:
        body = await request.json()
        sent.emails.append(body)
        return web.json_response({"id": 999, "status": "sent"}, status=201)

    app = build_app(lambda: {"http": True}, None, make_auth(users, clock))
    add_case_routes(app, cases, bus, heartbeat=5)
    add_chat_routes(app, ChatService(cases, bus, VisitorTokens(load_secret(tmp_path / "data")),
                                     ChatSettings()))
    require(app, app.router.add_post("/api/cases/{id}/messages", sms_route), Role.AGENT)
    require(app, app.router.add_post("/api/cases/{id}/emails", email_route), Role.AGENT)
    add_desk_routes(app, service, heartbeat=5)
    runner, base = await start_app(app, access_log=None)
    try:
        yield Rig(base, cases, bus, service, sent)
    finally:
        await runner.cleanup()
        await cases.close()


def conv(conv_id: int, case_id: str, channel: str, **fields: Any) -> dict[str, Any]:
    """A CONV as the hub sends it (public case id)."""
    return {"id": conv_id, "case_id": case_id, "channel": channel, "queue": "help",
            "state": "assigned", "agent": "ana", "unread": 0, "last_message_at": None,
            "waiting_since": None, "customer": None, **fields}


async def next_of(service: FakeDeskService, kind: type[DeskCommand]) -> DeskCommand:
    """The next command of type `kind` (others, e.g. the page's state moves, are skipped)."""
    while True:
        command: DeskCommand = await service.next_command()
        if isinstance(command, kind):
            return command


@pytest.mark.slow
async def test_the_inbox_and_its_composers(rig: Rig, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    chat = ChatService(rig.cases, rig.bus, VisitorTokens(load_secret(tmp_path / "data")),
                       ChatSettings())
    visitor = chat.identify(Hello())
    line = await rig.cases.store_message(MessageDraft(
        channel="chat", direction="inbound", sender=visitor.address, recipient="chat",
        body="Hola, ¿sigue abierta la tienda?", external_id=f"{visitor.visitor_id}:l1"))
    chat_case = await rig.cases.public_id(line.case_id)
    mail = await rig.cases.store_message(MessageDraft(
        channel="email", direction="inbound", sender="lucia@example.com",
        recipient="help@shop.example", subject="Parcel 42",
        body="Where is my parcel?\nIt was due on Monday.", external_id="<m1@example.com>"))
    mail_case = await rig.cases.public_id(mail.case_id)
    text = await rig.cases.store_message(MessageDraft(
        channel="sms", direction="inbound", sender="+34612345678", recipient="+34910000000",
        body="STOP", external_id="SM" + "1" * 32, verified=True))
    sms_case = await rig.cases.public_id(text.case_id)
    # Routing records who has each conversation on the case: what lets ana read them.
    for stored in (line, mail, text):
        await rig.cases.set_text_interaction(stored.interaction_id, agent="ana", queue="help")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(base_url=rig.base,
                                                viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            reply = await page.request.post("/api/login",
                                            data={"username": "ana", "password": PASSWORD})
            assert reply.ok, await reply.text()
            await page.goto("/desk")
            await page.wait_for_function("() => window.desk && window.desk.state.agent")
            assert await page.text_content("#inbox-empty") == "No conversations."

            # A chat is offered: customer, channel, time left; Accept is the command.
            await rig.service.send("ana", {
                "type": "conversation_offer", "offer_id": "co-1", "timeout": 30,
                "conversation": conv(line.interaction_id, chat_case, "chat", state="offered",
                                     agent=None, unread=1, customer="<b>Visitante</b>")})
            offer = page.locator(".conversation-offer[data-offer-id='co-1']")
            await offer.wait_for()
            assert "Chat" in (await offer.text_content() or "")
            assert "<b>Visitante</b>" in (await offer.text_content() or "")  # text, not markup
            countdown = await offer.locator(".countdown").text_content() or ""
            left = re.fullmatch(r"(\d+) s to accept", countdown)
            assert left is not None and 0 < int(left.group(1)) <= 30, countdown
            await page.screenshot(path=str(ARTIFACTS / "offered.png"), full_page=True)
            await offer.locator("button.accept").click()
            assert await next_of(rig.service, ConversationAccept) == ConversationAccept("co-1")
            await rig.service.send("ana", {"type": "conversation", "conversation": conv(
                line.interaction_id, chat_case, "chat", unread=1, customer="Visitante",
                waiting_since="2026-12-06T10:00:00+00:00")})
            # Accepted: it opens, is read, and its timeline shows the visitor's line.
            assert await next_of(rig.service, ConversationRead) == \
                ConversationRead(line.interaction_id)
            await page.locator("#timeline .message[data-direction='inbound'] .body",
                               has_text="sigue abierta").wait_for()
            assert await page.is_hidden(".conversation-offer")
            assert await page.is_visible("#conversation-head")
            assert await page.is_hidden("#ivr-inputs")  # no call: no IVR or transcript
            assert await page.input_value("#composer-channel") == "chat"

            # Typing reaches the chat; the line goes out through the chat route, live back.
            async with rig.bus.subscribe(f"case:{line.case_id}") as events, \
                    asyncio.timeout(10):
                await page.locator("#composer-body").type("Sí, hasta las ocho.")
                async for event in events:
                    if event.get("type") == "chat_typing":
                        assert (event["from"], event["active"]) == ("agent", True)
                        break
            await page.click("#composer-send")
            await page.locator("#timeline .message[data-direction='outbound'] .body",
                               has_text="hasta las ocho").wait_for()
            assert await page.text_content("#composer-status") == "Sent."
            assert await page.input_value("#composer-body") == ""
            # The visitor types: the agent sees it, until they stop.
            await chat.typing(line.case_id, "visitor", True)
            await page.locator("#customer-typing").wait_for(state="visible")
            assert await page.text_content("#customer-typing") == "The customer is typing…"
            await chat.typing(line.case_id, "visitor", False)
            await page.locator("#customer-typing").wait_for(state="hidden")

            # A second offer, declined.
            await rig.service.send("ana", {
                "type": "conversation_offer", "offer_id": "co-2", "timeout": 30,
                "conversation": conv(77, sms_case, "sms", state="offered", agent=None)})
            await page.locator(".conversation-offer[data-offer-id='co-2'] button.decline").click()
            assert await next_of(rig.service, ConversationDecline) == ConversationDecline("co-2")
            await page.locator(".conversation-offer").wait_for(state="detached")

            # An email conversation, two unread, the customer waiting: badge and time.
            await rig.service.send("ana", {"type": "conversation", "conversation": conv(
                mail.interaction_id, mail_case, "email", unread=2, customer="Lucía",
                waiting_since="2020-01-01T00:00:00+00:00")})
            row = page.locator(f".conversation[data-id='{mail.interaction_id}']")
            await row.wait_for()
            assert await row.locator(".unread").text_content() == "2"
            assert "waiting" in (await row.locator(".waiting").text_content() or "")
            await page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
            await row.locator("button").click()
            assert await next_of(rig.service, ConversationRead) == \
                ConversationRead(mail.interaction_id)
            await page.wait_for_function(
                "() => document.getElementById('composer-subject').value === 'Re: Parcel 42'")
            body = await page.input_value("#composer-body")
            assert "lucia@example.com wrote:" in body
            assert "> Where is my parcel?\n> It was due on Monday." in body
            await page.locator("#composer-body").press("Control+Home")
            await page.locator("#composer-body").type("It left the warehouse today.")
            await page.click("#composer-send")
            await page.wait_for_function(
                "() => document.getElementById('composer-status').textContent === 'Sent.'")
            [email] = rig.sent.emails
            assert email["subject"] == "Re: Parcel 42"
            assert email["in_reply_to_message"] == mail.view["id"]
            assert email["body"].startswith("It left the warehouse today.\n\nOn ")
            await page.screenshot(path=str(ARTIFACTS / "email.png"), full_page=True)

            # SMS: the segment counter, then the route's refusal in its own words.
            await rig.service.send("ana", {"type": "conversation", "conversation": conv(
                text.interaction_id, sms_case, "sms", customer="+34612345678")})
            await page.locator(f".conversation[data-id='{text.interaction_id}'] button").click()
            await page.wait_for_function(
                "() => document.getElementById('composer-channel').value === 'sms'")
            segments = page.locator("#composer-segments")
            await page.fill("#composer-body", "a" * 160)
            assert await segments.get_attribute("data-count") == "1"
            assert await segments.text_content() == "160/160 characters · 1 SMS · GSM-7"
            await page.fill("#composer-body", "a" * 161)
            assert await segments.text_content() == "161 characters · 2 SMS of 153 · GSM-7"
            await page.fill("#composer-body", "Tu pedido 😀 sale hoy")
            assert await segments.get_attribute("data-encoding") == "UCS-2"
            agreed = await page.evaluate(
                """async (cases) => {
                     const m = await window.desk.segments();
                     return cases.map((c) => m.countSegments(c));
                   }""", SEGMENT_CASES)
            assert [(t, a) for t, a in zip(SEGMENT_CASES, agreed, strict=True)] == \
                sms_segments_pairs()
            await page.click("#composer-send")
            status = page.locator("#composer-status[data-kind='error']")
            await status.wait_for()
            assert await status.text_content() == f"Not sent: {REFUSAL}"
            assert await status.get_attribute("role") == "alert"
            assert rig.sent.sms == [{"channel": "sms", "body": "Tu pedido 😀 sale hoy"}]
            assert await page.input_value("#composer-body") == "Tu pedido 😀 sale hoy"  # kept
            # Another conversation and back: the draft is still there.
            await page.locator(f".conversation[data-id='{line.interaction_id}'] button").click()
            await page.wait_for_function(
                "() => document.getElementById('composer-channel').value === 'chat'")
            assert await page.input_value("#composer-body") == ""
            await page.locator(f".conversation[data-id='{text.interaction_id}'] button").click()
            await page.wait_for_function(
                "() => document.getElementById('composer-channel').value === 'sms'")
            assert await page.input_value("#composer-body") == "Tu pedido 😀 sale hoy"
            await page.screenshot(path=str(ARTIFACTS / "sms-refused.png"), full_page=True)

            # Close: the command, then the row goes when routing says so.
            await page.click("#conversation-close")
            assert await next_of(rig.service, ConversationClose) == \
                ConversationClose(text.interaction_id)
            await rig.service.send("ana", {"type": "conversation_closed",
                                           "id": text.interaction_id})
            await page.locator(f".conversation[data-id='{text.interaction_id}']").wait_for(
                state="detached")
            assert await page.is_hidden("#conversation-head")
            assert errors == []
        finally:
            await browser.close()


def test_every_string_the_page_names_is_in_the_catalogue() -> None:
    catalogue = (STATIC_DIR / "i18n.js").read_text()
    keys = set(re.findall(r'^\s*"([a-z_.]+)":', catalogue, re.MULTILINE))
    html = (STATIC_DIR / "desk.html").read_text()
    named = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    for script in ("inbox.js", "composer.js", "casepanel.js", "desk.js"):
        named |= set(re.findall(r'\bt\("([a-z_.]+)"', (STATIC_DIR / script).read_text()))
    plural = {k.rsplit(".", 1)[0] for k in keys if k.endswith((".one", ".other"))}
    missing = sorted(k for k in named if k not in keys and k not in plural)
    assert not missing, missing
    assert json.dumps(sorted(named))  # the scan found something to check
    assert {"composer.segments", "inbox.accept", "composer.quote_header"} <= named
