"""`callback`: store a callback that keeps the caller's place in a queue.

    - callback:
        queue: support
        number: "${caller}"       # default: the caller's number
        on_unavailable: sorry

The offer itself (a menu: "press 1 to be called back") is an ordinary `menu` before this step.

`${caller}` is the From user of the INVITE: whatever the sender wrote. So the router checks
every request against the server's dial plan (`voice.dialplan`, through routing's gate): only
a call from a trusted source (a configured trunk, a registered phone) may ask, and only for a
phone number the plan allows (no premium, shared-cost or foreign numbers by default, no SIP
URIs). A refused request takes `on_unavailable` with the reason, which never holds the number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.services import ServiceUnavailable
from ivr.verbs.base import IvrSession, Problems, Step, check_label, register
from ivr.verbs.fallback import unavailable
from ivr.verbs.goto import LABEL
from ivr.verbs.queue import request_for

if TYPE_CHECKING:
    from ivr.flow import FlowDoc


class CallbackVerb:
    """Ask `services.router` to call the customer back; its id lands in `${callback_id}`."""

    name = "callback"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["queue"],
        "additionalProperties": False,
        "properties": {
            "queue": {"type": "string", "minLength": 1},
            "number": {"type": "string", "minLength": 1},
            "priority": {"type": "integer", "minimum": 0, "maximum": 100},
            "skills": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "on_unavailable": LABEL,
        },
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        check_label(step, "on_unavailable", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        request = request_for(step, session, session.render(step.params["queue"]))
        number = session.render(step.params.get("number", "${caller}"))
        if not number:
            return await unavailable(step, session, "no number to call back")
        try:
            callback_id = await session.services.router.request_callback(
                session.call, request, number
            )
        except ServiceUnavailable as exc:
            return await unavailable(step, session, str(exc))
        session.vars["callback_id"] = callback_id
        await session.record_input("callback", {"queue": request.queue, "id": callback_id},
                                   step=step)
        return None


VERB = register(CallbackVerb())
