"""Who may read which case: the one decision behind `GET /api/cases/{id}`, its live socket and
`GET /api/calls/{call_id}/case`.

    admin        every case
    supervisor   the cases of their teams: a case one of their agents worked on (stored) or
                 is being offered / talking on now (live); with no `teams:` in the routing
                 file, every case (as before teams existed). Their own contacts, as an agent.
    agent        the cases of their offers (ringing now), their current call, and cases they
                 worked on within `recent_window` seconds (default 24 h): an interaction they
                 took (ended within the window, or still going on) or a note they wrote (the
                 wrap-up's disposition, which an agent who took a transferred call also leaves)

"Worked on" comes from what the case store keeps (`CaseStore.case_contacts`): the `agent` of
an interaction, recorded when an agent is connected to the call (`centralita.desk.DeskHub`),
and notes' authors. "Now" comes from routing (`LiveCases`, implemented by the desk hub).

A refusal is `Verdict.HIDDEN` (404) for an agent, the same answer as for a case that does not
exist, so case ids cannot be probed. A supervisor outside the team gets `Verdict.FORBIDDEN`
(403): supervisors see every queue and agent already, a case's existence tells them nothing
new, and "not your team" tells them whom to ask.

Anyone may also read a case shared with them (`POST /api/cases/{id}/shares`, stored by
`CaseStore.share_case`), whatever their role or team, until the share is withdrawn.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cases.store import CaseContact, CaseStore, system_clock
from routing.config import TeamConfig
from web.auth.roles import Role

DEFAULT_RECENT_WINDOW_S = 24 * 3600.0


class Verdict(enum.Enum):
    """What a viewer gets for a case."""

    ALLOWED = "allowed"
    HIDDEN = "hidden"  # 404, as for a case that does not exist
    FORBIDDEN = "forbidden"  # 403: a supervisor, for a case outside their teams


@dataclass(frozen=True)
class Viewer:
    """Who asks: a user or token name and its role (`web.auth.Principal`'s)."""

    name: str
    role: Role


class LiveCases(Protocol):
    """What routing knows right now (the desk hub implements it)."""

    def live_cases(self, agent_id: str) -> Collection[int]:
        """Ids of the cases offered to `agent_id` (ringing) or on their current call."""
        ...

    def live_agents(self, case_id: int) -> Collection[str]:
        """The agents a call of case `case_id` is offered to or talking with now."""
        ...


@dataclass(frozen=True)
class Teams:
    """Supervisors' agents, from the routing file's `teams:` (`configured` False: none)."""

    agents_of: dict[str, frozenset[str]] = field(default_factory=dict)
    configured: bool = False

    @classmethod
    def from_config(cls, teams: Iterable[TeamConfig]) -> Teams:
        agents_of: dict[str, set[str]] = {}
        configured = False
        for team in teams:
            configured = True
            for supervisor in team.supervisors:
                agents_of.setdefault(supervisor, set()).update(team.agents)
        return cls({s: frozenset(a) for s, a in agents_of.items()}, configured)


class CaseAccess:
    """Decides `Verdict`s (see the module doc); `now` is the wall clock (UTC)."""

    def __init__(
        self,
        store: CaseStore,
        *,
        teams: Teams | None = None,
        live: LiveCases | None = None,
        recent_window: float = DEFAULT_RECENT_WINDOW_S,
        now: Callable[[], datetime] = system_clock,
    ) -> None:
        if not recent_window >= 0:
            raise ValueError(f"recent_window must be zero or more seconds, got {recent_window}")
        self.store = store
        self.teams = teams or Teams()
        self.live = live
        self.recent_window = timedelta(seconds=recent_window)
        self._now = now

    async def check(self, viewer: Viewer, case_id: int) -> Verdict:
        """May `viewer` read case `case_id` (an existing case's internal id)?"""
        if viewer.role >= Role.ADMIN:
            return Verdict.ALLOWED
        if self.live is not None and case_id in self.live.live_cases(viewer.name):
            return Verdict.ALLOWED
        if viewer.role >= Role.SUPERVISOR and not self.teams.configured:
            return Verdict.ALLOWED
        contacts = await self.store.case_contacts(case_id)
        if any(c.kind == "share" and c.agent == viewer.name for c in contacts):
            return Verdict.ALLOWED
        if self._recent(viewer.name, contacts):
            return Verdict.ALLOWED
        if viewer.role < Role.SUPERVISOR:
            return Verdict.HIDDEN
        team = self.teams.agents_of.get(viewer.name, frozenset())
        live = self.live.live_agents(case_id) if self.live is not None else ()
        if any(c.agent in team for c in contacts) or any(a in team for a in live):
            return Verdict.ALLOWED
        return Verdict.FORBIDDEN

    def _recent(self, agent: str, contacts: Iterable[CaseContact]) -> bool:
        since = self._now() - self.recent_window
        return any(c.agent == agent and c.kind != "share"
                   and (c.kind == "interaction" and c.ended is None or (c.ended or c.at) >= since)
                   for c in contacts)
