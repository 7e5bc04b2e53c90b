"""`language`: switch the call's language from here on (prompts, recognition, routing).

    - language: es

The voice of `say` and of prompts, the recogniser of `gather`/`menu` and of the live transcript,
and the language the `queue` step asks agents to speak all follow it (ivr.language).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.languages import LANGUAGES
from ivr.language import set_language
from ivr.verbs.base import IvrSession, Problems, Step, register

if TYPE_CHECKING:
    from ivr.flow import FlowDoc


class LanguageVerb:
    """Set the call's language; the flow goes on with the next step."""

    name = "language"
    shorthand = "code"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["code"],
        "properties": {"code": {"enum": sorted(LANGUAGES)}},
    }

    def falls_through(self, step: Step) -> bool:
        return True

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Nothing beyond the schema (the code is one of common.languages)."""

    async def run(self, step: Step, session: IvrSession) -> str | None:
        set_language(session, str(step.params["code"]))
        await session.record_input("variable", {"language": session.vars["language"]}, step=step)
        return None


VERB = register(LanguageVerb())
