"""A Media Streams peer that behaves as Twilio does on a `<Connect><Stream>` call.

It speaks the protocol exactly as Twilio's documentation shows it: `connected`, then `start`
(sequenceNumber "1", accountSid/streamSid/callSid, tracks ["inbound"], the TwiML
`<Parameter>`s as customParameters, mediaFormat audio/x-mulaw 8000 1), then `media` every
20 ms with *string* sequenceNumber/chunk/timestamp and base64 µ-law payloads, `dtmf` on
track "inbound_track", and `stop` at the end. What the server sends is "played" as Twilio
plays it: queued, one 20 ms chunk per 20 ms; a `mark` is echoed when everything sent before
it has been played; `clear` drops what is queued and echoes the marks it dropped.

    async with MediaStreamsClient(ws_url, account_sid=..., call_sid=..., params=...) as peer:
        await peer.send_audio(pcm)            # paced at 20 ms, timestamps from the stream
        await peer.dtmf("1")
        await peer.wait_closed()

`twiml_stream(text)` reads the stream URL and parameters out of the webhook's TwiML.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from media.codecs.g711 import ulaw_decode, ulaw_encode
from media.frames import Pcm
from voice.twilio.protocol import Clear, OutMark, OutMedia, parse_outbound

FRAME = 160


def twiml_stream(twiml: str) -> tuple[str, dict[str, str]]:
    """The `<Connect><Stream url>` and its `<Parameter>`s of a TwiML answer."""
    root = ET.fromstring(twiml)
    stream = root.find("./Connect/Stream")
    if stream is None:
        raise AssertionError(f"no <Connect><Stream> in {twiml!r}")
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


@dataclass
class Received:
    """What the peer got from the server, with loop times (seconds)."""

    media: list[tuple[float, bytes]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    played: list[tuple[float, bytes]] = field(default_factory=list)  # what was "heard"
    echoed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)

    def heard_pcm(self) -> Pcm:
        """Everything played to the caller, decoded, in order."""
        if not self.played:
            return np.zeros(0, np.int16)
        return ulaw_decode(b"".join(p for _, p in self.played))

    def received_pcm(self) -> Pcm:
        if not self.media:
            return np.zeros(0, np.int16)
        return ulaw_decode(b"".join(p for _, p in self.media))


class MediaStreamsClient:
    """One stream, as Twilio opens it; `url` is where the server really listens."""

    def __init__(self, url: str, *, account_sid: str, call_sid: str,
                 params: dict[str, str], signature: str | None = None,
                 send_connected: bool = True) -> None:
        self.url = url
        self.account_sid = account_sid
        self.call_sid = call_sid
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.params = params
        self.signature = signature
        self.send_connected = send_connected
        self.received = Received()
        self.close_code: int | None = None
        self.close_reason = ""
        self._seq = 0
        self._chunk = 0
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._queue: deque[tuple[str, Any]] = deque()
        self._mic: deque[bytes] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self._t0 = 0.0

    async def __aenter__(self) -> MediaStreamsClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def connect(self) -> None:
        """Open the socket only (no messages): for tests of what the server refuses."""
        self._session = aiohttp.ClientSession()
        headers = {} if self.signature is None else {"X-Twilio-Signature": self.signature}
        self._ws = await self._session.ws_connect(self.url, headers=headers, autoping=True)
        self._t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reader()), loop.create_task(self._player())]

    async def open(self) -> None:
        """Connect, then `connected` and `start` as Twilio sends them."""
        await self.connect()
        if self.send_connected:
            await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send_json({
            "event": "start", "sequenceNumber": self._next_seq(),
            "start": {"accountSid": self.account_sid, "streamSid": self.stream_sid,
                      "callSid": self.call_sid, "tracks": ["inbound"],
                      "customParameters": self.params,
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}},
            "streamSid": self.stream_sid})

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        assert self._ws is not None
        if not self._ws.closed:
            await self._ws.send_str(text)

    def media_message(self, payload: bytes, chunk: int | None = None) -> dict[str, Any]:
        """A `media` message for the next 20 ms chunk (or chunk number `chunk`)."""
        if chunk is None:
            self._chunk += 1
            chunk = self._chunk
        return {"event": "media", "sequenceNumber": self._next_seq(),
                "media": {"track": "inbound", "chunk": str(chunk),
                          "timestamp": str((chunk - 1) * 20),
                          "payload": base64.b64encode(payload).decode("ascii")},
                "streamSid": self.stream_sid}

    async def send_audio(self, pcm: Pcm, *, pace: bool = True) -> None:
        """Send `pcm` (8 kHz int16) as µ-law chunks, every 20 ms on an absolute schedule."""
        codes = ulaw_encode(pcm.astype(np.int16)).tobytes()
        start = time.monotonic()
        for n, i in enumerate(range(0, len(codes) - FRAME + 1, FRAME)):
            if pace:
                delay = start + n * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if self._closed.is_set():
                return
            await self.send_json(self.media_message(codes[i : i + FRAME]))

    async def send_silence(self, seconds: float) -> None:
        await self.send_audio(np.zeros(int(8000 * seconds), np.int16))

    def start_microphone(self) -> None:
        """Send a chunk every 20 ms for as long as the stream lasts, as Twilio does: what
        `speak()` queued, else silence."""
        self._tasks.append(asyncio.get_running_loop().create_task(self._microphone()))

    def speak(self, pcm: Pcm) -> None:
        """Queue `pcm` (8 kHz int16) on the running microphone."""
        codes = ulaw_encode(pcm.astype(np.int16)).tobytes()
        for i in range(0, len(codes) - FRAME + 1, FRAME):
            self._mic.append(codes[i : i + FRAME])

    async def _microphone(self) -> None:
        silent = ulaw_encode(np.zeros(FRAME, np.int16)).tobytes()
        start = time.monotonic()
        n = 0
        while not self._closed.is_set():
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            payload = self._mic.popleft() if self._mic else silent
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send_json(self.media_message(payload))

    async def dtmf(self, digit: str) -> None:
        await self.send_json({"event": "dtmf", "streamSid": self.stream_sid,
                              "sequenceNumber": self._next_seq(),
                              "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        """Twilio's `stop` (the caller hung up), then the socket closes."""
        await self.send_json({"event": "stop", "sequenceNumber": self._next_seq(),
                              "stop": {"accountSid": self.account_sid,
                                       "callSid": self.call_sid},
                              "streamSid": self.stream_sid})
        await self.close()

    async def wait_closed(self, within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            await self._closed.wait()

    async def wait_for(self, predicate: Any, within: float = 20.0) -> None:
        """Wait until `predicate(self.received)` holds."""
        deadline = time.monotonic() + within
        while not predicate(self.received):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; close code {self.close_code}")
            await asyncio.sleep(0.02)

    def now(self) -> float:
        return time.monotonic() - self._t0

    async def _reader(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    if msg.type is aiohttp.WSMsgType.CLOSE:
                        self.close_reason = str(msg.extra or "")
                    break
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = parse_outbound(msg.data)
                except ValueError as exc:
                    self.received.bad.append(str(exc))
                    continue
                t = self.now()
                if isinstance(message, OutMedia):
                    self.received.media.append((t, message.payload))
                    self._queue.append(("media", message.payload))
                elif isinstance(message, OutMark):
                    self.received.marks.append((t, message.name))
                    self._queue.append(("mark", message.name))
                elif isinstance(message, Clear):
                    self.received.clears.append(t)
                    dropped = [v for k, v in self._queue if k == "mark"]
                    self._queue.clear()
                    for name in dropped:
                        await self._echo(name)
        finally:
            self.close_code = ws.close_code
            self._closed.set()

    async def _echo(self, name: str) -> None:
        self.received.echoed.append(name)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send_json({"event": "mark", "sequenceNumber": self._next_seq(),
                                  "streamSid": self.stream_sid, "mark": {"name": name}})

    async def _player(self) -> None:
        """Plays the queue at 20 ms a chunk, echoing marks as playback reaches them."""
        start = time.monotonic()
        n = 0
        while not self._closed.is_set():
            n += 1
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            while self._queue and self._queue[0][0] == "mark":
                await self._echo(self._queue.popleft()[1])
            if self._queue:
                _, payload = self._queue.popleft()
                self.received.played.append((self.now(), payload))

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._closed.set()
