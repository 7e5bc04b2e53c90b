"""The agent page in headless Chromium (Playwright, Debian's /usr/bin/chromium, fake mic)
against the real desk routes and auth, a fake DeskService, and a real WebRtcLeg answering
the page's softphone.

One agent's shift, step by step: log in through /login, go available, an offer rings with
its screen pop (case timeline, IVR inputs), `a` answers over WebRTC (the page hears the
leg's tone), the live transcript fills, mute / hold / keypad / transfer / consult send their
commands, `x` hangs up, the wrap-up form saves a disposition and notes; then a declined and
a withdrawn offer. Screenshots of each state go to tests/artifacts/desk/ and the tmp dir.
"""

from __future__ import annotations

import shutil
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cases.store import CaseStore
from media.clock import FakeClock
from media.player import ToneGenerator
from media.ticker import MediaTicker
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.web.conftest import PASSWORD, USERS
from tests.web.desk_fake import DeskApp, FakeDeskService, desk_app
from voice.webrtc import WebRtcLeg
from web.auth.store import UserStore
from web.desk import DeskCommand, DeskLink
from web.desk.protocol import (
    Accept,
    AgentTarget,
    Consult,
    ConsultCancel,
    ConsultComplete,
    Decline,
    Hangup,
    Hold,
    Mute,
    QueueTarget,
    SendDtmf,
    SetState,
    Transfer,
    Wrapup,
)

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "desk"
SINCE = "2024-05-01T09:00:00+00:00"
HOSTILE = "<img src=x onerror=alert(1)>"


def mic_wav(path: Path) -> Path:
    """Two seconds of a 440 Hz tone, 16 kHz mono: the fake microphone."""
    t = np.arange(32000)
    pcm = (6000 * np.sin(2 * np.pi * 440 * t / 16000)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm.tobytes())
    return path


class Switchboard:
    """The fake service's answers: a WebRtcLeg for an accepted offer, then the call."""

    def __init__(self, service: FakeDeskService, ticker: MediaTicker) -> None:
        self.service = service
        self.ticker = ticker
        self.legs: list[WebRtcLeg] = []
        self.call: dict[str, Any] = {}
        service.hooks["accept"] = self.on_accept

    async def on_accept(self, link: DeskLink, command: DeskCommand) -> None:
        assert isinstance(command, Accept)
        leg = await WebRtcLeg.accept(command.sdp, ticker=self.ticker, codecs=("PCMU",),
                                     host_addresses=("127.0.0.1",))
        leg.play(ToneGenerator((1000.0,), 8000, level_dbfs=-12.0))
        self.legs.append(leg)
        await link.send({"type": "answer_sdp", "offer_id": command.offer_id,
                         "sdp": leg.answer_sdp})
        await self.update(link, phase="connected", muted=False, held=False, consult=None)

    async def update(self, link: DeskLink, **changes: Any) -> None:
        self.call.update(changes)
        await link.send({"type": "call", **self.call})

    async def close(self) -> None:
        for leg in self.legs:
            await leg.close()


@pytest.fixture
async def running(
    tmp_path: Path, users: UserStore, clock: FakeClock
) -> AsyncIterator[tuple[DeskApp, FakeDeskService, Switchboard]]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed")
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    service = FakeDeskService()
    ticker = MediaTicker()
    await ticker.start()
    board = Switchboard(service, ticker)
    try:
        async with desk_app(tmp_path, users, clock, service) as app:
            yield app, service, board
    finally:
        await board.close()
        await ticker.stop()


async def make_case(cases: CaseStore) -> tuple[str, int]:
    """A customer with an earlier call and this one (IVR input, a caller segment, a note):
    the case's public id (what the desk sees) and this call's interaction. Ana took the
    earlier call, so the case is one she may read (`web.case_access`)."""
    old = await cases.start_voice_interaction(caller="+34600111222", call_id="call-0")
    await cases.add_segment(old.interaction_id, speaker="caller", start=0.0, end=2.0,
                            text="My parcel is late.", confidence=0.9, engine="test")
    assert await cases.set_interaction_agent("call-0", "ana") == old.case_id
    await cases.end_interaction(old.interaction_id, outcome="answered", summary="Parcel late")
    ref = await cases.start_voice_interaction(caller="+34600111222", call_id="call-1")
    assert ref.case_id == (await cases.find_case_by_call("call-0"))
    await cases.add_ivr_event(ref.interaction_id, kind="digits", value="2", step="menu")
    await cases.add_segment(ref.interaction_id, speaker="caller", start=0.0, end=1.5,
                            text="Hello, it is me again.", confidence=0.9, engine="test")
    await cases.add_note(ref.case_id, author="bo", text=f"Promised a refund {HOSTILE}")
    return await cases.public_id(ref.case_id), ref.interaction_id


async def test_an_agent_shift_on_the_desk_page(
    running: tuple[DeskApp, FakeDeskService, Switchboard], tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    app, service, board = running
    case_id, interaction_id = await make_case(app.cases)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as p, chromium_context(
        p, tmp_path / "profile", mic_wav(tmp_path / "mic.wav"),
        viewport={"width": 1280, "height": 900},
    ) as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        async def shot(name: str) -> None:
            await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            shutil.copy(shots / f"{name}.png", ARTIFACTS / f"{name}.png")

        async def view(name: str) -> None:
            await page.wait_for_function(
                "name => window.desk && window.desk.state.view === name", arg=name,
                timeout=10000)

        async def expect(command: object) -> None:
            assert await service.next_command() == command

        # Log in through the login page; it sends the agent back to the desk.
        await page.goto(app.url("/desk"))
        assert "/login" in page.url
        await page.fill("input[name=username]", "ana")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(app.url("/desk"))
        await view("idle")
        assert await page.is_hidden("#pop") and await page.is_hidden("#call")
        assert await page.text_content("#agent-name") == "Ana"
        assert await page.text_content("#agent-state") == "Offline"
        await shot("idle-offline")

        # Going available is a command; the page shows what the server says.
        await page.click("#state-available")
        await expect(SetState("available"))
        await service.send("ana", {"type": "state", "state": "available", "reason": None,
                                   "since": SINCE})
        await page.wait_for_function(
            "() => document.getElementById('agent-state').textContent === 'Available'")

        # An offer rings, with its screen pop.
        # Call updates carry only the call's id and state (as DeskHub's do): caller,
        # queue and case come from the offer.
        board.call = {"call_id": "call-1"}
        await service.send("ana", {
            "type": "offer", "offer_id": "of-1", "kind": "call", "call_id": "call-1",
            "queue": "support", "caller": f"+34600111222 {HOSTILE}", "case_id": case_id,
            "timeout": 20, "ivr_inputs": [{"kind": "digits", "value": "2", "step": "menu"}],
        })
        await view("ringing")
        assert await page.is_visible("#offer")
        assert await page.text_content("#offer-caller") == f"+34600111222 {HOSTILE}"
        assert await page.locator("#offer img").count() == 0  # text, not markup
        assert await page.evaluate("window.desk.ring()") == {"playing": True,
                                                             "context": "running"}
        await page.wait_for_selector("#timeline .notes li")
        assert HOSTILE in (await page.text_content("#timeline .notes") or "")
        assert await page.locator("#timeline .interaction").count() == 2
        assert "menu" in (await page.text_content("#ivr-inputs") or "")
        countdown = await page.text_content("#offer-countdown") or ""
        assert countdown.endswith("s to answer") and int(countdown.split()[0]) <= 20
        await shot("ringing")

        # `a` answers: the softphone offers audio; the leg answers; the call is on.
        await page.keyboard.press("a")
        accept = await service.next_command()
        assert isinstance(accept, Accept) and accept.offer_id == "of-1"
        assert "m=audio" in accept.sdp
        await view("call")
        assert await page.evaluate("window.desk.ring().playing") is False
        assert await page.text_content("#call-caller") == f"+34600111222 {HOSTILE}"
        assert await page.text_content("#call-queue") == "support"
        await page.wait_for_function(
            "() => window.desk.inbound().then(s => s.energy > 0.01 && s.packets > 20)",
            timeout=15000)
        link = service.links["ana"]
        # The live transcript: what was said before, then a new segment as it is stored.
        await page.wait_for_selector("#transcript li.segment")
        await app.cases.add_segment(interaction_id, speaker="agent", start=2.0, end=3.5,
                                    text="Let me check that for you.", confidence=0.9,
                                    engine="test")
        await page.wait_for_selector("#transcript li[data-speaker=agent]")
        lines = await page.locator("#transcript li").all_text_contents()
        assert lines == ["Caller Hello, it is me again.", "Agent Let me check that for you."]
        await shot("call")

        # Mute and hold by key; the page follows the server's call state.
        await page.keyboard.press("m")
        await expect(Mute(True))
        await board.update(link, muted=True)
        await page.wait_for_selector("#mute[aria-pressed=true]")
        await page.keyboard.press("h")
        await expect(Hold(True))
        await board.update(link, held=True, phase="held")
        await page.wait_for_selector("#hold[aria-pressed=true]")
        await shot("held")
        await page.keyboard.press("h")
        await expect(Hold(False))
        await board.update(link, held=False, phase="connected")

        # DTMF from the keypad and from the keyboard.
        await page.click("#keypad button[data-digit='5']")
        await expect(SendDtmf("5"))
        await page.keyboard.press("#")
        await expect(SendDtmf("#"))
        assert await page.text_content("#dtmf-sent") == "5#"

        # Blind transfer to a queue and to an agent; the agent list leaves me out.
        options = await page.locator("#transfer-to option").all_text_contents()
        assert "Bo (Available)" in options and not any(o.startswith("Ana") for o in options)
        assert "Cy <script> (Break)" in options
        await page.select_option("#transfer-to", "queue:sales")
        await page.click("#transfer")
        await expect(Transfer(QueueTarget("sales")))
        await page.select_option("#transfer-to", "agent:bo")
        await page.click("#transfer")
        await expect(Transfer(AgentTarget("bo")))

        # Attended transfer: consult, then complete or cancel.
        await page.select_option("#consult-to", "agent:bo")
        await page.click("#consult")
        await expect(Consult(AgentTarget("bo")))
        await board.update(link, phase="consulting", held=True,
                           consult={"agent": "bo", "phase": "connected"})
        await page.wait_for_selector("#consult-box:not([hidden])")
        assert await page.text_content("#consult-agent") == "bo"
        await shot("consulting")
        await page.click("#consult-cancel")
        await expect(ConsultCancel())
        await page.click("#consult-complete")
        await expect(ConsultComplete())
        await board.update(link, phase="connected", held=False, consult=None)

        # Keys typed into a field are text, not shortcuts.
        await page.fill("#break-reason", "")
        await page.type("#break-reason", "xmha")
        await page.click("#call h2")
        # `x` hangs up.
        await page.keyboard.press("x")
        await expect(Hangup())

        # The call ends: wrap-up with a disposition and notes.
        await board.update(link, phase="ended")
        await service.send("ana", {"type": "wrapup", "call_id": "call-1",
                                   "case_id": case_id, "seconds": 30})
        await view("wrapup")
        assert HOSTILE in (await page.text_content("#wrapup-caller") or "")
        assert await page.evaluate("window.desk.state.pc") is None
        assert await page.is_hidden("#call") and await page.is_hidden("#offer")
        # The screen pop stays while the agent writes the notes.
        assert await page.locator("#transcript li").count() == 2
        assert await page.is_visible("#timeline .notes")
        await page.select_option("#disposition", "follow-up")
        await page.fill("#notes", "Refund approved; call back on Monday.\nTicket 42.")
        await shot("wrapup")
        await page.click("#wrapup-save")
        await expect(Wrapup("follow-up", "Refund approved; call back on Monday.\nTicket 42."))
        assert await page.is_disabled("#wrapup-save")  # until the server says it is saved
        await service.send("ana", {"type": "wrapup_saved", "call_id": "call-1",
                                   "case_id": case_id})
        await view("idle")
        assert await page.is_hidden("#pop") and await page.is_hidden("#wrapup")

        # A declined offer (key `d`), then one withdrawn while it rings.
        await service.send("ana", {
            "type": "offer", "offer_id": "of-2", "kind": "transfer", "call_id": "call-2",
            "queue": "sales", "caller": "+34911000000", "case_id": None, "timeout": 15,
            "ivr_inputs": [], "from_agent": "bo"})
        await view("ringing")
        assert await page.text_content("#offer-from") == "bo"
        await page.keyboard.press("d")
        await expect(Decline("of-2"))
        await view("idle")
        await service.send("ana", {
            "type": "offer", "offer_id": "of-3", "kind": "call", "call_id": "call-3",
            "queue": "sales", "caller": "+34911000001", "case_id": None, "timeout": 15,
            "ivr_inputs": []})
        await view("ringing")
        await service.send("ana", {"type": "offer_withdrawn", "offer_id": "of-3",
                                   "reason": "caller hung up"})
        await view("idle")
        assert "caller hung up" in (await page.text_content("#alert") or "")

        # The server refuses the browser's offer: the page drops its peer connection.
        async def refuse_offer(link: DeskLink, command: DeskCommand) -> None:
            await link.send({"type": "error", "code": "bad_offer",
                             "message": "no audio codec in common", "where": "sdp"})

        service.hooks["accept"] = refuse_offer
        await service.send("ana", {
            "type": "offer", "offer_id": "of-4", "kind": "call", "call_id": "call-4",
            "queue": "sales", "caller": "+34911000002", "case_id": None, "timeout": 15,
            "ivr_inputs": []})
        await view("ringing")
        await page.click("#answer")
        assert isinstance(await service.next_command(), Accept)
        await view("ringing")  # the offer may still be answered or declined
        assert await page.evaluate("window.desk.state.pc") is None
        assert "no audio codec" in (await page.text_content("#alert") or "")
        await page.keyboard.press("d")
        await expect(Decline("of-4"))
        await view("idle")

        # A break with its reason.
        await page.fill("#break-reason", "Lunch")
        await page.click("#state-break")
        await expect(SetState("break", "Lunch"))
        await service.send("ana", {"type": "state", "state": "break", "reason": "Lunch",
                                   "since": SINCE})
        await page.wait_for_selector("#agent-state[data-state=break]")
        assert await page.text_content("#agent-reason") == "Lunch"
        await shot("break")

        # A refused command shows its message.
        await service.send("ana", {"type": "error", "code": "no_call",
                                   "message": "You are not on a call.", "command": "hangup"})
        await page.wait_for_function(
            "() => document.getElementById('alert').textContent.includes('not on a call')")
        assert errors == []
        assert service.commands.empty()
