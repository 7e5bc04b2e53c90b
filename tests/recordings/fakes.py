"""A leg's media for unit tests of the recorder: two real `TapFanout`s driven by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from media.frames import AudioFrame
from media.player import AudioSource
from media.taps import Tap, TapFanout

FRAME = 160


def frame(value: int, rate: int = 8000) -> AudioFrame:
    """A 20 ms frame whose every sample is `value` (so a frame's origin can be read back)."""
    return AudioFrame(np.full(rate // 50, value, np.int16), rate)


class HandMedia:
    """`voice.leg_media.LegMedia` with the tick done by the test: `tick(sent, heard)`."""

    def __init__(self) -> None:
        self.taps_in = TapFanout("test in")
        self.taps_out = TapFanout("test out")

    def add_listener(self, listener: Tap) -> None:
        self.taps_in.attach(listener)

    def remove_listener(self, listener: Tap) -> None:
        self.taps_in.detach(listener)

    def add_out_listener(self, listener: Tap) -> None:
        self.taps_out.attach(listener)

    def remove_out_listener(self, listener: Tap) -> None:
        self.taps_out.detach(listener)

    def play(self, source: AudioSource | None, on_done: Callable[[], None] | None = None) -> None:
        return None

    def send(self, sent: AudioFrame | None = None, heard: AudioFrame | None = None) -> None:
        """One tick as a SIP leg does it: the received frame (if any), then what is heard."""
        if sent is not None:
            self.taps_in.deliver(sent)
        self.taps_out.deliver(heard if heard is not None else frame(0))

    def tick(self) -> None:
        self.send()


class HandLeg:
    """A `voice.call.CallLeg` with no signalling, for a real `Call`'s privacy state."""

    def __init__(self, media: HandMedia) -> None:
        self.media = media

    def ring(self) -> None: ...

    async def answer(self) -> None: ...

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def hangup(self) -> None: ...

    def play(self, source: AudioSource | None, on_done: object = None) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...

    def leg_media(self) -> HandMedia:
        return self.media
