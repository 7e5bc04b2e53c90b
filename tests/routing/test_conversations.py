"""Text conversations through the ACD (`routing.conversations`): offers, capacity shared with
calls, declines and timeouts, replies to the same agent, logouts, sticky agents, queues by
channel and a restart. Everything runs on the ACD rig's fake clock (no wall-clock sleeps)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from routing.model import AgentConfig, AgentState
from routing.text_model import TextRoutingError
from tests.routing.acd_rig import WALL0, Factory, agent, queue, settle
from tests.routing.text_rig import FakeTextCases, Row, TextRig

ALL = ("voice", "chat", "sms", "whatsapp", "email")
MakeText = Callable[..., Awaitable[TextRig]]


def multi(agent_id: str, *queues: str, total: int = 3, **capacity: int) -> AgentConfig:
    """An agent of `queues` with `total` max_concurrent and per-channel `capacity`."""
    return replace(agent(agent_id, *queues), max_concurrent=total,
                   capacity=capacity or {"voice": 1, "chat": 2})


@pytest.fixture
async def make_text(make_rig: Factory) -> AsyncIterator[MakeText]:
    made: list[TextRig] = []

    async def make(queues: list[object], agents: list[AgentConfig],
                   answer: dict[str, float] | None = None) -> TextRig:
        rig = await make_rig(queues, agents, answer=answer or {a.id: 0 for a in agents},
                             step=0.5)
        text = TextRig(rig)
        made.append(text)
        return text

    yield make
    for text in made:
        # The load counters the dispatchers read agree with a recount, whatever happened.
        for agent_id in text.rig.acd.agents:
            for channel in (None, *ALL):
                assert text.router.load_of(agent_id, channel) == \
                    text.router.count_load(agent_id, channel), (agent_id, channel)
        await text.close()


async def test_a_chat_is_offered_accepted_and_recorded_on_the_case(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help")])
    await t.rig.login("ana")
    conv_id = await t.write(1, "chat", who="visitor:abc")
    [offer] = t.of("ana", "conversation_offer")
    assert offer["timeout"] == 15.0
    assert offer["conversation"] == {
        "id": conv_id, "case_id": 1, "channel": "chat", "queue": "help", "state": "offered",
        "agent": None, "unread": 1, "last_message_at": datetime.fromtimestamp(
            WALL0, UTC).isoformat(), "waiting_since": datetime.fromtimestamp(
            WALL0, UTC).isoformat(), "customer": "visitor:abc", "repeat": None}
    assert t.router.live_cases("ana") == {1}
    await t.take("ana")
    [update] = t.of("ana", "conversation")
    assert update["conversation"]["state"] == "assigned"
    assert update["conversation"]["agent"] == "ana"
    assert (t.cases.rows[conv_id].agent, t.cases.rows[conv_id].queue) == ("ana", "help")
    assert [c.id for c in t.router.conversations_of("ana")] == [conv_id]
    assert t.router.offers_of("ana") == []
    assert t.router.live_cases("ana") == {1}
    assert t.router.live_agents(1) == {"ana"}


async def test_two_chats_and_a_call_within_capacity_and_the_third_chat_waits(
    make_text: MakeText,
) -> None:
    # The must-show: chat 2 / voice 1 / max_concurrent 3.
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help", total=3)])
    await t.rig.login("ana")
    first = await t.write(1)
    await t.take("ana")
    second = await t.write(2)
    await t.take("ana")
    await t.rig.arrive("c1", "help", talk=600)
    await t.rig.at(t.rig.clock.now() + 1)
    assert [about for _, who, about in t.rig.offers()] == ["c1"]
    assert (await t.rig.status("ana")).state is AgentState.ON_CALL
    third = await t.write(3)
    assert t.router.offers_of("ana") == []
    assert t.router.conversation(third) is not None
    assert t.router.conversation(third).state.value == "waiting"  # type: ignore[union-attr]
    await t.router.close("ana", first)
    await settle(t.rig.clock)
    assert t.cases.ended == [(first, "completed")]
    assert t.of("ana", "conversation_closed") == [{"type": "conversation_closed", "id": first}]
    [offer] = t.router.offers_of("ana")
    assert offer["conversation"]["id"] == third
    assert second in {c.id for c in t.router.conversations_of("ana")}


async def test_a_total_of_two_keeps_the_call_waiting_until_a_chat_closes(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help", total=2)])
    await t.rig.login("ana")
    first = await t.write(1)
    await t.take("ana")
    await t.write(2)
    await t.take("ana")
    await t.rig.arrive("c1", "help", talk=60)
    await t.rig.at(t.rig.clock.now() + 5)
    assert t.rig.offers() == []  # two chats fill a total of two: no call
    await t.router.close("ana", first)  # the chat closing kicks the voice dispatcher
    await t.rig.at(t.rig.clock.now() + 1)
    assert [about for _, _, about in t.rig.offers()] == ["c1"]


async def test_a_call_ending_kicks_the_text_dispatcher(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL, wrapup=5.0)],
                        [multi("ana", "help", total=2)])
    await t.rig.login("ana")
    await t.rig.arrive("c1", "help", talk=30)
    await t.rig.at(1)
    await t.write(1)
    await t.take("ana")
    await t.write(2)
    assert t.router.offers_of("ana") == []  # a call and a chat: the total of two is full
    await t.rig.at(40)  # the call ended at ~30; wrap-up does not hold a place
    assert len(t.router.offers_of("ana")) == 1


async def test_declined_and_lapsed_offers_go_to_the_next_agent(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL, offer_timeout=10.0)],
                        [multi("ana", "help"), multi("bob", "help"), multi("cy", "help")])
    await t.rig.login("ana", "bob", "cy")
    conv = await t.write(1)
    first = next(a for a in ("ana", "bob", "cy") if t.router.offers_of(a))
    await t.router.decline(first, t.offer(first))
    await settle(t.rig.clock)
    assert t.of(first, "conversation_offer_withdrawn")[-1]["reason"] == "declined"
    second = next(a for a in ("ana", "bob", "cy") if t.router.offers_of(a))
    assert second != first
    await t.rig.at(t.rig.clock.now() + 10.5)  # the second lets it lapse
    assert t.of(second, "conversation_offer_withdrawn")[-1]["reason"] == "timeout"
    third = next(a for a in ("ana", "bob", "cy") if t.router.offers_of(a))
    assert third not in (first, second)
    assert t.router.offers_of(third)[0]["conversation"]["id"] == conv


async def test_an_agent_who_passed_is_offered_again_only_when_nobody_else_can(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL, offer_timeout=10.0)],
                        [multi("ana", "help")])
    await t.rig.login("ana")
    await t.write(1)
    await t.router.decline("ana", t.offer("ana"))
    await t.rig.at(t.rig.clock.now() + 5)
    assert t.router.offers_of("ana") == []  # not at once
    await t.rig.at(t.rig.clock.now() + 6)
    assert len(t.router.offers_of("ana")) == 1  # nobody else: again after offer_timeout


async def test_a_customer_reply_goes_to_the_same_agent_never_rerouted(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana", "bob")
    conv = await t.write(1, "sms", who="+34612345678")
    owner = next(a for a in ("ana", "bob") if t.router.offers_of(a))
    other = "bob" if owner == "ana" else "ana"
    await t.take(owner)
    t.router.read(owner, conv)
    await t.write(1, "sms", who="+34612345678")
    update = t.of(owner, "conversation")[-1]["conversation"]
    assert (update["id"], update["unread"], update["agent"]) == (conv, 1, owner)
    assert update["waiting_since"] is not None
    assert t.of(other, "conversation_offer") == []
    assert t.router.read(owner, conv).unread == 0
    await t.reply(conv)
    assert t.of(owner, "conversation")[-1]["conversation"]["waiting_since"] is None


async def test_an_agent_logging_out_gives_conversations_back_and_is_preferred_again(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana")
    conv = await t.write(1)
    await t.take("ana")
    await t.rig.admin.set_agent_state("ana", AgentState.OFFLINE, None)
    await t.rig.at(t.rig.clock.now() + 29)
    assert [c.id for c in t.router.conversations_of("ana")] == [conv]  # the grace (30 s)
    await t.rig.at(t.rig.clock.now() + 2)
    found = t.router.conversation(conv)
    assert found is not None and found.state.value == "waiting" and found.preferred == "ana"
    assert t.router.conversations_of("ana") == []
    # While ana is away the conversation is not held for her: bob, eligible, is offered it.
    await t.rig.login("bob")
    assert t.router.offers_of("bob")[0]["conversation"]["id"] == conv
    await t.router.decline("bob", t.offer("bob"))
    await t.rig.login("ana")
    assert t.router.offers_of("ana")[0]["conversation"]["id"] == conv


async def test_a_desk_that_reloads_keeps_its_conversations(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana")
    conv = await t.write(1)
    await t.take("ana")
    await t.rig.login("bob")
    await t.rig.admin.set_agent_state("ana", AgentState.OFFLINE, None)
    await t.rig.at(t.rig.clock.now() + 3)
    await t.write(1)  # meanwhile the customer writes: still ana's
    await t.rig.login("ana")
    await t.rig.at(t.rig.clock.now() + 60)
    [mine] = t.router.conversations_of("ana")
    assert (mine.id, mine.unread) == (conv, 2)  # the first line, unread, and this one
    assert t.of("bob", "conversation_offer") == []


async def test_a_preferred_agent_who_is_eligible_is_offered_first(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana")
    await t.rig.admin.set_agent_state("bob", AgentState.BREAK, "coffee")
    await t.rig.at(10)
    conv = await t.write(1)
    await t.take("ana")  # ana took one at 10: bob (never) would be the usual pick
    await t.rig.admin.set_agent_state("ana", AgentState.OFFLINE, None)
    await t.rig.at(t.rig.clock.now() + 31)
    assert t.router.offers_of("bob") == []  # on a break
    await t.rig.admin.set_agent_state("bob", AgentState.AVAILABLE, None)
    await t.rig.admin.set_agent_state("ana", AgentState.AVAILABLE, None)
    await settle(t.rig.clock)
    assert t.router.offers_of("ana")[0]["conversation"]["id"] == conv
    assert t.router.offers_of("bob") == []


async def test_an_agent_on_break_gets_no_offer_and_loses_a_pending_one(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help")])
    await t.rig.login("ana")
    await t.write(1)
    offer_id = t.offer("ana")
    await t.rig.admin.set_agent_state("ana", AgentState.BREAK, "lunch")
    await settle(t.rig.clock)
    assert t.router.offers_of("ana") == []
    with pytest.raises(TextRoutingError) as err:
        await t.router.accept("ana", offer_id)
    assert err.value.code == "bad_offer"
    await t.rig.login("ana")
    assert len(t.router.offers_of("ana")) == 1


async def test_a_returning_customer_goes_to_their_last_agent_within_sticky_for(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL, sticky_for=600.0)],
                        [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana", "bob")
    await t.rig.at(10)
    conv = await t.write(7)
    owner = next(a for a in ("ana", "bob") if t.router.offers_of(a))
    await t.take(owner)
    await t.router.close(owner, conv)
    await t.rig.at(t.rig.clock.now() + 100)
    again = await t.write(7)
    assert again != conv
    assert t.router.offers_of(owner)[0]["conversation"]["id"] == again
    await t.take(owner)
    await t.router.close(owner, again)
    # Past sticky_for: the usual pick (the least loaded, longest since a conversation).
    other = "bob" if owner == "ana" else "ana"
    await t.rig.at(t.rig.clock.now() + 700)
    third = await t.write(7)
    assert t.router.offers_of(other)[0]["conversation"]["id"] == third


async def test_a_conversation_goes_to_the_first_queue_serving_its_channel(
    make_text: MakeText,
) -> None:
    t = await make_text(
        [queue("calls"), queue("mail", channels=("email",)), queue("chats", channels=("chat",)),
         queue("chats2", channels=("chat",))],
        [multi("ana", "calls", "mail", "chats", "chats2", email=3)])
    await t.rig.login("ana")
    chat = await t.write(1, "chat")
    mail = await t.write(2, "email")
    assert t.router.conversation(chat).queue == "chats"  # type: ignore[union-attr]
    assert t.router.conversation(mail).queue == "mail"  # type: ignore[union-attr]
    sms = await t.write(3, "sms")  # nobody serves SMS: not routed, and said once in the log
    assert t.router.conversation(sms) is None
    # An interaction that already names a queue serving its channel stays there.
    row = t.cases.open_on(4, "chat")
    t.cases.rows[row.id] = replace(row, queue="chats2")
    await t.write(4, interaction=row.id)
    assert t.router.conversation(row.id).queue == "chats2"  # type: ignore[union-attr]


async def test_skills_and_queues_and_channel_capacity_decide_who_is_eligible(
    make_text: MakeText,
) -> None:
    t = await make_text(
        [queue("help", channels=ALL, skills=("fr",))],
        [replace(multi("ana", "help"), skills={"en": 5}),
         replace(multi("bob", "help", total=3, voice=1, chat=1), skills={"fr": 2})])
    await t.rig.login("ana", "bob")
    await t.write(1)
    assert t.router.offers_of("ana") == []  # no French
    await t.take("bob")
    await t.write(2)
    assert t.router.offers_of("bob") == []  # chat capacity 1
    await t.write(3, "email")
    assert len(t.router.offers_of("bob")) == 1  # email: capacity defaults to the total


async def test_commands_refuse_what_is_not_the_agents(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana")
    conv = await t.write(1)
    offer_id = t.offer("ana")
    for call, code in (
        (t.router.accept("ana", "nope"), "bad_offer"),
        (t.router.accept("bob", offer_id), "not_yours"),
        (t.router.decline("bob", offer_id), "not_yours"),
        (t.router.close("ana", 99999), "no_conversation"),
        (t.router.close("ana", conv), "not_yours"),  # offered, not yet taken
    ):
        with pytest.raises(TextRoutingError) as err:
            await call
        assert err.value.code == code
    with pytest.raises(TextRoutingError) as err:
        t.router.read("bob", conv)
    assert err.value.code == "not_yours"
    await t.take("ana")
    with pytest.raises(TextRoutingError) as err:
        await t.router.close("bob", conv)
    assert err.value.code == "not_yours"


async def test_restart_puts_open_conversations_back_in_line(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    at = datetime.fromtimestamp(WALL0 - 300, UTC)
    cases = t.cases
    cases.rows[5] = Row(5, 50, "sms", at, agent="bob", queue="help", customer="+34600000000",
                        last_inbound_at=at)
    cases.rows[6] = Row(6, 60, "email", at, customer="c@example.com", last_inbound_at=at,
                        last_outbound_at=datetime.fromtimestamp(WALL0 - 200, UTC))
    cases.rows[7] = Row(7, 70, "chat", at, ended_at=at, agent="ana")
    assert await t.router.restore() == 2
    five, six = t.router.conversation(5), t.router.conversation(6)
    assert five is not None and six is not None and t.router.conversation(7) is None
    assert (five.queue, five.preferred, five.customer, five.state.value) == (
        "help", "bob", "+34600000000", "waiting")
    assert five.waiting_since_wall == WALL0 - 300
    assert six.waiting_since_wall is None  # answered after the customer last wrote
    await t.rig.login("ana", "bob")
    assert t.router.offers_of("bob")[0]["conversation"]["id"] == 5


async def test_the_figures_time_first_and_next_responses_per_channel(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL, response_targets=(("chat", 30.0),))],
                        [multi("ana", "help", total=3, chat=3)])
    await t.rig.login("ana")
    quick = await t.write(1)  # t=0
    await t.take("ana")
    await t.rig.at(10)
    await t.reply(quick)  # first response 10 s
    await t.rig.at(20)
    await t.write(1)  # the customer again: next response timer from 20
    await t.rig.at(25)
    await t.write(1)  # a second line before the reply does not restart it
    await t.rig.at(50)
    await t.reply(quick)  # next response 30 s
    slow = await t.write(2)  # t=50
    await t.take("ana")
    await t.rig.at(150)
    await t.reply(slow)  # first response 100 s: past the 30 s target
    waiting = await t.write(3)  # t=150, never answered
    await t.take("ana")
    await t.rig.at(200)
    await t.write(4)  # in line: ana's chats are full
    await t.rig.at(240)
    chat = t.router.figures("help")["chat"]
    assert (chat.offered, chat.responded, chat.responded_within) == (4, 2, 1)
    assert chat.asa == pytest.approx(55.0)
    assert chat.max_first_response == pytest.approx(100.0)
    assert chat.threshold == 30.0
    # The one unanswered for 90 s counts against; the one in line 40 s too.
    assert chat.unanswered_past_target == 2
    assert chat.service_level == pytest.approx(1 / 4)
    assert chat.next_responses == 1
    assert chat.average_next_response == pytest.approx(30.0)
    assert (chat.waiting, chat.longest_wait) == (1, 40.0)
    assert waiting in {c.id for c in t.router.conversations_of("ana")}
    email = t.router.figures("help")["email"]
    assert (email.offered, email.threshold, email.service_level) == (0, 14400.0, None)
    live = await t.rig.admin.live()
    assert live["queues"]["help"]["channels"]["chat"]["responded"] == 2
    figures = await t.rig.admin.queue_figures("help", None, None)
    assert figures["channels"]["chat"]["asa"] == pytest.approx(55.0)


def test_fake_cases_open_one_interaction_per_channel() -> None:
    # The rig's store behaves as CaseStore does: one open interaction a channel, a new one
    # after it ends.
    class Wall:
        def __call__(self) -> float:
            return WALL0

    cases = FakeTextCases(Wall())  # type: ignore[arg-type]
    first = cases.open_on(1, "chat")
    assert cases.open_on(1, "chat") == first
    cases.rows[first.id] = replace(first, ended_at=datetime.now(UTC))
    assert cases.open_on(1, "chat").id != first.id


async def test_an_offer_past_a_capacity_lowered_meanwhile_is_refused_and_rerouted(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("ana")
    conv = await t.write(1)
    offer_id = t.offer("ana")
    await t.rig.admin.put_agent(multi("ana", "help", voice=1, chat=0))
    await t.rig.login("bob")
    with pytest.raises(TextRoutingError) as err:
        await t.router.accept("ana", offer_id)
    assert err.value.code == "over_capacity"
    await settle(t.rig.clock)
    assert t.router.offers_of("bob")[0]["conversation"]["id"] == conv


async def test_an_agent_with_no_voice_capacity_gets_no_call_but_chats(make_text: MakeText) -> None:
    t = await make_text([queue("help", channels=ALL)],
                        [multi("ana", "help", voice=0, chat=2), multi("bob", "help")])
    await t.rig.login("ana")
    await t.rig.arrive("c1", "help", talk=60)
    await t.rig.at(5)
    assert t.rig.offers() == []
    await t.write(1)
    assert len(t.router.offers_of("ana")) == 1
    await t.rig.login("bob")
    await t.rig.at(6)
    assert [(who, about) for _, who, about in t.rig.offers()] == [("bob", "c1")]


async def test_a_text_from_the_customer_on_a_call_goes_to_the_agent_talking_to_them(
    make_text: MakeText,
) -> None:
    t = await make_text([queue("help", channels=ALL)], [multi("ana", "help"), multi("bob", "help")])
    await t.rig.login("bob")
    t.rig.cases.case_for["c1"] = 9
    await t.rig.arrive("c1", "help", talk=600)
    await t.rig.at(1)
    await t.rig.login("ana")
    await t.rig.at(2)
    # bob talks to the customer of case 9 and sends them an SMS; their answer comes back.
    conv = await t.write(9, "sms")
    assert t.router.offers_of("bob")[0]["conversation"]["id"] == conv
    assert t.router.offers_of("ana") == []
