"""Two answered calls joined both ways until one hangs up: the IVR's transfer and the ACD's
caller ⇄ agent connection.

    a's leg ──listener──▶ Bridge ──▶ FrameQueue ──play──▶ b's leg
    b's leg ──listener──▶ Bridge ──▶ FrameQueue ──play──▶ a's leg

`bridge_calls` returns when either party hangs up (or when it is cancelled) and then hangs up
the other one: nobody is left holding a silent line. What it returns says who left and carries
the queues' drop/underrun counters (STYLE.md §6: every dropped frame is counted).

Two engines carry the audio: a `voice.conference.Conference` on the `Mixer` (the default),
which parties can join in a mode while the call runs (`add_party`: supervisor listen /
whisper / barge, a conference's third party), and, with `set_live_mixer(False)` (the
`live_mixer: false` setting), the frame-for-frame two-party `media.bridge.Bridge` it
replaced (same cost for two parties: bench/mixer.py).

Privacy crosses the bridge: while either call's privacy is paused the other's is too (held by
`bridge:<call id>`), so what the other party says in the span (an agent reading a card number
back) is kept by none of its consumers either; the mirrored pause ends with the original or
when the bridge stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from media.bridge import Bridge, Mode
from media.clock import Clock
from media.frame_queue import FrameQueue
from media.frames import AudioFrame
from media.player import AudioSource
from media.taps import Tap
from voice.call import Call, CallState, Privacy, PrivacyChange
from voice.conference import Conference
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

# A G.711 SIP leg carries 8 kHz audio on both sides of the bridge.
RATE = 8000

# The process default: the mixer. The server turns it off with `live_mixer: false`; the
# environment variable CENTRALITA_LIVE_MIXER=0 does too (a test run of the old bridge).
_LIVE_MIXER = os.environ.get("CENTRALITA_LIVE_MIXER", "1") != "0"


def set_live_mixer(on: bool) -> None:
    """Whether new `CallBridge`s run on the mixer (`Conference`) rather than the two-party
    `Bridge` (process-wide; the server sets it from the `live_mixer` setting)."""
    global _LIVE_MIXER
    _LIVE_MIXER = on


def live_mixer() -> bool:
    return _LIVE_MIXER


def media_of(call: Call) -> LegMedia | None:
    """The media of the call's leg if it can be bridged (`Call.media()`)."""
    return call.media()


@dataclass(frozen=True)
class BridgeResult:
    """How a bridge ended: how long it carried audio and who hung up first (`a`'s or `b`'s
    name, or None when the bridge itself was cancelled)."""

    duration: float
    hung_up_by: str | None
    stats: dict[str, int] = field(default_factory=dict)


class CallBridge:
    """Two answered calls' audio joined both ways, with hold and mute; no hang-ups of its own.

    `hold(party, music)`: `party` hears `music` (None: silence) instead of the other, and is
    not heard by them; `resume(party)` joins them again. `set_muted(party)`: the other stops
    hearing `party` (they still hear the other). `stop()` detaches everything (idempotent).
    """

    def __init__(
        self, clock: Clock, a: Call, b: Call, *, names: tuple[str, str] = ("caller", "agent"),
        queue_frames: int | None = None, mixer: bool | None = None,
    ) -> None:
        self.clock = clock
        self.names = names
        self.calls = {names[0]: a, names[1]: b}
        media = {name: media_of(call) for name, call in self.calls.items()}
        for name, m in media.items():
            if m is None:
                raise ValueError(f"the {name}'s leg has no media to bridge")
        self.media: dict[str, LegMedia] = {k: v for k, v in media.items() if v is not None}
        kwargs = {} if queue_frames is None else {"max_frames": queue_frames}
        self.conference: Conference | None = None
        if _LIVE_MIXER if mixer is None else mixer:
            self.conference = Conference(rate=RATE, queue_frames=queue_frames)
        self.queues = {name: FrameQueue(RATE, **kwargs) for name in names}
        self.bridge = Bridge(names[0], self.queues[names[0]], names[1], self.queues[names[1]])
        self.extra: dict[str, Call | None] = {}  # parties joined after start (add_party)
        self.stopped = asyncio.Event()  # set by stop(): the parties joined to it are gone
        self._listeners: dict[str, Tap] = {}
        self.held: set[str] = set()
        self.muted: set[str] = set()
        self.started = clock.now()
        self._stopped = False
        self._unfollow: list[Callable[[], None]] = []

    def start(self) -> CallBridge:
        for name in self.names:
            if self.conference is not None:
                self.conference.join(name, self.media[name])
                continue
            self._listeners[name] = self._feeder(name)
            self.media[name].add_listener(self._listeners[name])
            self.media[name].play(self.queues[name])
        a, b = (self.calls[name] for name in self.names)
        self._unfollow = [a.on_privacy(self._mirror(b)), b.on_privacy(self._mirror(a))]
        for source, other in ((a, b), (b, a)):
            if source.privacy is Privacy.PAUSED:
                self._mirror(other)(PrivacyChange(source.id, Privacy.OPEN, Privacy.PAUSED, ""))
        return self

    def _mirror(self, other: Call) -> Callable[[PrivacyChange], None]:
        """Pause `other` with the call that changed, and resume it if that pause was ours."""

        def changed(change: PrivacyChange) -> None:
            ours = f"bridge:{change.call_id}"
            if change.new is Privacy.PAUSED:
                if other.privacy is Privacy.OPEN and other.state is not CallState.ENDED:
                    other.pause_privacy(ours)
            elif other.privacy_by == ours:
                other.resume_privacy(ours)

        return changed

    def _feeder(self, name: str) -> Tap:
        def feed(frame: AudioFrame) -> None:
            self.bridge.feed(name, frame)

        return feed

    def _apply_mute(self, name: str) -> None:
        if self.conference is None:
            self.bridge.set_muted(name, name in self.muted or name in self.held)

    def set_muted(self, party: str, muted: bool) -> None:
        (self.muted.add if muted else self.muted.discard)(party)
        if self.conference is not None:
            self.conference.set_muted(party, muted)
        self._apply_mute(party)

    def hold(self, party: str, music: AudioSource | None) -> None:
        self.held.add(party)
        self._apply_mute(party)
        live = self.calls[party].state is not CallState.ENDED
        if self.conference is not None:
            self.conference.hold(party, music, play=live)
        elif live:
            self.media[party].play(music)

    def resume(self, party: str) -> None:
        self.held.discard(party)
        self._apply_mute(party)
        live = self.calls[party].state is not CallState.ENDED
        if self.conference is not None:
            self.conference.resume(party, play=live)
        elif live:
            self.media[party].play(self.queues[party])

    # -- parties joining the running call (mixer engine only) --------------------------------
    def add_party(
        self, name: str, media: LegMedia, mode: Mode | str = "both", *, call: Call | None = None,
    ) -> None:
        """Join a third (fourth...) party while the call runs: a supervisor's leg to listen,
        whisper (`whisper:agent`) or barge (`both`), or a conference's added agent or number.
        With `call`, that call's privacy follows the room's (a pause anywhere pauses it)."""
        if self.conference is None:
            raise ValueError("parties can join only a call on the mixer (live_mixer setting)")
        if self._stopped:
            raise ValueError("the call's bridge has ended")
        if name in self.calls or name in self.extra:
            raise ValueError(f"party {name!r} is already in the call")
        self.conference.join(name, media, mode)
        self.extra[name] = call
        if call is not None:
            for original in self.calls.values():
                self._unfollow.append(original.on_privacy(self._mirror(call)))
                if original.privacy is Privacy.PAUSED:
                    self._mirror(call)(PrivacyChange(
                        original.id, Privacy.OPEN, Privacy.PAUSED, ""))

    def set_party_mode(self, name: str, mode: Mode | str) -> None:
        """Switch a joined party's mode (listen / whisper:<party> / both) mid-call."""
        if self.conference is None or name not in self.extra:
            raise KeyError(name)
        self.conference.set_mode(name, mode)

    def remove_party(self, name: str, *, silence: bool = True) -> None:
        """A joined party leaves; the call goes on. `silence`: its leg stops playing the
        room (False for a leg already gone)."""
        if self.conference is None or name not in self.extra:
            raise KeyError(name)
        call = self.extra.pop(name)
        live = silence and (call is None or call.state is not CallState.ENDED)
        self.conference.leave(name, silence=live)

    def stop(self) -> None:
        """Detach both legs (what they play is stopped); the calls stay up."""
        if self._stopped:
            return
        self._stopped = True
        self.stopped.set()
        for unfollow in self._unfollow:
            unfollow()
        for name, call in self.calls.items():
            other = self.calls[self.names[1] if name == self.names[0] else self.names[0]]
            if call.privacy_by == f"bridge:{other.id}":
                call.resume_privacy(f"bridge:{other.id}")
        for name, listener in self._listeners.items():
            self.media[name].remove_listener(listener)
            if self.calls[name].state is not CallState.ENDED:
                self.media[name].play(None)
        if self.conference is not None:
            for name in list(self.conference.parties):
                party_call = self.calls[name] if name in self.calls else self.extra.get(name)
                live = party_call is None or party_call.state is not CallState.ENDED
                self.conference.leave(name, silence=live)
            self.extra.clear()
        for queue in self.queues.values():
            queue.close()

    def stats(self) -> dict[str, int]:
        if self.conference is not None:
            return self.conference.stats()
        out = {"frames_forwarded": self.bridge.frames_forwarded}
        for name, queue in self.queues.items():
            out[f"to_{name}_dropped"] = queue.dropped
            out[f"to_{name}_underruns"] = queue.underruns
        return out


async def bridge_calls(
    clock: Clock, a: Call, b: Call, *, names: tuple[str, str] = ("caller", "target"),
    queue_frames: int | None = None, keep_a: bool = False,
) -> BridgeResult:
    """Carry audio between `a` and `b` until one hangs up, then hang up the other.

    With `keep_a`, `a` outlives `b` (an IVR caller whose flow goes on after a transfer): only
    what it was playing is stopped. Both calls must be answered and have bridgeable media
    (`media_of`); a ValueError says which one does not.
    """
    a_name, b_name = names
    bridge = CallBridge(clock, a, b, names=names, queue_frames=queue_frames).start()
    a_gone = asyncio.ensure_future(a.wait_ended())
    b_gone = asyncio.ensure_future(b.wait_ended())
    hung_up_by: str | None = None
    try:
        await asyncio.wait({a_gone, b_gone}, return_when=asyncio.FIRST_COMPLETED)
        hung_up_by = a_name if a_gone.done() else b_name
    finally:
        for task in (a_gone, b_gone):
            task.cancel()
        await asyncio.gather(a_gone, b_gone, return_exceptions=True)
        bridge.stop()
        # Whoever is left is hung up: on cancellation too (the owner gave up on the bridge).
        b.hangup(f"{a_name}-left" if hung_up_by == a_name else "bridge-ended")
        if not keep_a:
            a.hangup(f"{b_name}-left" if hung_up_by == b_name else "bridge-ended")
    return BridgeResult(clock.now() - bridge.started, hung_up_by, bridge.stats())
