"""Chat → call in headless Chromium (Playwright, /usr/bin/chromium), against a real server
process: a shop's page (another origin) embeds the chat widget; the visitor writes a line,
then clicks "Call us"; the browser's call (the desk's own softphone module, a WebRTC leg on
the server) runs the IVR flow bound to `chat.call_to`, whose menu the visitor answers on
the widget's keypad, and which queues it; the agent's desk page
rings with the screen pop showing the chat, the agent answers, and audio flows both ways: the
visitor's fake microphone plays a 700 Hz tone, the agent's 1100 Hz, and each page's remote
audio is analysed (inbound energy from getStats, and the dominant frequency of what the
<audio> element plays). The call's interaction is on the chat's case (the case API).
Screenshots go to tests/artifacts/chat-call/."""

from __future__ import annotations

import shutil
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from aiohttp import web

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, wait_for
from tests.e2e.api import get_json
from tests.e2e.test_desk_calls import _state, add_agent_user, desk_for
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.server import ServerOptions, ServerProcess
from tests.helpers.webapp import start_app

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "chat-call"
VISITOR_HZ = 700.0
AGENT_HZ = 1100.0
CHAT_LINE = "My parcel 4471 has not arrived, can I call you?"
QUEUE_FLOW = """\
name: chat-calls
default: true
steps:
  - label: menu
    menu:
      prompt: "For support, press 2."
      choices:
        - {digits: "2", goto: support}
      retries: 3
      timeout: 6
      on_failure: after
      variable: choice
  - label: support
    queue: {name: support, on_timeout: after}
  - hangup
  - label: after
    say: "Sorry, nobody could take your call."
  - hangup
"""
SHOP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Example shop</h1>
<script type="module" src="{chat}/chat/widget.js"></script>
</body></html>
"""
# The dominant frequency of what an <audio> element plays, over `ms` (WebAudio analyser on
# its MediaStream; Chromium feeds WebAudio from a remote track that an element plays).
DOMINANT = """async ([el, ms]) => {
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(el.srcObject);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  const sum = new Float32Array(analyser.frequencyBinCount).fill(0);
  const data = new Float32Array(analyser.frequencyBinCount);
  for (let i = 0; i < ms / 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    analyser.getFloatFrequencyData(data);
    for (let k = 0; k < data.length; k++) sum[k] += Math.pow(10, data[k] / 10);
  }
  let best = 1;
  let total = 0;
  for (let k = 1; k < sum.length; k++) {
    total += sum[k];
    if (sum[k] > sum[best]) best = k;
  }
  let near = 0;
  for (let k = Math.max(1, best - 3); k <= Math.min(sum.length - 1, best + 3); k++) near += sum[k];
  await ctx.close();
  return {hz: best * ctx.sampleRate / analyser.fftSize, share: total ? near / total : 0};
}"""
WIDGET = "#centralita-chat"


def tone_wav(path: Path, hz: float, *, seconds: float = 120.0) -> Path:
    """A sine tone at 16 kHz mono, -10 dBFS."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


async def start_server(server_factory: ServerFactory, tmp: Path, shop: str) -> ServerProcess:
    conf = tmp / "conf"
    flows = conf / "flows"
    flows.mkdir(parents=True)
    (flows / "chat-calls.yaml").write_text(QUEUE_FLOW)
    routing = conf / "routing.yaml"
    routing.write_text(yaml.safe_dump({
        "queues": [queue("support", offer_timeout=30, wrapup=5)],
        "agents": [{"id": "ana", "name": "Ana", "queues": ["support"]}],
    }, sort_keys=False))
    return await server_factory(ServerOptions(
        config={"chat": {"allowed_origins": [shop], "call_to": "chat"}},
        extra_args=["--flows", str(flows), "--routing", str(routing),
                    "--transcription", "off"]))


@pytest.fixture
async def shop() -> AsyncIterator[tuple[dict[str, str], str]]:
    """The shop's site: one page embedding the widget (its chat server set later in the
    dict)."""
    app = web.Application()
    where = {"chat": ""}

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=SHOP.format(chat=where["chat"]), content_type="text/html")

    app.router.add_get("/", page)
    runner, base = await start_app(app)
    try:
        yield where, base
    finally:
        await runner.cleanup()


async def dominant(page: Any, selector: str, ms: int = 1500) -> dict[str, float]:
    handle = await page.query_selector(selector)
    assert handle is not None, selector
    found: dict[str, float] = await page.evaluate(DOMINANT, [handle, ms])
    return found


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_a_visitor_calls_from_the_chat_and_the_desk_answers_on_the_chats_case(
    server_factory: ServerFactory, tmp_path: Path, shop: tuple[dict[str, str], str],
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    shop_where, shop_base = shop
    server = await start_server(server_factory, tmp_path, shop_base)
    shop_where["chat"] = server.http_base
    await add_agent_user(server, "ana")
    visitor_wav = tone_wav(tmp_path / "visitor.wav", VISITOR_HZ)
    agent_wav = tone_wav(tmp_path / "agent.wav", AGENT_HZ)
    async with async_playwright() as p, \
            desk_for(p, server, "ana", tmp_path, agent_wav) as ana, \
            chromium_context(p, tmp_path / "profile-visitor", visitor_wav) as visitor_ctx:
        visitor = await visitor_ctx.new_page()
        await visitor.goto(shop_base + "/")
        # The visitor chats first: the line is stored on their case.
        await visitor.click(f"{WIDGET} .launcher")
        await visitor.fill(f"{WIDGET} .input", CHAT_LINE)
        await visitor.press(f"{WIDGET} .input", "Enter")
        await visitor.wait_for_selector(f"{WIDGET} .line.visitor[data-id]", timeout=20_000)
        await ana.page.click("#state-available")
        await wait_for(lambda: _state(server, "ana", "available"), within=20, what="ana ready")

        # "Call us": the button is there (the server takes calls) and says so in words.
        call = visitor.locator(f"{WIDGET} .call")
        assert (await call.text_content() or "").strip() == "Call us"
        await call.click()
        await visitor.wait_for_selector(f"{WIDGET} .hangup", state="visible", timeout=20_000)
        # The IVR's menu: the visitor presses 2 on the widget's keypad.
        await visitor.wait_for_selector(f"{WIDGET} .keypad", state="visible", timeout=20_000)
        await shot(visitor, "visitor-keypad")
        await visitor.click(f'{WIDGET} .keypad button[data-key="2"]')

        # The desk rings with the screen pop, which shows the chat.
        await ana.visible("#offer", within=30)
        await ana.visible("#pop")

        async def pop_shows_chat() -> bool:
            return CHAT_LINE in (await ana.page.text_content("#pop") or "")
        await wait_for(pop_shows_chat, within=20, what="the chat line in the screen pop")
        offer = await ana.page.evaluate("window.desk.state.offer")
        await shot(ana.page, "desk-ringing")
        await ana.page.click("#answer")
        await ana.visible("#call")
        await ana.wait_phase("connected")

        async def visitor_connected() -> bool:
            stats = await visitor.evaluate("window.centralitaChat.call()")
            return bool(stats and stats["phase"] == "connected")
        await wait_for(visitor_connected, within=20, what="the visitor's call connected")

        async def agent_said() -> str:
            words = await visitor.text_content(f"{WIDGET} .call-state") or ""
            return words if words == "On the call with an agent." else ""
        await wait_for(agent_said, within=20, what="the widget saying an agent took the call")

        # Audio both ways: energy in each page's inbound RTP, and each hears the other's tone.
        async def desk_hears() -> Any:
            stats = await ana.page.evaluate("window.desk.inbound()")
            return stats if stats["energy"] > 0.01 and stats["packets"] > 100 else None

        async def visitor_hears() -> Any:
            stats = await visitor.evaluate("window.centralitaChat.call()")
            return stats if stats["energy"] > 0.01 and stats["packets"] > 100 else None
        desk_stats = await wait_for(desk_hears, within=20, what="visitor audio on the desk")
        visitor_stats = await wait_for(visitor_hears, within=20, what="agent audio in the chat")
        heard_by_desk = await dominant(ana.page, "#remote")
        heard_by_visitor = await dominant(visitor, f"{WIDGET} audio.remote")
        await shot(visitor, "visitor-on-call")
        await shot(ana.page, "desk-on-call")
        print(f"\nchat call: desk inbound {desk_stats}, hears {heard_by_desk}; "
              f"visitor inbound {visitor_stats}, hears {heard_by_visitor}")
        assert abs(heard_by_desk["hz"] - VISITOR_HZ) < 15, heard_by_desk
        assert heard_by_desk["share"] > 0.5, heard_by_desk
        assert abs(heard_by_visitor["hz"] - AGENT_HZ) < 15, heard_by_visitor
        assert heard_by_visitor["share"] > 0.5, heard_by_visitor

        # The call is on the chat's case: the case the call landed on holds the chat line.
        landed = await get_json(server, f"/api/calls/{offer['call_id']}/case")
        assert landed["case_id"] == offer["case_id"]
        timeline = await get_json(server, f"/api/cases/{landed['case_id']}")
        entries = timeline["entries"]
        chats = [e["message"]["body"] for e in entries if e["type"] == "message"
                 and e["message"]["channel"] == "chat"]
        assert chats == [CHAT_LINE], chats
        calls = [e["call"]["call_id"] for e in entries if e["type"] == "call"]
        assert calls == [offer["call_id"]], calls
        keys = [(e["ivr"]["value"]["digits"], e["ivr"]["value"]["outcome"]) for e in entries
                if e["type"] == "ivr" and e["ivr"]["kind"] == "digits"]
        assert keys == [("2", "match")], [e["ivr"] for e in entries if e["type"] == "ivr"]

        # The visitor hangs up; the desk's call ends and the widget says so.
        await visitor.click(f"{WIDGET} .hangup")
        await visitor.wait_for_selector(f"{WIDGET} .call", state="visible", timeout=10_000)
        assert (await visitor.text_content(f"{WIDGET} .call-state") or "") \
            == "The call has ended."
        await ana.visible("#wrapup", within=20)
        await shot(visitor, "visitor-ended")
