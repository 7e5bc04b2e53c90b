"""`branch`: jump on the first condition that holds, else to `else` (or on to the next step).

    - branch:
        when:
          - {var: tier, equals: gold, goto: vip}
          - {var: reason, in: [billing, invoices], goto: billing}
          - {var: account, matches: "^[0-9]{6}$", goto: known}
          - {var: customer_id, exists: true, goto: known}
        else: main_menu

`equals` and `in` compare as strings (YAML `1` and "1" are the same digit the caller pressed);
`matches` is a Python regex searched in the variable's text; `exists: false` holds when the
variable is unset or empty.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ivr.verbs.base import IvrSession, Problems, Step, register
from ivr.verbs.goto import LABEL

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

_TESTS = ("equals", "in", "matches", "exists")
_SCALAR = {"type": ["string", "number", "boolean"]}

_CONDITION: dict[str, Any] = {
    "type": "object",
    "required": ["var", "goto"],
    "additionalProperties": False,
    "properties": {
        "var": {"type": "string", "minLength": 1},
        "equals": _SCALAR,
        "in": {"type": "array", "items": _SCALAR, "minItems": 1},
        "matches": {"type": "string"},
        "exists": {"type": "boolean"},
        "goto": LABEL,
    },
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def holds(condition: dict[str, Any], variables: dict[str, Any]) -> bool:
    """Whether one `when:` condition holds for `variables`."""
    value = variables.get(condition["var"])
    if "equals" in condition:
        return value is not None and _text(value) == _text(condition["equals"])
    if "in" in condition:
        return value is not None and _text(value) in {_text(v) for v in condition["in"]}
    if "matches" in condition:
        return value is not None and re.search(condition["matches"], _text(value)) is not None
    present = value is not None and _text(value) != ""
    return present == bool(condition["exists"])


class BranchVerb:
    """Conditional jumps on flow variables."""

    name = "branch"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["when"],
        "additionalProperties": False,
        "properties": {
            "when": {"type": "array", "items": _CONDITION, "minItems": 1},
            "else": LABEL,
        },
    }

    def falls_through(self, step: Step) -> bool:
        return "else" not in step.params

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        for index, condition in enumerate(step.params.get("when", [])):
            pos = step.param_pos.get(f"when[{index}]", step.at("when"))
            tests = [t for t in _TESTS if t in condition]
            if len(tests) != 1:
                problems.add(pos, "branch: each condition needs exactly one of "
                             "equals, in, matches, exists")
            pattern = condition.get("matches")
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.add(
                        step.param_pos.get(f"when[{index}].matches", pos),
                        f"branch: bad regex {pattern!r}: {exc}",
                    )
            target = condition.get("goto")
            if isinstance(target, str) and target not in flow.labels:
                problems.add(
                    step.param_pos.get(f"when[{index}].goto", pos),
                    f"branch: goto: no step has label '{target}'",
                )
        target = step.params.get("else")
        if isinstance(target, str) and target not in flow.labels:
            problems.add(step.at("else"), f"branch: else: no step has label '{target}'")

    async def run(self, step: Step, session: IvrSession) -> str | None:
        for condition in step.params["when"]:
            if holds(condition, session.vars):
                return str(condition["goto"])
        target = step.params.get("else")
        return str(target) if target is not None else None


VERB = register(BranchVerb())
