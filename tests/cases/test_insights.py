"""Sentiment and topics per segment and per interaction, in English (VADER's lexicon) and
Spanish (SentiLeak's lexicon), stored with each segment and rolled up on the case; the
post-call pass's segments are scored the same way and replace the live ones in the trend."""

from __future__ import annotations

from cases.insights import analyse, label, topics_of
from cases.post_segments import PostSegmentIn
from cases.store import CaseStore


def test_english_and_spanish_sentiment_and_topics() -> None:
    happy = analyse("Thank you so much, that was really helpful", "en")
    angry = analyse("This is terrible, I was charged twice on my bill", "en")
    assert label(happy.sentiment) == "positive" and label(angry.sentiment) == "negative"
    assert angry.topics == ["billing", "complaint"]
    contento = analyse("Muchas gracias, estoy muy contento con la ayuda", "es")
    enfadado = analyse("El pedido no ha llegado, es un desastre", "es")
    no_contento = analyse("No estoy contento con la factura", "es")
    assert label(contento.sentiment) == "positive"
    assert label(enfadado.sentiment) == "negative" and enfadado.topics == ["delivery"]
    # A negation before the word flips it; the same words without it are positive.
    assert no_contento.sentiment < 0 < analyse("Estoy contento con la factura", "es").sentiment
    assert no_contento.topics == ["billing"]
    assert analyse("quiero hablar de facturación", "es") .sentiment == 0.0
    assert topics_of("Quiero cancelar mi suscripción y un reembolso") == [
        "refund", "cancellation"]


async def test_segments_are_scored_and_the_case_shows_the_trend(store: CaseStore) -> None:
    ref = await store.start_voice_interaction(caller="+34911000111", call_id="ins-1")
    said = [("caller", 1.0, "el pedido no ha llegado y es un desastre", "es"),
            ("agent", 5.0, "lo siento mucho, le ayudo ahora mismo", "es"),
            ("caller", 9.0, "muchas gracias, es usted muy amable", "es")]
    for speaker, start, text, lang in said:
        await store.add_segment(ref.interaction_id, speaker=speaker, start=start,
                                end=start + 3, text=text, confidence=0.9, engine="whisper",
                                language=lang)
    await store.end_interaction(ref.interaction_id, outcome="completed")
    timeline = await store.timeline(ref.case_id)
    [interaction] = timeline["interactions"]
    segments = interaction["segments"]
    assert segments[0]["topics"] == ["delivery"] and segments[0]["sentiment"] < 0
    assert segments[2]["sentiment"] > 0
    insights = interaction["insights"]
    assert [p["start"] for p in insights["trend"]] == [1.0, 5.0, 9.0]
    assert insights["trend"][0]["sentiment"] < 0 < insights["trend"][2]["sentiment"]
    assert set(insights["by_speaker"]) == {"caller", "agent"}
    assert insights["topics"][0] == {"topic": "delivery", "count": 1}

    await store.replace_post_segments(ref.interaction_id, [
        PostSegmentIn("caller", 1.1, 4.0, "I want a refund, this is unacceptable", None, "en"),
        PostSegmentIn("caller", 9.1, 11.0, "Great, thank you", None, "en"),
    ], engine="whisper base (post)")
    timeline = await store.timeline(ref.case_id)
    insights = timeline["interactions"][0]["insights"]
    assert [p["start"] for p in insights["trend"]] == [1.1, 9.1]
    assert {t["topic"] for t in insights["topics"]} == {"refund", "complaint"}
