"""A call whose caller is known another way than by number (the chat's "call us"): it lands
on that customer's open case, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cases.errors import NotFound
from cases.store import CaseStore


async def test_a_known_customer_calls_on_their_open_case(store: CaseStore) -> None:
    chat = await store.open_text_interaction(channel="chat", address="visitor:abc")
    call = await store.start_voice_interaction(
        caller="web-chat", call_id="chat-1", customer_id=chat.customer_id)
    assert (call.customer_id, call.case_id) == (chat.customer_id, chat.case_id)
    timeline = await store.timeline(chat.case_id)
    assert [i["channel"] for i in timeline["interactions"]] == ["chat", "voice"]
    # Not by number: a caller field that is a phone number names nobody here.
    other = await store.start_voice_interaction(
        caller="+34612345678", call_id="chat-2", customer_id=chat.customer_id)
    assert other.case_id == chat.case_id
    assert timeline["identities"] == (await store.timeline(chat.case_id))["identities"]


async def test_after_the_case_closed_the_call_opens_the_customers_next(
    store: CaseStore,
) -> None:
    chat = await store.open_text_interaction(channel="chat", address="visitor:abc")
    await store.close_case(chat.case_id)
    call = await store.start_voice_interaction(
        caller="web-chat", call_id="chat-1", customer_id=chat.customer_id)
    assert call.customer_id == chat.customer_id and call.case_id != chat.case_id


async def test_an_unknown_customer_is_refused(store: CaseStore) -> None:
    with pytest.raises(NotFound):
        await store.start_voice_interaction(caller="web-chat", call_id="chat-1",
                                            customer_id=999_999)
    assert await store.find_case_by_call("chat-1") is None
