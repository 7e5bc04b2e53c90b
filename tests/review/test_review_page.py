"""The review page in Chromium on a real recorded call (issue 11's must-show): a pjsua2
caller speaks real human English (Debian's pocketsphinx-testdata clips) into a server that
records (Opus after the call) and transcribes (whisper) it. On the page of that recording,
clicking each transcript line seeks the <audio> to within 0.5 s of the line's start (and the
recording does hold speech there); a search for a phrase the caller said finds it and links
to the second in this recording, and following the link plays from there. With the case
database (and the recording index) on SQLite, then on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json, send_json
from tests.e2e.test_transcribed_calls import cases_config, clips, speech_wav
from tests.helpers.chromium import CHROMIUM, chromium_context
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow
__all__ = ["cases_config"]  # the fixture: the case database on SQLite, then PostgreSQL

PASSWORD = "review-test-password-1"
SEEK_TOLERANCE_S = 0.5
# Reads where the player is once the seek the click asked for is done.
SETTLED = """async () => {
  const audio = document.getElementById("audio");
  for (let i = 0; i < 100 && (audio.seeking || audio.readyState < 1); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return audio.currentTime;
}"""


async def complete_recording(server: ServerProcess, within: float = 60.0) -> dict[str, Any]:
    """The call's recording once it is compressed and filed."""
    deadline = time.monotonic() + within
    while True:
        rows = (await get_json(server, "/api/recordings"))["recordings"]
        if rows and rows[0]["codec"] == "opus" and rows[0]["size_bytes"]:
            return dict(rows[0])
        assert time.monotonic() < deadline, f"no settled recording after {within}s: {rows}"
        await asyncio.sleep(0.3)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def spoken_phrase(segments: list[dict[str, Any]], reference: str) -> tuple[str, dict[str, Any]]:
    """The longest run of 3-6 words the caller said (in the reference) that a segment holds
    as said; and that segment."""
    said = " " + " ".join(words(reference)) + " "
    best: tuple[str, dict[str, Any]] | None = None
    for segment in segments:
        heard = words(segment["text"])
        for size in range(6, 2, -1):
            for i in range(len(heard) - size + 1):
                phrase = " ".join(heard[i:i + size])
                if f" {phrase} " in said and (best is None or len(phrase) > len(best[0])):
                    best = (phrase, segment)
    assert best is not None, f"no 3 words of the reference transcribed as said: {segments}"
    return best


async def test_transcript_lines_seek_the_player_and_search_finds_a_spoken_phrase(
    server_factory: ServerFactory, cases_config: dict[str, Any], tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    chosen = clips()[:3]
    seconds = speech_wav(tmp_path / "speech.wav", chosen)
    server = await server_factory(ServerOptions(
        demo_hangup_after=120, config={"recordings": {"enabled": True}, **cases_config}))
    await send_json(server, "POST", "/api/users",
                    {"name": "sam", "password": PASSWORD, "role": "supervisor"})
    result = await place_call(f"sip:100@{server.sip_target}", play=tmp_path / "speech.wav",
                              from_user="+15550177", duration=seconds + 1.5,
                              answer_timeout=10)
    assert result.connected, result
    interaction = await ended_interaction(server, within=90.0)
    segments = sorted(interaction["segments"], key=lambda s: s["start"])
    assert len(segments) >= 2, segments
    row = await complete_recording(server)
    assert row["interaction_id"] == interaction["id"]
    # Segment times and the recording share their origin (the answer): speech is in the
    # recording where each segment starts (caller channel, 100 ms slices).
    n = int(row["duration"] * 10)
    peaks = await get_json(server, f"/api/review/recordings/{row['id']}/peaks?n={n}")
    caller = peaks["channels"]["caller"]
    assert max(caller[:4]) < 0.05, caller[:10]  # the clip's half second of silence first
    for segment in segments:
        at = int(segment["start"] * 10)
        assert max(caller[max(0, at - 3):at + 5]) > 0.05, (
            f"no speech at {segment['start']:.2f}-{segment['end']:.2f} s ({segment['text']!r});"
            f" caller peaks from {max(0, at - 20) / 10:.1f} s: {caller[max(0, at - 20):at + 30]};"
            f" segments {[(s['start'], s['end']) for s in segments]}"
        )

    reference = " ".join(ref for _, ref in chosen)
    phrase, holder = spoken_phrase(segments, reference)

    async with async_playwright() as playwright, chromium_context(
            playwright, tmp_path / "profile", tmp_path / "speech.wav",
            base_url=server.http_base) as context:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A CSP refusal (an inline script or style, a foreign source) is a console error.
        page.on("console", lambda msg: errors.append(msg.text)
                if msg.type == "error" and "Failed to load resource" not in msg.text else None)
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        reply = await page.request.post("/api/login",
                                        data={"username": "sam", "password": PASSWORD})
        assert reply.ok, await reply.text()

        await page.goto(f"/review/{row['id']}")
        await page.wait_for_selector("body[data-view=recording]")
        lines = page.locator("#transcript li")
        assert await lines.count() == len(segments)
        # Click the lines out of order: each seek must land on its own line.
        order = list(range(len(segments)))[::-1]
        for i in order:
            await lines.nth(i).click()
            at = await page.evaluate(SETTLED)
            print(f"line {i}: segment {segments[i]['start']:.2f} s, player {at:.2f} s")
            assert abs(at - segments[i]["start"]) <= SEEK_TOLERANCE_S, (i, at, segments[i])
            assert "current" in (await lines.nth(i).get_attribute("class") or "")
        await page.evaluate("document.getElementById('audio').pause()")
        # The waveform was drawn from the peaks.
        assert await page.evaluate(
            "document.getElementById('wave').getContext('2d')"
            ".getImageData(0, 0, 200, 80).data.some((v) => v > 0)")

        await page.fill("#search-q", f'"{phrase}"')
        await page.press("#search-q", "Enter")
        await page.wait_for_selector("body[data-view=list]")
        hit = page.locator("#search-results a.hit").first
        await hit.wait_for()
        href = await hit.get_attribute("href")
        assert href == f"/review/{row['id']}#t={holder['start']:.1f}", (href, phrase)
        assert phrase in " ".join(words(await hit.inner_text()))
        marks = [m.lower() for m in await hit.locator("mark").all_inner_texts()]
        assert set(re.findall(r"[a-z0-9]+", phrase)) <= set(marks), (marks, phrase)  # marked
        await hit.click()
        await page.wait_for_selector("body[data-view=recording]")
        at = await page.evaluate(SETTLED)
        assert abs(at - holder["start"]) <= SEEK_TOLERANCE_S, (at, holder)
        current = page.locator("#transcript li.current")
        assert await current.get_attribute("data-segment") == str(holder["id"])
        assert errors == [], errors
