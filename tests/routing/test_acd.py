"""The ACD engine on a FakeClock, with fakes for what it drives (STYLE.md §10).

Callers are real `voice.call.Call`s over a leg that plays audio 20 ms a frame on the fake
clock's timers (so the waiting room's prompts take clock time); the `Connector` is a fake that
rings agents and customers with scripted delays and joins calls until one of them ends at a
scripted time. Every scenario uses round-number times so the expected values are read off the
script by hand; the real-SIP scenarios are in the e2e tests.
"""

from __future__ import annotations

import pytest

from ivr.services import QueueOutcome, QueueRequest
from routing import waiting
from routing.model import (
    AgentState,
    AgentStateError,
    CallbackPolicy,
    CallbackState,
    Overflow,
)
from tests.routing.acd_rig import WALL0, Factory, Ring, agent, queue
from voice.call import CallState

# -- (1) who gets whom ----------------------------------------------------------------------------
# Agents log in a2 (t=1), a3 (t=2), a1 (t=3): longest idle is a2, then a3, then a1. Queue skill
# "en" (a1: 2, a2: 3, a3: 8); only a1 speaks "fr". Callers arrive at t=10, 11, 12 (c3 needs
# "fr") and 13, agents answer at once, every call lasts 60 s, wrap-up 10 s.
#
# longest-idle:    c1 -> a2 (idle longest); c2 -> a3; c3 (fr) -> a1; c4 waits until the first
#                  agent is free again: a2 at 10 + 60 + 10 = 80.
# round-robin:     c1 -> a1 (no last: the smallest id); c2 -> a2; c3 (fr): only a1 could, busy:
#                  waits, and does not hold up c4 -> a3. At 80 a1 is free: c3 (first in line)
#                  -> a1; c4 was already served.
# skills-weighted: c1 -> a3 (en 8); c2 -> a2 (en 3 beats a1's 2); c3 (fr) -> a1 (en 2 + fr 1);
#                  c4 waits for a3, free first: 10 + 60 + 10 = 80.
STRATEGY_CASES = {
    "longest-idle": {"c1": ("a2", 10), "c2": ("a3", 11), "c3": ("a1", 12), "c4": ("a2", 80)},
    "round-robin": {"c1": ("a1", 10), "c2": ("a2", 11), "c3": ("a1", 80), "c4": ("a3", 13)},
    "skills-weighted": {"c1": ("a3", 10), "c2": ("a2", 11), "c3": ("a1", 12), "c4": ("a3", 80)},
}


@pytest.mark.parametrize("strategy", list(STRATEGY_CASES))
async def test_who_gets_whom_per_strategy(make_rig: Factory, strategy: str) -> None:
    rig = await make_rig(
        [queue("help", strategy=strategy, skills=("en",), wrapup=10.0)],
        [agent("a1", "help", en=2, fr=1), agent("a2", "help", en=3), agent("a3", "help", en=8)],
        answer={"a1": 0, "a2": 0, "a3": 0}, step=0.5,
    )
    for t, agent_id in ((1, "a2"), (2, "a3"), (3, "a1")):
        await rig.at(t)
        await rig.login(agent_id)
    for t, call_id in ((10, "c1"), (11, "c2"), (12, "c3"), (13, "c4")):
        await rig.at(t)
        await rig.arrive(call_id, "help", talk=60, skills=("fr",) if call_id == "c3" else ())
    await rig.at(200)

    expected = STRATEGY_CASES[strategy]
    got = {about: (who, t) for t, who, about in rig.offers()}
    assert got == expected
    for call_id, (agent_id, _) in expected.items():
        assert rig.outcome(call_id) == QueueOutcome(
            "answered", {"agent": agent_id, "duration": 60.0, "hung_up_by": "caller"})
    records = await rig.records("help")
    for call_id, (agent_id, t) in expected.items():
        rec = records[call_id]
        assert (rec.outcome, rec.agent_id) == ("answered", agent_id)
        assert rec.answered_wall == pytest.approx(WALL0 + t)
        assert rec.ended_wall == pytest.approx(WALL0 + t + 60)


async def test_round_robin_goes_on_past_agents_free_again(make_rig: Factory) -> None:
    # a3, a2, a1 log in at 1, 2, 3; callers at 10, 20, 30, 40 talk 5 s each, so every caller
    # finds all three free. Round robin: a1, a2, a3, then a1 again, though a1 is not the
    # longest idle (that would be a3, a2, a1, a3).
    rig = await make_rig([queue("help", strategy="round-robin")],
                         [agent("a1", "help"), agent("a2", "help"), agent("a3", "help")],
                         answer={"a1": 0, "a2": 0, "a3": 0}, step=0.5)
    for t, agent_id in ((1, "a3"), (2, "a2"), (3, "a1")):
        await rig.at(t)
        await rig.login(agent_id)
    for t, call_id in ((10, "c1"), (20, "c2"), (30, "c3"), (40, "c4")):
        await rig.at(t)
        await rig.arrive(call_id, "help", talk=5)
    await rig.at(50)
    assert rig.offers() == [(10.0, "a1", "c1"), (20.0, "a2", "c2"), (30.0, "a3", "c3"),
                            (40.0, "a1", "c4")]


# One agent, offline until t=100; callers L1 (t=0), L2 (t=40) at priority 0 and H (t=60) at
# priority 5. H passes an entry only if that entry has waited less than 5 / aging_per_s seconds
# longer than H (L2: 20 s longer, L1: 60 s longer).
#   aging 0 (strict priority): H, L1, L2
#   aging 0.1/s (50 s):        L1, H, L2  (H passes L2 only)
#   aging 1/s (5 s):           L1, L2, H  (H passes nobody)
# Each call lasts 20 s and wrap-up is 5 s: offers at 100, 125, 150.
@pytest.mark.parametrize(("aging", "order"), [
    (0.0, ["H", "L1", "L2"]),
    (0.1, ["L1", "H", "L2"]),
    (1.0, ["L1", "L2", "H"]),
])
async def test_priority_with_aging(make_rig: Factory, aging: float, order: list[str]) -> None:
    rig = await make_rig([queue("help", aging_per_s=aging, wrapup=5.0)], [agent("a1", "help")],
                         answer={"a1": 0}, step=0.5)
    for t, call_id, priority in ((0, "L1", 0), (40, "L2", 0), (60, "H", 5)):
        await rig.at(t)
        await rig.arrive(call_id, "help", priority=priority, talk=20)
    await rig.at(100)
    await rig.login("a1")
    await rig.at(200)
    assert rig.offers() == [(100.0, "a1", order[0]), (125.0, "a1", order[1]),
                            (150.0, "a1", order[2])]
    assert all(rig.outcome(c).result == "answered" for c in order)


# -- (2) an offer nobody answers --------------------------------------------------------------------
async def test_unanswered_offer_skips_the_agent_and_sets_them_not_ready(make_rig: Factory) -> None:
    # a1 (idle longest, t=0) never answers; a2 (t=1) answers after 3 s. offer_timeout 15 s:
    # c1 (t=10) is offered to a1 at 10, a1 is given up on at 25 and goes on a break
    # "missed-offer"; a2 is rung at 25 and answers at 28: c1 waited 18 s.
    rig = await make_rig([queue("help", offer_timeout=15.0)],
                         [agent("a1", "help"), agent("a2", "help")], answer={"a2": 3.0})
    await rig.login("a1")
    await rig.at(1)
    await rig.login("a2")
    await rig.at(10)
    await rig.arrive("c1", "help", talk=40)
    await rig.at(24.9)
    assert (await rig.status("a1")).state is AgentState.RESERVED
    assert rig.offers() == [(10.0, "a1", "c1")]
    await rig.at(30)
    assert rig.offers() == [(10.0, "a1", "c1"), (25.0, "a2", "c1")]
    a1 = await rig.status("a1")
    assert (a1.state, a1.reason) == (AgentState.BREAK, "missed-offer")
    assert (await rig.status("a2")).state is AgentState.ON_CALL
    rec = (await rig.records("help"))["c1"]
    assert (rec.outcome, rec.agent_id) == ("answered", "a2")
    assert rec.answered_wall == rec.enqueued_wall + 18
    # On a break, a1 is offered nothing more: c2 waits for a2 (free at 28 + 40 = 68).
    await rig.arrive("c2", "help")
    await rig.at(60)
    assert [about for _, _, about in rig.offers()] == ["c1", "c1"]
    await rig.at(70)
    assert rig.offers()[-1][1:] == ("a2", "c2")
    assert rig.outcome("c1").detail["agent"] == "a2"


async def test_caller_hanging_up_during_the_ring_frees_the_agent(make_rig: Factory) -> None:
    # a1 never answers (offer_timeout 15 s); c1 (t=0) hangs up at 5 while a1 rings: the offer
    # is withdrawn and a1, who did nothing wrong, is free again at once (not on a break), and
    # is offered c2 (t=10) at 10.
    rig = await make_rig([queue("help", offer_timeout=15.0)], [agent("a1", "help")], step=0.5)
    await rig.login("a1")
    await rig.arrive("c1", "help")
    rig.hang_up_at(5, "c1")
    await rig.at(6)
    assert rig.outcome("c1") == QueueOutcome("abandoned")
    assert (await rig.status("a1")).state is AgentState.AVAILABLE
    await rig.at(10)
    await rig.arrive("c2", "help")
    assert rig.offers() == [(0.0, "a1", "c1"), (10.0, "a1", "c2")]
    assert (await rig.records("help"))["c1"].outcome == "abandoned"


async def test_the_ivr_cancelling_the_queue_step_is_an_abandon(make_rig: Factory) -> None:
    # The IVR cancels its queue step when the caller hangs up; the engine still withdraws the
    # entry, frees the agent it was ringing and records the abandon.
    rig = await make_rig([queue("help")], [agent("a1", "help")], step=0.5)
    await rig.login("a1")
    await rig.arrive("c1", "help")
    await rig.at(3)
    rig.tasks["c1"].cancel()
    await rig.at(4)
    assert rig.tasks["c1"].cancelled()
    assert await rig.store.entries("help") == []
    assert (await rig.status("a1")).state is AgentState.AVAILABLE
    rec = (await rig.records("help"))["c1"]
    assert (rec.outcome, rec.left_wall) == ("abandoned", WALL0 + 3)


async def test_an_agent_ringing_cannot_make_themselves_available(make_rig: Factory) -> None:
    # a1 is rung for c1 (never answers: 15 s offer). Setting themselves available meanwhile
    # would let the dispatcher offer them c2 too, and both could be connected at once: the
    # move is refused while the engine holds them (RESERVED), like ON_CALL.
    rig = await make_rig([queue("help", offer_timeout=15.0)], [agent("a1", "help")], step=0.5)
    await rig.login("a1")
    await rig.arrive("c1", "help")
    await rig.arrive("c2", "help")
    await rig.at(2)
    with pytest.raises(AgentStateError):
        await rig.admin.set_agent_state("a1", AgentState.AVAILABLE, None)
    await rig.at(5)
    assert rig.offers() == [(0.0, "a1", "c1")]
    assert (await rig.status("a1")).state is AgentState.RESERVED


async def test_a_ring_that_fails_with_an_error_sets_the_agent_not_ready(
    make_rig: Factory, caplog: pytest.LogCaptureFixture,
) -> None:
    # a1's phone cannot be rung at all: the connector raises (a fault, not a NotConnected).
    # a1 must not stay reserved forever, nor be rung again and again at the same instant: a1
    # is set not ready ("unreachable") and c1 goes to a2 (who answers after 2 s) at once.
    rig = await make_rig([queue("help")], [agent("a1", "help"), agent("a2", "help")],
                         answer={"a2": 2.0}, step=0.5)
    rig.connector.broken.add("a1")
    await rig.login("a1")
    await rig.at(1)
    await rig.login("a2")
    await rig.arrive("c1", "help", talk=10)
    await rig.at(5)
    assert rig.offers() == [(1.0, "a1", "c1"), (1.0, "a2", "c1")]
    a1 = await rig.status("a1")
    assert (a1.state, a1.reason) == (AgentState.BREAK, "unreachable")
    assert (await rig.status("a2")).state is AgentState.ON_CALL
    assert "agent a1: ringing failed" in caplog.text


# -- (3) wrap-up ----------------------------------------------------------------------------------
async def test_next_offer_comes_only_after_the_wrapup(make_rig: Factory) -> None:
    # wrap-up 30 s; a1 answers after 2 s. c1 (t=0) is answered at 2 and hangs up 50 s later,
    # at 52; c2 (t=10) waits until a1's wrap-up ends: offered at 52 + 30 = 82, answered at 84.
    rig = await make_rig([queue("help", wrapup=30.0)], [agent("a1", "help")],
                         answer={"a1": 2.0}, step=0.5)
    await rig.login("a1")
    await rig.arrive("c1", "help", talk=50)
    await rig.at(10)
    await rig.arrive("c2", "help", talk=5)
    await rig.at(52)
    assert (await rig.status("a1")).state is AgentState.WRAP_UP
    assert rig.outcome("c1").detail == {"agent": "a1", "duration": 50.0, "hung_up_by": "caller"}
    await rig.at(81.5)
    assert (await rig.status("a1")).state is AgentState.WRAP_UP
    assert rig.offers() == [(0.0, "a1", "c1")]
    await rig.at(100)
    assert rig.offers() == [(0.0, "a1", "c1"), (82.0, "a1", "c2")]
    records = await rig.records("help")
    assert records["c1"].ended_wall == WALL0 + 52 and records["c1"].wrapup_s == 30.0
    assert records["c2"].answered_wall == WALL0 + 84
    # c2 hung up at 89: a1 is in wrap-up again until 119.
    assert (await rig.status("a1")).state is AgentState.WRAP_UP
    await rig.at(119)
    assert (await rig.status("a1")).state is AgentState.AVAILABLE


# -- (4) maximum wait -----------------------------------------------------------------------------
async def test_overflow_to_another_queue_keeps_the_place(make_rig: Factory) -> None:
    # "first" has nobody; after 60 s its callers go on to "second", whose agent logs in at 100.
    # X enters "first" at 0 (place 1), Y enters "second" at 10 (place 2); X reaches "second"
    # at 60, after Y, but keeps place 1: at 100 X is offered first, Y after X's 20 s call.
    rig = await make_rig(
        [queue("first", max_wait=60.0, overflow=Overflow("queue", "second")), queue("second")],
        [agent("a2", "second")], answer={"a2": 0}, step=0.5)
    await rig.arrive("X", "first", talk=20)
    await rig.at(10)
    await rig.arrive("Y", "second", talk=20)
    await rig.at(59.5)
    assert [e.queue for e in await rig.store.entries("first")] == ["first"]
    await rig.at(60)
    assert await rig.store.entries("first") == []
    assert sorted(e.seq for e in await rig.store.entries("second")) == [1, 2]
    await rig.at(100)
    await rig.login("a2")
    await rig.at(150)
    assert rig.offers() == [(100.0, "a2", "X"), (120.0, "a2", "Y")]
    assert rig.outcome("X").result == rig.outcome("Y").result == "answered"
    first = await rig.records("first")
    assert (first["X"].outcome, first["X"].left_wall) == ("overflow", WALL0 + 60)
    # In "second" X's wait counts from entering it (60), not from its first arrival (0).
    second = sorted(await rig.store.records(queue="second"), key=lambda r: r.enqueued_wall)
    assert [(r.enqueued_wall - WALL0, r.outcome, r.agent_id, (r.answered_wall or 0) - WALL0)
            for r in second] == [(10.0, "answered", "a2", 120.0), (60.0, "answered", "a2", 100.0)]


async def test_overflow_to_voicemail_is_a_timeout_for_the_flow(make_rig: Factory) -> None:
    # Nobody serves "help"; after 30 s the caller goes back to the flow (its on_timeout label
    # leads to voicemail), still connected.
    rig = await make_rig([queue("help", max_wait=30.0, overflow=Overflow("voicemail"))],
                         [agent("a1", "help")], step=0.5)
    await rig.arrive("c1", "help")
    await rig.at(29.5)
    assert not rig.tasks["c1"].done()
    await rig.at(30)
    assert rig.outcome("c1") == QueueOutcome("timeout", {"overflow": "voicemail",
                                                         "queue": "help"})
    assert rig.calls["c1"].state is CallState.ACTIVE
    assert await rig.store.entries("help") == []
    rec = (await rig.records("help"))["c1"]
    assert (rec.outcome, rec.left_wall) == ("overflow", WALL0 + 30)


async def test_overflow_to_a_callback_stores_one_for_the_callers_number(make_rig: Factory) -> None:
    # After 45 s in "help" (nobody logged in) the caller is told they'll be called back and
    # hung up; the callback keeps their place (seq 1) and arrival. a1 logs in at 100: rung at
    # 100, answers at 102, the customer is dialed at 102 and answers 5 s later.
    rig = await make_rig([queue("help", max_wait=45.0, overflow=Overflow("callback"))],
                         [agent("a1", "help")], answer={"a1": 2.0}, step=0.5)
    rig.connector.customers["+15550100777"] = [Ring("answer", after=5.0, talk=30)]
    call = await rig.arrive("c1", "help", caller="+15550100777")
    await rig.at(50)
    outcome = rig.outcome("c1")
    assert outcome.result == "callback"
    [cb] = await rig.store.callbacks()
    assert outcome.detail == {"id": cb.id}
    assert (cb.queue, cb.number, cb.seq, cb.state) == ("help", "+15550100777", 1,
                                                         CallbackState.WAITING)
    assert cb.created_wall == WALL0 + 0
    assert call.state is CallState.ENDED
    assert waiting.CONFIRMED_TEXT in [t for t, _ in rig.tts.said]
    assert (await rig.records("help"))["c1"].outcome == "callback"
    await rig.at(100)
    await rig.login("a1")
    await rig.at(140)
    assert [(e.t, e.kind) for e in rig.connector.of("ring-agent", "ring-customer", "join")] == [
        (100.0, "ring-agent"), (102.0, "ring-customer"), (107.0, "join")]
    served = await rig.store.callback(cb.id)
    assert served is not None and served.state is CallbackState.DONE


# -- (5) callbacks that keep the caller's place ---------------------------------------------------
async def test_keep_place_callback_is_served_before_later_callers(make_rig: Factory) -> None:
    # One agent, a1, answers after 2 s; wrap-up 5 s. The queue offers the callback key "1" in
    # an entry announcement (0.4 s of fake speech).
    #   t=1   X arrives, a1 rung, answers at 3; X talks 100 s -> ends 103, a1 free at 108
    #   t=10  Z arrives (place 1 in line), t=20 A arrives (place 2)
    #   t=30  A presses 1 (callback), 32: 1 (this number), 34: 1 (confirm): A is thanked and
    #         hung up; the callback keeps A's place (seq 3) and A's arrival
    #   t=50  B arrives (seq 4), behind the callback
    #   t=108 a1 free: Z (place 1), answers at 110, talks 30 s -> 140, free at 145
    #   t=145 the callback, ahead of B: a1 rung at 145, answers at 147 and hears ringback
    #         while A's number is dialed; A answers 4 s later (151): joined, talk 20 s -> 171
    #   t=176 B at last.
    rig = await make_rig([queue("help", callback_key="1", wrapup=5.0)], [agent("a1", "help")],
                         answer={"a1": 2.0})
    number = "+15550100222"
    rig.connector.customers[number] = [Ring("answer", after=4.0, talk=20)]
    await rig.login("a1")
    await rig.at(1)
    await rig.arrive("X", "help", talk=100)
    await rig.at(10)
    await rig.arrive("Z", "help", talk=30)
    await rig.at(20)
    a_call = await rig.arrive("A", "help", caller=number)
    rig.cases.case_for["A"] = 42
    rig.press_at(30, "A", "1")
    rig.press_at(32, "A", "1")
    rig.press_at(34, "A", "1")
    await rig.at(29)
    [a_entry] = [e for e in await rig.store.entries("help") if e.seq == 3]
    # Second in line; one agent staffed and busy, no handle time yet: 2 * 180 s / 1.
    assert rig.acd.position_of(a_entry.id) == waiting.WaitStatus(2, 360.0)
    await rig.at(40)
    outcome = rig.outcome("A")
    [cb] = await rig.store.callbacks()
    assert outcome == QueueOutcome("callback", {"id": cb.id})
    assert (cb.number, cb.seq, cb.created_wall, cb.case_id) == (number, 3, WALL0 + 20, 42)
    assert a_call.state is CallState.ENDED
    said = [t for t, _ in rig.tts.said]
    assert said[-3:] == [waiting.OFFER_TEXT,
                         "We will call you back at plus 1 5 5 5 0 1 0 0 2 2 2. "
                         "Press 1 to confirm, or 2 to enter it again.",
                         waiting.CONFIRMED_TEXT]
    assert (waiting.CONFIRMED_TEXT, True) in rig.tts.said
    # The prompt that reads the number back is the only one not cached (personal data).
    assert [c for t, c in rig.tts.said if number[1:] in t.replace(" ", "")] == [False]
    await rig.at(50)
    await rig.arrive("B", "help")

    await rig.at(180)
    served = [(e.t, e.kind, e.who, e.about) for e in rig.connector.events
              if e.t >= 100 and e.kind != "unjoin"]
    assert served == [
        (108.0, "ring-agent", "a1", "Z"), (110.0, "agent-answered", "a1", ""),
        (110.0, "join", "Z", "a1"),
        (145.0, "ring-agent", "a1", "callback"), (147.0, "agent-answered", "a1", ""),
        (147.0, "ringback-on", "a1", ""), (147.0, "ring-customer", number, ""),
        (151.0, "customer-answered", number, ""), (151.0, "ringback-off", "a1", ""),
        (151.0, "join", number, "a1"),
        (176.0, "ring-agent", "a1", "B"), (178.0, "agent-answered", "a1", ""),
        (178.0, "join", "B", "a1"),
    ]
    # The agent's screen shows whom they will call back, and the case.
    [cb_offer] = [o for o in rig.connector.offers_made if o.kind == "callback"]
    assert (cb_offer.call_id, cb_offer.queue, cb_offer.caller, cb_offer.case_id) == (
        "A", "help", number, 42)
    done = await rig.store.callback(cb.id)
    assert done is not None
    assert (done.state, done.attempts, done.last_result) == (CallbackState.DONE, 1, "answered")
    assert rig.cases.notes == [
        (42, "Callback requested in queue help; the caller keeps their place in line."),
        (42, "Callback attempt 1: connected to agent a1."),
    ]
    records = await rig.records("help")
    assert records["A"].outcome == "callback"
    cb_rec = records["cb-A"]
    assert (cb_rec.outcome, cb_rec.agent_id, cb_rec.answered_wall, cb_rec.ended_wall) == (
        "answered", "a1", WALL0 + 151, WALL0 + 171)


async def test_callback_retries_then_fails_with_a_note_each_attempt(make_rig: Factory) -> None:
    # Up to 3 attempts, 60 s apart; a customer rings 25 s before no-answer. a1 answers at once,
    # wrap-up 10 s after a call (none after an attempt nobody answered).
    #   t=10  callback asked for (the IVR's callback step): a1 rung, the customer is dialed
    #         at 10: busy after 3 s (13) -> attempt 1 of 3, next at 13 + 60 = 73
    #   t=20  B arrives and is served meanwhile (a1 free again at 13): talks 30 s -> 50, +10
    #   t=73  attempt 2: dialed at 73, no answer at 98 -> next at 158
    #   t=158 attempt 3: busy at 161 -> FAILED, no more attempts.
    rig = await make_rig(
        [queue("help", wrapup=10.0, callback=CallbackPolicy(max_attempts=3, retry_after=60.0,
                                                            ring_timeout=25.0))],
        [agent("a1", "help")], answer={"a1": 0}, step=0.5)
    number = "+15550100444"
    rig.connector.customers[number] = [Ring("busy", after=3.0), Ring("no-answer"),
                                       Ring("busy", after=3.0)]
    await rig.login("a1")
    ivr_call = await rig.answered_call(number)
    rig.cases.case_for["C"] = 7
    await rig.at(10)
    cb_id = await rig.acd.request_callback(ivr_call, QueueRequest("help"), number)
    await rig.at(20)
    await rig.arrive("B", "help", talk=30)
    await rig.at(200)

    assert [(e.t, e.kind) for e in rig.connector.of(
        "ring-customer", "customer-busy", "customer-no-answer")] == [
        (10.0, "ring-customer"), (13.0, "customer-busy"),
        (73.0, "ring-customer"), (98.0, "customer-no-answer"),
        (158.0, "ring-customer"), (161.0, "customer-busy")]
    assert (20.0, "a1", "B") in rig.offers()
    cb = await rig.store.callback(cb_id)
    assert cb is not None
    assert (cb.state, cb.attempts, cb.last_result) == (CallbackState.FAILED, 3, "busy")
    assert [text for case, text in rig.cases.notes if case == 7] == [
        "Callback requested in queue help; the caller keeps their place in line.",
        "Callback attempt 1 of 3: busy; next attempt in 60 s.",
        "Callback attempt 2 of 3: no-answer; next attempt in 60 s.",
        "Callback attempt 3 of 3: busy; no more attempts.",
    ]
    assert await rig.store.entries("help") == []
    assert (await rig.status("a1")).state is AgentState.AVAILABLE
    # Every agent call made for an attempt was hung up.
    assert all(c.state is CallState.ENDED for c in rig.connector.agent_calls["a1"])


# -- (6) a scripted day ---------------------------------------------------------------------------
async def test_a_scripted_day_gives_the_figures_worked_by_hand(make_rig: Factory) -> None:
    # "support" (ann, bob; longest idle; service level 20 s; after 120 s callers go on to
    # "backup"; callback key 1) and "backup" (cat; service level 30 s). Every agent answers
    # 5 s after being rung; wrap-up 10 s. ann logs in at 0, bob at 5, cat at 0.
    #
    #  call  arrives  what happens                                   wait  talk  agent
    #  c1    100      ann rung 100, answers 105, talks to 225           5   120  ann (free 235)
    #  c2    130      bob (ann busy) 130 -> 135, talks to 335           5   200  bob (free 345)
    #  c3    160      waits; ann free at 235: 235 -> 240, to 310       80    70  ann (free 320)
    #  c4    170      waits behind c3, hangs up at 200                 30  (abandoned)
    #  c5    180      waits; at 300 (120 s) goes on to backup         120  (overflow)
    #        backup:  cat rung 300 -> 305, talks to 405; backup counts
    #                 the wait from entering it (300), not from 180     5   100  cat
    #  c6    400      ann (idle since 320, bob since 345) 400 -> 405    5    95  ann (free 510)
    #  c7    410      bob 410 -> 415, talks to 700                      5   285  bob (free 710)
    #  c8    420      waits; presses 1 at 430, 1 at 432, 1 at 434: a callback that keeps
    #                 place 8 and arrival 420 (the call's own record: outcome "callback")
    #  c9    450      waits behind the callback
    #  cb    (420)    ann free at 510: the callback (place 8) before c9 (place 9): ann rung
    #                 510 -> 515, c8's number dialed 515, answers 525, talks to 585
    #                                                                 105    60  ann (free 595)
    #  c9             hangs up at 540                                  90  (abandoned)
    #  c10   520      waits; ann free at 595: 595 -> 600, to 710       80   110  ann (free 720)
    #  c11   800      bob (idle since 710, ann since 720) 800 -> 805    5   100  bob
    #  c12   810      ann 810 -> 815, talks to 865                      5    50  ann
    rig = await make_rig(
        [queue("support", service_level=20.0, max_wait=120.0,
               overflow=Overflow("queue", "backup"), callback_key="1", wrapup=10.0),
         queue("backup", service_level=30.0, wrapup=10.0)],
        [agent("ann", "support"), agent("bob", "support"), agent("cat", "backup")],
        answer={"ann": 5.0, "bob": 5.0, "cat": 5.0}, step=1.0)
    rig.connector.customers["+15550100008"] = [Ring("answer", after=10.0, talk=60)]
    await rig.login("ann", "cat")
    await rig.at(5)
    await rig.login("bob")
    script = [(100, "c1", 120), (130, "c2", 200), (160, "c3", 70), (170, "c4", None),
              (180, "c5", 100), (400, "c6", 95), (410, "c7", 285), (420, "c8", None),
              (450, "c9", None), (520, "c10", 110), (800, "c11", 100), (810, "c12", 50)]
    for t, call_id, talk in script:
        await rig.at(t)
        await rig.arrive(call_id, "support", talk=talk,
                         caller="+15550100008" if call_id == "c8" else "")
        if call_id == "c4":
            rig.hang_up_at(200, "c4")
        if call_id == "c8":
            for at in (430, 432, 434):
                rig.press_at(at, "c8", "1")
        if call_id == "c9":
            rig.hang_up_at(540, "c9")
    await rig.at(1000)
    assert all(task.done() for task in rig.tasks.values())
    assert (await rig.store.callbacks())[0].state is CallbackState.DONE

    support = await rig.admin.queue_figures("support", None, None)
    # offered: 12 calls, c8 counted once (by its callback's own record) = 12
    # answered: c1 c2 c3 c6 c7 cb c10 c11 c12 = 9; abandoned c4 c9 = 2; overflow c5;
    #   callback c8 (its callback is the answered cb)
    # ASA = (5 + 5 + 80 + 5 + 5 + 105 + 80 + 5 + 5) / 9 = 295 / 9
    # AHT = talk + 10 s wrap-up each: (130 + 210 + 80 + 105 + 295 + 70 + 120 + 110 + 60) / 9
    #     = 1180 / 9
    # within 20 s: c1 c2 c6 c7 c11 c12 = 6; service level = 6 / (9 answered + 2 abandoned)
    # abandonment = 2 / 12; longest wait: c5's 120 s
    assert support == {
        "queue": "support", "since": None, "until": None, "threshold": 20.0,
        "offered": 12, "answered": 9, "abandoned": 2, "short_abandoned": 0, "overflowed": 1,
        "callbacks": 1, "deflected": 0, "timed_out": 0, "waiting": 0, "answered_within": 6,
        "asa": pytest.approx(295 / 9), "aht": pytest.approx(1180 / 9),
        "abandonment_rate": pytest.approx(2 / 12), "service_level": pytest.approx(6 / 11),
        "max_wait": 120.0,
    }
    backup = await rig.admin.queue_figures("backup", None, None)
    # c5 alone: answered 5 s after entering backup (within its 30 s): SL 1 / 1
    assert backup == {
        "queue": "backup", "since": None, "until": None, "threshold": 30.0,
        "offered": 1, "answered": 1, "abandoned": 0, "short_abandoned": 0, "overflowed": 0,
        "callbacks": 0, "deflected": 0, "timed_out": 0, "waiting": 0, "answered_within": 1,
        "asa": 5.0, "aht": 110.0, "abandonment_rate": 0.0, "service_level": 1.0,
        "max_wait": 5.0,
    }
    # ann: c1 c3 c6 cb c10 c12; talk 120 + 70 + 95 + 60 + 110 + 50 = 505, wrap-up 6 * 10;
    #   AHT 565 / 6; ASA (5 + 80 + 5 + 105 + 80 + 5) / 6 = 280 / 6
    # bob: c2 c7 c11; talk 200 + 285 + 100 = 585, wrap-up 30; AHT 615 / 3 = 205; ASA 5
    # cat: c5; talk 100, wrap-up 10; AHT 110; ASA 5 (its wait in backup)
    figures = {a: await rig.admin.agent_figures(a, None, None) for a in ("ann", "bob", "cat")}
    assert figures == {
        "ann": {"agent": "ann", "answered": 6, "handled": 6, "talk_time": 505.0,
                "wrapup_time": 60.0, "aht": pytest.approx(565 / 6),
                "asa": pytest.approx(280 / 6), "since": None, "until": None},
        "bob": {"agent": "bob", "answered": 3, "handled": 3, "talk_time": 585.0,
                "wrapup_time": 30.0, "aht": 205.0, "asa": 5.0, "since": None, "until": None},
        "cat": {"agent": "cat", "answered": 1, "handled": 1, "talk_time": 100.0,
                "wrapup_time": 10.0, "aht": 110.0, "asa": 5.0, "since": None,
                "until": None},
    }


async def test_a_callback_retry_waits_out_a_wall_clock_stepped_back(make_rig: Factory) -> None:
    # Retries are due by the wall clock (they survive restarts) but timed on the monotonic
    # one. Attempt 1 is busy at 13: next at wall 73. At 30 the wall clock is stepped back 2 s,
    # so when the 60 s timer fires (mono 73) the wall reads 71: not due yet. The attempt must
    # still come, when the wall clock reads 73 (mono 75), not wait for some other event.
    rig = await make_rig(
        [queue("help", callback=CallbackPolicy(max_attempts=3, retry_after=60.0))],
        [agent("a1", "help")], answer={"a1": 0}, step=0.5)
    number = "+15550100555"
    rig.connector.customers[number] = [Ring("busy", after=3.0), Ring("answer", talk=10)]
    await rig.login("a1")
    call = await rig.answered_call(number)
    await rig.at(10)
    await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(30)
    rig.wall.offset = -2.0
    await rig.at(120)
    assert [e.t for e in rig.connector.of("ring-customer")] == [10.0, 75.0]


async def test_a_callback_an_agent_does_not_answer_goes_to_the_next_agent(
    make_rig: Factory,
) -> None:
    # a1 (longest idle) never answers, a2 answers after 2 s; offers time out after 15 s. The
    # callback asked for at 10 is offered to a1 at 10; at 25 a1 goes on a break and a2 is
    # rung: answers at 27, the customer is dialed at 27 and answers at 30. The agent's miss
    # costs the customer no attempt: the one attempt made is attempt 1, and it connected.
    rig = await make_rig([queue("help", offer_timeout=15.0)],
                         [agent("a1", "help"), agent("a2", "help")], answer={"a2": 2.0},
                         step=0.5)
    number = "+15550100666"
    rig.connector.customers[number] = [Ring("answer", after=3.0, talk=10)]
    await rig.login("a1")
    await rig.at(1)
    await rig.login("a2")
    call = await rig.answered_call(number)
    rig.cases.case_for["C"] = 9
    await rig.at(10)
    cb_id = await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(60)
    assert rig.offers() == [(10.0, "a1", "callback"), (25.0, "a2", "callback")]
    assert [(e.t, e.who) for e in rig.connector.of("ring-customer", "join")] == [
        (27.0, number), (30.0, number)]
    a1 = await rig.status("a1")
    assert (a1.state, a1.reason) == (AgentState.BREAK, "missed-offer")
    cb = await rig.store.callback(cb_id)
    assert cb is not None
    assert (cb.state, cb.attempts) == (CallbackState.DONE, 1)
    assert [t for _, t in rig.cases.notes][1:] == ["Callback attempt 1: connected to agent a2."]


async def test_a_callback_whose_agent_ring_fails_goes_to_the_next_agent(make_rig: Factory) -> None:
    # The same fault on a callback's offer: a1 is set not ready, the callback goes back in
    # line without losing an attempt (WAITING, not stuck DIALING) and a2 takes it at once.
    rig = await make_rig([queue("help")], [agent("a1", "help"), agent("a2", "help")],
                         answer={"a2": 0}, step=0.5)
    rig.connector.broken.add("a1")
    number = "+15550100888"
    rig.connector.customers[number] = [Ring("answer", after=1.0, talk=5)]
    await rig.login("a1")
    await rig.at(1)
    await rig.login("a2")
    call = await rig.answered_call(number)
    cb_id = await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(10)
    assert rig.offers() == [(1.0, "a1", "callback"), (1.0, "a2", "callback")]
    assert (await rig.status("a1")).reason == "unreachable"
    cb = await rig.store.callback(cb_id)
    assert cb is not None
    assert (cb.state, cb.attempts) == (CallbackState.DONE, 1)
