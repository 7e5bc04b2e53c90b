"""Assignment strategies: who waits first, and which free agent takes them.

Pure functions over the model's dataclasses: no clock is read (`now` is a parameter), no
store is touched, no input is mutated. The engine (`routing.acd`) calls `assign()` whenever an
entry arrives or an agent frees up, and carries out the pairs it returns.

Two questions, answered separately:

- **Line order** (`order_entries`): priority with aging. An entry's effective priority is
  ``priority + aging_per_s * (now - enqueued_mono)``, highest first, ties by `seq` (the place
  in line given on arrival and kept by a callback). Every waiting entry ages at the same rate,
  so the order of two entries never changes while they wait; aging decides where a newcomer
  goes in: a newcomer with ``d`` more priority points passes an entry only if that entry has
  waited less than ``d / aging_per_s`` seconds longer. With ``aging_per_s == 0`` it is strict
  priority, then arrival.
- **Agent choice** (`pick_agent`), per queue: ``longest-idle`` (free the longest), ``round-robin``
  (the next agent id after the one this queue assigned last), ``skills-weighted`` (the highest
  sum of levels in the skills the entry needs; ties by longest idle).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from common.languages import LANGUAGE_PREFIX, language_skill
from routing.model import (
    STRATEGIES,
    AgentConfig,
    AgentState,
    AgentStatus,
    InvalidConfig,
    QueueConfig,
    QueueEntry,
)

__all__ = [
    "Candidate",
    "assign",
    "effective_priority",
    "eligible",
    "has_skill",
    "language_skill",
    "longest_idle",
    "order_entries",
    "pick_agent",
    "required_skills",
    "round_robin",
    "skills_weighted",
]


@dataclass(frozen=True)
class Candidate:
    """An agent who could take an entry now, with the status the choice was made on."""

    agent: AgentConfig
    status: AgentStatus

    @property
    def id(self) -> str:
        return self.agent.id


def required_skills(entry: QueueEntry, queue: QueueConfig) -> tuple[str, ...]:
    """The skills an agent needs for `entry` in `queue`: the entry's and the queue's, sorted,
    without repeats; plus the queue's language when the entry brings none."""
    skills = set(entry.skills) | set(queue.skills)
    if queue.language and not any(s.startswith(LANGUAGE_PREFIX) for s in skills):
        skills.add(language_skill(queue.language))
    return tuple(sorted(skills))


def has_skill(agent: AgentConfig, skill: str) -> bool:
    """Whether `agent` holds `skill`: a language skill by speaking it, others at level 1+."""
    if skill.startswith(LANGUAGE_PREFIX):
        return agent.speaks(skill[len(LANGUAGE_PREFIX):])
    return agent.skills.get(skill, 0) >= 1


def eligible(
    entry: QueueEntry,
    queue: QueueConfig,
    agents: Iterable[tuple[AgentConfig, AgentStatus]],
) -> list[Candidate]:
    """The agents who may take `entry` now, sorted by agent id.

    Eligible means: AVAILABLE, serving `queue.name`, taking calls (voice capacity above 0),
    below `max_concurrent` interactions (the engine counts the agent's text conversations in
    `active`), and holding every required skill (`required_skills`) at level 1 or more (a
    language skill: speaking it, `has_skill`).
    """
    required = required_skills(entry, queue)
    found = [
        Candidate(agent, status)
        for agent, status in agents
        if status.state is AgentState.AVAILABLE
        and queue.name in agent.queues
        and status.active < agent.max_concurrent
        and agent.capacity_for("voice") > 0
        and all(has_skill(agent, skill) for skill in required)
    ]
    found.sort(key=lambda c: c.id)
    return found


def _idle_key(candidate: Candidate) -> tuple[float, str]:
    return (candidate.status.idle_since, candidate.id)


def longest_idle(
    entry: QueueEntry, candidates: Sequence[Candidate], *, now: float
) -> Candidate | None:
    """The candidate free the longest: the smallest `idle_since`, ties by agent id.

    `entry` and `now` are not needed by this rule; they keep every strategy's call alike.
    """
    del entry, now
    return min(candidates, key=_idle_key, default=None)


def round_robin(
    entry: QueueEntry, candidates: Sequence[Candidate], *, last: str | None
) -> Candidate | None:
    """The first candidate whose id sorts after `last` (the agent this queue assigned last),
    wrapping around to the smallest id; the smallest id when `last` is None.

    `last` need not be a candidate (that agent may be busy or logged off): the rotation goes
    on from where it was.
    """
    del entry
    ordered = sorted(candidates, key=lambda c: c.id)
    if not ordered:
        return None
    if last is not None:
        for candidate in ordered:
            if candidate.id > last:
                return candidate
    return ordered[0]


def skills_weighted(
    entry: QueueEntry,
    candidates: Sequence[Candidate],
    *,
    required: tuple[str, ...],
    now: float,
) -> Candidate | None:
    """The candidate with the highest sum of levels in the `required` skills; ties (and a
    queue that requires nothing, where every sum is 0) go to the longest idle, then agent id.
    """
    del entry, now

    def key(candidate: Candidate) -> tuple[int, float, str]:
        score = sum(candidate.agent.skills.get(skill, 0) for skill in required)
        return (-score, *_idle_key(candidate))

    return min(candidates, key=key, default=None)


def effective_priority(entry: QueueEntry, *, now: float, aging_per_s: float) -> float:
    """``entry.priority + aging_per_s * (now - entry.enqueued_mono)``."""
    return entry.priority + aging_per_s * (now - entry.enqueued_mono)


def order_entries(
    entries: Iterable[QueueEntry], *, now: float, aging_per_s: float
) -> list[QueueEntry]:
    """Entries in line order: highest effective priority first, ties by `seq` (lower first).

    The sort key is ``priority - aging_per_s * enqueued_mono``: the effective priority minus
    ``aging_per_s * now``, the same for every entry. Leaving `now` out keeps the order exactly
    stable from one pass to the next (no rounding that grows with the clock), so announced
    positions never flicker; `now` is accepted so callers state the time they mean.
    """
    del now
    return sorted(entries, key=lambda e: (-(e.priority - aging_per_s * e.enqueued_mono), e.seq))


def pick_agent(
    queue: QueueConfig,
    entry: QueueEntry,
    candidates: Sequence[Candidate],
    *,
    now: float,
    last: str | None,
) -> Candidate | None:
    """Choose among `candidates` (already eligible) with the queue's strategy.

    Raises `InvalidConfig` for a strategy this module does not know, even with no candidates,
    so a bad queue fails on its first entry rather than when an agent logs in.
    """
    if queue.strategy == "longest-idle":
        return longest_idle(entry, candidates, now=now)
    if queue.strategy == "round-robin":
        return round_robin(entry, candidates, last=last)
    if queue.strategy == "skills-weighted":
        return skills_weighted(entry, candidates, required=required_skills(entry, queue), now=now)
    raise InvalidConfig(
        f"unknown strategy {queue.strategy!r} (known: {', '.join(STRATEGIES)})",
        where=f"queue {queue.name}",
    )


def assign(
    queue: QueueConfig,
    entries: Iterable[QueueEntry],
    agents: Mapping[str, tuple[AgentConfig, AgentStatus]],
    *,
    now: float,
    last: str | None,
) -> list[tuple[QueueEntry, Candidate]]:
    """Match waiting entries to free agents in one pass, in line order.

    Each entry in `order_entries` order gets `pick_agent`'s choice among the agents still
    eligible; an entry nobody free can take (skills) is skipped and does not hold up those
    behind it. This is greedy in line order, not a maximum matching: the head of the line
    keeps the agent its strategy picks even if another choice would free that agent for a
    later entry (line order and the strategy come before throughput; the next pass serves
    the rest as agents free up).

    Within the pass an agent takes entries up to `max_concurrent`; an agent who just took one
    is judged on a copy of its status with `active` counted and `idle_since = now` (busy from
    now), and round robin's `last` moves to each agent chosen. The candidates returned hold
    the caller's own `AgentConfig` and `AgentStatus` objects (the ones in `agents`), which
    this function never modifies.
    """
    by_id = {agent.id: (agent, status) for agent, status in agents.values()}
    # Only agents who could take something in this queue are looked at, and the pass ends
    # when none is left: with every agent busy a pass costs nothing however long the line
    # (it runs on the event loop that carries the media clock; see bench/acd_dispatch.py).
    open_ = {agent.id: (agent, status) for agent, status in by_id.values() if _open(agent, status, queue)}
    taken: Counter[str] = Counter()
    pairs: list[tuple[QueueEntry, Candidate]] = []
    line = order_entries(entries, now=now, aging_per_s=queue.aging_per_s)
    if not open_:
        if line:  # an unknown strategy raises on the first entry, agents or not
            pick_agent(queue, line[0], (), now=now, last=last)
        return pairs
    # Agents only leave `open_` during a pass: skills nobody open had for one entry, nobody
    # will have for a later one (a backlog for a rare skill costs one scan, not one per entry).
    unservable: set[tuple[str, ...]] = set()
    for entry in line:
        required = required_skills(entry, queue)
        if required in unservable:
            continue
        views = [
            (agent, _in_pass(status, taken[agent.id], now)) for agent, status in open_.values()
        ]
        chosen = pick_agent(queue, entry, eligible(entry, queue, views), now=now, last=last)
        if chosen is None:
            unservable.add(required)
            continue
        pairs.append((entry, Candidate(*by_id[chosen.id])))
        taken[chosen.id] += 1
        last = chosen.id
        agent, status = open_[chosen.id]
        if status.active + taken[chosen.id] >= agent.max_concurrent:
            del open_[chosen.id]
            if not open_:
                break
    return pairs



def _open(agent: AgentConfig, status: AgentStatus, queue: QueueConfig) -> bool:
    """Free to take an entry of `queue` now, whatever its skills (see `eligible`)."""
    return (status.state is AgentState.AVAILABLE and queue.name in agent.queues
            and status.active < agent.max_concurrent and agent.capacity_for("voice") > 0)


def _in_pass(status: AgentStatus, taken: int, now: float) -> AgentStatus:
    if not taken:
        return status
    return dataclasses.replace(status, active=status.active + taken, idle_since=now)
