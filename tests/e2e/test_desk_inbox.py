"""The desk as a multi-channel inbox, end to end: a real `centralita serve` (its text router,
chat socket, case API), the agent's desk in headless Chromium (Playwright, /usr/bin/chromium),
and the customers' real peers: the chat widget in a second Chromium page on a shop's origin,
chat sockets speaking the widget's protocol, a pjsua2 caller answered over WebRTC, and the
real `twilio` client against the loopback Twilio stand-in (the one stand-in).

- A visitor chats in the widget; the agent accepts (the visitor sees their line read) and
  answers in the desk; the visitor
  reloads and continues the same conversation, and the agent sees it in the same one (and
  gets it back when they reload the desk).
- With chat 2 / voice 1 / max_concurrent 3 the agent holds two chats and a call at once; a
  third chat waits in line, not offered, until one chat is closed; then it is offered.
- During a call (the customer dialled nationally) the agent sends an SMS from the call's case
  without hanging up; it goes out through Twilio (the stand-in's callbacks mark it
  delivered). The customer's SMS reply is a conversation on the same case; its composer
  counts segments; after the customer's STOP the next SMS is refused and the agent reads
  why in the page.
- An email arrives on the SMTP listener; the agent's reply from the desk has "Re: <subject>"
  and the customer's email quoted, and goes out through the relay threaded on it; the
  customer's answer (history quoted) shows in the same conversation without the history.
Screenshots go to tests/artifacts/desk-inbox-e2e/.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import shutil
import socket
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import numpy as np
import pytest
import yaml
from aiohttp import web

from tests.channels import test_email_smtp
from tests.channels.test_email_smtp import (
    ANA,
    FROM,
    RELAY_PASSWORD,
    RELAY_USER,
    REPLY_DOMAIN,
    Relay,
)
from tests.e2e.acd import QUEUE_FLOW
from tests.e2e.api import get_json, send_json
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import ServerOptions, ServerProcess, free_port
from tests.helpers.twilio_standin import TwilioStandIn
from tests.helpers.webapp import start_app

pytestmark = pytest.mark.slow
# The email provider's relay (aiosmtpd with STARTTLS and AUTH), as in the email tests.
smtp_relay = test_email_smtp.relay

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "desk-inbox-e2e"
PASSWORD = "inbox-test-password-1"
ACCOUNT = "AC" + "7" * 32
TWILIO_TOKEN = "twilio-auth-token-for-the-inbox"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
CUSTOMER = "+34612345678"

SHOP_PAGE = """<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Tienda</title></head>
<body><h1>Tienda</h1><script type="module" src="{chat}/chat/widget.js"></script></body></html>
"""


def tone_wav(path: Path, seconds: float = 2.0) -> Path:
    """A 440 Hz tone, 16 kHz mono: the agent's fake microphone."""
    t = np.arange(int(16000 * seconds))
    pcm = (6000 * np.sin(2 * np.pi * 440 * t / 16000)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm.tobytes())
    return path


def server_options(tmp_path: Path, database: ServerDatabase, *, channels: list[str],
                   config: dict[str, Any], capacity: dict[str, int] | None = None
                   ) -> ServerOptions:
    """A server whose default flow queues callers in `support`, which serves `channels`;
    one agent, ana, with `capacity` under max_concurrent 3; its cases in `database`."""
    conf = tmp_path / "conf"
    flows = conf / "flows"
    flows.mkdir(parents=True)
    (flows / "acd.yaml").write_text(QUEUE_FLOW.format(queue="support"))
    routing = conf / "routing.yaml"
    agent: dict[str, Any] = {"id": "ana", "name": "Ana", "queues": ["support"],
                             "max_concurrent": 3}
    if capacity is not None:
        agent["capacity"] = capacity
    routing.write_text(yaml.safe_dump({
        "queues": [{"name": "support", "moh": None, "announce_every": 0,
                    "callback_key": None, "wrapup": 0.5, "offer_timeout": 30,
                    "channels": channels}],
        "agents": [agent]}, sort_keys=False))
    return ServerOptions(config={**config, **database.config()}, extra_args=[
        "--flows", str(flows), "--routing", str(routing), "--transcription", "off"])


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {within:g} s (last: {value!r})")
        await asyncio.sleep(0.2)


class Desk:
    """Ana's logged-in desk page."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    async def available(self) -> None:
        await self.page.click("#state-available")
        await self.page.wait_for_function(
            "() => document.getElementById('agent-state').textContent === 'Available'")

    async def accept_offer(self, within: float = 20.0) -> int:
        """Accept the (one) conversation offered; the id of the conversation it opens."""
        offer = self.page.locator(".conversation-offer").first
        await offer.wait_for(timeout=within * 1000)
        offer_id = await offer.get_attribute("data-offer-id")
        await offer.locator("button.accept").click()
        await offer.wait_for(state="detached")
        opened = await self.page.wait_for_function(
            """(offerId) => {
                 const s = window.desk.state;
                 return !(offerId in s.conversationOffers) && typeof s.focus === "number"
                   ? s.focus : null;
               }""", arg=offer_id)
        return int(await opened.json_value())

    async def conversations(self) -> list[int]:
        ids = await self.page.eval_on_selector_all(
            ".inbox-list .conversation[data-id]", "els => els.map(e => e.dataset.id)")
        return sorted(int(i) for i in ids)

    async def send(self, body: str) -> None:
        await self.page.fill("#composer-body", body)
        await self.page.click("#composer-send")


@contextlib.asynccontextmanager
async def desk_of(playwright: Any, server: ServerProcess, tmp: Path) -> AsyncIterator[Desk]:
    async with chromium_context(playwright, tmp / "profile-ana", tone_wav(tmp / "ana.wav"),
                                base_url=server.http_base,
                                viewport={"width": 1280, "height": 1000}) as context:
        page = await context.new_page()
        reply = await page.request.post("/api/login",
                                        data={"username": "ana", "password": PASSWORD})
        assert reply.ok, await reply.text()
        await page.goto("/desk")
        await page.wait_for_selector("#idle", state="visible")
        desk = Desk(page)
        yield desk
        assert desk.errors == []


async def add_ana(server: ServerProcess) -> None:
    await send_json(server, "POST", "/api/users",
                    {"name": "ana", "password": PASSWORD, "role": "agent"})


async def chat_line(ws: aiohttp.ClientWebSocketResponse, line_id: str, body: str) -> None:
    """Say a line on a chat socket and wait for its receipt (stored on the case)."""
    await ws.send_json({"type": "message", "id": line_id, "body": body})
    while True:
        frame = json.loads((await ws.receive(timeout=10)).data)
        if frame["type"] == "error":
            raise AssertionError(frame)
        if frame["type"] == "receipt":
            return


async def test_a_visitor_chats_the_agent_answers_in_the_desk_and_the_visitor_reloads(
    tmp_path: Path, server_database: ServerDatabase
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")

    chat: dict[str, str] = {}

    async def shop_page(request: web.Request) -> web.Response:
        return web.Response(text=SHOP_PAGE.format(chat=html.escape(chat["base"])),
                            content_type="text/html")

    shop = web.Application()
    shop.router.add_get("/", shop_page)
    shop_runner, shop_base = await start_app(shop)
    server = ServerProcess(tmp_path / "server", server_options(
        tmp_path, server_database, channels=["voice", "chat"], capacity={"voice": 1, "chat": 2},
        config={"chat": {"allowed_origins": [shop_base]}}))
    (tmp_path / "server").mkdir()
    chat["base"] = server.http_base
    try:
        async with server:
            await add_ana(server)
            await chat_scene(server, shop_base, tmp_path)
    finally:
        await shop_runner.cleanup()


async def chat_scene(server: ServerProcess, shop_base: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p, desk_of(p, server, tmp_path) as desk:
        await desk.available()
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            visitor = await (await browser.new_context()).new_page()
            await visitor.goto(shop_base + "/")
            await visitor.locator("#centralita-chat .launcher").click()
            await visitor.locator("#centralita-chat .input").fill(
                "Hola, ¿dónde está mi pedido?")
            await visitor.locator("#centralita-chat .input").press("Enter")
            await visitor.locator("#centralita-chat .line.visitor .status",
                                  has_text="Enviado").wait_for()

            # The agent is offered it, accepts, reads the line and answers.
            conversation = await desk.accept_offer()
            await desk.page.locator(
                "#timeline .message[data-direction='inbound'] .body",
                has_text="dónde está mi pedido").wait_for()
            await desk.shot("chat-accepted")
            # The agent has it open: the visitor sees their line read.
            await visitor.locator("#centralita-chat .line.visitor .status",
                                  has_text="Leído").wait_for()
            await desk.send("Sale hoy. ¿Algo más?")
            await visitor.locator("#centralita-chat .line.agent .body",
                                  has_text="Sale hoy. ¿Algo más?").wait_for()

            # The visitor reloads: the same conversation, and it goes on.
            await visitor.reload()
            await visitor.locator("#centralita-chat .line.agent .body",
                                  has_text="Sale hoy. ¿Algo más?").wait_for()
            await visitor.locator("#centralita-chat .input").fill("¿Y llega mañana?")
            await visitor.locator("#centralita-chat .input").press("Enter")
            await visitor.locator("#centralita-chat .line.visitor .status",
                                  has_text=re.compile("Enviado|Leído")).nth(1).wait_for()
        finally:
            await browser.close()

        # The agent sees it in the same conversation: same row, same interaction.
        same = desk.page.locator(
            f"#timeline .interaction[data-interaction-id='{conversation}'] "
            ".message[data-direction='inbound'] .body", has_text="llega mañana")
        await same.wait_for()
        assert await desk.conversations() == [conversation]
        await desk.shot("chat-continued")
        await desk.send("Sí, antes de las 14:00.")
        await desk.page.locator("#timeline .message[data-direction='outbound'] .body",
                                has_text="antes de las 14:00").wait_for()

        # The agent reloads the desk: hello brings the conversation back.
        await desk.page.reload()
        await desk.page.locator(f".conversation[data-id='{conversation}']").wait_for()
        assert await desk.conversations() == [conversation]
        # The reload logged the agent out: the page says what that means, until available.
        await desk.page.locator("#inbox-away").wait_for()
        await desk.available()
        await desk.page.locator("#inbox-away").wait_for(state="hidden")
        await desk.page.click(f".conversation[data-id='{conversation}'] button")
        await desk.page.locator("#timeline .message .body", has_text="llega mañana").wait_for()

        case_id = await desk.page.evaluate(
            "window.desk.state.conversations[window.desk.state.focus].case_id")
        case = await get_json(server, f"/api/cases/{case_id}")
        chats = [i for i in case["interactions"] if i["channel"] == "chat"]
        assert [i["id"] for i in chats] == [conversation]
        assert chats[0]["agent"] == "ana"
        bodies = [m["body"] for m in chats[0]["messages"]]
        assert bodies == ["Hola, ¿dónde está mi pedido?", "Sale hoy. ¿Algo más?",
                          "¿Y llega mañana?", "Sí, antes de las 14:00."]


async def visitor_socket(http: aiohttp.ClientSession, server: ServerProcess
                         ) -> aiohttp.ClientWebSocketResponse:
    """A chat visitor on the widget's socket (its protocol, as the widget speaks it)."""
    ws = await http.ws_connect(server.http_base + "/api/chat/ws",
                               headers={"Origin": server.http_base})
    await ws.send_json({"type": "hello"})
    welcome = json.loads((await ws.receive(timeout=10)).data)
    assert welcome["type"] == "welcome", welcome
    return ws


async def chat_waiting(server: ServerProcess) -> int:
    board = await get_json(server, "/api/routing/live")
    return int(board["queues"]["support"]["channels"]["chat"]["waiting"])


async def test_two_chats_and_a_call_at_once_and_a_third_chat_waits(
    tmp_path: Path, server_database: ServerDatabase
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    from voice.pjsua.client import place_call

    server = ServerProcess(tmp_path / "server", server_options(
        tmp_path, server_database, channels=["voice", "chat"], capacity={"voice": 1, "chat": 2},
        config={"chat": {"allowed_origins": []}}))
    (tmp_path / "server").mkdir()
    caller_wav = tone_wav(tmp_path / "caller.wav", seconds=3)
    async with server, aiohttp.ClientSession() as http:
        await add_ana(server)
        async with async_playwright() as p, desk_of(p, server, tmp_path) as desk:
            await desk.available()
            first, second, third = [await visitor_socket(http, server) for _ in range(3)]
            await chat_line(first, "a1", "Primera consulta")
            one = await desk.accept_offer()
            await chat_line(second, "b1", "Segunda consulta")
            two = await desk.accept_offer()
            assert await desk.conversations() == sorted([one, two])

            caller = asyncio.ensure_future(place_call(
                f"sip:100@{server.sip_target}", from_user="5550142", play=caller_wav,
                duration=120.0, answer_timeout=10.0))
            try:
                # Two chats held, the call still rings: max_concurrent 3 has room for it.
                await desk.page.wait_for_selector("#offer", state="visible", timeout=30_000)
                await desk.page.click("#answer")
                await desk.page.wait_for_function(
                    "() => (document.getElementById('call-phase').textContent || '')"
                    ".startsWith('connected')", timeout=30_000)

                # A third chat: in line, not offered (chat 2 and 3 in all are taken).
                await chat_line(third, "c1", "Tercera consulta")
                await until(lambda: chat_waiting(server), "the third chat in line")
                await asyncio.sleep(2.0)
                assert await desk.page.locator(".conversation-offer").count() == 0
                assert await chat_waiting(server) == 1
                assert await desk.conversations() == sorted([one, two])
                await desk.shot("two-chats-a-call-one-waiting")

                # One chat closed: the third is offered, and taken, with the call still on.
                await desk.page.click(f".conversation[data-id='{one}'] button")
                await desk.page.click("#conversation-close")
                await desk.page.locator(f".conversation[data-id='{one}']").wait_for(
                    state="detached")
                three = await desk.accept_offer()
                assert await desk.conversations() == sorted([two, three])
                assert await chat_waiting(server) == 0
                assert await desk.page.evaluate("window.desk.state.call !== null")
                await desk.page.locator(
                    "#timeline .message[data-direction='inbound'] .body",
                    has_text="Tercera consulta").wait_for()
                await desk.shot("third-chat-after-one-closed")
                await desk.page.click(".call-row button")
                await desk.page.click("#hangup")
                await desk.page.wait_for_selector("#call", state="hidden")
            finally:
                caller.cancel()
                await asyncio.gather(caller, return_exceptions=True)
            for ws in (first, second, third):
                await ws.close()


async def test_sms_from_a_call_then_an_sms_conversation_and_an_opted_out_number(
    tmp_path: Path, server_database: ServerDatabase
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    from voice.pjsua.client import place_call

    async with TwilioStandIn(ACCOUNT, TWILIO_TOKEN) as twilio:
        server = ServerProcess(tmp_path / "server", server_options(
            tmp_path, server_database, channels=["voice", "sms"], config={"twilio": {
                "account_sid": ACCOUNT, "auth_token": TWILIO_TOKEN, "public_url": PUBLIC,
                "sms_number": OUR_SMS, "api_base_url": twilio.base_url}}))
        (tmp_path / "server").mkdir()
        twilio.forward(PUBLIC, server.http_base)

        async def sms_in(sid: str, body: str) -> None:
            status, answer = await twilio.post_webhook(PUBLIC + "/twilio/messaging", {
                "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": CUSTOMER,
                "To": OUR_SMS, "Body": body, "NumMedia": "0", "NumSegments": "1",
                "ApiVersion": "2010-04-01"})
            assert status == 200, answer

        async def delivered(text: str) -> None:
            outbound = desk.page.locator(
                "#timeline .message[data-direction='outbound']", has_text=text)
            from playwright.async_api import TimeoutError as PlaywrightTimeout

            try:
                await outbound.locator(".delivery", has_text="delivered").wait_for()
            except PlaywrightTimeout:
                shown = await outbound.locator(".delivery").all_text_contents()
                raise AssertionError(
                    f"not shown delivered: the desk shows {shown}; the stand-in's status"
                    f" callbacks (sid, status, our answer): {twilio.callbacks}") from None

        async with server:
            await add_ana(server)
            async with async_playwright() as p, desk_of(p, server, tmp_path) as desk:
                await desk.available()

                # The customer calls (dialling nationally); during the call the agent sends
                # an SMS from the call's case, without hanging up.
                caller = asyncio.ensure_future(place_call(
                    f"sip:100@{server.sip_target}", from_user=CUSTOMER.removeprefix("+34"),
                    play=tone_wav(tmp_path / "caller.wav", seconds=3), duration=120.0,
                    answer_timeout=10.0))
                try:
                    await desk.page.wait_for_selector("#offer", state="visible", timeout=30_000)
                    await desk.page.click("#answer")
                    await desk.page.wait_for_function(
                        "() => (document.getElementById('call-phase').textContent || '')"
                        ".startsWith('connected')", timeout=30_000)
                    call_case = await desk.page.evaluate("window.desk.state.call.case_id")
                    await desk.page.wait_for_function(
                        "() => [...document.getElementById('composer-channel').options]"
                        ".map(o => o.value).includes('sms')")
                    await desk.page.select_option("#composer-channel", "sms")
                    await desk.send("Te mando el enlace por SMS.")
                    await delivered("Te mando el enlace por SMS.")
                    assert (await desk.page.text_content("#call-phase") or "").startswith(
                        "connected")
                    await desk.shot("sms-during-call")
                    await desk.page.click("#hangup")
                    await desk.page.wait_for_selector("#call", state="hidden")
                finally:
                    caller.cancel()
                    await asyncio.gather(caller, return_exceptions=True)

                # The customer answers by SMS: a conversation on the same case.
                await sms_in("SM" + "a" * 32, "Gracias, ¿podéis llamarme mañana?")
                conversation = await desk.accept_offer()
                assert await desk.page.evaluate(
                    f"window.desk.state.conversations[{conversation}].case_id") == call_case
                await desk.page.wait_for_function(
                    "() => document.getElementById('composer-channel').value === 'sms'")
                segments = desk.page.locator("#composer-segments")
                await desk.page.fill("#composer-body", "a" * 161)
                assert await segments.text_content() == "161 characters · 2 SMS of 153 · GSM-7"
                await desk.page.fill("#composer-body", "Mañana a las 10 😀")
                # 16 characters and an emoji (a surrogate pair: 2 UTF-16 units).
                assert await segments.text_content() == "18/70 characters · 1 SMS · UCS-2"
                await desk.page.click("#composer-send")
                await delivered("Mañana a las 10")
                assert [r.form["Body"] for r in twilio.requests] == \
                    ["Te mando el enlace por SMS.", "Mañana a las 10 😀"]

                # STOP: the next SMS is refused, and the agent reads why.
                await sms_in("SM" + "b" * 32, "STOP")
                await desk.page.locator(
                    f"#timeline .interaction[data-interaction-id='{conversation}'] "
                    ".message[data-direction='inbound'] .body", has_text="STOP").wait_for()
                await desk.send("¿Seguro?")
                status = desk.page.locator("#composer-status[data-kind='error']")
                await status.wait_for()
                said = await status.text_content() or ""
                assert said.startswith("Not sent: ") and "STOP" in said and "START" in said
                assert await status.get_attribute("data-code") == "opted_out"
                assert len(twilio.requests) == 2  # nothing more reached Twilio
                await desk.shot("sms-refused")


async def test_an_email_reply_from_the_desk_quotes_and_threads(
    tmp_path: Path, smtp_relay: Relay, server_database: ServerDatabase
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    relay = smtp_relay
    (tmp_path / "smtp-password").write_text(RELAY_PASSWORD + "\n")
    smtp_in = free_port(socket.SOCK_STREAM, also_tcp=False)
    server = ServerProcess(tmp_path / "server", server_options(
        tmp_path, server_database, channels=["voice", "email"], config={"email": {
            "smtp_host": "127.0.0.1", "smtp_port": relay.port, "starttls": True,
            "ca_file": str(relay.cert), "username": RELAY_USER,
            "password_file": str(tmp_path / "smtp-password"), "from_address": FROM,
            "reply_domain": REPLY_DOMAIN, "listen": f"127.0.0.1:{smtp_in}"}}))
    (tmp_path / "server").mkdir()
    first = EmailMessage()
    first["From"], first["To"], first["Subject"] = ANA, FROM, "Broken router"
    first["Message-ID"] = "<first-contact@example.net>"
    first.set_content("My router blinks red.\nSince Monday.")
    async with server:
        await add_ana(server)
        async with async_playwright() as p, desk_of(p, server, tmp_path) as desk:
            await desk.available()
            await aiosmtplib.send(first, hostname="127.0.0.1", port=smtp_in, start_tls=False)
            await desk.accept_offer()
            await desk.page.wait_for_function(
                "() => document.getElementById('composer-subject').value === 'Re: Broken router'")
            assert await desk.page.input_value("#composer-channel") == "email"
            quoted = await desk.page.input_value("#composer-body")
            assert f"{ANA} wrote:\n> My router blinks red.\n> Since Monday." in quoted
            await desk.page.locator("#composer-body").press("Control+Home")
            await desk.page.locator("#composer-body").type("Please restart it.")
            await desk.page.click("#composer-send")
            await desk.page.wait_for_function(
                "() => document.getElementById('composer-status').textContent === 'Sent.'")
            await desk.page.locator("#timeline .message[data-direction='outbound'] .body",
                                    has_text="Please restart it.").first.wait_for()
            await desk.shot("email-reply")
            answer = relay.message()
            assert answer["To"] == ANA and answer["Subject"] == "Re: Broken router"
            assert answer["In-Reply-To"] == "<first-contact@example.net>"
            body = answer.get_content().replace("\r\n", "\n")
            assert body.startswith("Please restart it.\n\nOn ")
            assert body.endswith(" wrote:\n> My router blinks red.\n> Since Monday.\n")

            # The customer answers with the history quoted: the timeline shows what they
            # wrote this time, the history folded away.
            second = EmailMessage()
            second["From"], second["To"] = ANA, str(answer["Reply-To"])
            second["Subject"] = "Re: Broken router"
            second["Message-ID"] = "<second@example.net>"
            second["In-Reply-To"] = str(answer["Message-ID"])
            second.set_content("It works now, thanks!\n\nOn Tue, 8 Dec 2026, Support wrote:\n"
                               "> Please restart it.\n")
            await aiosmtplib.send(second, hostname="127.0.0.1", port=smtp_in, start_tls=False)
            latest = desk.page.locator("#timeline .message[data-direction='inbound']").last
            await latest.locator(".body", has_text="It works now").first.wait_for()
            assert (await latest.locator(".body").first.text_content() or "").strip() == \
                "It works now, thanks!"
            assert await latest.locator("details.quoted summary").text_content() == \
                "Quoted history"
            first_in = desk.page.locator("#timeline .message[data-direction='inbound']").first
            assert await first_in.locator("details.quoted").count() == 0  # nothing quoted
            assert await desk.page.locator(".inbox-list .conversation").count() == 1
            await desk.shot("email-answered")
