"""`AcdService`: the routing API's view of the engine (`routing.service.RoutingService`).

Queues and agents come from the routing file at start; ones created or changed through the
API are persisted in the store and win over the file's on the next start. Agents set their own
state (available, break with a reason, offline); reserved, on call and wrap-up belong to the
engine. Live figures are today's records plus the queues' current lines; historical figures
are the same definitions (`routing.stats`) over any window of stored records.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from routing.acd import Acd
from routing.config import agent_to_dict, parse_agent, parse_queue, queue_to_dict
from routing.model import (
    AgentConfig,
    AgentState,
    AgentStateError,
    AgentStatus,
    Callback,
    CallbackState,
    InvalidConfig,
    QueueConfig,
    RoutingError,
)
from routing.stats import agent_figures, queue_figures

log = logging.getLogger(__name__)

# The states an agent (or a supervisor for them) may choose; the rest are the engine's.
SELF_STATES = frozenset({AgentState.AVAILABLE, AgentState.BREAK, AgentState.OFFLINE})
# The states an agent may leave by their own choice (not reserved for an offer, not on a call).
_AGENT_MAY_LEAVE = frozenset(AgentState) - {AgentState.RESERVED, AgentState.ON_CALL}
_DAY = 86400.0


class AcdService:
    """Implements `RoutingService` over a running `Acd`."""

    def __init__(self, acd: Acd) -> None:
        self.acd = acd

    async def load_persisted(self) -> None:
        """Bring in the queues and agents created through the API (they win over the file's)."""
        for name, raw in (await self.acd.store.queue_configs()).items():
            try:
                self.acd.queues[name] = parse_queue(raw, where=f"stored queue {name}")
            except InvalidConfig as exc:
                log.error("stored queue %s is not valid any more, skipped: %s", name, exc)
        for agent_id, raw in (await self.acd.store.agent_configs()).items():
            try:
                self.acd.agents[agent_id] = parse_agent(raw, where=f"stored agent {agent_id}")
            except InvalidConfig as exc:
                log.error("stored agent %s is not valid any more, skipped: %s", agent_id, exc)

    # -- configuration --------------------------------------------------------------------------
    def queue_configs(self) -> dict[str, QueueConfig]:
        return dict(self.acd.queues)

    async def put_queue(self, cfg: QueueConfig) -> None:
        await self.acd.store.put_queue(cfg.name, queue_to_dict(cfg))
        self.acd.queues[cfg.name] = cfg
        self.acd.kick()

    async def delete_queue(self, name: str) -> bool:
        if name not in self.acd.queues:
            return False
        if await self.acd.store.entries(name):
            raise RoutingError(f"queue {name} has callers or callbacks waiting")
        users = [a.id for a in self.acd.agents.values() if name in a.queues]
        if users:
            raise RoutingError(f"queue {name} is served by agents {', '.join(users)}")
        await self.acd.store.delete_queue(name)
        del self.acd.queues[name]
        return True

    def agent_configs(self) -> dict[str, AgentConfig]:
        return dict(self.acd.agents)

    async def put_agent(self, cfg: AgentConfig) -> None:
        await self.acd.store.put_agent(cfg.id, agent_to_dict(cfg))
        self.acd.agents[cfg.id] = cfg
        self.acd.kick()

    async def delete_agent(self, agent_id: str) -> bool:
        if agent_id not in self.acd.agents:
            return False
        status = await self.acd.store.agent_status(agent_id)
        if status.state in (AgentState.RESERVED, AgentState.ON_CALL):
            raise RoutingError(f"agent {agent_id} is {status.state.value}")
        await self.acd.store.delete_agent(agent_id)
        await self.acd.store.remove_agent(agent_id)
        del self.acd.agents[agent_id]
        return True

    async def set_agent_state(
        self, agent_id: str, state: AgentState, reason: str | None
    ) -> AgentStatus:
        if agent_id not in self.acd.agents:
            raise KeyError(agent_id)
        if state not in SELF_STATES:
            raise InvalidConfig(f"agents set available, break or offline, not {state.value}",
                                "body.state")
        self.acd.cancel_wrapup(agent_id)
        # While the engine holds the agent (an offer ringing, a call) the agent cannot move:
        # "available" during an offer would let the dispatcher reserve them for a second
        # caller, and both offers could be answered into one agent at once.
        status = await self.acd.store.transition(agent_id, state, now=self.acd.clock.now(),
                                                 reason=reason, expect=_AGENT_MAY_LEAVE)
        if status is None:
            held = await self.acd.store.agent_status(agent_id)
            raise AgentStateError(agent_id, held.state, state)
        if state is AgentState.AVAILABLE:
            self.acd.kick()
        return status

    # -- live and historical figures ------------------------------------------------------------
    async def live(self) -> dict[str, Any]:
        """Every queue's line and today's figures, and every agent's state."""
        acd = self.acd
        now_mono, now = acd.clock.now(), acd.wall()
        statuses = await acd.store.statuses()
        agents = {a: (statuses.get(a) or await acd.store.agent_status(a)).to_dict()
                  for a in acd.agents}
        for status in agents.values():
            status["since"] = round(max(0.0, now_mono - status["since"]), 1)
        today = now - now % _DAY
        queues: dict[str, Any] = {}
        for name, queue in acd.queues.items():
            line = await acd.store.entries(name)
            states: dict[str, int] = {}
            for agent in acd.agents.values():
                if name in agent.queues:
                    state = agents[agent.id]["state"]
                    states[state] = states.get(state, 0) + 1
            figures = queue_figures(await acd.store.records(queue=name, since=today),
                                    threshold=queue.service_level)
            queues[name] = {
                **self._channels(name, since=today),
                "waiting": sum(e.kind == "call" for e in line),
                "callbacks_waiting": sum(e.kind == "callback" for e in line),
                "longest_wait": round(max((now_mono - e.enqueued_mono for e in line),
                                          default=0.0), 1),
                "agents": states,
                "today": figures.to_dict(),
            }
        return {"queues": queues, "agents": agents}

    async def queue_figures(
        self, name: str, since: float | None, until: float | None
    ) -> dict[str, Any]:
        queue = self.acd.queues[name]
        records = await self.acd.store.records(queue=name, since=since, until=until)
        out = queue_figures(records, threshold=queue.service_level).to_dict()
        out.update({"queue": name, "since": since, "until": until,
                    "threshold": queue.service_level})
        return {**_finite(out), **self._channels(name, since=since, until=until)}

    def _channels(self, queue: str, *, since: float | None = None,
                  until: float | None = None) -> dict[str, Any]:
        """`{"channels": {channel: figures}}` of the queue's text channels (routing.text_stats),
        or nothing when text is not routed here."""
        router = self.acd.text_router
        if router is None:
            return {}
        figures = router.figures(queue, since=since, until=until)
        return {"channels": {ch: _finite(f.to_dict()) for ch, f in figures.items()}}

    async def agent_figures(
        self, agent_id: str, since: float | None, until: float | None
    ) -> dict[str, Any]:
        if agent_id not in self.acd.agents:
            raise KeyError(agent_id)
        records = await self.acd.store.records(agent=agent_id, since=since, until=until)
        figures = agent_figures(records).get(agent_id)
        out: dict[str, Any] = figures.to_dict() if figures is not None else {
            "agent": agent_id, "answered": 0}
        out.update({"since": since, "until": until})
        return _finite(out)

    async def callbacks(self, states: frozenset[CallbackState] | None) -> list[Callback]:
        return await self.acd.store.callbacks(states)

    async def cancel_callback(self, callback_id: str) -> bool:
        return await self.acd.cancel_callback(callback_id)


def _finite(out: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity: such a figure is reported as None."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()}
