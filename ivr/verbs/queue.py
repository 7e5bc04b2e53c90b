"""`queue`: hand the call to routing's ACD until an agent takes it or it leaves the queue.

    - queue:
        name: support
        priority: 1            # higher first, default 0
        skills: [billing]      # and the call's language (ivr.language) as lang:<code>
        on_timeout: voicemail  # label when the call leaves the queue unanswered
        on_unavailable: sorry  # label when routing is not available (default: hang up)

Answered (or turned into a callback), the call is done with the flow: the step hangs up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.language import language_skills
from ivr.services import QueueRequest, ServiceUnavailable
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, check_label, register
from ivr.verbs.fallback import unavailable
from ivr.verbs.goto import LABEL

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

# Outcomes after which the flow has nothing left to do with the caller.
_DONE = frozenset({"answered", "callback"})


def request_for(step: Step, session: IvrSession, queue: str) -> QueueRequest:
    """The routing request for a `queue`/`callback` step, with the flow's variables."""
    return QueueRequest(
        queue=queue,
        priority=int(step.params.get("priority", 0)),
        skills=tuple(step.params.get("skills", ())) + language_skills(session),
        vars=dict(session.vars),
    )


class QueueVerb:
    """Enqueue through `services.router`."""

    name = "queue"
    shorthand = "name"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "priority": {"type": "integer", "minimum": 0, "maximum": 100},
            "skills": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "on_timeout": LABEL,
            "on_unavailable": LABEL,
        },
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        check_label(step, "on_timeout", flow, problems)
        check_label(step, "on_unavailable", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        request = request_for(step, session, session.render(step.params["name"]))
        try:
            outcome = await session.services.router.enqueue(session.call, request)
        except ServiceUnavailable as exc:
            return await unavailable(step, session, str(exc))
        await session.record_input("queue", {"queue": request.queue, "result": outcome.result},
                                   step=step)
        if outcome.result in _DONE:
            return HANGUP
        target = step.params.get("on_timeout")
        return str(target) if target is not None else None


VERB = register(QueueVerb())
