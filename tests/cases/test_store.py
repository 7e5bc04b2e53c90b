"""CaseStore on SQLite and PostgreSQL: identity resolution, segments, notes, errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cases.errors import InvalidInput, NotFound
from cases.events import InProcessBus
from cases.store import CaseStore
from tests.cases.conftest import FakeClock


async def test_second_call_from_same_number_joins_open_case(store: CaseStore) -> None:
    first = await store.start_voice_interaction(caller="+1 (555) 010-0199", call_id="c1")
    second = await store.start_voice_interaction(
        caller="sip:+15550100199@trunk.example;user=phone", call_id="c2"
    )
    assert second.customer_id == first.customer_id
    assert second.case_id == first.case_id
    assert second.interaction_id != first.interaction_id
    timeline = await store.timeline(first.case_id)
    assert [i["call_id"] for i in timeline["interactions"]] == ["c1", "c2"]
    assert timeline["identities"] == [{"kind": "phone", "value": "+15550100199"}]


async def test_closed_case_means_a_new_case(store: CaseStore) -> None:
    first = await store.start_voice_interaction(caller="+34911234567", call_id="a")
    await store.close_case(first.case_id)
    again = await store.start_voice_interaction(caller="0034 911 234 567", call_id="b")
    assert again.customer_id == first.customer_id
    assert again.case_id != first.case_id
    assert (await store.timeline(first.case_id))["case"]["status"] == "closed"
    assert (await store.timeline(again.case_id))["case"]["status"] == "open"


async def test_other_number_is_another_customer(store: CaseStore) -> None:
    a = await store.start_voice_interaction(caller="+15550100001", call_id="a")
    b = await store.start_voice_interaction(caller="+15550100002", call_id="b")
    assert a.customer_id != b.customer_id and a.case_id != b.case_id


async def test_anonymous_callers_are_never_merged(store: CaseStore) -> None:
    a = await store.start_voice_interaction(caller="anonymous", call_id="a")
    b = await store.start_voice_interaction(caller="sip:anonymous@anonymous.invalid", call_id="b")
    # Not a number at all (a desk phone's SIP user): the call still gets its interaction.
    c = await store.start_voice_interaction(caller="sip:alice@pbx", call_id="c")
    d = await store.start_voice_interaction(caller="sip:alice@pbx", call_id="d")
    assert len({a.customer_id, b.customer_id, c.customer_id, d.customer_id}) == 4
    assert (await store.timeline(a.case_id))["identities"] == []
    assert (await store.timeline(c.case_id))["identities"] == []


async def test_outbound_call_resolves_the_dialed_number(store: CaseStore) -> None:
    inbound = await store.start_voice_interaction(caller="+15550100199", call_id="in")
    callback = await store.start_voice_interaction(
        caller="+18005550000", call_id="out", direction="outbound", dialed="+1 555 010 0199"
    )
    assert callback.case_id == inbound.case_id


async def test_segments_come_back_ordered_by_start(store: CaseStore, clock: FakeClock) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="c1")
    # Agent and caller streams finish out of order; the timeline orders by start.
    for speaker, start, text in [
        ("agent", 3.0, "how can I help"),
        ("caller", 0.5, "hello"),
        ("caller", 5.25, "my order is late"),
        ("agent", 1.0, "good morning"),
    ]:
        await store.add_segment(
            ref.interaction_id,
            speaker=speaker,
            start=start,
            end=start + 1.0,
            text=text,
            confidence=0.9,
            engine="whisper",
        )
    timeline = await store.timeline(ref.case_id)
    segments = timeline["interactions"][0]["segments"]
    assert [s["start"] for s in segments] == [0.5, 1.0, 3.0, 5.25]
    assert [s["text"] for s in segments][0] == "hello"
    created = datetime.fromisoformat(segments[0]["created_at"])
    assert created.tzinfo is not None and created.utcoffset() == UTC.utcoffset(None)


async def test_end_interaction_and_notes(store: CaseStore) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="c1", dialed="100")
    await store.end_interaction(ref.interaction_id, outcome="completed", summary="order late")
    note_id = await store.add_note(ref.case_id, author="ana", text="call back Monday")
    timeline = await store.timeline(ref.case_id)
    interaction = timeline["interactions"][0]
    assert interaction["outcome"] == "completed" and interaction["ended_at"] is not None
    assert interaction["dialed"] == "100" and interaction["channel"] == "voice"
    assert timeline["notes"][0]["id"] == note_id
    with pytest.raises(InvalidInput, match="already ended"):
        await store.end_interaction(ref.interaction_id, outcome="abandoned")
    assert (await store.timeline(ref.case_id))["interactions"][0]["outcome"] == "completed"


async def test_find_case_by_call(store: CaseStore) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="abc@host")
    assert await store.find_case_by_call("abc@host") == ref.case_id
    assert await store.find_case_by_call("nope") is None


async def test_segment_is_published_on_the_case_topic(
    store: CaseStore, bus: InProcessBus
) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="c1")
    async with bus.subscribe(f"case:{ref.case_id}") as events:
        seg_id = await store.add_segment(
            ref.interaction_id, speaker="caller", start=0, end=1, text="hi", confidence=None, engine="x"
        )
        event = await anext(aiter(events))
    assert event["type"] == "segment"
    assert event["segment"]["id"] == seg_id and event["segment"]["text"] == "hi"


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"speaker": "bot"}, "speaker"),
        ({"start": -1.0}, "start"),
        ({"start": float("nan")}, "start"),
        ({"end": 0.1}, "end"),
        ({"text": "  "}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"confidence": 1.5}, "confidence"),
        ({"engine": ""}, "engine"),
    ],
)
async def test_bad_segment_is_refused_and_nothing_is_lost(
    store: CaseStore, kwargs: dict[str, object], where: str
) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="c1")
    good = {"speaker": "caller", "start": 1.0, "end": 2.0, "text": "ok", "confidence": 0.5}
    await store.add_segment(ref.interaction_id, engine="w", **good)  # type: ignore[arg-type]
    args = {**good, "engine": "w", **kwargs}
    with pytest.raises(InvalidInput) as info:
        await store.add_segment(ref.interaction_id, **args)  # type: ignore[arg-type]
    assert info.value.where == where
    segments = (await store.timeline(ref.case_id))["interactions"][0]["segments"]
    assert [s["text"] for s in segments] == ["ok"]


async def test_unknown_ids_are_not_found(store: CaseStore) -> None:
    with pytest.raises(NotFound):
        await store.timeline(12345)
    with pytest.raises(NotFound):
        await store.timeline(2**40)  # out of the id range: not even sent to the database
    with pytest.raises(NotFound):
        await store.add_segment(
            999, speaker="caller", start=0, end=1, text="x", confidence=None, engine="w"
        )
    with pytest.raises(NotFound):
        await store.add_note(999, author="a", text="b")
    with pytest.raises(NotFound):
        await store.end_interaction(999, outcome="x")


async def test_bad_caller_and_duplicate_call_id(store: CaseStore) -> None:
    with pytest.raises(InvalidInput) as info:
        await store.start_voice_interaction(caller="+15550100199", call_id="c0", direction="outbound")
    assert info.value.where == "dialed"
    with pytest.raises(InvalidInput) as info:
        await store.start_voice_interaction(caller="+15550100199", call_id="a\x00b")
    assert info.value.where == "call_id"
    with pytest.raises(InvalidInput) as info:
        await store.start_voice_interaction(caller="+15550100199", call_id="c1", direction="up")
    assert info.value.where == "direction"
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="c1")
    with pytest.raises(InvalidInput) as info:
        await store.start_voice_interaction(caller="+15550100199", call_id="c1")
    assert info.value.where == "call_id"
    assert len((await store.timeline(ref.case_id))["interactions"]) == 1


async def test_data_survives_reopening(db_url: str, clock: FakeClock) -> None:
    store = await CaseStore.open(db_url, now=clock)
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="c1")
    await store.add_segment(
        ref.interaction_id, speaker="agent", start=0, end=1, text="hello", confidence=1, engine="w"
    )
    await store.close()
    reopened = await CaseStore.open(db_url, now=clock)  # migrations at head: a no-op
    try:
        timeline = await reopened.timeline(ref.case_id)
        assert timeline["interactions"][0]["segments"][0]["text"] == "hello"
        again = await reopened.start_voice_interaction(caller="+15550100199", call_id="c2")
        assert again.case_id == ref.case_id
    finally:
        await reopened.close()


async def test_concurrent_first_calls_from_one_number_share_one_case(store: CaseStore) -> None:
    # On PostgreSQL these run on parallel connections and race to create the customer and
    # the case; the unique constraints pick a winner and the others resolve again.
    refs = await asyncio.gather(
        *(
            store.start_voice_interaction(caller="+15550100777", call_id=f"race-{n}")
            for n in range(8)
        )
    )
    assert len({r.customer_id for r in refs}) == 1
    assert len({r.case_id for r in refs}) == 1
    assert len({r.interaction_id for r in refs}) == 8
