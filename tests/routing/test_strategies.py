"""The assignment strategies, hand-worked: who gets whom, ties, capacity, skills, aging."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.model import (
    STRATEGIES,
    AgentConfig,
    AgentState,
    AgentStatus,
    InvalidConfig,
    QueueConfig,
    QueueEntry,
)
from routing.strategies import (
    Candidate,
    assign,
    effective_priority,
    eligible,
    longest_idle,
    order_entries,
    pick_agent,
    required_skills,
    round_robin,
    skills_weighted,
)

Agents = dict[str, tuple[AgentConfig, AgentStatus]]


def agent(
    agent_id: str,
    idle_since: float = 0.0,
    *,
    skills: dict[str, int] | None = None,
    queues: tuple[str, ...] = ("support",),
    max_concurrent: int = 1,
    active: int = 0,
    state: AgentState = AgentState.AVAILABLE,
) -> tuple[AgentConfig, AgentStatus]:
    config = AgentConfig(
        agent_id, skills=dict(skills or {}), queues=queues, max_concurrent=max_concurrent
    )
    return config, AgentStatus(agent_id, state=state, idle_since=idle_since, active=active)


def entry(
    seq: int, enqueued: float, *, priority: int = 0, skills: tuple[str, ...] = ()
) -> QueueEntry:
    return QueueEntry(
        f"e{seq}",
        "support",
        seq,
        enqueued_mono=enqueued,
        enqueued_wall=1_700_000_000 + enqueued,
        priority=priority,
        skills=skills,
    )


def roster(*agents: tuple[AgentConfig, AgentStatus]) -> Agents:
    return {a.id: (a, s) for a, s in agents}


def cands(*agents: tuple[AgentConfig, AgentStatus]) -> list[Candidate]:
    return [Candidate(a, s) for a, s in agents]


def ids(pairs: list[tuple[QueueEntry, Candidate]]) -> list[tuple[str, str]]:
    return [(e.id, c.id) for e, c in pairs]


SUPPORT = QueueConfig("support", skills=("english",))


# --- eligible -------------------------------------------------------------------------------


def test_eligible_filters_state_queue_capacity_and_skills() -> None:
    en = {"english": 1}
    agents = [
        agent("zed", skills={"english": 2, "billing": 1}),
        agent("amy", skills={"english": 1, "billing": 3}),
        agent("brk", skills={"english": 5, "billing": 5}, state=AgentState.BREAK),
        agent("oncall", skills={"english": 5, "billing": 5}, state=AgentState.ON_CALL),
        agent("sales", skills={"english": 5, "billing": 5}, queues=("sales",)),
        agent("full", skills={"english": 5, "billing": 5}, active=1),
        agent("roomy", skills={"english": 5, "billing": 5}, active=1, max_concurrent=2),
        agent("nobill", skills=en),  # lacks the entry's skill
        agent("zero", skills={"english": 1, "billing": 0}),  # level 0 is not having it
        agent("noeng", skills={"billing": 9}),  # lacks the queue's skill
    ]
    found = eligible(entry(1, 0.0, skills=("billing",)), SUPPORT, agents)
    assert [c.id for c in found] == ["amy", "roomy", "zed"]  # sorted by id
    assert required_skills(entry(1, 0.0, skills=("billing", "english")), SUPPORT) == (
        "billing",
        "english",
    )


# --- the strategies on their own ------------------------------------------------------------


def test_longest_idle_smallest_idle_since_ties_by_id() -> None:
    pool = cands(agent("a", 30.0), agent("c", 10.0), agent("b", 10.0))
    chosen = longest_idle(entry(1, 0.0), pool, now=100.0)
    assert chosen is not None and chosen.id == "b"
    assert longest_idle(entry(1, 0.0), [], now=100.0) is None


@pytest.mark.parametrize(
    ("last", "expected"),
    [(None, "a"), ("a", "c"), ("b", "c"), ("c", "d"), ("d", "a"), ("z", "a"), ("", "a")],
)
def test_round_robin_next_after_last_wrapping(last: str | None, expected: str) -> None:
    pool = cands(agent("d"), agent("a"), agent("c"))  # order given does not matter
    chosen = round_robin(entry(1, 0.0), pool, last=last)
    assert chosen is not None and chosen.id == expected
    assert round_robin(entry(1, 0.0), [], last=last) is None


def test_skills_weighted_highest_sum_then_longest_idle() -> None:
    pool = cands(
        agent("a", 5.0, skills={"billing": 3, "spanish": 2, "french": 9}),  # 5 (french not asked)
        agent("b", 20.0, skills={"billing": 5, "spanish": 1}),  # 6
        agent("c", 10.0, skills={"billing": 1, "spanish": 5}),  # 6, free longer than b
    )
    required = ("billing", "spanish")
    chosen = skills_weighted(entry(1, 0.0), pool, required=required, now=50.0)
    assert chosen is not None and chosen.id == "c"
    # Nothing required: every score is 0, so longest idle decides.
    chosen = skills_weighted(entry(1, 0.0), pool, required=(), now=50.0)
    assert chosen is not None and chosen.id == "a"
    assert skills_weighted(entry(1, 0.0), [], required=required, now=50.0) is None


def test_pick_agent_dispatches_on_the_queue_strategy() -> None:
    pool = cands(
        agent("a", 30.0, skills={"english": 9}),
        agent("b", 10.0, skills={"english": 1}),
        agent("c", 20.0, skills={"english": 4}),
    )
    e = entry(1, 0.0)
    picks = {
        name: pick_agent(
            QueueConfig("support", strategy=name, skills=("english",)), e, pool, now=50.0, last="a"
        )
        for name in STRATEGIES
    }
    assert {k: v.id if v else None for k, v in picks.items()} == {
        "longest-idle": "b",
        "round-robin": "b",  # after "a"
        "skills-weighted": "a",
    }


def test_pick_agent_unknown_strategy_is_a_config_error_even_without_candidates() -> None:
    queue = QueueConfig("support", strategy="random")
    with pytest.raises(InvalidConfig, match="unknown strategy 'random'") as info:
        pick_agent(queue, entry(1, 0.0), [], now=0.0, last=None)
    assert info.value.where == "queue support"


# --- line order -----------------------------------------------------------------------------


def test_order_entries_strict_priority_then_arrival_without_aging() -> None:
    entries = [
        entry(4, 40.0),
        entry(2, 20.0, priority=1),
        entry(3, 30.0, priority=1),
        entry(1, 10.0),
        entry(5, 50.0, priority=2),
    ]
    ordered = order_entries(entries, now=1000.0, aging_per_s=0.0)
    assert [e.seq for e in ordered] == [5, 2, 3, 1, 4]


def test_aging_newcomer_passes_only_entries_that_waited_less_than_the_crossover() -> None:
    # aging 0.25/s, newcomer has 5 more points: it passes an entry that has waited less than
    # 5 / 0.25 = 20 s longer than itself. All values are exact in binary floating point.
    old = entry(1, 0.0)

    def first(newcomer_at: float) -> int:
        newcomer = entry(2, newcomer_at, priority=5)
        now = newcomer_at + 7.0
        return order_entries([old, newcomer], now=now, aging_per_s=0.25)[0].seq

    assert first(19.75) == 2  # old has 19.75*0.25 = 4.9375 < 5: passed
    assert first(20.0) == 1  # 5.0 == 5.0: a tie, the earlier seq keeps its place
    assert first(20.25) == 1  # 5.0625 > 5
    assert effective_priority(old, now=27.0, aging_per_s=0.25) == 6.75
    assert effective_priority(entry(2, 20.0, priority=5), now=27.0, aging_per_s=0.25) == 6.75


def test_order_does_not_change_as_time_passes() -> None:
    entries = [entry(i, 3.1 * i, priority=i % 3) for i in range(1, 30)]
    early = order_entries(entries, now=100.0, aging_per_s=0.1)
    late = order_entries(entries, now=1e9, aging_per_s=0.1)
    assert [e.seq for e in early] == [e.seq for e in late]


def test_callback_keeps_the_original_callers_place() -> None:
    first_caller = entry(1, 0.0)
    later = [entry(2, 10.0), entry(3, 20.0)]
    # The caller asked for a callback; its entry comes back later with seq and time kept.
    callback = QueueEntry(
        "cb1",
        "support",
        first_caller.seq,
        enqueued_mono=0.0,
        enqueued_wall=first_caller.enqueued_wall,
        kind="callback",
    )
    ordered = order_entries([*later, callback], now=500.0, aging_per_s=0.5)
    assert [e.id for e in ordered] == ["cb1", "e2", "e3"]


# --- assign: hand-worked passes -------------------------------------------------------------


# ana: english 5, billing 3 (free since 100) | bo: english 2, spanish 4 (since 50)
# cy: english 3, billing 1, two at once (since 80) | dee: on a break
# e1 needs spanish, e2 billing, e3 nothing more, e4 french (nobody), e5 nothing more.
# The queue itself requires english.
def team() -> Agents:
    return roster(
        agent("ana", 100.0, skills={"english": 5, "billing": 3}),
        agent("bo", 50.0, skills={"english": 2, "spanish": 4}),
        agent("cy", 80.0, skills={"english": 3, "billing": 1}, max_concurrent=2),
        agent("dee", 0.0, skills={"english": 9, "french": 9}, state=AgentState.BREAK),
    )


def line() -> list[QueueEntry]:
    return [
        entry(3, 30.0),
        entry(1, 10.0, skills=("spanish",)),
        entry(5, 50.0),
        entry(2, 20.0, skills=("billing",)),
        entry(4, 40.0, skills=("french",)),
    ]


def test_assign_longest_idle() -> None:
    # e1: only bo speaks spanish. e2: ana(100) or cy(80) -> cy; cy is now busy since 200.
    # e3: ana(100) vs cy(200) -> ana. e4: nobody (dee is on a break), skipped.
    # e5: only cy has room left (1 of 2).
    queue = QueueConfig("support", skills=("english",), strategy="longest-idle")
    pairs = assign(queue, line(), team(), now=200.0, last=None)
    assert ids(pairs) == [("e1", "bo"), ("e2", "cy"), ("e3", "ana"), ("e5", "cy")]


def test_assign_skills_weighted() -> None:
    # e1: bo only. e2 (english+billing): ana 5+3=8, cy 3+1=4 -> ana.
    # e3 (english): ana is full, cy 3 -> cy. e4 skipped. e5: cy has room for one more.
    queue = QueueConfig("support", skills=("english",), strategy="skills-weighted")
    pairs = assign(queue, line(), team(), now=200.0, last=None)
    assert ids(pairs) == [("e1", "bo"), ("e2", "ana"), ("e3", "cy"), ("e5", "cy")]


def test_assign_round_robin_advances_last_within_the_pass() -> None:
    queue = QueueConfig("support", strategy="round-robin")
    single = roster(agent("a"), agent("b"), agent("c"))
    entries = [entry(i, float(i)) for i in range(1, 5)]
    # After b: c, then wrap to a, then b; the fourth entry finds everyone taken.
    assert ids(assign(queue, entries, single, now=9.0, last="b")) == [
        ("e1", "c"),
        ("e2", "a"),
        ("e3", "b"),
    ]
    double = roster(*(agent(x, max_concurrent=2) for x in "abc"))
    assert ids(assign(queue, entries, double, now=9.0, last="b")) == [
        ("e1", "c"),
        ("e2", "a"),
        ("e3", "b"),
        ("e4", "c"),
    ]


def test_skills_blocked_head_of_line_does_not_block_the_rest() -> None:
    queue = QueueConfig("support")
    agents = roster(agent("a", skills={"english": 1}))
    entries = [entry(1, 0.0, skills=("french",)), entry(2, 5.0)]
    assert ids(assign(queue, entries, agents, now=10.0, last=None)) == [("e2", "a")]


def test_assign_serves_priority_first_and_respects_capacity() -> None:
    queue = QueueConfig("support")
    # a already handles one of two; b is full.
    agents = roster(agent("a", max_concurrent=2, active=1), agent("b", active=1))
    entries = [entry(1, 0.0), entry(2, 5.0, priority=3), entry(3, 6.0)]
    assert ids(assign(queue, entries, agents, now=10.0, last=None)) == [("e2", "a")]


def test_assign_returns_the_callers_objects_and_does_not_modify_them() -> None:
    queue = QueueConfig("support", skills=("english",))
    agents, entries = team(), line()
    before = copy.deepcopy((agents, entries))
    pairs = assign(queue, entries, agents, now=200.0, last=None)
    assert (agents, entries) == before
    for e, c in pairs:
        assert any(e is x for x in entries)
        assert c.agent is agents[c.id][0] and c.status is agents[c.id][1]


def test_assign_with_nobody_or_nothing() -> None:
    queue = QueueConfig("support")
    assert assign(queue, [], roster(agent("a")), now=0.0, last=None) == []
    assert assign(queue, [entry(1, 0.0)], {}, now=0.0, last=None) == []
    with pytest.raises(InvalidConfig):
        assign(QueueConfig("support", strategy="nope"), [entry(1, 0.0)], {}, now=0, last=None)


# --- properties -----------------------------------------------------------------------------

SKILLS = ("a", "b", "c")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[QueueConfig, list[QueueEntry], Agents, str | None]:
    n_agents = draw(st.integers(0, 6))
    agents: Agents = {}
    for i in range(n_agents):
        config = AgentConfig(
            f"ag{i}",
            skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 3))),
            max_concurrent=draw(st.integers(1, 3)),
            queues=tuple(draw(st.sets(st.sampled_from(("q", "other")), min_size=1))),
        )
        status = AgentStatus(
            config.id,
            state=draw(st.sampled_from(list(AgentState))),
            idle_since=draw(st.integers(0, 5)),
            active=draw(st.integers(0, 3)),
        )
        agents[config.id] = (config, status)
    n_entries = draw(st.integers(0, 8))
    seqs = draw(st.permutations(range(1, n_entries + 1)))
    entries = [
        QueueEntry(
            f"e{seq}",
            "q",
            seq,
            enqueued_mono=draw(st.integers(0, 20)),
            enqueued_wall=0.0,
            priority=draw(st.integers(0, 3)),
            skills=tuple(draw(st.sets(st.sampled_from(SKILLS), max_size=2))),
        )
        for seq in seqs
    ]
    queue = QueueConfig(
        "q",
        strategy=draw(st.sampled_from(STRATEGIES)),
        skills=tuple(draw(st.sets(st.sampled_from(SKILLS), max_size=1))),
        aging_per_s=draw(st.sampled_from((0.0, 0.5))),
    )
    last = draw(st.none() | st.sampled_from([*agents, "zz"]))
    return queue, entries, agents, last


def reference_assign(queue: QueueConfig, entries: list[QueueEntry], agents: Agents, *,
                     now: float, last: str | None) -> list[tuple[QueueEntry, Candidate]]:
    """`assign` without its shortcuts: every agent, for every entry in line order."""
    taken: Counter[str] = Counter()
    pairs: list[tuple[QueueEntry, Candidate]] = []
    for e in order_entries(entries, now=now, aging_per_s=queue.aging_per_s):
        views = [(a, s if not taken[a.id] else AgentStatus(
            s.agent_id, s.state, s.reason, s.since, now, s.active + taken[a.id],
            s.reserved_for)) for a, s in agents.values()]
        chosen = pick_agent(queue, e, eligible(e, queue, views), now=now, last=last)
        if chosen is not None:
            pairs.append((e, Candidate(*agents[chosen.id])))
            taken[chosen.id] += 1
            last = chosen.id
    return pairs


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_assign_properties(
    scenario: tuple[QueueConfig, list[QueueEntry], Agents, str | None],
) -> None:
    queue, entries, agents, last = scenario
    before = copy.deepcopy(scenario)
    pairs = assign(queue, entries, agents, now=30.0, last=last)
    assert scenario == before  # nothing mutated

    # The same pairs as the plain pass that looks at every agent for every entry (assign
    # skips agents with no room and skill sets nobody had: shortcuts, not a new policy).
    assert ids(pairs) == ids(reference_assign(queue, entries, agents, now=30.0, last=last))

    # Deterministic, whatever order the mapping and the line are given in.
    again = assign(
        queue, list(reversed(entries)), dict(reversed(agents.items())), now=30.0, last=last
    )
    assert ids(again) == ids(pairs)

    used = Counter(c.id for _, c in pairs)
    for agent_id, count in used.items():
        config, status = agents[agent_id]
        assert status.active + count <= config.max_concurrent  # never over capacity
    assert len({e.id for e, _ in pairs}) == len(pairs)  # an entry is taken at most once
    for e, c in pairs:  # every assignment was eligible before the pass
        assert c.id in {x.id for x in eligible(e, queue, agents.values())}

    # Line order is kept among the entries served.
    order = [e.id for e in order_entries(entries, now=30.0, aging_per_s=queue.aging_per_s)]
    served = [e.id for e, _ in pairs]
    assert served == [x for x in order if x in set(served)]

    # Greedy and complete: an entry left waiting has no eligible agent with room left.
    served_set = set(served)
    for e in entries:
        if e.id in served_set:
            continue
        for c in eligible(e, queue, agents.values()):
            assert c.status.active + used[c.id] >= c.agent.max_concurrent
