"""A real browser against WebRtcLeg: headless Chromium (Playwright) on loopback, fake mic.

The page, served by an aiohttp server in the test, gets the fake microphone (a WAV spoken by
espeak-ng), makes an offer with `iceServers: []`, waits for ICE gathering, POSTs the offer and
sets the answer. Speech from the page must reach the leg's listener; the leg's played tone
must reach the page (getStats `totalAudioEnergy` / `audioLevel` of the inbound audio, played
by an unmuted <audio> element).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from media.frames import AudioFrame
from media.player import ToneGenerator
from media.ticker import MediaTicker
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.webapp import start_app
from tests.webrtc.conftest import rms
from voice.webrtc import OfferError, WebRtcLeg

pytestmark = pytest.mark.slow

PAGE = """<!doctype html>
<html><body>
<audio id="remote" autoplay></audio>
<script>
window.ready = (async () => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  const mic = await navigator.mediaDevices.getUserMedia({audio: true});
  mic.getTracks().forEach(t => pc.addTrack(t, mic));
  pc.ontrack = (e) => {
    const audio = document.getElementById("remote");
    audio.srcObject = e.streams[0] || new MediaStream([e.track]);
    audio.muted = false;
    audio.play();
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
  const resp = await fetch("/offer", {method: "POST", body: pc.localDescription.sdp});
  if (!resp.ok) throw new Error(await resp.text());
  await pc.setRemoteDescription({type: "answer", sdp: await resp.text()});
})();
window.inbound = async () => {
  const stats = await window.pc.getStats();
  for (const s of stats.values()) {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      return {energy: s.totalAudioEnergy || 0, level: s.audioLevel || 0,
              packets: s.packetsReceived || 0};
    }
  }
  return {energy: 0, level: 0, packets: 0};
};
</script></body></html>
"""


@pytest.fixture
def speech_wav(tmp_path: Path) -> Path:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "mic.wav"
    text = "Hello, I am calling about my order. It has not arrived yet. " * 3
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    return wav


class Site:
    """The test page and the /offer endpoint, answering with a WebRtcLeg."""

    def __init__(self, ticker: MediaTicker, codec: str) -> None:
        self.ticker = ticker
        self.codec = codec
        self.legs: list[WebRtcLeg] = []
        self.heard: list[AudioFrame] = []
        self.app = web.Application()
        self.app.router.add_get("/", self.page)
        self.app.router.add_post("/offer", self.offer)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def offer(self, request: web.Request) -> web.Response:
        try:
            leg = await WebRtcLeg.accept(await request.text(), ticker=self.ticker,
                                         codecs=(self.codec,), host_addresses=("127.0.0.1",))
        except OfferError as exc:
            return web.Response(status=400, text=str(exc))
        leg.add_listener(self.heard.append)
        leg.play(ToneGenerator((1000.0,), 8000, level_dbfs=-12.0))
        self.legs.append(leg)
        return web.Response(text=leg.answer_sdp, content_type="application/sdp")


@pytest.fixture
async def site(request: pytest.FixtureRequest, ticker: MediaTicker) -> AsyncIterator[
        tuple[Site, str]]:
    s = Site(ticker, request.param)
    runner, base = await start_app(s.app, access_log=None)
    yield s, f"{base}/"
    for leg in s.legs:
        await leg.close()
    await runner.cleanup()


@pytest.mark.parametrize("site", ["opus", "PCMU"], indirect=True)
async def test_chromium_talks_with_the_leg(
    site: tuple[Site, str], speech_wav: Path, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    s, url = site
    async with async_playwright() as p, \
            chromium_context(p, tmp_path / "profile", speech_wav) as browser:
        page = await browser.new_page()
        await page.goto(url)
        await page.evaluate("window.ready")
        async with asyncio.timeout(15):
            await s.legs[0].wait_connected()
        leg = s.legs[0]
        assert leg.codec == s.codec
        # The page hears the leg's tone: energy keeps growing at a real level.
        async with asyncio.timeout(15):
            while True:
                stats = await page.evaluate("window.inbound()")
                if stats["energy"] > 0.05 and stats["level"] > 0.05:
                    break
                await asyncio.sleep(0.2)
        # The leg hears the page's speech (espeak-ng through the fake microphone).
        async with asyncio.timeout(15):
            while len(s.heard) < 150:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        pcm = np.concatenate([f.samples for f in s.heard])
        windows = pcm[: len(pcm) // 4000 * 4000].reshape(-1, 4000)
        assert max(rms(w) for w in windows) > 300
        assert leg.stats().decode_errors == 0
