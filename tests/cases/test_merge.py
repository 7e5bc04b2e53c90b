"""Merging one person's two customers (SQLite and PostgreSQL): interactions and their messages
move to the surviving case, an audit row records it, and two customers with conflicting
verified identities are refused, changing nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cases.db import make_engine
from cases.errors import IdentityConflict, InvalidInput, MergeConflict, NotFound
from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.models import CustomerMerge
from cases.store import CaseStore, InteractionRef

PHONE = "+34612345678"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A second connection to the store's database, to read the audit table."""
    made = make_engine(db_url)
    try:
        yield made
    finally:
        made.dispose()


def audits(engine: Engine) -> list[CustomerMerge]:
    with Session(engine) as session:
        return list(session.scalars(select(CustomerMerge).order_by(CustomerMerge.id)))


def chat(visitor: str, body: str, mid: str, **kw: Any) -> MessageDraft:
    return MessageDraft(
        channel="chat", direction="inbound", sender=visitor, recipient="web", body=body,
        external_id=mid, **kw,
    )


async def caller_with_history(store: CaseStore) -> InteractionRef:
    """A customer known by phone: a call with a transcript and an SMS."""
    call = await store.start_voice_interaction(caller=PHONE, call_id="call-1")
    await store.add_segment(
        call.interaction_id, speaker="caller", start=0.0, end=1.5, text="my router is broken",
        confidence=0.9, engine="test",
    )
    await store.store_message(
        MessageDraft(channel="sms", direction="inbound", sender=PHONE, recipient="+34910000000",
                     body="still broken", external_id="SM1")
    )
    return call


async def test_merge_moves_interactions_and_keeps_an_audit(
    store: CaseStore, engine: Engine, bus: InProcessBus
) -> None:
    call = await caller_with_history(store)
    visitor = await store.store_message(chat("visitor-7", "it's me again", "c1"))
    await store.add_note(visitor.case_id, author="ana", text="asked on chat")
    assert visitor.customer_id != call.customer_id
    # The visitor gives the number in a pre-chat form: it is another customer's.
    with pytest.raises(IdentityConflict) as info:
        await store.add_identity(visitor.customer_id, kind="phone", value="+34 612 345 678")
    assert info.value.owner_id == call.customer_id

    async with bus.subscribe(f"case:{call.case_id}") as events:
        result = await store.merge_customers(
            visitor.customer_id, call.customer_id, actor="agent:ana", reason="same person"
        )
        event = await asyncio.wait_for(events.__aiter__().__anext__(), 5)
    assert event["type"] == "case_merged" and event["target_case_id"] == call.case_id
    assert (result.source_case_id, result.target_case_id) == (visitor.case_id, call.case_id)
    assert result.moved_interactions == (visitor.interaction_id,)
    assert result.moved_identities == (("chat", "visitor-7"),)

    timeline = await store.timeline(call.case_id)
    assert [i["channel"] for i in timeline["interactions"]] == ["voice", "sms", "chat"]
    assert timeline["interactions"][0]["segments"][0]["text"] == "my router is broken"
    assert timeline["interactions"][2]["messages"][0]["body"] == "it's me again"
    assert [n["text"] for n in timeline["notes"]] == ["asked on chat"]
    assert {(i["kind"], i["value"]) for i in timeline["identities"]} == {
        ("phone", PHONE), ("chat", "visitor-7"),
    }
    emptied = await store.timeline(visitor.case_id)
    assert emptied["case"]["status"] == "closed" and emptied["interactions"] == []
    assert await store.surviving_case(visitor.case_id) == call.case_id
    assert await store.surviving_case(call.case_id) == call.case_id

    # The visitor's next line lands on the one case.
    later = await store.store_message(chat("visitor-7", "any news?", "c2"))
    assert (later.customer_id, later.case_id) == (call.customer_id, call.case_id)
    assert later.interaction_id == visitor.interaction_id

    (audit,) = audits(engine)
    assert (audit.source_customer_id, audit.target_customer_id) == (
        visitor.customer_id, call.customer_id,
    )
    assert (audit.source_case_id, audit.target_case_id) == (visitor.case_id, call.case_id)
    assert audit.moved_interactions == [visitor.interaction_id]
    assert audit.moved_cases == [visitor.case_id]
    assert audit.moved_identities == [{"kind": "chat", "value": "visitor-7", "verified": False}]
    assert (audit.actor, audit.reason) == ("agent:ana", "same person")
    assert audit.at is not None and audit.at.tzinfo is not None


async def test_when_the_target_has_no_open_case_the_source_case_survives(
    store: CaseStore, engine: Engine
) -> None:
    call = await caller_with_history(store)
    await store.close_case(call.case_id)
    visitor = await store.store_message(chat("visitor-7", "hello", "c1"))
    result = await store.merge_customers(visitor.customer_id, call.customer_id, actor="system")
    assert result.target_case_id == result.source_case_id == visitor.case_id
    assert result.moved_interactions == ()
    assert set(result.moved_cases) == {visitor.case_id}
    timeline = await store.timeline(visitor.case_id)
    assert timeline["case"]["status"] == "open"
    assert timeline["case"]["customer_id"] == call.customer_id
    assert (await store.timeline(call.case_id))["case"]["status"] == "closed"
    # Closed history changes hands as it is.
    assert (await store.timeline(call.case_id))["case"]["customer_id"] == call.customer_id
    # The caller's next call finds the surviving open case.
    again = await store.start_voice_interaction(caller=PHONE, call_id="call-2")
    assert again.case_id == visitor.case_id
    assert await store.surviving_case(visitor.case_id) == visitor.case_id
    assert len(audits(engine)) == 1


async def test_conflicting_verified_identities_are_refused(
    store: CaseStore, engine: Engine
) -> None:
    # Two visitors each signed in through the site's HMAC: two proven accounts.
    one = await store.store_message(chat("site:user-1", "hi", "c1", verified=True))
    two = await store.store_message(chat("site:user-2", "hello", "c2", verified=True))
    before = [await store.timeline(one.case_id), await store.timeline(two.case_id)]
    with pytest.raises(MergeConflict) as info:
        await store.merge_customers(one.customer_id, two.customer_id, actor="agent:ana")
    assert (info.value.kind, info.value.source_id, info.value.target_id) == (
        "chat", one.customer_id, two.customer_id,
    )
    assert "site:user" not in str(info.value)  # identity values stay out of the message
    assert [await store.timeline(one.case_id), await store.timeline(two.case_id)] == before
    assert audits(engine) == []
    # A claimed (unverified) identity of the same kind does not block a merge.
    guest = await store.store_message(chat("guest-9", "me again", "c3"))
    await store.merge_customers(guest.customer_id, two.customer_id, actor="agent:ana")
    assert (await store.timeline(two.case_id))["interactions"][-1]["messages"][0]["body"] == (
        "me again"
    )


async def test_merge_refuses_nonsense(store: CaseStore, engine: Engine) -> None:
    call = await caller_with_history(store)
    with pytest.raises(InvalidInput) as info:
        await store.merge_customers(call.customer_id, call.customer_id, actor="a")
    assert info.value.where == "target_customer_id"
    with pytest.raises(NotFound) as found:
        await store.merge_customers(999, call.customer_id, actor="a")
    assert found.value.what == "source customer"
    with pytest.raises(InvalidInput):
        await store.merge_customers(call.customer_id, 2, actor="")
    with pytest.raises(NotFound):
        await store.surviving_case(999)
    assert audits(engine) == []


async def test_verified_identity_upgrades_and_add_identity(store: CaseStore) -> None:
    first = await store.store_message(chat("visitor-1", "hi", "c1"))
    assert await store.add_identity(first.customer_id, kind="email", value="Ana@Example.com")
    assert not await store.add_identity(first.customer_id, kind="email", value="ana@example.com")
    with pytest.raises(InvalidInput) as info:
        await store.add_identity(first.customer_id, kind="fax", value="1")
    assert info.value.where == "kind"
    with pytest.raises(NotFound):
        await store.add_identity(999, kind="chat", value="x")
    identities = (await store.timeline(first.case_id))["identities"]
    assert identities == [
        {"kind": "chat", "value": "visitor-1"}, {"kind": "email", "value": "ana@example.com"},
    ]


async def test_messages_racing_a_merge_all_land_on_the_surviving_case(store: CaseStore) -> None:
    call = await caller_with_history(store)
    visitor = await store.store_message(chat("visitor-7", "first", "c0"))
    # PostgreSQL runs these on four connections at once; each message either commits before
    # the merge (and its interaction is moved) or resolves to the target after it.
    results = await asyncio.gather(
        *(store.store_message(chat("visitor-7", f"line {n}", f"c{n}")) for n in range(1, 4)),
        store.merge_customers(visitor.customer_id, call.customer_id, actor="system"),
        *(store.store_message(chat("visitor-7", f"line {n}", f"c{n}")) for n in range(4, 8)),
    )
    assert len(results) == 8
    timeline = await store.timeline(call.case_id)
    bodies = sorted(m["body"] for i in timeline["interactions"] for m in i["messages"]
                    if i["channel"] == "chat")
    assert bodies == ["first"] + [f"line {n}" for n in range(1, 8)]
    assert (await store.timeline(visitor.case_id))["interactions"] == []
