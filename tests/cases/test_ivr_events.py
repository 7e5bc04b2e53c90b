"""IVR events on the interaction: stored, ordered, on the timeline and the bus; bad input
refused before anything is written (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from cases.errors import InvalidInput, NotFound
from cases.events import InProcessBus
from cases.store import CaseStore


async def test_events_show_under_their_interaction_in_order(store: CaseStore) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="ivr-1")
    other = await store.start_voice_interaction(caller="+15550100199", call_id="ivr-2")
    await store.add_ivr_event(ref.interaction_id, kind="path", value="welcome", step_index=0)
    await store.add_ivr_event(
        ref.interaction_id, kind="digits", value={"digits": "2", "variable": "choice"},
        step="menu", step_index=1,
    )
    await store.add_ivr_event(
        ref.interaction_id, kind="digits", value={"digits": "****"}, step="card",
        step_index=2, sensitive=True,
    )
    await store.add_ivr_event(other.interaction_id, kind="speech", value={"match": "billing"})
    timeline = await store.timeline(ref.case_id)
    first, second = timeline["interactions"]
    assert [(e["kind"], e["step"], e["step_index"], e["sensitive"]) for e in first["ivr_events"]] == [
        ("path", None, 0, False), ("digits", "menu", 1, False), ("digits", "card", 2, True),
    ]
    assert first["ivr_events"][1]["value"] == {"digits": "2", "variable": "choice"}
    assert first["ivr_events"][2]["value"] == {"digits": "****"}
    assert first["ivr_events"][0]["at"] < first["ivr_events"][1]["at"]
    assert [e["value"] for e in second["ivr_events"]] == [{"match": "billing"}]


async def test_event_is_published_after_commit(store: CaseStore, bus: InProcessBus) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="ivr-bus")
    async with bus.subscribe(f"case:{ref.case_id}") as events:
        event_id = await store.add_ivr_event(ref.interaction_id, kind="variable", value=[1, 2])
        payload = await asyncio.wait_for(anext(aiter(events)), 5)
    assert payload["type"] == "ivr_event"
    assert payload["ivr_event"]["id"] == event_id
    assert payload["ivr_event"]["value"] == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"kind": "keypress", "value": "1"}, "kind"),
        ({"kind": "digits", "value": {1, 2}}, "value"),
        ({"kind": "digits", "value": float("nan")}, "value"),
        ({"kind": "digits", "value": "a\x00b"}, "value"),
        ({"kind": "digits", "value": "x" * 20_000}, "value"),
        ({"kind": "digits", "value": "1", "step_index": -1}, "step_index"),
        ({"kind": "digits", "value": "1", "step": "s" * 101}, "step"),
        ({"kind": "digits", "value": "1", "sensitive": "yes"}, "sensitive"),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(
    store: CaseStore, kwargs: dict[str, object], where: str
) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="ivr-bad")
    with pytest.raises(InvalidInput) as info:
        await store.add_ivr_event(ref.interaction_id, **kwargs)  # type: ignore[arg-type]
    assert info.value.where == where
    timeline = await store.timeline(ref.case_id)
    assert timeline["interactions"][0]["ivr_events"] == []


async def test_unknown_interaction(store: CaseStore) -> None:
    with pytest.raises(NotFound):
        await store.add_ivr_event(4242, kind="path", value="x")
