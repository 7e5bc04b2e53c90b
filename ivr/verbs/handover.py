"""`handover`: text the caller the call's summary and a link to continue by chat.

    - handover:
        channel: sms              # sms (default) or whatsapp: how the link travels
        text: "..."               # optional: the message (default: the call's summary)
        then: goodbye             # optional: where to go once it is sent (default: next step)
        on_unavailable: sorry     # not sent (see below); default: the call ends

The message is the call's summary as it stands (`cases.summary.short_text`, remade first,
masked facts left out) or `text` rendered with the flow's variables, followed by a signed,
expiring link that opens the web chat on the caller's case (`channels.handover`). It goes to
the caller's own number and nowhere else.

Trust: only a call from a trusted source (a configured trunk, a registered phone) may make the
server text, and the number must pass the dial plan and the opt-outs (the Twilio sender
checks again): an untrusted caller pressing through a flow can never make us send anything.
A refusal, or a server without SMS, takes `on_unavailable` with the reason (never the
number). `${handover}` is "sent" or "unavailable" afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ivr.verbs.base import IvrSession, Problems, Step, check_label, register
from ivr.verbs.fallback import unavailable
from ivr.verbs.goto import LABEL

if TYPE_CHECKING:
    from ivr.flow import FlowDoc
    from voice.call import Call

#: Where the composition root puts the call texter (`centralita.handover_setup.CallHandover`).
SERVICE = "handover"
MAX_TEXT_CHARS = 1000


class CallTexter(Protocol):
    """Texts a caller (see `centralita.handover_setup.CallHandover.text`)."""

    async def text(self, call: Call, *, channel: str = "chat", text: str | None = None,
                   with_link: bool = True) -> str | None: ...


def texter(session: IvrSession) -> CallTexter | None:
    """The server's call texter, if it has one."""
    found = session.services.extra.get(SERVICE)
    return found if found is not None and hasattr(found, "text") else None


async def send(step: Step, session: IvrSession, *, channel: str, text: str | None,
               with_link: bool) -> str | None:
    """Text the caller; the step's next label (None: the next step)."""
    service = texter(session)
    if service is None:
        session.vars["handover"] = "unavailable"
        return await unavailable(step, session, "texting is not set up on this server")
    refusal = await service.text(session.call, channel=channel, text=text, with_link=with_link)
    if refusal is not None:
        session.vars["handover"] = "unavailable"
        return await unavailable(step, session, f"not sent: {refusal}")
    session.vars["handover"] = "sent"
    then = step.params.get("then")
    return str(then) if then is not None else None


class HandoverVerb:
    """Text the summary and the chat link to the caller; see the module doc."""

    name = "handover"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "channel": {"enum": ["sms", "whatsapp"]},
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
            "then": LABEL,
            "on_unavailable": LABEL,
        },
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        check_label(step, "then", flow, problems)
        check_label(step, "on_unavailable", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        raw = step.params.get("text")
        text = session.render(str(raw)) if raw is not None else None
        channel = str(step.params.get("channel", "sms"))
        # "sms": the link by SMS (the handover's "chat" channel); "whatsapp": by WhatsApp.
        return await send(step, session, channel="chat" if channel == "sms" else channel,
                          text=text, with_link=True)


VERB = register(HandoverVerb())
