"""The customer's preferred channel at work (issue 12 item 6), as `centralita serve` wires it.

    bus "messages" ──inbound "EMAIL" / "whatsapp" / "sms"...──▶ PreferenceStore: explicit
                                                                 + a note on the case
    Acd.on_callback(call, callback, wait) ──▶ "Your callback is coming in about 5 minutes"
        on the preferred channel when we can send on it (sms, whatsapp, email), else SMS to
        the number to be called back, else email; the text says how to choose another

The choice by reply works on every text channel (the message is stored on the case first, as
any other; the keyword alone chooses, `cases.preferences.choice_in`). What the customer wrote
and where we send stay out of logs; the channel names go in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from cases.errors import CaseError
from cases.preferences import Preference, PreferenceStore, choice_in
from channels.base import Refused, SendFailed
from routing.callback_notice import minutes_of
from routing.model import Callback
from voice.call import Call

log = logging.getLogger(__name__)

FEED_QUEUE = 1024  # a burst of messages past this while a choice is stored: oldest dropped
NOTE_AUTHOR = "system"  # a system note: never taken for an agent's wrap-up
TEXTABLE = ("sms", "whatsapp", "email")

NAMES = {"en": {"sms": "SMS", "whatsapp": "WhatsApp", "email": "email", "chat": "chat",
                "voice": "phone"},
         "es": {"sms": "SMS", "whatsapp": "WhatsApp", "email": "correo", "chat": "chat",
                "voice": "teléfono"}}
COMING = {"en": "Your callback is coming in about {minutes} minutes.",
          "es": "Le llamaremos en unos {minutes} minutos."}
COMING_ONE = {"en": "Your callback is coming in about a minute.",
              "es": "Le llamaremos en un minuto aproximadamente."}
COMING_LATER = {"en": "We will call you back as soon as an agent is free.",
                "es": "Le llamaremos en cuanto haya un agente libre."}
HOW_TO_CHOOSE = {"en": "Reply SMS, WHATSAPP or EMAIL to choose how we contact you.",
                 "es": "Responda SMS, WHATSAPP o CORREO para elegir cómo le contactamos."}
SUBJECT = {"en": "Your callback", "es": "Su llamada de vuelta"}
CHOSEN_NOTE = "The customer chose {channel} as their preferred channel (by replying)."


class SmsSender(Protocol):
    """`channels.twilio_messaging.TwilioMessaging.send`."""

    async def send(self, case_id: int, channel: str, body: str, *,
                   to: str | None = None) -> Any: ...


class EmailSender(Protocol):
    """`channels.email_cases.CaseEmails.send`."""

    async def send(self, case_id: int, *, subject: str, body: str, to: str | None = None,
                   in_reply_to_message: int | None = None,
                   agent: str | None = None) -> dict[str, Any]: ...


class CaseNotes(Protocol):
    async def add_note(self, case_id: int, *, author: str, text: str) -> int: ...


def callback_text(wait_s: float, language: str) -> str:
    """The confirmation: about when, and how to choose another channel."""
    lang = language if language in COMING else "en"
    minutes = minutes_of(wait_s)
    if minutes is None:
        first = COMING_LATER[lang]
    elif minutes == 1:
        first = COMING_ONE[lang]
    else:
        first = COMING[lang].format(minutes=minutes)
    return f"{first} {HOW_TO_CHOOSE[lang]}"


class PreferredChannels:
    """Follows the replies that choose a channel, and confirms callbacks there."""

    def __init__(self, store: PreferenceStore, notes: CaseNotes, *,
                 sms: SmsSender | None = None, email: EmailSender | None = None,
                 owns_store: bool = False) -> None:
        """`owns_store`: `close` closes `store` too."""
        self.store = store
        self._owns_store = owns_store
        self.notes = notes
        self.sms = sms
        self.email = email
        self.chosen = 0  # replies that chose a channel
        self.confirmed: dict[str, int] = {}  # callback confirmations sent, by channel
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None

    # -- replies ---------------------------------------------------------------------------------
    async def follow(self, bus: Any, topic: str = "messages") -> None:
        """Subscribe to the case bus's every new message, until `close`."""
        subscription = bus.subscribe(topic, maxsize=FEED_QUEUE)
        await subscription.__aenter__()
        self._subscription = subscription
        self._task = asyncio.create_task(self._feed(subscription), name="preferred-channel")

    @classmethod
    async def open(cls, database_url: str, notes: CaseNotes, *, now: Callable[[], datetime],
                   sms: SmsSender | None = None,
                   email: EmailSender | None = None) -> PreferredChannels:
        """With its own `PreferenceStore` on the case database (closed by `close`)."""
        store = await PreferenceStore.open(database_url, now=now)
        return cls(store, notes, sms=sms, email=email, owns_store=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._subscription is not None:
            await self._subscription.__aexit__(None, None, None)
            self._subscription = None
        if self._owns_store:
            await self.store.close()

    async def _feed(self, subscription: Any) -> None:
        async for event in subscription:
            try:
                await self.on_message(event)
            except Exception:
                log.exception("preferred channel: a message event failed")

    async def on_message(self, event: dict[str, Any]) -> str | None:
        """One "messages" event: an inbound message that is only a channel keyword makes
        that channel the customer's choice (noted on the case). The channel chosen, if any."""
        message = event.get("message")
        case_id = event.get("case_id")
        if event.get("direction") != "inbound" or not isinstance(message, dict) \
                or not isinstance(case_id, int) or not isinstance(message.get("body"), str):
            return None
        channel = choice_in(message["body"])
        if channel is None:
            return None
        try:
            await self.store.choose_for_case(case_id, channel)
            await self.notes.add_note(case_id, author=NOTE_AUTHOR,
                                      text=CHOSEN_NOTE.format(channel=NAMES["en"][channel]))
        except CaseError as exc:
            log.error("case %d: the customer's choice of channel was not stored: %s", case_id,
                      exc)
            return None
        self.chosen += 1
        log.info("case %d: the customer chose %s as their preferred channel", case_id, channel)
        return channel

    # -- callback confirmations (routing.callback_notice.CallbackNotice) --------------------------
    async def __call__(self, call: Call, callback: Callback, wait_s: float) -> None:
        await self.confirm(callback, wait_s, call.language or "en")

    async def confirm(self, callback: Callback, wait_s: float, language: str = "en") -> str | None:
        """Tell the customer their callback is coming; the channel it went by, or None."""
        if callback.case_id is None:
            return None
        try:
            preference = await self.store.of_case(callback.case_id)
        except CaseError as exc:
            log.error("callback %s: no preference read (%s); confirming by SMS", callback.id,
                      exc)
            preference = None
        body = callback_text(wait_s, language)
        for channel in self._candidates(preference):
            try:
                if channel == "email" and self.email is not None:
                    await self.email.send(callback.case_id, subject=SUBJECT.get(
                        language, SUBJECT["en"]), body=body)
                elif self.sms is not None:
                    to = callback.number if channel == "sms" or preference is None \
                        else preference.address_for(channel) or callback.number
                    await self.sms.send(callback.case_id, channel, body, to=to)
            except Refused as exc:
                log.info("callback %s: not confirmed by %s (%s)", callback.id, channel,
                         exc.code)
                continue
            except (CaseError, SendFailed) as exc:
                log.info("callback %s: not confirmed by %s (%s)", callback.id, channel,
                         type(exc).__name__)
                continue
            self.confirmed[channel] = self.confirmed.get(channel, 0) + 1
            log.info("callback %s confirmed by %s", callback.id, channel)
            return channel
        log.info("callback %s: no channel to confirm it on", callback.id)
        return None

    def _candidates(self, preference: Preference | None) -> list[str]:
        """The channels to try, in order: the preferred one if we can send on it, then SMS
        (to the number to be called back), then email (when the customer has an address)."""
        order: list[str] = []
        if preference is not None and preference.channel in TEXTABLE:
            order.append(preference.channel)
        order += ["sms", "email"]
        out: list[str] = []
        for channel in order:
            if channel in out:
                continue
            if channel in ("sms", "whatsapp") and self.sms is None:
                continue
            if channel == "email" and (self.email is None or preference is None
                                       or preference.address_for("email") is None):
                continue
            out.append(channel)
        return out
