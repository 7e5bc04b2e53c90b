"""The media side of any call leg, as every consumer sees it (DESIGN.md, "The media seam").

    media = call.media()                # the leg's LegMedia, or None (a leg with no audio)
    media.add_listener(tap)             # audio in: each 20 ms frame the party sends
    media.add_out_listener(tap)         # audio out: each 20 ms frame the party hears
    media.play(source, on_done)         # what the party hears
    media.tick()                        # the media clock moves 20 ms in and out

SIP (`voice.sip_leg.SipLeg`) and WebRTC (`voice.webrtc.leg.WebRtcLeg`) legs implement it, and
the Twilio leg will. Consumers (transcribers, the debug capture, bridges, the IVR's
recognisers, the recorder, supervisors) take a `LegMedia` from `Call.media()` and never ask
which kind of leg it is. Taps go through one `media.taps.TapFanout` per direction, which
detaches a tap that raises and never the leg.

Frames are 8 kHz mono int16 `AudioFrame`s of 20 ms on both taps; a tap runs on the media
tick and must not block (see media/taps.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from media.player import AudioSource
from media.taps import Tap, TapFanout

__all__ = ["LegMedia", "MediaLeg", "Tap", "TappedLeg"]


class LegMedia(Protocol):
    """One leg's audio: taps in and out, what it plays, its 20 ms tick."""

    @property
    def taps_in(self) -> TapFanout:
        """The fan-out of received audio (its `failures` counts detached taps)."""
        ...

    @property
    def taps_out(self) -> TapFanout:
        """The fan-out of the audio the party hears."""
        ...

    def add_listener(self, listener: Tap) -> None:
        """Audio in: `listener(frame)` gets each decoded 20 ms frame the party sends."""
        ...

    def remove_listener(self, listener: Tap) -> None: ...

    def add_out_listener(self, listener: Tap) -> None:
        """Audio out: `listener(frame)` gets each 20 ms frame the party hears (silence when
        nothing plays), as sent."""
        ...

    def remove_out_listener(self, listener: Tap) -> None: ...

    def play(self, source: AudioSource | None, on_done: Callable[[], None] | None = None) -> None:
        """Replace what the party hears; `on_done` runs when the source runs dry."""
        ...

    def tick(self) -> None:
        """Move 20 ms of audio in and out (called by media.ticker.MediaTicker)."""
        ...


class MediaLeg(Protocol):
    """A call leg that can hand out its media (every `voice.call.CallLeg` with audio)."""

    def leg_media(self) -> LegMedia | None:
        """The leg's `LegMedia`, or None when it carries no audio."""
        ...


class TappedLeg:
    """The tap half of `LegMedia`, shared by the legs that implement it: one `TapFanout` per
    direction, named after the leg's kind (`"sip"`, `"webrtc"`) in what they log."""

    def __init__(self, kind: str) -> None:
        self._taps_in = TapFanout(f"{kind} in")
        self._taps_out = TapFanout(f"{kind} out")

    @property
    def taps_in(self) -> TapFanout:
        """The fan-out of received audio (its `failures` counts detached taps)."""
        return self._taps_in

    @property
    def taps_out(self) -> TapFanout:
        """The fan-out of the audio the party hears."""
        return self._taps_out

    def add_listener(self, listener: Tap) -> None:
        """Audio in: `listener(frame)` gets each decoded 20 ms frame the party sends."""
        self._taps_in.attach(listener)

    def remove_listener(self, listener: Tap) -> None:
        self._taps_in.detach(listener)

    def add_out_listener(self, listener: Tap) -> None:
        """Audio out: `listener(frame)` gets each 20 ms frame the party hears, as sent."""
        self._taps_out.attach(listener)

    def remove_out_listener(self, listener: Tap) -> None:
        self._taps_out.detach(listener)
