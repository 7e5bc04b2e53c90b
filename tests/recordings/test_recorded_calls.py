"""Recordings of real calls: a pjsua2 caller plays a known signal into a server with
`recordings: {enabled: true}`. A normal call's recording has the caller on the left channel
(correlated with what was played) and a completed index row (sha256, duration); after a
`kill -9` mid-call the file as left plays up to within a second of the kill, and the row is
'interrupted' once the server starts again on the same data directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.helpers.databases import ServerDatabase, query_rows
from tests.helpers.server import ServerOptions, ServerProcess
from tests.pjsua.audio import aligned_correlation
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

# These read the WAV the call leaves (compression is tested in test_lifecycle_e2e.py).
CONFIG: dict[str, Any] = {"recordings": {"enabled": True, "compress": False},
                          "transcription": "off"}
RATE = 8000


def caller_signal(path: Path, seconds: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Chirps 300-3000 Hz, 1.5 s each with 0.5 s pauses: no two seconds look alike to a
    correlation within a chirp, and the pauses show where the caller was silent."""
    t = np.arange(int(1.5 * RATE)) / RATE
    chirp = np.sin(2 * np.pi * (300 * t + (2700 / 3.0) * t**2)) * 9000
    period = np.concatenate([chirp, np.zeros(RATE // 2)])
    x = np.tile(period, int(np.ceil(seconds / 2.0)))[: int(seconds * RATE)]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(x.astype("<i2").tobytes())
    return chirp


def rows(server: ServerProcess) -> list[dict[str, Any]]:
    """The server's recordings index, oldest first (SQLite or PostgreSQL)."""
    return query_rows(server.database_url, "SELECT * FROM recordings ORDER BY started_wall")


async def wait_row(server: ServerProcess, status: str, within: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        found = [r for r in rows(server) if r["status"] == status]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no recording row {status!r} after {within}s: {rows(server)}")
        await asyncio.sleep(0.1)


def channels(path: Path) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, RATE)
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
        return pcm[0::2], pcm[1::2], w.getnframes() / RATE


async def test_call_recording_has_the_caller_left_and_a_completed_row(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    chirp = caller_signal(tmp_path / "caller.wav", 6.0)
    server = await server_factory(ServerOptions(demo_hangup_after=60, config=CONFIG))
    result = await place_call(f"sip:100@{server.sip_target}", play=tmp_path / "caller.wav",
                              from_user="+15550101", duration=6.0, answer_timeout=10)
    assert result.connected, result
    row = await wait_row(server, "complete")
    path = server.data_dir / "recordings" / row["location"]
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (row["channels"], row["sample_rate"]) == (2, RATE)
    left, right, seconds = channels(path)
    assert abs(seconds - row["duration"]) < 0.03
    assert 5.0 < seconds < 7.5, seconds
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    found, lag = aligned_correlation(chirp, left)
    elsewhere, _ = aligned_correlation(chirp, right)
    print(f"left corr {found:.3f} at {lag / RATE:.2f} s; right corr {elsewhere:.3f}")
    assert found > 0.9, found
    assert elsewhere < 0.3, elsewhere


async def test_kill_9_leaves_a_playable_file_and_an_interrupted_row(
    tmp_path: Path, server_database: ServerDatabase
) -> None:
    chirp = caller_signal(tmp_path / "caller.wav", 30.0)
    workdir = tmp_path / "server"
    workdir.mkdir()
    # The same options (data directory and database) for the process after the kill.
    options = ServerOptions(demo_hangup_after=60, config={**CONFIG, **server_database.config()})
    server = ServerProcess(workdir, options)
    await server.start()
    try:
        call = asyncio.ensure_future(place_call(
            f"sip:100@{server.sip_target}", play=tmp_path / "caller.wav",
            from_user="+15550102", duration=12.0, answer_timeout=10))
        row = await wait_row(server, "recording")
        await asyncio.sleep(6.3)
        killed_at = time.time()
        os.killpg(server.pid, signal.SIGKILL)
        await server.stop()
    finally:
        await server.stop()
    path = server.data_dir / "recordings" / row["location"]
    # The file exactly as the killed process left it: the stdlib reader plays it.
    left, _, seconds = channels(path)
    expected = killed_at - row["started_wall"]
    print(f"recorded {seconds:.2f} s of {expected:.2f} s before the kill")
    assert expected - 1.0 <= seconds <= expected + 0.1, (seconds, expected)
    found, _ = aligned_correlation(chirp, left)
    assert found > 0.9, found
    await call

    again = ServerProcess(workdir, options)
    await again.start()
    try:
        repaired = await wait_row(again, "interrupted")
    finally:
        await again.stop()
    assert repaired["id"] == row["id"]
    assert repaired["duration"] >= seconds - 0.001
    assert repaired["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert channels(path)[2] == pytest.approx(repaired["duration"])


PCI_FLOW = """\
name: pci
default: true
steps:
  - say: "Hello."
  - label: card
    sensitive: true
    gather: {prompt: "Enter your card number then hash.", variable: card, terminator: "#",
             max_digits: 19, timeout: 10, on_timeout: after}
  - label: after
    gather: {prompt: "Thank you.", variable: more, max_digits: 1, timeout: 4,
             on_timeout: bye}
  - label: bye
    say: "Goodbye."
  - hangup
"""


async def test_sensitive_step_is_silence_on_both_channels_and_an_indexed_span(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    caller_signal(tmp_path / "caller.wav", 20.0)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "pci.yaml").write_text(PCI_FLOW)
    server = await server_factory(ServerOptions(
        config=CONFIG, extra_args=["--flows", str(flows)]))
    result = await place_call(f"sip:100@{server.sip_target}", play=tmp_path / "caller.wav",
                              from_user="+15550103", dtmf_at=((5.0, "4111111111111111#"),),
                              duration=14.0, answer_timeout=10)
    assert result.connected, result
    row = await wait_row(server, "complete")
    spans = json_spans(row)
    assert len(spans) == 1, spans
    start, end = spans[0]["start"], spans[0]["end"]
    assert spans[0]["by"].startswith("ivr:")
    assert 0.3 < start < 3.0 and start + 2.0 < end < 9.0, spans
    left, right, _ = channels(server.data_dir / "recordings" / row["location"])
    inside = slice(int(start * RATE), int(end * RATE))
    assert not left[inside].any() and not right[inside].any()
    # The caller's chirps are there before the span and after it; the prompts on the right.
    assert np.abs(left[int(end * RATE):int((end + 2) * RATE)]).max() > 3000
    assert np.abs(left[: int(start * RATE)]).max() > 3000
    assert np.abs(right[: int(start * RATE)]).max() > 1000  # "Hello."


def json_spans(row: dict[str, Any]) -> list[dict[str, Any]]:
    spans = row["paused_spans"]
    return list(json.loads(spans) if isinstance(spans, str) else spans)
