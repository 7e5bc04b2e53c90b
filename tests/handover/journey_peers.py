"""Peers of the journey test (tests/handover/test_journey.py) that no other test had in this
shape: the caller's audio (espeak-ng speech after a pause, then silence), a silent fake
microphone for a desk page, a second agent's desk socket without a page (it records what
routing offers it), and what a recorded call said (`centralita transcribe`, the embedded
whisper)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from tests.helpers.server import ServerProcess

RATE = 8000


def write_pcm(path: Path, pcm: np.ndarray[Any, np.dtype[np.int16]], rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.astype("<i2").tobytes())
    return path


def speech_after(path: Path, text: str, *, at: float, tail: float) -> Path:
    """espeak-ng `text` (US English at 140 words a minute, as tests/e2e/test_summary_calls.py
    speaks: whisper tiny.en hears it well through 8 kHz) starting `at` seconds in, then
    `tail` s of silence."""
    raw, said = path.with_suffix(".22k.wav"), path.with_suffix(".said.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text],
                   check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e",
                    "signed-integer", str(said)], check=True, timeout=60)
    with wave.open(str(said)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return write_pcm(path, np.concatenate([np.zeros(int(at * RATE), np.int16), pcm,
                                           np.zeros(int(tail * RATE), np.int16)]))


def silence(path: Path, seconds: float = 2.0) -> Path:
    """A silent microphone: an agent who says nothing gives whisper nothing to do."""
    return write_pcm(path, np.zeros(int(seconds * 16000), np.int16), rate=16000)


class AgentSocket:
    """An agent's desk without a page: logged in, on the desk socket, every message kept."""

    def __init__(self, server: ServerProcess, name: str, password: str) -> None:
        self.server = server
        self.name = name
        self.password = password
        self.messages: list[dict[str, Any]] = []
        self.http = aiohttp.ClientSession(headers={"Origin": server.http_base},
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Log in, open the socket and go available."""
        async with self.http.post(self.server.http_base + "/api/login",
                                  json={"username": self.name, "password": self.password}) as r:
            assert r.status == 200, await r.text()
        self.ws = await self.http.ws_connect(self.server.http_base + "/api/desk/ws")
        self._reader = asyncio.create_task(self._read())
        await self.ws.send_json({"type": "state", "state": "available"})

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(msg.data))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.http.close()


async def transcribe(path: Path) -> str:
    """The words of a WAV, lower case, as `centralita transcribe` (whisper tiny.en) hears
    them."""
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "centralita", "transcribe", str(path)],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    # Lines are "<file> [ start -  end] text".
    return " ".join(line.split("] ", 1)[1] for line in proc.stdout.splitlines()
                    if "] " in line).lower()
