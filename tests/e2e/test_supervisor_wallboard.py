"""The supervisor's wallboard in headless Chromium against a real server: a pjsua2 caller waits
in a queue and the page shows it waiting; the agent (an aiortc desk on the desk socket) answers
and the page gets a delta, not a second snapshot, that takes the caller off the line and puts
the agent on the call; the call is listed in progress, and listening in from its row shows the
caller's words live (espeak-ng speech, whisper). History as JSON, CSV and a chart; the page in
Spanish. Agents and pages without the role are refused."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd, wait_for
from tests.e2e.api import send_json
from tests.e2e.supervisor_pages import logged_in_page, tone_wav
from tests.e2e.test_desk_calls import CALLER_SAYS, speech_wav
from tests.helpers.chromium import CHROMIUM
from tests.mixer.test_monitor_calls import PASSWORD, DeskClient
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow


async def _text(page: Any, selector: str) -> str:
    return str(await page.text_content(selector) or "").strip()


async def test_a_waiting_call_shows_and_its_answer_arrives_as_a_delta(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None or shutil.which("espeak-ng") is None:
        pytest.fail("chromium and espeak-ng are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    server = await start_acd(server_factory, tmp_path,
                             queues=[queue("support", offer_timeout=30)],
                             agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}],
                             entry_queue="support", transcription=True)
    for name, role in (("ana", "agent"), ("sue", "supervisor")):
        await send_json(server, "POST", "/api/users",
                        {"name": name, "password": PASSWORD, "role": role})
    mic = tone_wav(tmp_path / "sue.wav", 1100.0, 5.0)
    ana = DeskClient(server, "ana", 700.0)
    caller: asyncio.Future[Any] | None = None
    async with async_playwright() as p:
        async with logged_in_page(p, server, "sue", tmp_path, mic, "/supervisor",
                                  password=PASSWORD) as page:
            try:
                await page.wait_for_selector('#queues-body tr[data-queue="support"]',
                                             timeout=20000)
                await page.wait_for_selector('#agents-body tr[data-agent="ana"]')
                row = '#queues-body tr[data-queue="support"]'
                assert await _text(page, f"{row} .waiting") == "0"
                await ana.open(available=False)

                caller = asyncio.ensure_future(place_call(
                    f"sip:100@{server.sip_target}", from_user="5550123",
                    play=speech_wav(tmp_path / "caller.wav", CALLER_SAYS, seconds=90.0),
                    record=tmp_path / "heard.wav", duration=90.0, answer_timeout=10.0))

                async def waiting() -> bool:
                    return await _text(page, f"{row} .waiting") == "1"
                await wait_for(waiting, within=30, what="the caller waiting on the wallboard")
                # Its wait counts up on the page (from when the caller came in, with no
                # message from the server: the board holds that time, not the seconds).
                shown = await page.evaluate("window.supervisor.received()")

                async def counting() -> bool:
                    m, s = (await _text(page, f"{row} .longest")).split(":")
                    return 3 <= int(m) * 60 + int(s) < 30
                await wait_for(counting, within=15, what="the longest wait counting up")
                assert (await page.evaluate("window.supervisor.received()"))["seq"] \
                    == shown["seq"]
                before = await page.evaluate("window.supervisor.received()")
                assert before["snapshot"] == 1, before

                # Ana goes available and answers: a delta brings it, not a new snapshot.
                assert ana.ws is not None
                await ana.ws.send_json({"type": "state", "state": "available"})
                offer = await ana.accept()

                async def answered() -> bool:
                    state = await _text(page, '#agents-body tr[data-agent="ana"] .state')
                    return await _text(page, f"{row} .waiting") == "0" and state == "On call"
                await wait_for(answered, within=30, what="the answer on the wallboard")
                await page.wait_for_selector(f'#calls li[data-call="{offer["call_id"]}"]')
                assert "5550123" in await _text(page, '#agents-body tr[data-agent="ana"] .contact')
                after = await page.evaluate("window.supervisor.received()")
                assert after["snapshot"] == 1, after
                assert after["delta"] > before["delta"]
                deltas = [m for m in after["log"] if m["type"] == "delta"
                          and m["seq"] > before["seq"]]
                # Numbered on from the snapshot, each holding only what changed.
                assert [m["seq"] for m in deltas] == list(
                    range(before["seq"] + 1, after["seq"] + 1)), deltas
                line = [m["changed"]["queues"]["support"] for m in deltas
                        if "support" in m["changed"].get("queues", {})]
                assert any(q.get("waiting") == 0 for q in line), deltas
                assert all("threshold" not in q for q in line), line  # unchanged, not sent
                assert any(m["changed"].get("calls", {}).get(offer["call_id"]) for m in deltas)

                # Sue listens in from the call's row: its live transcript shows what the
                # caller says (the case's live socket), the row names her and her mode.
                call_row = f'#calls li[data-call="{offer["call_id"]}"]'
                await page.click(f'{call_row} button[data-mode="listen"]')
                await page.wait_for_selector(
                    f'{call_row} .watcher[data-supervisor="sue"][data-mode="listen"]',
                    timeout=20000)

                async def transcribed() -> bool:
                    said = await page.eval_on_selector_all(
                        '#transcript li[data-speaker="caller"]',
                        "els => els.map(e => e.textContent)")
                    return any("invoice" in s.lower() for s in said)
                await wait_for(transcribed, within=120, what="the caller's words on the page")
                assert "Caller" in await _text(page, '#transcript li[data-speaker="caller"]')

                # Reloaded while listening: listening again from the new page works (its leg
                # from before is taken off the call first if the server still has it).
                await page.reload()
                await page.click(f'{call_row} button[data-mode="listen"]')

                async def listening_again() -> bool:
                    state = await page.evaluate("window.supervisor.monitor()")
                    assert state["error"] is None, state
                    return bool(state["mode"] == "listen" and not state["busy"])
                await wait_for(listening_again, within=20, what="listening after a reload")

                # History: the answered call in today's figures, as JSON, CSV and a chart.
                reply = await page.request.get("/api/supervisor/history")
                assert reply.ok, await reply.text()
                figures = await reply.json()
                assert figures["queues"]["support"]["answered"] == 1, figures
                assert figures["agents"]["ana"]["answered"] == 1, figures
                assert [k for k in figures["hours"] if k.startswith("support ")], figures
                reply = await page.request.get("/api/supervisor/history?format=csv&since="
                                               + "2000-01-01")
                lines = (await reply.text()).splitlines()
                assert lines[0].startswith("scope,key,offered,answered,abandoned,asa"), lines
                assert any(line.startswith("queue,support,1,1,0,") for line in lines), lines
                assert any(line.startswith("agent,ana,") for line in lines), lines
                assert any(line.startswith("day,support ") for line in lines), lines
                reply = await page.request.get("/api/supervisor/history?since=yesterday")
                assert reply.status == 400
                assert (await reply.json())["error"]["where"] == "query.since"
                await page.select_option("#history-figure", "asa")
                await page.click("#history-show")
                await page.wait_for_selector("#chart-agents svg rect.bar", timeout=10000)
                # (A 409 to the join after the reload is the page meeting its old leg: it
                # takes it off and joins again.)
                unexpected = [e for e in page.errors
                              if not (e.startswith("409 POST") and e.endswith("/monitor"))]
                assert unexpected == [], page.errors

                # In Spanish, from its own catalogue.
                await page.goto("/supervisor?lang=es")
                await page.wait_for_selector('#queues-body tr[data-queue="support"]')
                assert await _text(page, "#queues thead th") == "Cola"
                assert await _text(page, '#agents-body tr[data-agent="ana"] .state') \
                    == "En llamada"
            finally:
                if caller is not None and not caller.done():
                    caller.cancel()
                    with contextlib.suppress(BaseException):
                        await caller
                await ana.close()

        # An agent may not open the page or its socket.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(server.http_base + "/supervisor", allow_redirects=False) as r:
                assert r.status == 302 and "/login" in r.headers["Location"]
            async with http.post(server.http_base + "/api/login",
                                 json={"username": "ana", "password": PASSWORD}) as r:
                assert r.status == 200
            for path in ("/supervisor", "/api/supervisor/ws", "/api/supervisor/history"):
                async with http.get(server.http_base + path) as r:
                    assert r.status == 403, path
