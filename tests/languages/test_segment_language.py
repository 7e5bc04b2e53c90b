"""Transcript segments keep the language they were recognised in, and the interaction's
summary is made in the customer's recognised language (cases.summary)."""

from __future__ import annotations

import pytest

from cases.errors import InvalidInput
from cases.store import CaseStore
from cases.summary import InteractionRecord, Segment, summarise


async def test_segments_carry_their_language(store: CaseStore) -> None:
    ref = await store.start_voice_interaction(caller="+34600111222", call_id="es-1")
    await store.add_segment(ref.interaction_id, speaker="caller", start=0.5, end=2.0,
                            text="quiero hablar de facturación", confidence=0.8,
                            engine="whisper", language="es")
    await store.add_segment(ref.interaction_id, speaker="agent", start=2.5, end=3.0,
                            text="hola", confidence=None, engine="vosk")
    timeline = await store.timeline(ref.case_id)
    segments = next(i for i in timeline["interactions"]
                    if i["id"] == ref.interaction_id)["segments"]
    assert [(s["text"], s["language"]) for s in segments] == [
        ("quiero hablar de facturación", "es"), ("hola", None)]
    with pytest.raises(InvalidInput) as err:
        await store.add_segment(ref.interaction_id, speaker="caller", start=3, end=4,
                                text="x", confidence=None, engine="whisper", language="xx")
    assert err.value.where == "language"


def test_summary_takes_the_recognised_language() -> None:
    # Two words are too few to tell the language from text: the recogniser's label decides.
    record = InteractionRecord(1, "voice", segments=(
        Segment("caller", 0.0, 1.0, "Pagos, gracias.", "es"),))
    assert summarise(record).language == "es"
