"""The ACD when something breaks under a call or is withdrawn (fake clock, fake connector, see
acd_rig.py): a connector that raises while a callback is dialed, an agent who leaves while the
customer's phone rings, an agent whose browser goes away and never comes back, a callback
cancelled while it waits, an offer withdrawn before its task ran, a called-back customer
transferred by the agent."""

from __future__ import annotations

from ivr.services import QueueRequest
from routing.model import AgentState, CallbackPolicy, CallbackState
from routing.session import LOST_AGENT_CAUSE, Target
from tests.routing.acd_rig import Factory, Ring, agent, queue


async def test_a_callback_whose_customer_ring_raises_is_retried_not_stuck(
    make_rig: Factory,
) -> None:
    # Attempt 1 at 10: the connector raises. The attempt counts as failed, a1 is free at once
    # and nothing is offered again until the retry is due (60 s later: no reserve/release
    # loop on a callback left DIALING). Attempt 2 at 70 reaches the customer.
    rig = await make_rig(
        [queue("help", wrapup=5.0, callback=CallbackPolicy(max_attempts=3, retry_after=60.0))],
        [agent("a1", "help")], answer={"a1": 0}, step=0.5)
    number = "+15550100777"
    rig.connector.broken_numbers.add(number)
    rig.connector.customers[number] = [Ring("answer", after=2.0, talk=10)]
    await rig.login("a1")
    call = await rig.answered_call(number)
    await rig.at(10)
    cb_id = await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(30)
    cb = await rig.store.callback(cb_id)
    assert cb is not None
    assert (cb.state, cb.attempts, cb.last_result) == (CallbackState.WAITING, 1, "failed")
    assert (await rig.status("a1")).state is AgentState.AVAILABLE
    assert all(c.state.value == "ended" for c in rig.connector.agent_calls["a1"])
    rig.connector.broken_numbers.clear()
    await rig.at(100)
    assert rig.offers() == [(10.0, "a1", "callback"), (70.0, "a1", "callback")]
    cb = await rig.store.callback(cb_id)
    assert cb is not None and (cb.state, cb.attempts) == (CallbackState.DONE, 2)


async def test_the_agent_leaving_while_the_customer_rings_costs_no_attempt(
    make_rig: Factory,
) -> None:
    # a1 answers the callback at 10 and hangs up at 12 while the customer's phone rings (it
    # would answer at 15). Not the customer's doing: the callback is due again at once, a1
    # takes it again (no wrap-up after an attempt) and the customer answers: attempt 1, DONE.
    rig = await make_rig([queue("help", wrapup=5.0)], [agent("a1", "help")],
                         answer={"a1": 0}, step=0.5)
    number = "+15550100555"
    rig.connector.customers[number] = [Ring("answer", after=5.0, talk=10),
                                       Ring("answer", after=1.0, talk=10)]
    await rig.login("a1")
    call = await rig.answered_call(number)
    await rig.at(10)
    cb_id = await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(12)
    [first] = rig.connector.agent_calls["a1"]
    first.ended("remote-bye")
    await rig.at(40)
    assert [t for t, who, _ in rig.offers()] == [10.0, 15.0]
    cb = await rig.store.callback(cb_id)
    assert cb is not None
    assert (cb.state, cb.attempts, cb.last_result) == (CallbackState.DONE, 1, "answered")


async def test_a_caller_whose_agent_is_lost_goes_back_to_the_head_of_the_line(
    make_rig: Factory,
) -> None:
    # a1 answers A at 0; B arrives at 5 and waits. At 30 a1's browser goes away; it does not
    # come back within the 20 s grace, so at 50 A goes back to the queue ahead of B (A's
    # record: answered; a new one from 50) and a1 goes offline (no desk to offer calls to).
    # a1 logs in again at 70 and is offered A, not B.
    rig = await make_rig([queue("help", wrapup=10.0)], [agent("a1", "help")],
                         answer={"a1": 0}, step=0.5)
    await rig.login("a1")
    a_call = await rig.arrive("A", "help")
    await rig.at(5)
    await rig.arrive("B", "help")
    await rig.at(30)
    [lost] = rig.connector.agent_calls["a1"]
    lost.ended(LOST_AGENT_CAUSE)
    await rig.at(49)
    assert a_call.state.value == "active" and [e.call_id for e in
                                               await rig.store.entries("help")] == ["B"]
    await rig.at(51)
    assert (await rig.store.agent_status("a1")).state is AgentState.OFFLINE
    await rig.at(70)
    assert rig.offers() == [(0.0, "a1", "A")]
    await rig.login("a1")
    await rig.at(75)
    assert rig.offers() == [(0.0, "a1", "A"), (70.0, "a1", "A")]
    assert a_call.state.value == "active"


async def test_a_cancelled_callback_leaves_the_line_and_the_figures_waiting_count(
    make_rig: Factory,
) -> None:
    rig = await make_rig([queue("help")], [agent("a1", "help")], step=0.5)
    call = await rig.answered_call("+15550100999")
    await rig.at(10)
    cb_id = await rig.acd.request_callback(call, QueueRequest("help"), "+15550100999")
    await rig.at(20)
    assert (await rig.admin.queue_figures("help", None, None))["waiting"] == 1
    assert await rig.acd.cancel_callback(cb_id)
    assert not await rig.acd.cancel_callback(cb_id)  # once
    cb = await rig.store.callback(cb_id)
    assert cb is not None and cb.state is CallbackState.CANCELLED
    assert await rig.store.entries("help") == []
    figures = await rig.admin.queue_figures("help", None, None)
    assert (figures["offered"], figures["waiting"]) == (1, 0)
    await rig.login("a1")
    await rig.at(40)
    assert rig.offers() == []  # nothing left to offer


async def test_an_offer_withdrawn_before_its_first_step_still_frees_its_agent(
    make_rig: Factory,
) -> None:
    # The caller's withdrawal (a hang-up, a callback, an overflow) can run in the same loop
    # turn as the dispatch pass that reserved an agent for them, before the offer task's first
    # step: a task cancelled then never runs its body, so its own clean-up cannot free the
    # agent. Here the pass and the withdrawal run back to back, with no step in between.
    rig = await make_rig([queue("help")], [agent("a1", "help")], step=0.5)
    await rig.arrive("A", "help")
    await rig.at(5)
    [entry] = await rig.store.entries("help")
    await rig.store.transition("a1", AgentState.AVAILABLE, now=rig.clock.now())
    await rig.acd._dispatch()
    assert (await rig.store.agent_status("a1")).state is AgentState.RESERVED
    await rig.acd._withdraw(entry)
    status = await rig.store.agent_status("a1")
    assert (status.state, status.reserved_for) == (AgentState.AVAILABLE, None)
    assert rig.offers() == []  # the ring never started
    await rig.arrive("B", "help")
    await rig.at(10)
    assert [who for _, who, _ in rig.offers()] == ["a1"]  # and the agent takes the next one


async def test_a_called_back_customer_transferred_by_the_agent_reaches_the_next_agent(
    make_rig: Factory,
) -> None:
    # a1 takes the callback at 10; the customer answers at 12. At 20 a1 blind-transfers the
    # customer to a2, who answers: the customer's call goes on with a2 (not left hearing
    # music with nobody on the line), and a1 wraps up.
    rig = await make_rig([queue("help", wrapup=5.0)], [agent("a1", "help"), agent("a2", "help")],
                         answer={"a1": 0, "a2": 0}, step=0.5)
    number = "+15550100555"
    rig.connector.customers[number] = [Ring("answer", after=2.0)]
    await rig.login("a1")
    call = await rig.answered_call(number)
    await rig.at(10)
    await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(15)
    customer = rig.acd.sessions["a1"].caller
    assert customer.dialed == number
    await rig.login("a2")
    rig.acd.sessions["a1"].transfer(Target("agent", "a2"))
    await rig.at(25)
    assert "a2" in rig.acd.sessions and rig.acd.sessions["a2"].caller is customer
    assert customer.state.value == "active"
    assert (await rig.store.agent_status("a1")).state in (AgentState.WRAP_UP,
                                                           AgentState.AVAILABLE)
    [a2_call] = rig.connector.agent_calls["a2"]
    a2_call.ended("remote-bye")  # a2 hangs up at 25: the customer's call ends with it
    await rig.at(27)
    assert customer.state.value == "ended"
    assert (await rig.store.agent_status("a2")).state is AgentState.WRAP_UP
