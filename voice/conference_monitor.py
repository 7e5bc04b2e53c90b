"""Supervisors and added parties on a live call's mixer: listen, whisper, barge, conference.

    monitors = Monitors(find=..., answer_leg=..., connect=..., ring_agent=..., dial=...,
                        coached=...)
    answer = await monitors.join(call_id, "sup1", "listen", offer_sdp)   # the browser's SDP
    await monitors.set_mode(call_id, "sup1", "whisper")
    await monitors.leave(call_id, "sup1")
    await monitors.add_agent(call_id, "agent2")     # conference: a third party in `both`

A supervisor's browser leg is a WebRTC leg like an agent's (`voice.webrtc.call_leg`); once
its media flows it joins the call's `CallBridge` (which must run on the mixer) as party
`sup:<id>` in the mode asked:

    listen   ->  `listen`          hears caller and agent; nobody hears the supervisor
    whisper  ->  `whisper:agent`   hears both; only the agent hears the supervisor
    barge    ->  `both`            all three hear each other

The agent's desk is told (`coached(agent, call_id, mode)`; mode None when the supervisor
leaves) so it can show that they are being coached.

What the recording gets (the recorder taps the caller's and the agent's *received* audio,
`recordings.recorder`: caller's microphone left, agent's microphone right): in every mode
the supervisor's voice is in neither channel. Listen and whisper: the recording is exactly
the two-party call (whisper never reaches the caller's leg, so it cannot reach the caller's
channel, and the agent's channel is the agent's microphone, not what the agent hears).
Barge and a conference's third party: everyone hears that party, so the recording does too
(`heard`: the composition root mixes the party into a side of the recording, an added number
with the caller, an agent or a barging supervisor with the agent), from the moment it is heard
until it leaves or goes back to listening or whispering.

A party whose call ends leaves the room; the room itself ends with the call's bridge (a
consult or a rejoin that replaces the bridge ends the supervisors' monitors too: they join
again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voice.bridging import CallBridge
from voice.call import Call, CallState, Privacy, PrivacyChange
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

MODES = {"listen": "listen", "whisper": "whisper:agent", "barge": "both"}

Heard = Callable[[str, str, LegMedia | None], None]
"""(call id, party name, its media while everyone hears it, else None)."""


class MonitorError(Exception):
    """A refused monitor or conference request: HTTP status, code, message, field."""

    def __init__(self, status: int, code: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.where = where


@dataclass(frozen=True)
class LiveCall:
    """A call in progress as the monitor sees it: its bridge and the agent on it."""

    bridge: CallBridge
    agent_id: str


@dataclass
class _Party:
    call: Call
    mode: str
    task: asyncio.Task[None] | None = None
    joined: asyncio.Event = field(default_factory=asyncio.Event)


CallFinder = Callable[[str], LiveCall | None]
LegAnswerer = Callable[[str, str], Awaitable[tuple[Call, str]]]
Connect = Callable[[Call], Awaitable[bool]]
Coached = Callable[[str, str, str | None], None]
RingAgent = Callable[[str, Call], Awaitable[Call | str]]
Dial = Callable[[str, Call], Awaitable[Call | str]]
RingQueue = Callable[[str, Call, frozenset[str]], Awaitable[Call | str]]
"""(queue, the caller, agents already on the call) -> an available agent of it, answered."""


def parse_mode(mode: object) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise MonitorError(400, "bad_mode", "mode must be listen, whisper or barge", "mode")
    return mode


class Monitors:
    """Who is on which call besides its caller and agent, and in what mode."""

    def __init__(
        self, *, find: CallFinder, answer_leg: LegAnswerer, connect: Connect,
        coached: Coached, ring_agent: RingAgent | None = None, dial: Dial | None = None,
        watch: Callable[[Call], Awaitable[None]] | None = None,
        heard: Heard | None = None, ring_queue: RingQueue | None = None,
    ) -> None:
        self._find = find
        self._heard = heard
        self._ring_queue = ring_queue
        self._answer_leg = answer_leg
        self._connect = connect
        self._coached = coached
        self._ring_agent = ring_agent
        self._dial = dial
        self._watch = watch  # ends a supervisor's call when its browser goes away
        self._parties: dict[tuple[str, str], _Party] = {}

    def _live(self, call_id: str) -> LiveCall:
        live = self._find(call_id)
        if live is None:
            raise MonitorError(404, "no_call", f"no call {call_id!r} in progress", "call_id")
        if live.bridge.conference is None:
            raise MonitorError(409, "no_mixer",
                               "this call is not on the mixer (the live_mixer setting is off)")
        return live

    def party(self, call_id: str, name: str) -> str | None:
        """A joined party's mode (listen / whisper / barge / both), None if not there."""
        p = self._parties.get((call_id, name))
        return None if p is None else p.mode

    def supervisors(self, call_id: str) -> dict[str, str]:
        """The supervisors on `call_id` (joined or joining) and their modes."""
        return {name[4:]: p.mode for (call, name), p in list(self._parties.items())
                if call == call_id and name.startswith("sup:")}

    # -- supervisors -------------------------------------------------------------------------
    async def join(self, call_id: str, supervisor: str, mode: object, sdp: object) -> str:
        """Answer the supervisor's browser offer; the leg joins the call in `mode` once its
        media flows. Returns the answer SDP."""
        mode = parse_mode(mode)
        if not isinstance(sdp, str) or not sdp.strip():
            raise MonitorError(400, "bad_offer", "sdp must be the browser's WebRTC offer", "sdp")
        live = self._live(call_id)
        name = f"sup:{supervisor}"
        if (call_id, name) in self._parties:
            raise MonitorError(409, "already_monitoring",
                               "you are already on this call (PATCH to change mode)")
        try:
            call, answer = await self._answer_leg(sdp, supervisor)
        except ValueError as exc:
            raise MonitorError(400, "bad_offer", str(exc), "sdp") from exc
        party = _Party(call, mode)
        self._parties[(call_id, name)] = party
        party.task = asyncio.create_task(self._run(call_id, name, live, party, MODES[mode]),
                                         name=f"monitor-{call_id}")
        return answer

    async def wait_joined(self, call_id: str, name: str) -> None:
        await self._parties[(call_id, name)].joined.wait()

    async def set_mode(self, call_id: str, supervisor: str, mode: object) -> None:
        mode = parse_mode(mode)
        name = f"sup:{supervisor}"
        party = self._parties.get((call_id, name))
        if party is None:
            raise MonitorError(404, "not_monitoring", "you are not on this call")
        live = self._live(call_id)
        party.mode = mode
        if name in live.bridge.extra:
            live.bridge.set_party_mode(name, MODES[mode])
            self._coached(live.agent_id, call_id, mode)
            self._tell_heard(call_id, name, party.call.media() if mode == "barge" else None)

    async def leave(self, call_id: str, supervisor: str) -> None:
        party = self._parties.get((call_id, f"sup:{supervisor}"))
        if party is None:
            raise MonitorError(404, "not_monitoring", "you are not on this call")
        party.call.hangup("monitor-left")
        if party.task is not None:
            for outcome in await asyncio.gather(party.task, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("call %s: leaving failed: %s", call_id, type(outcome).__name__,
                              exc_info=outcome)

    # -- conference ---------------------------------------------------------------------------
    async def add_agent(self, call_id: str, agent_id: str, *, by: str | None = None) -> None:
        """Ring `agent_id`'s desk; once answered they join the call in `both`. `by`: the
        agent asking (only the call's own agent may; None for a supervisor or admin)."""
        if self._ring_agent is None:
            raise MonitorError(409, "unavailable", "agents cannot be added here")
        if agent_id == self._live(call_id).agent_id:
            raise MonitorError(409, "already_in_call", "that agent is already on the call",
                               "agent")
        await self._add(call_id, f"agent:{agent_id}", self._ring_agent, agent_id, by)

    async def add_number(self, call_id: str, number: str, *, by: str | None = None) -> None:
        """Dial `number` (the dial plan decides whether it may be); once answered it joins
        the call in `both`."""
        if self._dial is None:
            raise MonitorError(409, "unavailable", "numbers cannot be dialed from here")
        await self._add(call_id, f"number:{len(self._parties)}", self._dial, number, by)

    async def add_queue(self, call_id: str, queue: str, *, by: str | None = None) -> None:
        """Ring an available agent of `queue` (not one already on the call); once answered
        they join the call in `both`."""
        ring_queue = self._ring_queue
        if ring_queue is None:
            raise MonitorError(409, "unavailable", "queues cannot be added here")
        on_call = frozenset({self._live(call_id).agent_id} | {
            name.removeprefix("agent:") for (call, name) in self._parties
            if call == call_id and name.startswith("agent:")})

        async def ring(target: str, caller: Call) -> Call | str:
            return await ring_queue(target, caller, on_call)

        await self._add(call_id, f"queue:{queue}:{len(self._parties)}", ring, queue, by)

    async def _add(self, call_id: str, name: str,
                   ring: Callable[[str, Call], Awaitable[Call | str]], target: str,
                   by: str | None = None) -> None:
        live = self._live(call_id)
        if by is not None and by != live.agent_id:
            raise MonitorError(403, "not_your_call",
                               "only the call's agent or a supervisor may add a party to it")
        if (call_id, name) in self._parties:
            raise MonitorError(409, "already_in_call", "that party is already on the call")
        caller = live.bridge.calls[live.bridge.names[0]]
        outcome = await ring(target, caller)
        if isinstance(outcome, str):
            raise MonitorError(409, "not_connected", outcome)
        party = _Party(outcome, "both")
        self._parties[(call_id, name)] = party
        party.task = asyncio.create_task(self._run(call_id, name, live, party, "both",
                                                   connected=True),
                                         name=f"party-{call_id}")
        await party.joined.wait()

    async def _run(self, call_id: str, name: str, live: LiveCall, party: _Party,
                   mixer_mode: str, *, connected: bool = False) -> None:
        """Connect the party's leg, join it to the room, and keep it there until its call,
        the caller's or the bridge ends."""
        bridge = live.bridge
        coached = name.startswith("sup:")
        unfollow: list[Callable[[], None]] = []
        try:
            if not connected and not await self._connect(party.call):
                return
            media = party.call.media()
            if media is None or bridge.conference is None:
                return
            try:
                bridge.add_party(name, media, mixer_mode,
                                 call=None if coached else party.call)
            except ValueError:
                log.info("call %s: the bridge ended before %s joined", call_id, name)
                return
            party.joined.set()
            if mixer_mode == "both":
                self._tell_heard(call_id, name, media)
            if coached:
                self._coached(live.agent_id, call_id, party.mode)
                unfollow = self._follow_privacy(bridge, name)
            waits: list[asyncio.Future[object]] = [
                asyncio.ensure_future(c.wait_ended())
                for c in (party.call, *bridge.calls.values())]
            waits.append(asyncio.ensure_future(bridge.stopped.wait()))
            if coached and self._watch is not None:
                waits.append(asyncio.ensure_future(self._watch(party.call)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for stop in unfollow:
                    stop()
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        finally:
            party.joined.set()
            self._parties.pop((call_id, name), None)
            self._tell_heard(call_id, name, None)
            if coached:
                self._coached(live.agent_id, call_id, None)
            try:
                if name in bridge.extra:
                    bridge.remove_party(name,
                                        silence=party.call.state is not CallState.ENDED)
            finally:
                if party.call.state is not CallState.ENDED:
                    party.call.hangup("monitor-ended")
                log.info("call %s: %s left", call_id, name)

    def _tell_heard(self, call_id: str, name: str, media: LegMedia | None) -> None:
        if self._heard is None:
            return
        try:
            self._heard(call_id, name, media)
        except Exception:  # the recording's trouble never ends a party's call
            log.exception("call %s: telling who is heard failed", call_id)

    @staticmethod
    def _follow_privacy(bridge: CallBridge, name: str) -> list[Callable[[], None]]:
        """While the call's privacy is paused the supervisor hears nothing (what is said in
        the span is kept by no consumer, a supervisor's ear included)."""

        def update(_change: PrivacyChange | None = None) -> None:
            if bridge.conference is not None and name in bridge.conference:
                paused = any(c.privacy is Privacy.PAUSED for c in bridge.calls.values())
                bridge.conference.set_deaf(name, paused)

        update()
        return [c.on_privacy(update) for c in bridge.calls.values()]

    async def close(self) -> None:
        """Hang up every supervisor and added party (server shutdown)."""
        for party in list(self._parties.values()):
            party.call.hangup("shutdown")
        tasks = [p.task for p in self._parties.values() if p.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
