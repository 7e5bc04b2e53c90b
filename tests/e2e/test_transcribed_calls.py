"""Speech on every call, end to end: a real SIP caller (pjsua2) speaks real human English
(Debian's pocketsphinx-testdata librivox clips) through 8 kHz µ-law; the server transcribes
it onto the caller's shared case. Every test runs with cases on SQLite and on PostgreSQL
(`server_database` in tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from media.asr.wer import wer as word_error_rate
from media.player import read_wav
from media.resample import resample
from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def clips() -> list[tuple[Path, str]]:
    """(wav, reference words) for every librivox clip with a reference transcript."""
    refs: dict[str, str] = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, fileid = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        refs[fileid.strip(") ")] = words
    out = [(LIBRIVOX / f"{fid}.wav", refs[fid]) for fid in sorted(refs)]
    assert out, "no librivox clips: install Debian's pocketsphinx-testdata"
    return out


def speech_wav(path: Path, chosen: list[tuple[Path, str]], gap_s: float = 1.2) -> float:
    """Concatenate clips at 8 kHz with pauses between; returns the length in seconds."""
    parts = [np.zeros(int(0.5 * 8000), np.int16)]
    for wav, _ in chosen:
        pcm, rate = read_wav(wav)
        parts.append(resample(pcm, rate, 8000) if rate != 8000 else pcm)
        parts.append(np.zeros(int(gap_s * 8000), np.int16))
    pcm = np.concatenate(parts)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.astype("<i2").tobytes())
    return len(pcm) / 8000


@pytest.fixture(params=["sqlite", "postgresql"])
def cases_config(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Server config for each case database (a fresh PostgreSQL database per test), for the
    modules that import it (tests/review/test_review_page.py); the tests here get theirs from
    `server_factory` (`server_database` in tests/conftest.py)."""
    database = ServerDatabase(request.param)
    try:
        yield database.config()
    finally:
        database.drop_all()


async def case_of(server: ServerProcess, caller_hint: str, within: float = 15.0) -> str:
    """The (public) case id of the most recent call in the debug list (once its interaction
    exists)."""
    deadline = time.monotonic() + within
    while True:
        calls = await get_json(server, "/api/debug/calls")
        if calls:
            async with aiohttp.ClientSession(headers=server.auth_headers) as http:
                path = f"/api/calls/{calls[-1]['call_id']}/case"
                async with http.get(server.http_base + path) as resp:
                    if resp.status == 200:
                        return str((await resp.json())["case_id"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no case for {caller_hint}'s call after {within}s")
        await asyncio.sleep(0.2)


def segments(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for i in timeline["interactions"] for s in i["segments"]]


async def test_call_transcript_lands_on_case_with_low_wer(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    chosen = clips()
    seconds = speech_wav(tmp_path / "speech.wav", chosen)
    server = await server_factory(ServerOptions(demo_hangup_after=120))
    result = await place_call(
        f"sip:100@{server.sip_target}", play=tmp_path / "speech.wav",
        from_user="+15550001", duration=seconds + 1.5, answer_timeout=10,
    )
    assert result.connected, result
    case_id = await case_of(server, "+15550001")
    # The call is over; its interaction ends once the last utterance's final is stored.
    await ended_interaction(server, within=60.0)
    timeline = await get_json(server, f"/api/cases/{case_id}")
    assert timeline["identities"] == [{"kind": "phone", "value": "+15550001"}]
    found = sorted(segments(timeline), key=lambda s: s["start"])
    assert found and all(s["speaker"] == "caller" and s["engine"] == "whisper" for s in found)
    hypothesis = " ".join(s["text"] for s in found)
    reference = " ".join(words for _, words in chosen)
    wer = word_error_rate([reference], [hypothesis])
    assert wer <= 0.10, f"WER {wer:.1%} over {len(reference.split())} words"


async def test_second_call_from_same_number_joins_the_open_case(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    chosen = clips()[:1]
    seconds = speech_wav(tmp_path / "speech.wav", chosen)
    server = await server_factory(ServerOptions(demo_hangup_after=60))
    case_ids = []
    for _ in range(2):
        result = await place_call(
            f"sip:100@{server.sip_target}", play=tmp_path / "speech.wav",
            from_user="+15550002", duration=seconds + 1.0,
        )
        assert result.connected, result
        case_ids.append(await case_of(server, "+15550002"))
    assert case_ids[0] == case_ids[1]
    timeline = await get_json(server, f"/api/cases/{case_ids[0]}")
    assert len(timeline["interactions"]) == 2
    # A different number gets a case of its own.
    result = await place_call(
        f"sip:100@{server.sip_target}", from_user="+15550003", duration=1.0
    )
    assert result.connected
    assert await case_of(server, "+15550003") != case_ids[0]


async def test_kill_mid_call_keeps_every_acknowledged_segment(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    chosen = clips()
    seconds = speech_wav(tmp_path / "speech.wav", chosen)
    server = await server_factory(ServerOptions(demo_hangup_after=120))
    caller = asyncio.ensure_future(
        place_call(
            f"sip:100@{server.sip_target}", play=tmp_path / "speech.wav",
            from_user="+15550004", duration=seconds + 30, timeout=seconds + 60,
        )
    )
    try:
        case_id = await case_of(server, "+15550004")
        # The caller stays up for 30 s after their speech: time for a slow transcriber.
        deadline = time.monotonic() + seconds + 20
        acknowledged: list[dict[str, Any]] = []
        while len(acknowledged) < 2 and time.monotonic() < deadline:
            acknowledged = segments(await get_json(server, f"/api/cases/{case_id}"))
            await asyncio.sleep(0.2)
        assert len(acknowledged) >= 2, "no segments were stored while the call ran"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)  # mid-call: no BYE, no clean shutdown
        await server.proc.wait()
    finally:
        caller.cancel()
        with contextlib.suppress(BaseException):
            await caller

    restarted = ServerProcess(tmp_path / "restarted", server.options)
    (tmp_path / "restarted").mkdir()
    restarted.data_dir = server.data_dir  # same data directory (and SQLite file)
    try:
        await restarted.start()
        timeline = await get_json(restarted, f"/api/cases/{case_id}")
    finally:
        await restarted.stop()
    kept = {s["id"]: s for s in segments(timeline)}
    for segment in acknowledged:
        assert kept.get(segment["id"]) == segment
