"""`sms`: text the caller a message the flow writes (optionally with the chat link).

    - sms:
        text: "Your reference is ${ref}. Thank you for calling."
        link: false               # true: the handover link to the chat follows the text
        then: next_step           # optional: where to go once it is sent
        on_unavailable: sorry     # not sent; default: the call ends

The same rules as `handover` (`ivr.verbs.handover`): the caller's own number only, trusted
calls only, the dial plan and the opt-outs apply; `${handover}` is "sent" or "unavailable".
A `text` that renders empty is refused as unavailable (nothing is sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.verbs.base import IvrSession, Problems, Step, check_label, register
from ivr.verbs.fallback import unavailable
from ivr.verbs.goto import LABEL
from ivr.verbs.handover import MAX_TEXT_CHARS, send

if TYPE_CHECKING:
    from ivr.flow import FlowDoc


class SmsVerb:
    """Text the caller `text`; see the module doc."""

    name = "sms"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
            "link": {"type": "boolean"},
            "then": LABEL,
            "on_unavailable": LABEL,
        },
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        check_label(step, "then", flow, problems)
        check_label(step, "on_unavailable", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        text = session.render(str(step.params["text"])).strip()
        if not text:
            session.vars["handover"] = "unavailable"
            return await unavailable(step, session, "the text is empty once rendered")
        link = bool(step.params.get("link", False))
        return await send(step, session, channel="chat" if link else "sms", text=text,
                          with_link=link)


VERB = register(SmsVerb())
