"""Caller on node A, the agent's desk on node B (issue 14): the offer rings, the answer
bridges, audio both ways, and the media stays on node A.

Two `centralita serve` nodes share the routing state and the login sessions in Redis and the
cases in one PostgreSQL database. Ana's desk page (headless Chromium, a 700 Hz tone as her
microphone) is open on node B only; a pjsua2 caller dials node A and waits in its queue.
Node A's ACD picks Ana (her state is in Redis) and rings her desk through node B
(`centralita.desk_relay`); she answers on the page; node A answers the page's WebRTC offer
itself and bridges it to the caller. The caller hears Ana's tone, the page gets the caller's
audio, and her hang-up on the page (relayed to A) ends the call."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import agent_status, queue, start_acd, wait_for
from tests.e2e.test_desk_calls import add_agent_user, desk_for, speech_wav
from tests.helpers.chromium import CHROMIUM
from tests.helpers.postgres import create_database, drop_database, url
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import ServerProcess
from tests.pjsua.audio import dominant_frequency, loud_part, make_tone, read_wav
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

ANA_TONE_HZ = 700.0


async def node(server_factory: ServerFactory, tmp_path: Path, name: str, prefix: str,
               database: str) -> ServerProcess:
    return await start_acd(
        server_factory, tmp_path, queues=[queue("support", offer_timeout=20)],
        agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}], entry_queue="support",
        workdir_name=name, config={
            "cases_url": url(database),
            "routing": {"store": "redis", "redis_url": REDIS_URL,
                        "key_prefix": prefix + "routing:", "node_id": f"node-{name}"},
            "sessions": {"store": "redis", "redis_url": REDIS_URL,
                         "key_prefix": prefix + "sessions:"}})


async def test_a_desk_on_node_b_answers_a_call_waiting_on_node_a(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("espeak-ng") is None:
        pytest.fail("chromium and espeak-ng are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    await require_redis()
    prefix = new_prefix()
    database = create_database("desknodes")
    try:
        a = await node(server_factory, tmp_path, "a", prefix, database)
        b = await node(server_factory, tmp_path, "b", prefix, database)
        await add_agent_user(b, "ana")
        ana_mic = make_tone(tmp_path / "ana.wav", ANA_TONE_HZ, 120.0)
        caller_says = speech_wav(tmp_path / "caller.wav", "Hello, I have a question about "
                                 "my invoice.", seconds=60)
        heard = tmp_path / "caller-heard.wav"
        async with async_playwright() as p, desk_for(p, b, "ana", tmp_path, ana_mic) as ana:
            await ana.page.click("#state-available")

            async def ready() -> bool:
                return (await agent_status(a, "ana"))["state"] == "available"

            await wait_for(ready, within=20, what="node A sees Ana available")
            caller = asyncio.ensure_future(place_call(
                f"sip:100@{a.sip_target}", from_user="5550199", play=caller_says,
                record=heard, duration=60.0, answer_timeout=10.0))
            try:
                await ana.visible("#offer", within=30)
                assert "5550199" in (await ana.page.text_content("#offer-caller") or "")
                await ana.page.click("#answer")
                await ana.visible("#call")
                await ana.wait_phase("connected", within=30)

                async def caller_audio() -> bool:
                    stats: dict[str, Any] = await ana.page.evaluate("window.desk.inbound()")
                    return bool(stats["energy"] > 0.01 and stats["packets"] > 100)

                await wait_for(caller_audio, within=20, what="the caller's audio on the page")
                assert (await agent_status(a, "ana"))["state"] == "on_call"
                await asyncio.sleep(4.0)  # the caller hears Ana for a while
                await ana.page.keyboard.press("x")  # hang up: relayed to node A
                await ana.visible("#wrapup")
                result = await asyncio.wait_for(caller, 30)
            finally:
                if not caller.done():
                    caller.cancel()
        assert result.connected and result.remote_hangup, result
        voice = loud_part(read_wav(heard), threshold=500.0)
        assert len(voice) > 8000, "the caller heard nothing loud"
        assert abs(dominant_frequency(voice) - ANA_TONE_HZ) < 15, dominant_frequency(voice)
        # The call and its media were node A's: node B placed and took no call.
        a_calls = [c for c in await a.debug_calls() if c["direction"] == "inbound"]
        assert len(a_calls) == 1 and await b.debug_calls() == []
    finally:
        drop_database(database)
