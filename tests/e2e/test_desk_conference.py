"""An agent adds a second agent to a call from the desk page: a conference (issue 11).

A pjsua2 caller (a 440 Hz tone) reaches Ana's desk (headless Chromium, a 700 Hz tone as her
microphone), she answers, picks Bob in "Add to call" and clicks Add; Bob's desk (another
Chromium page, 1100 Hz) rings with the conference offer and he answers. Ana's page says he
joined; the caller hears both agents, and both pages receive audio. Before that, an empty
choice is refused in words without a request."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd, wait_for
from tests.e2e.test_desk_calls import Desk, add_agent_user, desk_for
from tests.e2e.test_desk_calls import _state as agent_in_state
from tests.helpers.chromium import CHROMIUM
from tests.pjsua.audio import make_tone, read_wav
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

CALLER_HZ, ANA_HZ, BOB_HZ = 440.0, 700.0, 1100.0


def amplitude(x: Any, freq: float, rate: int = 8000) -> float:
    """The amplitude of `x` at `freq` (its correlation with that sine)."""
    if len(x) == 0:
        return 0.0
    t = np.arange(len(x)) / rate
    s = float(np.dot(x, np.sin(2 * np.pi * freq * t)))
    c = float(np.dot(x, np.cos(2 * np.pi * freq * t)))
    return 2.0 * float(np.hypot(s, c)) / len(x)


async def hears(desk: Desk) -> bool:
    stats: dict[str, Any] = await desk.page.evaluate("window.desk.inbound()")
    return bool(stats["energy"] > 0.01 and stats["packets"] > 100)


async def test_an_agent_adds_a_second_agent_from_the_desk(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("sox") is None:
        pytest.fail("chromium and sox are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    agents = [{"id": "ana", "name": "Ana", "queues": ["support"]},
              {"id": "bob", "name": "Bob", "queues": ["other"]}]
    server = await start_acd(
        server_factory, tmp_path, queues=[queue("support", offer_timeout=20), queue("other")],
        agents=agents, entry_queue="support")
    await add_agent_user(server, "ana")
    await add_agent_user(server, "bob")
    caller_tone = make_tone(tmp_path / "caller.wav", CALLER_HZ, 60.0)
    heard = tmp_path / "caller-heard.wav"
    async with async_playwright() as p, \
            desk_for(p, server, "ana", tmp_path, make_tone(
                tmp_path / "ana.wav", ANA_HZ, 120.0)) as ana, \
            desk_for(p, server, "bob", tmp_path, make_tone(
                tmp_path / "bob.wav", BOB_HZ, 120.0)) as bob:
        await ana.page.click("#state-available")
        await wait_for(lambda: agent_in_state(server, "ana", "available"), within=20,
                       what="ana ready")
        caller = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="5550199", play=caller_tone,
            record=heard, duration=40.0, answer_timeout=10.0))
        try:
            await ana.visible("#offer", within=30)
            await ana.page.click("#answer")
            await ana.wait_phase("connected", within=30)
            await wait_for(lambda: hears(ana), within=20, what="the caller at Ana's page")
            # Nothing chosen: the page says so and sends nothing.
            await ana.page.click("#party-add")
            assert "Choose an agent" in (await ana.page.text_content("#party-status") or "")
            await ana.choose("#party-to", "Bob")
            await ana.page.click("#party-add")
            await bob.visible("#offer", within=30)
            await bob.page.click("#answer")

            async def joined() -> bool:
                said = await ana.page.text_content("#party-status") or ""
                return "joined" in said

            await wait_for(joined, within=30, what="Ana's page saying Bob joined")
            await wait_for(lambda: hears(bob), within=20, what="the call at Bob's page")
            await asyncio.sleep(4.0)  # the caller hears the three-way call
            await ana.page.keyboard.press("x")  # Ana hangs up: the caller's call ends
            result = await asyncio.wait_for(caller, 40)
        finally:
            if not caller.done():
                caller.cancel()
    assert result.connected, result
    rec = read_wav(heard)
    # The last seconds before the hang-up: both agents' tones reach the caller.
    tail = rec[-6 * 8000:-1 * 8000]
    levels = {"ana": amplitude(tail, ANA_HZ), "bob": amplitude(tail, BOB_HZ),
              "itself": amplitude(tail, CALLER_HZ)}
    print(levels)
    assert levels["ana"] > 500 and levels["bob"] > 500, levels
