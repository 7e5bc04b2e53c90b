"""`goto`: jump to a label. `- goto: main_menu` (shorthand) or `- goto: {label: main_menu}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.verbs.base import IvrSession, Problems, Step, check_label, register

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

LABEL: dict[str, Any] = {"type": "string", "minLength": 1}


class GotoVerb:
    """An unconditional jump: the step after it is reachable only through its own label."""

    name = "goto"
    shorthand = "label"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["label"],
        "additionalProperties": False,
        "properties": {"label": LABEL},
    }

    def falls_through(self, step: Step) -> bool:
        return False

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        check_label(step, "label", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        return str(step.params["label"])


VERB = register(GotoVerb())
