"""A live call's audio room: legs join and leave a running `media.bridge.Mixer`, each in a mode.

    room = Conference()
    room.join("caller", caller.media())              # speak + hear
    room.join("agent", agent.media())
    room.join("sup", sup_leg, mode="listen")         # hears both, heard by none
    room.set_mode("sup", "whisper:agent")            # now the agent hears the supervisor
    room.set_mode("sup", "both")                     # barge: all three hear each other
    room.leave("sup")

Each party plays its own `PulledMix` (its queue of mixed frames): the first leg the media
ticker visits in a 20 ms period runs the mix for every party, the others find their frame
waiting. The room needs no clock of its own, and it stays on the legs' clock when legs join or
leave. Each party's received audio reaches the mixer through a tap on its leg
(`LegMedia.add_listener`), so what the party *hears* is what its leg plays, which is also what
its out-tap (the recorder's agent or caller channel) sees: a supervisor whispering to the agent
is in the agent's out-tap and never in the caller's (see `voice.monitor` for the recording).

`hold(party, music)`: the party hears `music` and nobody hears them; `resume(party)` joins them
again. `set_muted(party)`: nobody hears them (they still hear). All of this is media only; the
calls' lifecycles and privacy belong to the owner (`voice.bridging.CallBridge`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from media.bridge import Mixer, Mode, PulledMix
from media.frames import AudioFrame
from media.player import AudioSource
from media.taps import Tap
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

RATE = 8000


@dataclass
class _Party:
    media: LegMedia
    queue: PulledMix  # the mixer's sink for the party and what its leg plays
    tap: Tap
    held: bool = False
    muted: bool = False
    deaf: bool = False


class Conference:
    """Parties (leg media by name) mixed so each hears what its mode allows."""

    def __init__(self, *, rate: int = RATE, queue_frames: int | None = None) -> None:
        self.rate = rate
        self.mixer = Mixer(rate, forward=True)
        self._queue_frames = queue_frames
        self._parties: dict[str, _Party] = {}
        self.left: dict[str, dict[str, int]] = {}  # counters of parties that left

    @property
    def parties(self) -> list[str]:
        return list(self._parties)

    def __contains__(self, name: object) -> bool:
        return name in self._parties

    def mode(self, name: str) -> Mode:
        return self.mixer.mode(name)

    def join(self, name: str, media: LegMedia, mode: Mode | str = "both") -> None:
        """Add a party to the running room; it hears (and is heard) from the next tick."""
        if name in self._parties:
            raise ValueError(f"party {name!r} is already in the call")
        kwargs = {} if self._queue_frames is None else {"max_frames": self._queue_frames}
        queue = PulledMix(self.mixer, self.rate, **kwargs)
        self.mixer.add_leg(name, queue, mode=mode)
        mixer = self.mixer

        def feed(frame: AudioFrame) -> None:
            mixer.feed(name, frame)

        party = _Party(media, queue, feed)
        self._parties[name] = party
        media.add_listener(feed)
        media.play(party.queue)
        log.info("conference: %s joined as %s (%d parties)", name, self.mixer.mode(name),
                 len(self._parties))

    def set_mode(self, name: str, mode: Mode | str) -> None:
        """Switch a party's mode mid-call (listen, whisper:<party>, both)."""
        if name not in self._parties:
            raise KeyError(name)
        self.mixer.set_mode(name, mode)
        self._apply(name)
        log.info("conference: %s now %s", name, self.mixer.mode(name))

    def leave(self, name: str, *, silence: bool = True) -> None:
        """Take a party out; its leg stops playing the room (silence) unless `silence` is
        False (the caller's IVR goes on playing). A party whispering to it falls silent."""
        party = self._parties.pop(name)
        party.media.remove_listener(party.tap)
        if silence:
            party.media.play(None)
        self.left[name] = self._counters(name, party)
        self.mixer.remove_leg(name)
        party.queue.close()
        for other in list(self._parties):
            mode = self.mixer.mode(other)
            if mode.kind == "whisper" and mode.to == name:
                self.mixer.set_mode(other, "listen")
                self._apply(other)
        log.info("conference: %s left (%d parties)", name, len(self._parties))

    def media(self, name: str) -> LegMedia:
        return self._parties[name].media

    def set_muted(self, name: str, muted: bool) -> None:
        self._parties[name].muted = muted
        self._apply(name)

    def hold(self, name: str, music: AudioSource | None, *, play: bool = True) -> None:
        party = self._parties[name]
        party.held = True
        self._apply(name)
        if play:
            party.media.play(music)

    def resume(self, name: str, *, play: bool = True) -> None:
        party = self._parties[name]
        party.held = False
        self._apply(name)
        if play:
            party.media.play(party.queue)

    def set_deaf(self, name: str, deaf: bool) -> None:
        """`name` hears nobody (a supervisor while the call's privacy is paused: a card
        number read out is not heard by them either); their own mode is unchanged."""
        self._parties[name].deaf = deaf
        self._apply(name)

    def _apply(self, name: str) -> None:
        """Hold and mute cut a party from every listener, deafness every speaker from it, on
        top of the modes. Every pair is worked out again (rooms are small)."""
        if name not in self._parties:
            raise KeyError(name)
        for listener, lp in self._parties.items():
            for speaker, sp in self._parties.items():
                if listener != speaker:
                    self.mixer.set_hears(listener, speaker,
                                         not (sp.held or sp.muted or lp.deaf))

    def stop(self, *, silence: bool = True) -> None:
        for name in list(self._parties):
            self.leave(name, silence=silence)

    def _counters(self, name: str, party: _Party) -> dict[str, int]:
        return {f"to_{name}_dropped": party.queue.dropped,
                f"to_{name}_underruns": party.queue.underruns,
                f"from_{name}_dropped": self.mixer.dropped(name)}

    def stats(self) -> dict[str, int]:
        out = {"mix_ticks": self.mixer.ticks, "frames_forwarded": self.mixer.frames_forwarded}
        for counters in self.left.values():
            out.update(counters)
        for name, party in self._parties.items():
            out.update(self._counters(name, party))
        return out
