"""How audio gets in and out of aiortc without a queue that grows or a thread per frame.

* `OutboundTrack` is what aiortc's RTP sender pulls from. The leg pushes one encoded packet
  per 20 ms tick; the sender takes it at once (aiortc only packs it: the leg encoded it).
  At most `MAX_PACKETS` wait: if the sender falls behind, the oldest gives way (counted).
* `InboundTap` takes the place of the receiver's decoder queue. Stock aiortc hands every
  received frame to a decoder thread per leg and back to the loop through
  `run_coroutine_threadsafe` into an unbounded queue that someone must drain; the tap is
  handed each reassembled frame inline, on the loop, and passes the payload to the leg.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError

from voice.webrtc.codecs import EncodedAudio
from voice.webrtc.errors import WebRtcError

# Three packets (60 ms): the sender normally takes each packet within the tick that made it.
MAX_PACKETS = 3
# A packet the sender picks up more than one tick after it was pushed counts as late.
LATE_AFTER = 0.020


class OutboundTrack(MediaStreamTrack):
    """An audio track of pre-encoded packets, fed by `push()` on the media tick."""

    kind = "audio"

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__()
        self._now = now
        self._packets: deque[tuple[EncodedAudio, float]] = deque(maxlen=MAX_PACKETS)
        self._waiter: asyncio.Future[None] | None = None
        self.pulling = False  # set once aiortc's sender asks for the first packet
        self.sent = 0
        self.dropped = 0
        self.late = 0

    def push(self, packet: EncodedAudio) -> None:
        """Queue one packet for the sender (only once it pulls; before, there is nobody)."""
        if not self.pulling:
            return
        if len(self._packets) == MAX_PACKETS:
            self.dropped += 1
        self._packets.append((packet, self._now()))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> EncodedAudio:  # type: ignore[override]
        """The next packet, waiting for the tick that makes it."""
        self.pulling = True
        while not self._packets:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        packet, pushed = self._packets.popleft()
        if self._now() - pushed > LATE_AFTER:
            self.late += 1
        self.sent += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self._packets.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


# The private slot stock aiortc keeps the receiver's decoder queue in.
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"


class InboundTap:
    """Stands in for `RTCRtpReceiver`'s decoder queue (install before the receiver starts).

    aiortc puts `(codec, encoded_frame)` on it for each frame its jitter buffer completes;
    the tap calls `on_frame(codec_name, payload, timestamp)` at once. Its `get()` ends
    aiortc's decoder thread as soon as it starts, so no thread and no remote-track queue is
    ever fed (the remote track ends; nothing needs to drain it).
    """

    def __init__(self, on_frame: Callable[[str, bytes, int], None]) -> None:
        self._on_frame = on_frame

    @classmethod
    def install(cls, receiver: RTCRtpReceiver, on_frame: Callable[[str, bytes, int], None]
                ) -> InboundTap:
        if not hasattr(receiver, _DECODER_QUEUE):
            raise WebRtcError(
                "this aiortc version has no receiver decoder queue to tap; "
                "voice.webrtc.tracks.InboundTap needs updating"
            )
        tap = cls(on_frame)
        setattr(receiver, _DECODER_QUEUE, tap)
        return tap

    def put(self, item: tuple[Any, Any] | None) -> None:
        if item is None:  # the receiver stopping its (already ended) decoder thread
            return
        codec, encoded = item
        self._on_frame(codec.name, encoded.data, encoded.timestamp)

    def get(self) -> None:
        return None

    def close(self) -> None:
        """Stop delivering (frames still in flight inside aiortc are ignored)."""
        self._on_frame = _ignore


def _ignore(name: str, payload: bytes, timestamp: int) -> None:
    return None
