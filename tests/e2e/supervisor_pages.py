"""Helpers of the supervisor page tests: tone WAVs for the fake microphones, the logged-in pages
in Chromium, and what a page's remote audio carries (recorded in the page with Web Audio)."""

from __future__ import annotations

import contextlib
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tests.helpers.chromium import chromium_context
from tests.helpers.server import ServerProcess

PASSWORD = "supervisor-test-password-1"
RATE = 8000

# Records what the page's <audio id="remote"> plays (the call's audio as the browser got it)
# for `seconds`, resampled by Web Audio to 8 kHz, as int16 samples. Run by Playwright, which
# evaluates outside the page's CSP; the page itself runs no inline script.
RECORD_REMOTE = """async (seconds) => {
  const stream = document.getElementById("remote").srcObject;
  if (!stream) return [];
  const ctx = new AudioContext({sampleRate: 8000});
  await ctx.resume();
  const source = ctx.createMediaStreamSource(stream);
  const node = ctx.createScriptProcessor(2048, 1, 1);
  const chunks = [];
  node.onaudioprocess = (e) => chunks.push(Float32Array.from(e.inputBuffer.getChannelData(0)));
  const sink = ctx.createGain();
  sink.gain.value = 0;
  source.connect(node);
  node.connect(sink);
  sink.connect(ctx.destination);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  source.disconnect();
  node.disconnect();
  await ctx.close();
  const out = [];
  for (const c of chunks) for (const v of c) out.push(Math.round(v * 32767));
  return out;
}"""


def tone(freq: float, seconds: float, rate: int = RATE, level: float = 6000.0
         ) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def tone_wav(path: Path, freq: float, seconds: float, level: float = 6000.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(tone(freq, seconds, level=level).tobytes())
    return path


def amplitude(x: npt.NDArray[Any], freq: float, rate: int = RATE) -> float:
    """The amplitude (int16 units) of `freq` in `x`: its correlation with that sine and cosine."""
    if len(x) == 0:
        return 0.0
    t = np.arange(len(x)) / rate
    c = np.dot(np.asarray(x, np.float64), np.exp(-2j * np.pi * freq * t))
    return float(2 * abs(c) / len(x))


WINDOW = 800  # 100 ms at 8 kHz: a whole number of cycles of every test tone (10 Hz steps)


def levels(x: npt.NDArray[Any], **freqs: float) -> dict[str, float]:
    """The median over 100 ms windows of each tone's amplitude in `x`. Per window, not over the
    whole: a browser's audio may skip a block under load, and a phase jump would cancel a long
    correlation although the tone is there."""
    n = len(x) // WINDOW
    if n == 0:
        return {name: 0.0 for name in freqs}
    windows = np.asarray(x[:n * WINDOW], np.float64).reshape(n, WINDOW)
    return {name: round(float(np.median([amplitude(w, f) for w in windows])), 1)
            for name, f in freqs.items()}


async def record_remote(page: Any, seconds: float) -> npt.NDArray[np.int16]:
    samples = await page.evaluate(RECORD_REMOTE, seconds)
    return np.asarray(samples, np.int16)


@contextlib.asynccontextmanager
async def logged_in_page(playwright: Any, server: ServerProcess, name: str, tmp: Path,
                         mic: Path, path: str, *, password: str = PASSWORD
                         ) -> AsyncIterator[Any]:
    """`name`'s page at `path` in its own Chromium, the fake microphone playing `mic`."""
    async with chromium_context(playwright, tmp / f"profile-{name}", mic,
                                base_url=server.http_base) as context:
        page = await context.new_page()
        reply = await page.request.post("/api/login",
                                        data={"username": name, "password": password})
        assert reply.ok, await reply.text()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Failed requests by address (the console's "Failed to load resource" names none);
        # the browser's own favicon request is not the page's.
        page.on("response", lambda r: errors.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.on("console", lambda msg: errors.append(msg.text)
                if msg.type == "error" and "Failed to load resource" not in msg.text else None)
        await page.goto(path)
        page.errors = errors
        yield page
