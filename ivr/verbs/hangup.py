"""`hangup`: end the call. `- hangup`, `- hangup:` or `- hangup: {cause: closed}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, register

if TYPE_CHECKING:
    from ivr.flow import FlowDoc


class HangupVerb:
    """Ends the call; `cause` is kept with the path taken (why the flow hung up)."""

    name = "hangup"
    shorthand = "cause"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"cause": {"type": "string", "minLength": 1}},
    }

    def falls_through(self, step: Step) -> bool:
        return False

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Nothing beyond the schema."""

    async def run(self, step: Step, session: IvrSession) -> str | None:
        cause = step.params.get("cause")
        if cause:
            await session.record_input("hangup", cause, step=step)
        return HANGUP


VERB = register(HangupVerb())
