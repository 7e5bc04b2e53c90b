"""The one-question CSAT survey (issue 12 item 8), as `centralita serve` wires it.

    bus "interactions": an inbound interaction an agent handled ends, its channel surveyed
        ──▶ "How satisfied were you ...? Reply with a number from 1 to 5." on the customer's
            channel: the interaction's own when it is SMS, WhatsApp or email; for a call or a
            chat, their preferred channel when we can send on it, else SMS, else email
        ──▶ cases.csat: recorded (once per interaction)
    bus "messages": an inbound reply that is a score ("4", "5/5", "4 stars")
        ──▶ cases.csat: the customer's latest unanswered survey by that channel gets it

Which channels are surveyed is the routing file's `csat: {channels}` (off without it). The
figures are the journey's (`GET /api/journey`: `csat` per channel). Addresses and replies
stay out of logs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cases.csat import SurveyStore, score_in
from cases.errors import CaseError
from cases.preferences import Preference, PreferenceStore
from centralita.preferred_channel import TEXTABLE, EmailSender, SmsSender
from channels.base import Refused, SendFailed

log = logging.getLogger(__name__)

FEED_QUEUE = 1024
QUESTION = {
    "en": ("How satisfied were you with our help today? Reply with a number from 1 "
           "(not at all) to 5 (very)."),
    "es": ("¿Qué tan satisfecho quedó con nuestra ayuda hoy? Responda con un número del 1 "
           "(nada) al 5 (mucho)."),
}
SUBJECT = {"en": "How did we do?", "es": "¿Qué tal le atendimos?"}


class CsatSurveys:
    """Sends the survey after handled contacts and keeps the answers (module doc)."""

    def __init__(self, surveys: SurveyStore, preferences: PreferenceStore, *,
                 channels: tuple[str, ...], sms: SmsSender | None = None,
                 email: EmailSender | None = None) -> None:
        self.surveys = surveys
        self.preferences = preferences
        self.channels = channels
        self.sms = sms
        self.email = email
        self.sent: dict[str, int] = {}  # surveys sent, by the channel they went by
        self.answered = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Any] = []

    async def follow(self, bus: Any) -> None:
        """Follow the ended interactions and the messages until `close`."""
        for topic, handle in (("interactions", self.on_ended), ("messages", self.on_message)):
            subscription = bus.subscribe(topic, maxsize=FEED_QUEUE)
            await subscription.__aenter__()
            self._subscriptions.append(subscription)
            self._tasks.append(asyncio.create_task(self._feed(subscription, handle),
                                                   name=f"csat-{topic}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for subscription in self._subscriptions:
            await subscription.__aexit__(None, None, None)
        self._subscriptions.clear()

    async def _feed(self, subscription: Any, handle: Any) -> None:
        async for event in subscription:
            try:
                await handle(event)
            except Exception:
                log.exception("csat: an event failed")

    # -- the survey -----------------------------------------------------------------------------
    async def on_ended(self, event: dict[str, Any]) -> str | None:
        """An interaction ended: survey it when an agent handled it and its channel is
        surveyed. The channel the survey went by, or None."""
        view = event.get("interaction")
        # Contacts the customer made, an agent handled: never the thread a survey (or any text
        # we sent) started, which would survey its own answer.
        if not isinstance(view, dict) or not view.get("agent") \
                or view.get("direction") != "inbound":
            return None
        channel, case_id, interaction_id = view.get("channel"), view.get("case_id"), \
            view.get("id")
        if channel not in self.channels or not isinstance(case_id, int) \
                or not isinstance(interaction_id, int):
            return None
        if await self.surveys.surveyed(interaction_id):
            return None
        detail = view.get("summary_detail")
        language = detail.get("language") if isinstance(detail, dict) else None
        lang = language if language in QUESTION else "en"
        try:
            preference = await self.preferences.of_case(case_id)
        except CaseError:
            preference = None
        for via in self._candidates(str(channel), preference):
            try:
                if via == "email" and self.email is not None:
                    await self.email.send(case_id, subject=SUBJECT[lang], body=QUESTION[lang])
                elif self.sms is not None:
                    to = preference.address_for(via) if preference is not None else None
                    await self.sms.send(case_id, via, QUESTION[lang], to=to)
            except (Refused, SendFailed, CaseError) as exc:
                log.info("csat: interaction %d not surveyed by %s (%s)", interaction_id, via,
                         type(exc).__name__)
                continue
            await self.surveys.sent(case_id, interaction_id, str(channel), via)
            self.sent[via] = self.sent.get(via, 0) + 1
            log.info("csat: interaction %d (%s) surveyed by %s", interaction_id, channel, via)
            return via
        return None

    def _candidates(self, channel: str, preference: Preference | None) -> list[str]:
        order = [channel] if channel in TEXTABLE else []
        if preference is not None and preference.channel in TEXTABLE:
            order.append(preference.channel)
        order += ["sms", "email"]
        out: list[str] = []
        for via in order:
            if via in out or (via in ("sms", "whatsapp") and self.sms is None):
                continue
            if via == "email" and (self.email is None or preference is None
                                   or preference.address_for("email") is None):
                continue
            out.append(via)
        return out

    # -- the answer -----------------------------------------------------------------------------
    async def on_message(self, event: dict[str, Any]) -> int | None:
        """An inbound reply that is a score answers the customer's pending survey by that
        channel. The score stored, or None."""
        message, case_id = event.get("message"), event.get("case_id")
        if event.get("direction") != "inbound" or not isinstance(message, dict) \
                or not isinstance(case_id, int) or not isinstance(message.get("body"), str):
            return None
        score = score_in(message["body"])
        channel = event.get("channel")
        if score is None or not isinstance(channel, str):
            return None
        answered = await self.surveys.answer(case_id, channel, score)
        if answered is None:
            return None
        self.answered += 1
        log.info("csat: interaction %d answered by %s", answered, channel)
        return score
