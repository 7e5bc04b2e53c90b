"""The supervisor's wallboard and history figures, read from the ACD (`web.supervisor`).

`AcdBoard.board()` is the whole board (`web.supervisor.board`): per queue its line and today's
figures, per agent their state since when and what they are on, per queue and text channel the
conversations' figures, and the calls in progress with their case's public id (the page opens
the case's live socket for the transcript) and their sentiment so far
(`centralita.wallboard_sentiment`, when the server gives the board its event bus). `attach` pokes the feed on every routing event and
agent state change; the feed's own refresh catches the rest (a caller joining a line).

Times on the board are wall seconds that stay put (when a state began, when the oldest caller
came in): the engine's monotonic times are moved to the wall with one offset taken when the
board is made, so the same instant never reads differently from one build to the next.

It sits in the composition root because it joins routing (the engine), cases (public ids) and
web (the feed).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from cases.errors import CaseError
from cases.events import EventBus
from cases.store import CaseStore
from centralita.wallboard_nodes import NodeCalls
from centralita.wallboard_sentiment import CallSentiment
from routing.acd import Acd
from routing.conversations import TextRouter
from routing.model import QueueEntry, QueueRecord
from routing.stats import QueueFigures, agent_figures, queue_figures
from web.supervisor.api import add_supervisor_routes
from web.supervisor.board import Board
from web.supervisor.feed import WallboardFeed

log = logging.getLogger(__name__)

_DAY = 86400.0
_HOUR = 3600.0


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class SupervisorsOnCalls(Protocol):
    """Who listens to which call (`voice.conference_monitor.Monitors`)."""

    def supervisors(self, call_id: str) -> dict[str, str]: ...


class AcdBoard:
    """Builds the board and the history figures from a running `Acd`; `monitors` puts on each
    call the supervisors on it and their modes (so two do not step on each other)."""

    def __init__(self, acd: Acd, cases: CaseStore | None,
                 monitors: SupervisorsOnCalls | None = None) -> None:
        self.acd = acd
        self.cases = cases
        self.monitors = monitors
        self._offset = acd.wall() - acd.clock.now()  # engine monotonic -> wall seconds
        self._public: dict[int, str] = {}
        # Today's figures of each queue change only when a record does: a caller joins or
        # leaves its line, or routing says something (an answer, a hang-up, a wrap-up). The
        # refresh in between (for the lines) reuses them instead of reading the day again.
        self._events = 0
        self._figures: dict[str, tuple[tuple[Any, ...], QueueFigures]] = {}
        self.figure_reads = 0  # days of records read (tests)
        # Several nodes on one Redis: the others' calls (centralita.wallboard_nodes).
        self.nodes: NodeCalls | None = None
        # Each call's sentiment, followed on its case's events (add_wallboard sets it).
        self.sentiment: CallSentiment | None = None

    def attach(self, feed: WallboardFeed) -> None:
        """Poke `feed` on every routing event and agent state change."""
        def changed(*_: object) -> None:
            self._events += 1
            if self.sentiment is not None:  # a call that ended is followed no more
                self.sentiment.keep({s.caller.id for s in self.acd.sessions.values()})
            feed.poke()

        self.acd.listeners.append(changed)
        watchers = getattr(self.acd.store, "state_watchers", None)
        if isinstance(watchers, list):
            watchers.append(changed)

    def _wall(self, mono: float) -> float:
        return round(mono + self._offset, 1)

    async def _public_id(self, case_id: object) -> str | None:
        if not isinstance(case_id, int) or self.cases is None:
            return None
        known = self._public.get(case_id)
        if known is None:
            try:
                known = await self.cases.public_id(case_id)
            except CaseError as exc:
                log.warning("case %s: no public id for the wallboard: %s", case_id, exc)
                return None
            self._public[case_id] = known
        return known

    async def local_calls(self) -> dict[str, dict[str, Any]]:
        """This node's calls in progress, by the caller's call id."""
        calls: dict[str, dict[str, Any]] = {}
        cases: dict[str, int] = {}
        for agent_id, session in list(self.acd.sessions.items()):
            context = session.context
            call_id = session.caller.id
            if isinstance(context.get("case_id"), int):
                cases[call_id] = context["case_id"]
            calls[call_id] = {
                "agent": agent_id, "queue": context.get("queue"),
                "caller": context.get("caller"), "phase": session.phase.value,
                "case_id": await self._public_id(context.get("case_id")),
                "since": self._wall(session.started), "muted": session.muted,
                "supervisors": self.monitors.supervisors(call_id) if self.monitors else {},
            }
        if self.sentiment is not None:
            self.sentiment.follow(cases)
            for call_id, row in calls.items():
                view = self.sentiment.view(call_id)
                if view is not None:
                    row["sentiment"] = view
        return calls

    async def board(self) -> Board:
        acd = self.acd
        statuses = await acd.store.statuses()
        states = {a: (statuses.get(a) or await acd.store.agent_status(a)) for a in acd.agents}
        router = acd.text_router if isinstance(acd.text_router, TextRouter) else None
        calls = await self.local_calls()
        if self.nodes is not None:
            calls = {**await self.nodes.others(), **calls}
        on_call = {str(c["agent"]): call_id for call_id, c in calls.items()}
        agents: dict[str, dict[str, Any]] = {}
        for agent_id, cfg in acd.agents.items():
            status = states[agent_id]
            agents[agent_id] = {
                "name": cfg.name or agent_id, "state": status.state.value,
                "reason": status.reason, "since": self._wall(status.since),
                "call": on_call.get(agent_id),
                "conversations": len(router.conversations_of(agent_id)) if router else 0,
            }
        now = acd.wall()
        today = now - now % _DAY
        queues: dict[str, dict[str, Any]] = {}
        channels: dict[str, dict[str, Any]] = {}
        for name, queue in acd.queues.items():
            line = await acd.store.entries(name)
            by_state: dict[str, int] = defaultdict(int)
            for agent_id, cfg in acd.agents.items():
                if name in cfg.queues:
                    by_state[states[agent_id].state.value] += 1
            f = await self._today(name, today, queue.service_level, line)
            waiting = [e for e in line if e.kind == "call"]
            queues[name] = {
                "waiting": len(waiting),
                "callbacks": len(line) - len(waiting),
                "oldest": min((self._wall(e.enqueued_mono) for e in waiting), default=None),
                "agents": dict(by_state), "offered": f.offered, "answered": f.answered,
                "abandoned": f.abandoned, "service_level": _r(f.service_level, 3),
                "asa": _r(f.asa), "threshold": queue.service_level,
            }
            if router is None:
                continue
            for channel, c in router.figures(name, since=today).items():
                channels[f"{name}/{channel}"] = {
                    "queue": name, "channel": channel, "waiting": c.waiting,
                    "oldest": round(now - c.longest_wait) if c.waiting else None,
                    "offered": c.offered, "responded": c.responded,
                    "service_level": _r(c.service_level, 3), "asa": _r(c.asa),
                }
        return {"queues": queues, "agents": agents, "channels": channels, "calls": calls}

    async def _today(self, queue: str, today: float, threshold: float,
                     line: list[QueueEntry]) -> QueueFigures:
        key = (today, threshold, self._events, frozenset(e.id for e in line),
               # Other nodes write records too: read the day again every 10 s at most.
               int(self.acd.wall() // 10) if self.nodes is not None else 0)
        known = self._figures.get(queue)
        if known is not None and known[0] == key:
            return known[1]
        self.figure_reads += 1
        figures = queue_figures(await self.acd.store.records(queue=queue, since=today),
                                threshold=threshold)
        self._figures[queue] = (key, figures)
        return figures

    async def history(self, since: float | None, until: float | None) -> dict[str, Any]:
        """Figures over `[since, until)` (`routing.stats`): per queue, per agent, and per queue
        and hour and day (keys "<queue> <YYYY-MM-DDTHH>Z" and "<queue> <YYYY-MM-DD>", UTC)."""
        acd = self.acd
        records = await acd.store.records(since=since, until=until)
        by_queue: dict[str, list[QueueRecord]] = defaultdict(list)
        by_hour: dict[tuple[str, float], list[QueueRecord]] = defaultdict(list)
        by_day: dict[tuple[str, float], list[QueueRecord]] = defaultdict(list)
        for record in records:
            by_queue[record.queue].append(record)
            wall = record.enqueued_wall
            by_hour[(record.queue, wall - wall % _HOUR)].append(record)
            by_day[(record.queue, wall - wall % _DAY)].append(record)

        def threshold(queue: str) -> float:
            cfg = acd.queues.get(queue)
            return cfg.service_level if cfg is not None else 20.0

        queues = {q: _finite(queue_figures(by_queue.get(q, []), threshold=threshold(q))
                             .to_dict()) for q in sorted(set(acd.queues) | set(by_queue))}
        agents = {a: _finite(f.to_dict()) for a, f in agent_figures(records).items()}

        def periods(groups: dict[tuple[str, float], list[QueueRecord]], fmt: str,
                    key: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for (queue, start), rows in sorted(groups.items(),
                                               key=lambda kv: (kv[0][1], kv[0][0])):
                label = datetime.fromtimestamp(start, UTC).strftime(fmt)
                out[f"{queue} {label}"] = {
                    "queue": queue, key: start,
                    **_finite(queue_figures(rows, threshold=threshold(queue)).to_dict())}
            return out

        return {"since": since, "until": until, "queues": queues, "agents": agents,
                "hours": periods(by_hour, "%Y-%m-%dT%HZ", "hour"),
                "days": periods(by_day, "%Y-%m-%d", "day")}


def _finite(out: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity nor NaN: such a figure is None."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()}


def add_wallboard(app: web.Application, acd: Acd, cases: CaseStore | None,
                  monitors: SupervisorsOnCalls | None = None,
                  nodes: Callable[[AcdBoard], NodeCalls] | None = None,
                  events: EventBus | None = None) -> WallboardFeed:
    """The supervisor's page on `app`, its wallboard fed from `acd` (`web.supervisor.api`);
    `nodes`: shares this node's calls with the others and shows theirs (several nodes);
    `events`: the case event bus, to show each call's sentiment as it goes."""
    board = AcdBoard(acd, cases, monitors)
    if nodes is not None:
        board.nodes = nodes(board)
    feed = WallboardFeed(board.board, wall=acd.wall)
    if cases is not None and events is not None:
        sentiment = board.sentiment = CallSentiment(cases, events, feed.poke)

        async def stop_following(_: web.Application) -> None:
            await sentiment.close()

        app.on_shutdown.append(stop_following)
    board.attach(feed)
    add_supervisor_routes(app, feed, board.history)
    return feed
