"""The agent desk end to end, in headless Chromium (Playwright, /usr/bin/chromium, fake
microphones fed with espeak-ng speech): a pjsua2 caller goes through the IVR into a queue, the
agent page rings with the screen pop, a click answers over WebRTC, audio flows both ways and
is transcribed live on the page; hold plays music to the caller; a blind transfer to a second
agent's page, then a consultation and completed transfer back; the wrap-up disposition and
notes land on the case. Screenshots of each state go to tests/artifacts/desk-e2e/."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd, wait_for
from tests.e2e.api import get_json, send_json
from tests.e2e.audio import LOUD, MOH, music_windows, runs
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.server import ServerProcess
from tests.pjsua.audio import Samples, make_speech, read_wav
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "desk-e2e"
CALLER_SAYS = "I would like to check my invoice please."
AGENT_SAYS = "Hello, this is Ana from support. How can I help you today?"
PASSWORD = "desk-test-password-1"
# How long a caller speaks and stays on the line unless hung up: far beyond any scripted call
# here, which the desk ends (the caller's own hang-up would race a slow run's last steps).
CALL_SECONDS = 240.0
STEP = 0.1  # seconds: the windows of `music_windows`


def speech_wav(path: Path, text: str, *, seconds: float) -> Path:
    """espeak-ng `text` at 8 kHz mono, repeated with 1 s pauses to fill `seconds`."""
    said = read_wav(make_speech(path.with_suffix(".once.wav"), text)).astype(np.int16)
    once = np.concatenate([said, np.zeros(8000, np.int16)])
    pcm = np.tile(once, int(seconds * 8000 / len(once)) + 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())
    return path


class Desk:
    """One agent's logged-in desk page."""

    def __init__(self, name: str, page: Any) -> None:
        self.name = name
        self.page = page

    async def shot(self, state: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{state}.png"),
                                   full_page=True)

    async def visible(self, selector: str, within: float = 20.0) -> None:
        await self.page.wait_for_selector(selector, state="visible", timeout=within * 1000)

    async def phase(self) -> str:
        return str(await self.page.text_content("#call-phase") or "")

    async def choose(self, select: str, name: str) -> None:
        """Pick the option of `select` whose label starts with `name` (an agent or queue)."""
        labels = await self.page.eval_on_selector_all(
            f"{select} option", "els => els.map(e => e.textContent)")
        await self.page.select_option(select, label=_label(labels, name))

    async def wrap_up(self, disposition: str, notes: str) -> None:
        await self.visible("#wrapup")
        await self.page.select_option("#disposition", disposition)
        await self.page.fill("#notes", notes)
        await self.page.click("#wrapup-save")

    async def wait_phase(self, want: str, within: float = 20.0) -> None:
        async def match() -> bool:
            return (await self.phase()).strip().lower().startswith(want)
        await wait_for(match, within=within, what=f"{self.name} call phase {want}")


@contextlib.asynccontextmanager
async def desk_for(playwright: Any, server: ServerProcess, name: str,
                   tmp: Path, wav: Path) -> AsyncIterator[Desk]:
    async with chromium_context(playwright, tmp / f"profile-{name}", wav,
                                base_url=server.http_base) as context:
        page = await context.new_page()
        reply = await page.request.post("/api/login",
                                        data={"username": name, "password": PASSWORD})
        assert reply.ok, await reply.text()
        await page.goto("/desk")
        desk = Desk(name, page)
        await desk.visible("#idle")
        yield desk


async def add_agent_user(server: ServerProcess, name: str) -> None:
    await send_json(server, "POST", "/api/users",
                    {"name": name, "password": PASSWORD, "role": "agent"})


async def test_agent_desk_takes_a_queued_call_holds_transfers_and_wraps_up(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("espeak-ng") is None:
        pytest.fail("chromium and espeak-ng are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    caller_wav = speech_wav(tmp_path / "caller.wav", CALLER_SAYS, seconds=CALL_SECONDS)
    ana_wav = speech_wav(tmp_path / "ana.wav", AGENT_SAYS, seconds=10)
    bob_wav = speech_wav(tmp_path / "bob.wav", "This is Bob speaking.", seconds=10)
    heard = tmp_path / "caller-heard.wav"
    agents = [{"id": "ana", "name": "Ana", "queues": ["support"]},
              {"id": "bob", "name": "Bob", "queues": ["support"]}]
    server = await start_acd(
        server_factory, tmp_path, queues=[queue("support", offer_timeout=20, wrapup=60)],
        agents=agents, entry_queue="support", transcription=True,
    )
    await add_agent_user(server, "ana")
    await add_agent_user(server, "bob")
    async with async_playwright() as p, \
            desk_for(p, server, "ana", tmp_path, ana_wav) as ana, \
            desk_for(p, server, "bob", tmp_path, bob_wav) as bob:
        await ana.shot("idle")
        await ana.page.click("#state-available")
        await wait_for(lambda: _state(server, "ana", "available"), within=20, what="ana ready")
        caller = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="5550199", play=caller_wav,
            record=heard, duration=CALL_SECONDS, answer_timeout=10.0))
        try:
            # The offer rings with the screen pop, then a click answers.
            await ana.visible("#offer")
            assert "5550199" in (await ana.page.text_content("#offer-caller") or "")
            await ana.visible("#pop")
            await ana.shot("ringing")
            await ana.page.click("#answer")
            await ana.visible("#call")
            await ana.wait_phase("connected")
            answered_at = time.monotonic()
            await ana.shot("connected")

            # The caller's audio reaches the browser.
            async def energy() -> bool:
                stats = await ana.page.evaluate("window.desk.inbound()")
                return bool(stats["energy"] > 0.01 and stats["packets"] > 100)
            await wait_for(energy, within=20, what="caller audio in the browser")

            # Both parties' lines show up in the live transcript panel.
            async def both_parties() -> bool:
                speakers = await ana.page.eval_on_selector_all(
                    "#transcript li", "els => els.map(e => e.dataset.speaker)")
                return "caller" in speakers and "agent" in speakers
            await wait_for(both_parties, within=90, what="caller and agent lines")
            await ana.shot("transcript")

            # Hold: the caller hears the music on hold; resume.
            await ana.page.keyboard.press("h")
            await ana.wait_phase("held")
            hold_from = time.monotonic()
            await ana.shot("held")
            await asyncio.sleep(4.0)
            await ana.page.keyboard.press("h")
            await ana.wait_phase("connected")
            hold_to = time.monotonic()

            # Blind transfer to Bob's desk.
            await bob.page.click("#state-available")
            await wait_for(lambda: _state(server, "bob", "available"), within=20,
                           what="bob ready")
            await ana.choose("#transfer-to", "Bob")
            await ana.page.click("#transfer")
            await bob.visible("#offer")
            await bob.shot("ringing-transfer")
            await bob.page.keyboard.press("a")
            await bob.visible("#call")
            await bob.wait_phase("connected")
            await bob.shot("connected-transfer")
            # Ana wraps up the first part of the call.
            await ana.visible("#wrapup")
            await ana.shot("wrapup")
            await ana.wrap_up("escalated", "Invoice question, passed to Bob.")
            await wait_for(lambda: _state(server, "ana", "available"), within=20,
                           what="ana available after her wrap-up")

            # Attended transfer: Bob consults Ana, then completes the transfer to her.
            await bob.choose("#consult-to", "Ana")
            await bob.page.click("#consult")
            await bob.wait_phase("consulting")
            await ana.visible("#offer")
            await ana.shot("ringing-consult")
            await ana.page.click("#answer")
            await bob.visible("#consult-box")

            async def consult_connected() -> bool:
                text = await bob.page.text_content("#consult-phase") or ""
                return "connected" in text
            await wait_for(consult_connected, within=20, what="consultation connected")
            await bob.shot("consulting")
            await bob.page.click("#consult-complete")
            await ana.wait_phase("connected")
            await ana.shot("connected-after-consult")
            await bob.wrap_up("follow-up", "Consulted Ana; she took it.")

            # Ana hangs up; her wrap-up goes on the case.
            await ana.page.keyboard.press("x")
            await ana.wrap_up("resolved", "Explained the invoice.")
            await ana.shot("wrapup-saved")
            result = await caller
        finally:
            if not caller.done():
                caller.cancel()
                await asyncio.gather(caller, return_exceptions=True)
    assert result.connected and result.remote_hangup, result

    # The hold was music, and before it the agent's speech reached the caller.
    music, voice, first = _heard(read_wav(heard))

    def at(t: float) -> int:
        """The window of the recording at `t` on the test's clock, counted from its first
        sound: Ana's voice when she answered (the caller waited in a silent queue). Not from
        when the caller was started: its worker's start-up and the call set-up are not in the
        recording, which begins when the caller's media is up."""
        return first + round((t - answered_at) / STEP)

    # Music for 3 s and more (the hold lasted 4 s and more; a window of music can fail to
    # match where it is quiet) where the hold was, give or take 2 s for the audio's latency
    # and for the first sound (Ana's microphone may have been in a pause when she answered).
    near = slice(max(first, at(hold_from) - 20), at(hold_to) + 20)
    found = runs(music[near], STEP, bridge=1.0)
    held = [(start, end) for start, end in found if end - start >= 3.0]
    assert held, (hold_to - hold_from, found)
    held_at = near.start + round(held[0][0] / STEP)
    assert sum(voice[first:held_at]) * STEP >= 1.0, "the caller heard no agent before the hold"

    # The case: both parties' transcript and the three wrap-ups.
    calls = await get_json(server, "/api/debug/calls")
    inbound = [c for c in calls if c["direction"] == "inbound"][-1]
    case_id = (await get_json(server, f"/api/calls/{inbound['call_id']}/case"))["case_id"]
    case = await get_json(server, f"/api/cases/{case_id}")
    # The case is named by its public id, and remembers who took the call (case access).
    assert case["case"]["id"] == case_id and not str(case_id).isdigit()
    assert [i["agent"] for i in case["interactions"] if i["call_id"] == inbound["call_id"]] \
        == ["ana"], case["interactions"]
    notes = [(n["author"], n["text"]) for n in case["notes"]]
    assert ("ana", "Disposition: escalated.\nInvoice question, passed to Bob.") in notes, notes
    assert ("bob", "Disposition: follow-up.\nConsulted Ana; she took it.") in notes, notes
    assert ("ana", "Disposition: resolved.\nExplained the invoice.") in notes, notes
    segments = [s for i in case["interactions"] for s in i.get("segments", [])]
    said = {s["speaker"]: " ".join(t["text"].lower() for t in segments
                                   if t["speaker"] == s["speaker"]) for s in segments}
    assert "invoice" in said.get("caller", ""), said
    assert any(w in said.get("agent", "") for w in ("help", "support", "ana")), said


def _heard(x: Samples) -> tuple[list[bool], list[bool], int]:
    """What a caller heard, per `STEP` window: the music on hold, a voice (sound that is not
    the music), and the first window with any sound."""
    music = music_windows(x, read_wav(MOH))
    windows = x[: len(music) * 800].reshape(-1, 800)
    loud: list[bool] = (np.sqrt(np.mean(windows**2, axis=1)) > LOUD).tolist()
    assert any(loud), "the caller heard nothing"
    voice = [lo and not m for lo, m in zip(loud, music, strict=True)]
    return music, voice, loud.index(True)


async def _state(server: ServerProcess, agent_id: str, want: str) -> bool:
    live = await get_json(server, "/api/routing/live")
    return bool(live["agents"][agent_id]["state"] == want)


def _label(options: list[str], name: str) -> str:
    for option in options:
        if option.strip().startswith(name):
            return option
    raise AssertionError(f"no option for {name} in {options}")


async def test_the_desk_refuses_without_login_and_wrong_role(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    server = await start_acd(server_factory, tmp_path, queues=[queue("support")],
                             agents=[], entry_queue="support")
    import aiohttp

    # unsafe=True: the jar keeps cookies of an IP-address host (the server is on 127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(server.http_base + "/desk", allow_redirects=False) as resp:
            assert resp.status == 302 and "/login" in resp.headers["Location"]
        async with http.get(server.http_base + "/api/desk/ws") as resp:
            assert resp.status == 401
        await send_json(server, "POST", "/api/users",
                        {"name": "carol", "password": PASSWORD, "role": "agent"})
        async with http.post(server.http_base + "/api/login",
                             json={"username": "carol", "password": PASSWORD}) as resp:
            assert resp.status == 200
        # An agent may not read the live board or another agent's figures.
        async with http.get(server.http_base + "/api/routing/live") as resp:
            assert resp.status == 403
        async with http.get(server.http_base + "/desk") as resp:
            assert resp.status == 200
