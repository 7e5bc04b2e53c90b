"""A desk page reloaded in the middle of a call gets the call's audio back: the new page's
WebRTC leg takes the old one's place in the session's bridge, so the caller stays connected,
hears the agent again and the agent hears the caller (headless Chromium, a pjsua2 caller)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import agent_status, queue, start_acd, wait_for
from tests.e2e.audio import MOH, music_windows
from tests.e2e.test_desk_calls import CALL_SECONDS, add_agent_user, desk_for, speech_wav
from tests.helpers.chromium import CHROMIUM
from tests.pjsua.audio import read_wav
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow


async def test_a_reloaded_desk_page_rejoins_the_call(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("espeak-ng") is None:
        pytest.fail("chromium and espeak-ng are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    caller_wav = speech_wav(tmp_path / "caller.wav", "I am calling about my order.",
                           seconds=CALL_SECONDS)
    ana_wav = speech_wav(tmp_path / "ana.wav", "Thank you for waiting, I am back.", seconds=10)
    heard = tmp_path / "caller-heard.wav"
    server = await start_acd(
        server_factory, tmp_path, queues=[queue("support", offer_timeout=20, wrapup=30)],
        agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}], entry_queue="support",
    )
    await add_agent_user(server, "ana")

    async def ana_is(state: str) -> bool:
        return bool((await agent_status(server, "ana"))["state"] == state)

    async with async_playwright() as p, desk_for(p, server, "ana", tmp_path, ana_wav) as ana:
        await ana.page.click("#state-available")
        await wait_for(lambda: ana_is("available"), within=20, what="ana ready")
        caller = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="5550142", play=caller_wav,
            record=heard, duration=CALL_SECONDS, answer_timeout=10.0))
        try:
            await ana.visible("#offer")
            await ana.page.click("#answer")
            await ana.wait_phase("connected")

            async def caller_audio() -> bool:
                stats = await ana.page.evaluate("window.desk.inbound()")
                return bool(stats["energy"] > 0.01 and stats["packets"] > 100)
            await wait_for(caller_audio, within=20, what="caller audio in the browser")

            # F5 in the middle of the call: the new page shows the call and rejoins it.
            await ana.page.reload()
            await ana.visible("#call")

            async def rejoined() -> bool:
                text = await ana.phase()
                return text.strip().startswith("connected") and "reconnecting" not in text
            await wait_for(rejoined, within=20, what="the reloaded page back on the call")
            await ana.shot("rejoined")
            await wait_for(caller_audio, within=20, what="caller audio in the reloaded page")
            assert not caller.done(), "the caller was dropped by the reload"
            await asyncio.sleep(5.0)
            await ana.page.keyboard.press("x")
            await ana.visible("#wrapup")
            result = await caller
            await wait_for(lambda: ana_is("wrap_up"), within=20, what="ana wrapping up")
        finally:
            if not caller.done():
                caller.cancel()
                await asyncio.gather(caller, return_exceptions=True)
    assert result.connected and result.remote_hangup, result
    # After the reload the caller hears Ana again: loud, and not the music played while her
    # page was away. The recording ends when she hangs up, 5 s and more after her reloaded
    # page had the caller's audio back: its last seconds are placed from there, not from
    # when the caller was started (its worker's start-up is not in the recording, which
    # begins when the caller's media is up).
    x = read_wav(heard)
    after = x[-int(4.5 * 8000): -int(0.5 * 8000)]
    assert after.size and np.sqrt(np.mean(after.astype(float) ** 2)) > 200, \
        "the caller heard nobody after the reload"
    music = music_windows(after, read_wav(MOH))
    assert sum(music) <= 0.2 * len(music), music
