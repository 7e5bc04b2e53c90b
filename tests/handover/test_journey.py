"""The journey test (issue 12's capstone): the customer says things once, on every channel.

Real peers throughout: a real `centralita serve` (whisper transcription), a pjsua2 caller, the
agent's desk in headless Chromium (Playwright, /usr/bin/chromium), the real `twilio` client
against the loopback Twilio stand-in, the customer's second browser on the chat link; the
cases on SQLite and on PostgreSQL.

1. The caller keys an order number (RFC 4733 DTMF) and says why they call (espeak-ng speech,
   transcribed live), then waits in the queue.
2. Ana's desk rings with the IVR inputs in the screen pop; she answers over WebRTC and, from
   the call, continues by SMS: the SMS through the stand-in carries the summary (the order
   number, the caller's reason) and the signed chat link. She hangs up and wraps up.
3. The customer answers by SMS: the reply lands on the call's case and is offered to Ana
   (not to Bob, free and idle, who never had the customer), and her screen pop shows the
   call's summary with the order number.
4. The customer opens the link in a second browser and writes in the chat: the chat lands on
   the same case, is offered to Ana, and the same summary and facts are there.
5. The customer calls again: the flow's `skip_if_known` gather takes the order number from
   the case, never asks for it (no prompt heard, no digits asked for), and the journey
   figures count the one ask of the first call and 0 repeated asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json, send_json
from tests.e2e.test_desk_inbox import Desk
from tests.handover.journey_peers import AgentSocket, silence, speech_after, transcribe
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.server import ServerOptions, ServerProcess
from tests.helpers.twilio_standin import TwilioStandIn
from voice.pjsua.client import place_call

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "journey-e2e"
PASSWORD = "journey-test-password-1"
ACCOUNT = "AC" + "5" * 32
TWILIO_TOKEN = "twilio-auth-token-for-the-journey"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
CUSTOMER = "+34612345678"
NATIONAL = CUSTOMER.removeprefix("+34")  # how the caller's phone presents the number
ORDER = "456789"
SAID = "I am calling because my parcel arrived damaged and the screen is cracked."
SPEECH_AT = 7.0  # seconds into the call: after the order number and the second prompt
CALL_SECONDS = 240.0  # far beyond the scripted call, which the desk ends
LINK = re.compile(r"https://contact\.example\.test/pbx/chat/continue\?t=(\S+)")

FLOW = """\
name: journey
default: true
steps:
  - label: ask_order
    gather: {prompt: "Key in your order number, then hash.", variable: order_number,
             terminator: "#", max_digits: 10, timeout: 10, on_timeout: talk,
             skip_if_known: true}
  - label: talk
    gather:
      prompt: "Please tell us in a few words how we can help you today."
      input: speech
      timeout: 20
      phrases:
        damaged: [damaged, broken, cracked]
      on_timeout: line
      on_invalid: line
  - label: line
    queue: {name: support}
  - hangup
"""
# Bob takes texts only: he is never offered the calls, and is the idle agent a plain
# least-loaded router would pick for the customer's answers.
ROUTING = {
    "queues": [{"name": "support", "moh": None, "announce_every": 0, "callback_key": None,
                "wrapup": 60, "offer_timeout": 60, "channels": ["voice", "sms", "chat"]}],
    "agents": [
        {"id": "ana", "name": "Ana", "queues": ["support"], "max_concurrent": 3,
         "capacity": {"voice": 1, "sms": 2, "chat": 2}},
        {"id": "bob", "name": "Bob", "queues": ["support"], "max_concurrent": 3,
         "capacity": {"voice": 0, "sms": 2, "chat": 2}},
    ],
}


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {within:g} s (last: {value!r})")
        await asyncio.sleep(0.2)


async def start(server_factory: ServerFactory, tmp_path: Path, twilio: TwilioStandIn
                ) -> ServerProcess:
    conf = tmp_path / "conf"
    (conf / "flows").mkdir(parents=True)
    (conf / "flows" / "journey.yaml").write_text(FLOW)
    (conf / "routing.yaml").write_text(yaml.safe_dump(ROUTING, sort_keys=False))
    server = await server_factory(ServerOptions(
        config={"twilio": {"account_sid": ACCOUNT, "auth_token": TWILIO_TOKEN,
                           "public_url": PUBLIC, "sms_number": OUR_SMS,
                           "api_base_url": twilio.base_url},
                "chat": {"allowed_origins": []}},
        extra_args=["--flows", str(conf / "flows"), "--routing", str(conf / "routing.yaml"),
                    "--transcription", "whisper"],
        startup_timeout=60.0))
    twilio.forward(PUBLIC, server.http_base)
    for name in ("ana", "bob"):
        await send_json(server, "POST", "/api/users",
                        {"name": name, "password": PASSWORD, "role": "agent"})
    return server


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def answer_and_hand_over(desk: Desk, twilio: TwilioStandIn) -> tuple[str, str]:
    """Ana answers the ringing call, continues by SMS from it, hangs up and wraps up:
    (the call's case, the SMS body)."""
    page = desk.page
    await page.wait_for_selector("#offer", state="visible", timeout=90_000)
    # The screen pop of the ringing call has the number the caller keyed in.
    await page.locator("#ivr-inputs", has_text=ORDER).wait_for(timeout=20_000)
    await shot(page, "ringing")
    await page.click("#answer")
    await page.wait_for_function(
        "() => (document.getElementById('call-phase').textContent || '').startsWith('connected')",
        timeout=30_000)
    case_id = str(await page.evaluate("window.desk.state.call.case_id"))

    async def drafted() -> str | None:
        """The SMS draft, once the summary has the order number and the caller's reason
        (a loaded machine may still be transcribing them: each click drafts afresh)."""
        await page.locator("#handover-sms").click(timeout=20_000)
        await page.wait_for_function(
            "() => document.querySelector('#handover-text').value !== ''", timeout=20_000)
        draft = await page.input_value("#handover-text")
        seen.append(draft)
        reason = "damage" in draft.lower() or "crack" in draft.lower()
        return draft if ORDER in draft and reason else None
    seen: list[str] = []
    try:
        await until(drafted, "the summary with the order number and the reason", within=60.0)
    except AssertionError as e:
        raise AssertionError(f"{e}; the last draft: {seen[-1:]!r}") from None
    assert LINK.search(await page.text_content("#handover-link") or ""), "the link is shown"
    await shot(page, "handover-draft")
    before = len(twilio.requests)
    await page.click("#handover-send")
    await page.locator("#handover-status", has_text="Sent").wait_for()
    # Still on the call: the handover does not end it.
    assert (await page.text_content("#call-phase") or "").startswith("connected")

    async def texted() -> list[str]:
        return [r.form["Body"] for r in twilio.requests[before:]
                if r.form.get("To") == CUSTOMER]
    [body] = await until(texted, "the handover SMS at the stand-in")

    await page.click("#hangup")
    await page.wait_for_selector("#wrapup", state="visible")
    await page.select_option("#disposition", "follow-up")
    await page.fill("#notes", "Replacement offered; continued by SMS.")
    await page.click("#wrapup-save")
    await page.wait_for_selector("#wrapup", state="hidden", timeout=20_000)
    return case_id, body


async def sms_reply(twilio: TwilioStandIn, body: str) -> None:
    sid = "SM" + "c" * 32
    status, answer = await twilio.post_webhook(PUBLIC + "/twilio/messaging", {
        "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": CUSTOMER,
        "To": OUR_SMS, "Body": body, "NumMedia": "0", "NumSegments": "1",
        "ApiVersion": "2010-04-01"})
    assert status == 200, answer


async def take_on_the_case(desk: Desk, bob: AgentSocket, case_id: str, channel: str) -> None:
    """The customer's new conversation is offered to Ana (never to Bob) with the call's
    summary (the order number) on the offer itself; she accepts it: it is on `case_id`, and
    her screen pop shows the call's summary with the order number."""
    offer = desk.page.locator(".conversation-offer").first
    await offer.wait_for(timeout=30_000)
    said = await offer.locator(".summary").text_content()
    assert ORDER in (said or ""), said
    conversation = await desk.accept_offer(within=30.0)
    on = await desk.page.evaluate(
        f"[window.desk.state.conversations[{conversation}].case_id,"
        f" window.desk.state.conversations[{conversation}].channel]")
    assert on == [case_id, channel], on
    assert bob.of_type("conversation_offer") == [], "offered to Bob"
    summary = desk.page.locator("#timeline .interaction[data-channel='voice'] .summary")
    await summary.filter(has_text=ORDER).first.wait_for(timeout=20_000)
    await shot(desk.page, f"{channel}-on-the-case")


@contextlib.asynccontextmanager
async def chat_from_the_link(playwright: Any, server: ServerProcess,
                             token: str) -> AsyncIterator[Any]:
    """The customer's second browser opens the link and writes one line: its page."""
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                               args=["--no-sandbox", "--disable-gpu"])
    try:
        page = await (await browser.new_context()).new_page()
        reply = await page.goto(f"{server.http_base}/chat/continue?t={token}")
        assert reply is not None and reply.status == 200
        widget = page.locator("#centralita-chat")
        # The link's page opens the panel by itself: the customer just writes.
        await widget.locator(".input").wait_for(state="visible")
        await widget.locator(".input").fill("Hi, is the replacement on its way?")
        await widget.locator(".input").press("Enter")
        await widget.locator(".line.visitor .status").first.wait_for()
        yield page
    finally:
        await browser.close()


async def test_the_customer_says_it_once_across_call_sms_chat_and_a_second_call(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    for tool in (CHROMIUM, "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    caller_wav = speech_after(tmp_path / "caller.wav", SAID, at=SPEECH_AT, tail=20.0)
    async with TwilioStandIn(ACCOUNT, TWILIO_TOKEN) as twilio:
        server = await start(server_factory, tmp_path, twilio)
        async with contextlib.AsyncExitStack() as stack:
            bob = AgentSocket(server, "bob", PASSWORD)
            stack.push_async_callback(bob.close)
            p = await stack.enter_async_context(async_playwright())
            ctx = await stack.enter_async_context(chromium_context(
                p, tmp_path / "profile-ana", silence(tmp_path / "ana.wav"),
                base_url=server.http_base, viewport={"width": 1280, "height": 1000}))
            page = await ctx.new_page()
            reply = await page.request.post("/api/login",
                                            data={"username": "ana", "password": PASSWORD})
            assert reply.ok, await reply.text()
            await page.goto("/desk")
            await page.wait_for_selector("#idle", state="visible")
            desk = Desk(page)
            await desk.available()

            # 1-2. The call, answered in the desk and continued by SMS.
            caller = asyncio.ensure_future(place_call(
                f"sip:100@{server.sip_target}", from_user=NATIONAL, play=caller_wav,
                dtmf_at=((2.0, f"{ORDER}#"),), duration=CALL_SECONDS, answer_timeout=10.0))
            try:
                await bob.open()  # free from now on for texts (he takes no calls)
                case_id, sms = await answer_and_hand_over(desk, twilio)
                result = await asyncio.wait_for(caller, 30)
            finally:
                if not caller.done():
                    caller.cancel()
                    await asyncio.gather(caller, return_exceptions=True)
            assert result.connected and result.remote_hangup, result
            assert ORDER in sms, sms
            assert "damage" in sms.lower() or "crack" in sms.lower(), sms
            link = LINK.search(sms)
            assert link is not None, sms
            first_call = [c["call_id"] for c in await get_json(server, "/api/debug/calls")]

            # 3. The customer's SMS answer: offered to Ana (Bob is free and has nothing), on
            # the case, with the summary.
            board = await get_json(server, "/api/routing/live")
            assert board["agents"]["bob"]["state"] == "available", board["agents"]
            await sms_reply(twilio, "Yes please, send the replacement.")
            await take_on_the_case(desk, bob, case_id, "sms")

            # 4. The chat link in a second browser: the same case, offered to Ana, who answers.
            async with chat_from_the_link(p, server, link.group(1)) as customer:
                await take_on_the_case(desk, bob, case_id, "chat")
                await desk.page.locator("#timeline .message .body",
                                        has_text="replacement on its way").wait_for()
                await desk.send("Yes, it ships today.")
                await customer.locator("#centralita-chat .line.agent .body",
                                       has_text="it ships today").wait_for()
                await shot(customer, "customer-chat")
            assert desk.errors == []

        timeline = await get_json(server, f"/api/cases/{case_id}")
        # One case: the call, the SMS thread our handover started (the customer's answer goes on
        # in it) and the chat.
        assert [(i["channel"], i["direction"]) for i in timeline["interactions"]] == [
            ("voice", "inbound"), ("sms", "outbound"), ("chat", "inbound")]
        [thread] = [i for i in timeline["interactions"] if i["channel"] == "sms"]
        assert [(m["direction"], ORDER in m["body"]) for m in thread["messages"]] == [
            ("outbound", True), ("inbound", False)]
        facts = await get_json(server, f"/api/cases/{case_id}/facts")
        assert ("order_number", ORDER, "ask_order") in {
            (f["key"], f["value"], f["source"]["ivr_step"]) for f in facts["facts"]}

        # 5. The second call: the order number is known; the flow does not ask for it.
        heard = tmp_path / "second-call-heard.wav"
        again = await place_call(f"sip:100@{server.sip_target}", from_user=NATIONAL,
                                 record=heard, duration=8.0)
        assert again.connected, again
        second = await ended_interaction(server, within=60.0, exclude=first_call,
                                         path_recorded=True)
        timeline = await get_json(server, f"/api/cases/{case_id}")
        assert timeline["interactions"][-1]["id"] == second["id"], "the same case"
        # The step took the fact (a `variable` event), it did not gather (no `digits`).
        asked = [(e["kind"], e["value"]) for e in second["ivr_events"]
                 if e["step"] == "ask_order" and e["kind"] != "path"]
        assert asked == [("variable", {"order_number": ORDER})], second["ivr_events"]
        assert not [e for e in second["ivr_events"] if e["kind"] == "digits"]
        words = await transcribe(heard)
        assert "few words" in words or "today" in words, words  # the next prompt was heard
        assert "order" not in words and "hash" not in words, words  # never the order's

        figures = await get_json(server, "/api/journey")
        # One case; its contacts are the two calls and the chat (the SMS thread our handover
        # started is the same contact going on).
        assert (figures["cases"], figures["contacts"]) == (1, 3), figures
        assert figures["contacts_by_channel"] == {"chat": 1, "voice": 2}, figures
        # The first call's order number was the one ask; nothing was asked again.
        assert figures["asked_again"]["asks"] == 1, figures
        assert figures["asked_again"]["repeated"] == 0, figures
        assert figures["asked_again"]["share"] == 0, figures
