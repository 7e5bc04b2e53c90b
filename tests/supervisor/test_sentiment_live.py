"""A call's sentiment moves on the supervisor's page as the caller speaks (issue 16 item 5),
end to end: a pjsua2 caller in a queue, answered by agent Ana (an aiortc desk that stays
silent), says nothing for a while and then, in espeak-ng English, that their order never
arrived and they are very angry. The server transcribes it (whisper), scores the segment
(cases.insights), and supervisor Sue's page in headless Chromium, which showed the call with no
negative mark, gets it as a delta of the wallboard (no new snapshot): a red mark of the
caller's in the call's trend and the call's label "negative". Listening in, the live
transcript's caller line carries the same level."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd, wait_for
from tests.e2e.api import send_json
from tests.e2e.supervisor_pages import logged_in_page, tone_wav
from tests.e2e.test_desk_calls import speech_wav
from tests.helpers.chromium import CHROMIUM
from tests.mixer.test_monitor_calls import PASSWORD, DeskClient
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

ANGRY = "This is terrible. My order never arrived and I am very angry."
QUIET_S = 15.0  # the caller says nothing at first: the call is on the page before any word
CALL_S = 90.0
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "supervisor-e2e"


def angry_caller(path: Path) -> Path:
    """`QUIET_S` of silence, then `ANGRY` again and again (1 s apart), 8 kHz mono."""
    said = speech_wav(path.with_suffix(".said.wav"), ANGRY, seconds=CALL_S - QUIET_S)
    subprocess.run(["sox", str(said), str(path), "pad", str(QUIET_S)], check=True)
    return path


async def test_the_callers_negative_words_move_the_trend_on_the_supervisor_page(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    if not all(shutil.which(tool) for tool in (CHROMIUM, "espeak-ng", "sox")):
        pytest.fail("chromium, espeak-ng and sox are installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    server = await start_acd(
        server_factory,
        tmp_path,
        queues=[queue("support", offer_timeout=30)],
        agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}],
        entry_queue="support",
        transcription=True,
    )
    for name, role in (("ana", "agent"), ("sue", "supervisor")):
        await send_json(
            server, "POST", "/api/users", {"name": name, "password": PASSWORD, "role": role}
        )
    ana = DeskClient(server, "ana", 0.0)  # a 0 Hz tone: Ana's browser sends silence
    caller: asyncio.Future[Any] | None = None
    async with (
        async_playwright() as p,
        logged_in_page(
            p,
            server,
            "sue",
            tmp_path,
            tone_wav(tmp_path / "sue.wav", 1100.0, 5.0),
            "/supervisor",
            password=PASSWORD,
        ) as page,
    ):
        try:
            await page.wait_for_selector('#agents-body tr[data-agent="ana"]', timeout=20000)
            await ana.open(available=True)
            caller = asyncio.ensure_future(
                place_call(
                    f"sip:100@{server.sip_target}",
                    from_user="5550177",
                    play=angry_caller(tmp_path / "caller.wav"),
                    record=tmp_path / "heard.wav",
                    duration=CALL_S,
                    answer_timeout=10.0,
                )
            )
            offer = await ana.accept()
            row = f'#calls li[data-call="{offer["call_id"]}"]'
            await page.wait_for_selector(row, timeout=20000)
            negative = f'{row} .trend .point[data-speaker="caller"][data-level="negative"]'
            assert await page.locator(negative).count() == 0  # before the caller said a word
            before = await page.evaluate("window.supervisor.received()")

            async def moved() -> bool:
                return bool(
                    await page.locator(negative).count() > 0
                    and await page.locator(f'{row} .sentiment[data-level="negative"]').count() == 1
                )

            await wait_for(moved, within=90, what="the caller's negative words on the trend")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "supervisor-sentiment.png"), full_page=True)
            words = str(await page.text_content(f"{row} .sentiment") or "")
            assert "Sentiment: negative" in words, words
            after = await page.evaluate("window.supervisor.received()")
            assert after["snapshot"] == before["snapshot"] == 1, after
            pushed = [
                m["changed"]["calls"][offer["call_id"]]["sentiment"]
                for m in after["log"]
                if m["type"] == "delta"
                and "sentiment" in m["changed"].get("calls", {}).get(offer["call_id"], {})
            ]
            assert pushed and pushed[-1]["label"] == "negative", pushed
            assert any(
                p["speaker"] == "caller" and p["sentiment"] <= -0.05 for p in pushed[-1]["trend"]
            ), pushed[-1]

            # Listening in: the live transcript's lines carry their level too.
            await page.click(f'{row} button[data-mode="listen"]')
            await page.wait_for_selector(
                '#transcript li.segment[data-speaker="caller"][data-level="negative"]',
                timeout=30000,
            )
            assert page.errors == [], page.errors
        finally:
            if caller is not None and not caller.done():
                caller.cancel()
                with contextlib.suppress(BaseException):
                    await caller
            await ana.close()
