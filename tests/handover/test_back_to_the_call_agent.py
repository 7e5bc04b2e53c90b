"""After a call, the customer's answer on a text channel goes first to the agent who took the
call: the open text interaction names the call's agent as its previous agent (the text
router prefers them for `sticky_for` seconds, `routing.conversations`). Before this, calls
were left out and the answer went to whoever was least loaded."""

from __future__ import annotations

from cases.messages import MessageDraft
from cases.store import CaseStore
from tests.helpers.databases import database_fixtures

CUSTOMER = "+34612345678"
pg_database, db_url = database_fixtures("centralita_back_to_agent", "cases.db")


async def test_the_call_agent_is_the_previous_agent_of_the_answer(db_url: str) -> None:
    store = await CaseStore.open(db_url)
    try:
        call = await store.start_voice_interaction(caller=CUSTOMER, call_id="call-1")
        await store.set_interaction_agent("call-1", "ana")
        await store.end_interaction(call.interaction_id, outcome="completed")
        answer = await store.store_message(MessageDraft(
            channel="sms", direction="inbound", sender=CUSTOMER, recipient="+34910000000",
            body="Yes, the order is 4567", external_id="SM" + "2" * 32, verified=True))
        assert answer.case_id == call.case_id
        [row] = await store.text_interactions()
        assert row.id == answer.interaction_id
        assert row.previous_agent == "ana"
        assert row.previous_ended_at is not None
    finally:
        await store.close()
