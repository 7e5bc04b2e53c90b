"""What the HTTP API (`web.routing_api`) asks of the ACD: the `RoutingService` protocol.

The engine (`routing.acd`) implements it; the API's tests use an in-memory fake. Configs are
already checked (`routing.config`) when they arrive here, references to other queues too.

Errors, and what the API makes of them:

    KeyError            an unknown queue or agent                        -> 404
    InvalidConfig       a definition the engine refuses                  -> 400
    AgentStateError     a state move the agent's state does not allow    -> 409
    RoutingError        anything else refused now (callers still waiting) -> 409
"""

from __future__ import annotations

from typing import Any, Protocol

from routing.model import (
    AgentConfig,
    AgentState,
    AgentStatus,
    Callback,
    CallbackState,
    QueueConfig,
)


class RoutingService(Protocol):
    """Queues, agents, their live state, the service figures and the callbacks."""

    def queue_configs(self) -> dict[str, QueueConfig]:
        """Every queue's definition, by name."""
        ...

    async def put_queue(self, cfg: QueueConfig) -> None:
        """Create or replace a queue (persisted)."""
        ...

    async def delete_queue(self, name: str) -> bool:
        """False if `name` is unknown; raises `RoutingError` while callers are waiting."""
        ...

    def agent_configs(self) -> dict[str, AgentConfig]:
        """Every agent's definition, by id."""
        ...

    async def put_agent(self, cfg: AgentConfig) -> None:
        """Create or replace an agent (persisted)."""
        ...

    async def delete_agent(self, agent_id: str) -> bool:
        """False if `agent_id` is unknown."""
        ...

    async def set_agent_state(
        self, agent_id: str, state: AgentState, reason: str | None
    ) -> AgentStatus:
        """Move an agent: `KeyError` if unknown, `AgentStateError` for an illegal move."""
        ...

    async def live(self) -> dict[str, Any]:
        """`{"queues": {name: {waiting, longest_wait, agents by state...}}, "agents": {id:
        AgentStatus.to_dict()}}`, JSON-ready."""
        ...

    async def queue_figures(
        self, name: str, since: float | None, until: float | None
    ) -> dict[str, Any]:
        """Service figures of a queue between UNIX times (None: open); `KeyError` if unknown."""
        ...

    async def agent_figures(
        self, agent_id: str, since: float | None, until: float | None
    ) -> dict[str, Any]:
        """Service figures of an agent between UNIX times; `KeyError` if unknown."""
        ...

    async def callbacks(self, states: frozenset[CallbackState] | None) -> list[Callback]:
        """Stored callbacks in `states` (None: all)."""
        ...

    async def cancel_callback(self, callback_id: str) -> bool:
        """Cancel a callback; False if there is none with this id to cancel."""
        ...
