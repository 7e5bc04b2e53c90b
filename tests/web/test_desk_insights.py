"""The desk's case panel shows a call's sentiment trend and topics (cases.insights), in the
agent's language: headless Chromium with a Spanish locale opens a customer's SMS
conversation whose case holds an earlier Spanish call (one mark per segment, coloured by
its level; the topics in words), and the post-call transcript is labelled as improved."""

from __future__ import annotations

from pathlib import Path

from cases.messages import MessageDraft
from cases.post_segments import PostSegmentIn
from tests.helpers.chromium import CHROMIUM
from tests.web.conftest import PASSWORD
from tests.web.desk_fake import FakeDeskService  # noqa: F401  (the rig's service)
from tests.web.test_desk_inbox_page import ARTIFACTS, Rig, conv, rig  # noqa: F401

SAID = [("caller", 1.0, "El pedido no ha llegado y es un desastre."),
        ("agent", 5.0, "Lo siento mucho, le ayudo ahora mismo."),
        ("caller", 9.0, "Muchas gracias, es usted muy amable.")]


async def test_the_case_panel_shows_the_sentiment_trend_and_topics(
    rig: Rig, tmp_path: Path  # noqa: F811
) -> None:
    from playwright.async_api import async_playwright

    text = await rig.cases.store_message(MessageDraft(
        channel="sms", direction="inbound", sender="+34612000111", recipient="+34910000000",
        body="Hola", external_id="SM" + "2" * 32, verified=True))
    await rig.cases.set_text_interaction(text.interaction_id, agent="ana", queue="help")
    call = await rig.cases.start_voice_interaction(caller="+34612000111", call_id="ins-call")
    assert call.case_id == text.case_id
    for speaker, start, said in SAID:
        await rig.cases.add_segment(call.interaction_id, speaker=speaker, start=start,
                                    end=start + 3, text=said, confidence=0.9,
                                    engine="whisper", language="es")
    await rig.cases.set_interaction_agent("ins-call", "ana")
    await rig.cases.end_interaction(call.interaction_id, outcome="answered")
    case_id = await rig.cases.public_id(text.case_id)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(base_url=rig.base, locale="es-ES",
                                                viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            reply = await page.request.post("/api/login",
                                            data={"username": "ana", "password": PASSWORD})
            assert reply.ok, await reply.text()
            await page.goto("/desk")
            await page.wait_for_function("() => window.desk && window.desk.state.agent")
            await rig.service.send("ana", {"type": "conversation", "conversation": conv(
                text.interaction_id, case_id, "sms", customer="+34612000111")})
            await page.locator(".conversation").first.click()
            call_item = page.locator(
                f"#timeline .interaction[data-interaction-id='{call.interaction_id}']")
            insights = call_item.locator(".insights")
            await insights.wait_for()
            points = insights.locator(".trend .point")
            assert [await points.nth(i).get_attribute("data-level") for i in range(3)] == [
                "negative", "neutral", "positive"]
            assert await points.count() == 3
            words = await insights.text_content() or ""
            assert "Sentimiento: positivo" in words, words
            assert "Temas: entrega" in words, words
            title = await points.nth(0).get_attribute("title") or ""
            assert title == "Llamante en el segundo 1: negativo", title
            # Each transcript line carries its level too (the live view colours them).
            lines = call_item.locator("ol.transcript li.segment")
            assert [await lines.nth(i).get_attribute("data-level") for i in range(3)] == [
                "negative", "neutral", "positive"]
            await page.screenshot(path=str(ARTIFACTS / "insights-es.png"), full_page=True)

            # The post-call pass's transcript replaces the live one: the page reloads it.
            await rig.cases.replace_post_segments(call.interaction_id, [
                PostSegmentIn("caller", 1.1, 4.0, "El pedido no ha llegado, es un desastre.",
                              None, "es")], engine="whisper base (post)")
            await call_item.locator("details > summary", has_text="mejorada").wait_for(
                timeout=10000)
            assert await call_item.locator(".insights .trend .point").count() == 1
            assert errors == []
        finally:
            await browser.close()
