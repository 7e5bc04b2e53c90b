"""Agent assist end to end, in headless Chromium: a pjsua2 caller (espeak-ng, 8 kHz PCMU,
transcribed live by whisper) queues to an agent whose desk answers over WebRTC; when the
caller says "I want a refund for my order, please" the refund article appears in the desk's
case panel with the caller's matching words, and "Send link" puts its link into the composer.

The figure printed is the time from the caller's segment being stored (its `created_at`) to
the suggestion appearing on the page (a MutationObserver's clock; same machine, both wall
clocks). The test's bound is generous (a loaded 2-core machine); the figure goes to README.

The knowledge-base API is exercised on the same server: an admin adds an article, an agent's
search finds it, a bad article is refused naming the field.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.conftest import ServerFactory
from tests.e2e.acd import QUEUE_FLOW, queue, wait_for
from tests.e2e.api import get_json, send_json
from tests.e2e.test_desk_calls import (
    PASSWORD,
    _state,
    add_agent_user,
    desk_for,
    speech_wav,
)
from tests.helpers.chromium import CHROMIUM
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "assist" / "demo"
# The brief's "I would like a refund for my order." is not heard by whisper tiny.en from
# espeak-ng: "I will die for my order." (en, 175 wpm), "I will buy a kara for my order" (en-us,
# 150), ... in 6 of 6 voices and rates tried through 8 kHz PCMU; with the whole call hinted
# ("refund, order, ...") 3 of 6. A run's caller saying it got the refund article only by the
# word "order". This sentence is heard word for word in all 6.
CALLER_SAYS = "I want a refund for my order, please."
CALL_SECONDS = 120.0
BOUND_S = 10.0  # generous: the figure is printed and kept in the README, not asserted tight
HELP = "https://help.example.com/kb"

# Records when a suggestion of each article first shows (page clock, ms since the epoch).
OBSERVER = """
window.__assistSeen = {};
window.__assistFirst = {};  // which article led the list at that moment
new MutationObserver(() => {
  for (const li of document.querySelectorAll('#assist-list .assist-item')) {
    // Keyed by article and the caller's words that matched it.
    const phrase = (li.querySelector('.assist-phrase') || {}).textContent || '';
    const key = li.dataset.slug + (phrase.toLowerCase().includes('refund') ? ':refund' : '');
    if (!(key in window.__assistSeen)) {
      window.__assistSeen[key] = Date.now();
      window.__assistFirst[key] = document.querySelector('#assist-list .assist-item')
        .dataset.slug;
    }
  }
}).observe(document, {subtree: true, childList: true});
"""


async def start_server(server_factory: ServerFactory, tmp: Path) -> ServerProcess:
    conf = tmp / "acd"
    (conf / "flows").mkdir(parents=True)
    (conf / "flows" / "acd.yaml").write_text(QUEUE_FLOW.format(queue="support"))
    (conf / "routing.yaml").write_text(yaml.safe_dump({
        "queues": [queue("support", offer_timeout=30, wrapup=60)],
        "agents": [{"id": "ana", "name": "Ana", "queues": ["support"]}],
    }, sort_keys=False))
    kb = tmp / "kb"
    shutil.copytree(DEMO, kb)
    return await server_factory(ServerOptions(
        config={"assist": {"articles": str(kb), "base_url": HELP}},
        extra_args=["--flows", str(conf / "flows"), "--routing", str(conf / "routing.yaml"),
                    "--transcription", "whisper"],
    ))


def stored_at(iso: str) -> float:
    at = datetime.fromisoformat(iso)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


async def test_a_caller_asking_for_a_refund_shows_the_refund_article_on_the_desk(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("espeak-ng") is None:
        pytest.fail("chromium and espeak-ng are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    caller_wav = speech_wav(tmp_path / "caller.wav", CALLER_SAYS, seconds=CALL_SECONDS)
    agent_wav = speech_wav(tmp_path / "ana.wav", "Hello, this is Ana.", seconds=10)
    server = await start_server(server_factory, tmp_path)
    await add_agent_user(server, "ana")
    async with async_playwright() as p, desk_for(p, server, "ana", tmp_path, agent_wav) as ana:
        await ana.page.evaluate(OBSERVER)
        await ana.page.click("#state-available")
        await wait_for(lambda: _state(server, "ana", "available"), within=20, what="ana ready")
        caller = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", from_user="+34600111222", play=caller_wav,
            duration=CALL_SECONDS, answer_timeout=10.0))
        try:
            await ana.visible("#offer", within=30)
            await ana.page.click("#answer")
            await ana.visible("#call")
            await ana.wait_phase("connected")
            # The caller's "refund" (an utterance heard without it, "... for my order",
            # may suggest the article first, by "order").
            await ana.page.wait_for_function(
                "() => 'refunds:refund' in window.__assistSeen", timeout=90_000)
            seen_ms = (await ana.page.evaluate("window.__assistSeen"))["refunds:refund"]
            await ana.shot("assist")

            item = ana.page.locator('#assist-list .assist-item[data-slug="refunds"]')
            assert "Refunds and returns" in (await item.text_content() or "")
            first = await ana.page.evaluate("window.__assistFirst['refunds:refund']")
            assert first == "refunds", first  # the refund article led the suggestions

            # From the segment's store time to the suggestion on the page.
            case_id = await ana.page.evaluate("window.desk.state.call.case_id")
            timeline = await get_json(server, f"/api/cases/{case_id}")
            found = [(i, s) for i in timeline["interactions"] for s in i["segments"]
                     if s["speaker"] == "caller" and "refund" in s["text"].lower()]
            assert found, "no caller segment with 'refund' stored"
            interaction, segment = found[0]
            latency = seen_ms / 1000 - stored_at(segment["created_at"])
            # Segment times count from the call's answer; the interaction starts then too
            # (the IVR answers at once), so this is roughly the end of the caller's words.
            said_end = stored_at(interaction["started_at"]) + segment["end"]
            print(f"\nassist: segment stored -> refund article on the desk: {latency:.3f} s; "
                  f"utterance end (approx.) -> desk: {seen_ms / 1000 - said_end:.2f} s")
            assert -0.5 < latency < BOUND_S

            # "Send link" puts the article's link into the composer.
            await ana.visible("#composer")
            await item.locator(".assist-send").click()
            body = await ana.page.input_value("#composer-body")
            assert f"{HELP}/refunds" in body and "Refunds and returns" in body, body
            await ana.shot("assist-composer")
            await ana.page.click("#hangup")
        finally:
            caller.cancel()
            await asyncio.gather(caller, return_exceptions=True)

    await knowledge_base_api(server)


async def knowledge_base_api(server: ServerProcess) -> None:
    """Admin adds an article; an agent's search finds it; a bad one is refused by field."""
    added = await send_json(server, "POST", "/api/assist/articles", {
        "slug": "warranty", "markdown": "# Warranty\n\nBlenders have a two-year warranty.\n"})
    assert added["url"] == f"{HELP}/warranty"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.post(f"{server.http_base}/api/login",
                                json={"username": "ana", "password": PASSWORD})
        assert login.status == 200
        async with http.get(f"{server.http_base}/api/assist/search",
                            params={"q": "my blender broke, is it under warranty"}) as r:
            found: dict[str, Any] = await r.json()
            assert r.status == 200, found
        assert found["suggestions"][0]["slug"] == "warranty"
        csrf = (await login.json())["csrf"]
        async with http.post(f"{server.http_base}/api/assist/articles",
                             json={"slug": "x", "markdown": "# X\n\ny"},
                             headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 403  # agents read the knowledge base; admins write it
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10),
                              headers=server.auth_headers) as http,
        http.post(f"{server.http_base}/api/assist/articles",
                  json={"slug": "no-title", "markdown": "just text"}) as r,
    ):
        bad = await r.json()
        assert r.status == 400 and bad["error"]["where"] == "markdown", bad
    listed = await get_json(server, "/api/assist/articles")
    assert "warranty" in [a["slug"] for a in listed["articles"]]
