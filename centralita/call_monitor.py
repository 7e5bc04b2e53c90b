"""Wiring of `voice.conference_monitor.Monitors` (supervisor listen / whisper / barge, and
conference parties) to the ACD's sessions, the desks' WebRTC legs and the SIP connector.

A call is found by its caller's call id among the ACD's live sessions; its bridge is the
session's current one. A supervisor's leg is answered as an agent's is
(`voice.webrtc.call_leg.answer_browser`); an added agent is rung on their desk (an offer of
kind `conference`); an added number is dialed through the connector, which applies the
dial plan (a refused number comes back 409 `not_connected` with the plan's reason).
"""

from __future__ import annotations

from centralita.desk import DeskHub
from recordings.service import Recordings
from routing.channels import NotConnected, Offer
from routing.model import AgentState
from voice.bridging import CallBridge
from voice.call import Call
from voice.conference_monitor import Heard, LiveCall, MonitorError, Monitors
from voice.leg_media import LegMedia
from voice.webrtc.call_leg import answer_browser, until_connected, watch
from voice.webrtc.errors import WebRtcError

RING_TIMEOUT_S = 25.0


def parties_recorded(recordings: Recordings) -> Heard:
    """Who everyone on a call hears goes into its recording: an added number on the caller's
    side (left), an added agent or a barging supervisor on the agent's (right)."""

    def heard(call_id: str, name: str, media: LegMedia | None) -> None:
        side = "left" if name.startswith("number:") else "right"
        recordings.add_party(call_id, name, media, side)

    return heard


def build_monitors(desks: DeskHub, *, heard: Heard | None = None) -> Monitors:
    acd = desks.acd

    def find(call_id: str) -> LiveCall | None:
        for agent_id, session in acd.sessions.items():
            if session.caller.id == call_id:
                bridge = session.bridge
                if isinstance(bridge, CallBridge):
                    return LiveCall(bridge, agent_id)
        return None

    async def answer_leg(sdp: str, who: str) -> tuple[Call, str]:
        try:
            return await answer_browser(sdp, ticker=desks.ticker, agent_id=who,
                                        host_addresses=desks.host_addresses)
        except WebRtcError as exc:
            raise ValueError(f"bad WebRTC offer: {exc}") from exc

    async def ring_agent(agent_id: str, caller: Call) -> Call | str:
        agent = acd.agents.get(agent_id)
        if agent is None:
            raise MonitorError(404, "unknown_agent", f"no agent {agent_id!r}", "agent")
        if not desks.online(agent_id):
            raise MonitorError(409, "unavailable", f"agent {agent_id} has no desk open",
                               "agent")
        offer = Offer("conference", caller.id, "", caller.caller or "")
        outcome = await desks.ring_agent(agent, offer, ring_timeout=RING_TIMEOUT_S,
                                         for_call=caller)
        return outcome if isinstance(outcome, Call) else _why(outcome)

    async def ring_queue(queue: str, caller: Call, on_call: frozenset[str]) -> Call | str:
        """An available agent of `queue` with a desk open, not already on the call, rung."""
        if queue not in acd.queues:
            raise MonitorError(404, "unknown_queue", f"no queue {queue!r}", "queue")
        statuses = await acd.store.statuses()
        for agent in acd.agents.values():
            status = statuses.get(agent.id)
            if queue in agent.queues and agent.id not in on_call and status is not None \
                    and status.state is AgentState.AVAILABLE and desks.online(agent.id):
                return await ring_agent(agent.id, caller)
        return f"unavailable: nobody in queue {queue} is available"

    async def dial(number: str, caller: Call) -> Call | str:
        outcome = await acd.connector.ring_customer(number, ring_timeout=RING_TIMEOUT_S)
        return outcome if isinstance(outcome, Call) else _why(outcome)

    return Monitors(find=find, answer_leg=answer_leg, connect=until_connected,
                    coached=desks.coached, ring_agent=ring_agent, dial=dial,
                    watch=watch, heard=heard, ring_queue=ring_queue)


def _why(outcome: NotConnected) -> str:
    return f"{outcome.result}: {outcome.reason}"
