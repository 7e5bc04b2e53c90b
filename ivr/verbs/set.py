"""`set`: give flow variables values; strings are rendered (`${name}`) when the step runs.

    - set: {tier: gold, greeting: "Hello ${customer_name}"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.verbs.base import IvrSession, Problems, Step, register

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

VAR_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
            "description": "a variable name (letters, digits, _)"}


class SetVerb:
    """Assign variables, in the order written."""

    name = "set"
    schema: dict[str, Any] = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": VAR_NAME,
        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Nothing beyond the schema: names and scalar values are all it needs."""

    async def run(self, step: Step, session: IvrSession) -> str | None:
        for name, value in step.params.items():
            session.vars[name] = session.render(value) if isinstance(value, str) else value
            await session.record_input(
                "variable", {name: session.vars[name]}, step=step, sensitive=step.sensitive
            )
        return None


VERB = register(SetVerb())
