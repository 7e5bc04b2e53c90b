"""An aiortc peer playing the browser against a `WebRtcLeg`: sends a signal, records what it hears.

Used by tests/webrtc and bench/webrtc_legs.py. By default the peer sends 48 kHz mono frames
(as a browser's microphone track would reach aiortc) paced on real time, and keeps what it
receives as 8 kHz mono, so tests can measure energy and correlation. With `light=True` (the
bench, where many peers share one core) it sends the signal encoded once up front and only
notes each received frame's RTP timestamp and arrival time, without decoding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import av
import numpy as np
import numpy.typing as npt
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from voice.webrtc import ice
from voice.webrtc.codecs import FRAME, EncodedAudio, make_codec
from voice.webrtc.tracks import InboundTap

SEND_RATE = 48000
SEND_FRAME = SEND_RATE // 50


class _Paced(MediaStreamTrack):
    """A track whose `recv` hands out one item per 20 ms of wall time (`sent` counts them)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self.sent = 0

    async def _next_slot(self) -> int:
        """Wait for the next 20 ms slot; its index (then counted as sent)."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.sent * 0.020
        if due > now:
            await asyncio.sleep(due - now)
        self.sent += 1
        return self.sent - 1


class PacedAudioTrack(_Paced):
    """Loops `samples` (48 kHz mono int16) as 20 ms frames, one per 20 ms of wall time."""

    def __init__(self, samples: npt.NDArray[np.int16]) -> None:
        super().__init__()
        n = len(samples) // SEND_FRAME * SEND_FRAME
        self._frames = samples[:n].reshape(-1, SEND_FRAME)

    async def recv(self) -> av.AudioFrame:  # type: ignore[override]
        slot = await self._next_slot()
        pcm = self._frames[slot % len(self._frames)]
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SEND_RATE
        frame.pts = slot * SEND_FRAME
        frame.time_base = fractions.Fraction(1, SEND_RATE)
        return frame


class PacketTrack(_Paced):
    """Loops pre-encoded 20 ms packets, one per 20 ms of wall time (pts at 8 kHz)."""

    def __init__(self, samples: npt.NDArray[np.int16], codec: str) -> None:
        super().__init__()
        encoder = make_codec(codec)
        pcm8 = samples[:: SEND_RATE // 8000]
        self._payloads: list[bytes] = []
        for start in range(0, len(pcm8) - FRAME + 1, FRAME):
            packet = encoder.encode(pcm8[start : start + FRAME].copy(), start)
            if packet is not None:
                self._payloads.append(bytes(packet))

    async def recv(self) -> EncodedAudio:  # type: ignore[override]
        slot = await self._next_slot()
        packet = av.Packet(self._payloads[slot % len(self._payloads)])
        packet.pts = slot * FRAME
        packet.time_base = fractions.Fraction(1, 8000)
        return packet


@dataclass
class Heard:
    """What the peer received: 8 kHz mono chunks, each with its arrival time and pts."""

    chunks: list[npt.NDArray[np.int16]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)

    def audio(self) -> npt.NDArray[np.int16]:
        if not self.chunks:
            return np.zeros(0, np.int16)
        return np.concatenate(self.chunks)


class ClientPeer:
    """The offering side: `offer()` gives SDP for the leg, `answer(sdp)` completes it."""

    def __init__(self, samples: npt.NDArray[np.int16], codecs: Sequence[str] = ("opus",),
                 *, loopback: bool = True, light: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track: MediaStreamTrack = (
            PacketTrack(samples, codecs[0]) if light else PacedAudioTrack(samples)
        )
        self.heard = Heard()
        self._codecs = codecs
        self._loopback = loopback
        self._light = light
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
        self._reader: asyncio.Task[None] | None = None
        self.frames_received = 0

    async def offer(self) -> str:
        transceiver = self.pc.addTransceiver(self.track, direction="sendrecv")
        caps = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences(
            [c for name in self._codecs for c in caps if c.name.lower() == name.lower()]
        )
        if self._light:
            InboundTap.install(transceiver.receiver, self._on_encoded)
        else:
            self.pc.on("track", self._on_track)
        if self._loopback:
            await ice.pregather(self.pc, ["127.0.0.1"])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    def _on_encoded(self, codec: str, payload: bytes, timestamp: int) -> None:
        self.frames_received += 1
        self.heard.arrivals.append(time.monotonic())
        self.heard.pts.append(timestamp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # Always drain received tracks: aiortc's queues are unbounded.
        self._reader = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                self.frames_received += 1
                self.heard.arrivals.append(time.monotonic())
                self.heard.pts.append(int(frame.pts or 0))
                for out in self._resampler.resample(frame):
                    self.heard.chunks.append(out.to_ndarray().reshape(-1).copy())

    async def close(self) -> None:
        await self.pc.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
