"""After a call, the customer's answer on a text channel goes first to the agent who took the
call: the open text interaction names the call's agent as its previous agent (the text
router prefers them for `sticky_for` seconds, `routing.conversations`). Before this, calls
were left out and the answer went to whoever was least loaded."""

from __future__ import annotations

from pathlib import Path

from cases.messages import MessageDraft
from cases.store import CaseStore

CUSTOMER = "+34612345678"


async def test_the_call_agent_is_the_previous_agent_of_the_answer(tmp_path: Path) -> None:
    store = await CaseStore.open(f"sqlite:///{tmp_path}/cases.db")
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
