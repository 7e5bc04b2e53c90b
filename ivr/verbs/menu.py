"""`menu`: a prompt, choices by key or by phrase, retries on invalid input and on silence.

    - menu:
        prompt: "For billing press 1 or say billing. For support press 2 or say support."
        choices:
          - {digits: "1", phrases: [billing, invoice, payment], goto: billing}
          - {digits: "2", phrases: [support, help, technical], goto: support}
        input: both                 # default: both when any choice has phrases, else dtmf
        variable: topic             # optional: gets the chosen choice's digits
        timeout: 5
        retries: 2                  # tries after the first, default 2
        invalid_prompt: "Sorry, that is not an option."
        timeout_prompt: "Sorry, I did not hear you."
        on_failure: operator        # after the last try; default: hang up

Each try is recorded (digits or speech, with its outcome), so the case shows the retries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ivr.media.collect import INPUTS, Answer, Kind, collect
from ivr.media.dtmf import Collected, DtmfRules, Outcome
from ivr.media.phrases import PhraseMatcher
from ivr.media.prompt import PromptOutcome
from ivr.media.speak import PROMPT_SCHEMA, check_prompt, speak
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, check_label, register
from ivr.verbs.gather import record_answer
from ivr.verbs.goto import LABEL
from ivr.verbs.set import VAR_NAME

if TYPE_CHECKING:
    from ivr.flow import FlowDoc


class MenuVerb:
    """Choices → labels, with retries."""

    name = "menu"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["choices"],
        "properties": {
            "prompt": PROMPT_SCHEMA,
            "choices": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["goto"],
                    "anyOf": [{"required": ["digits"]}, {"required": ["phrases"]}],
                    "properties": {
                        "digits": {"type": "string", "pattern": "^[0-9*#A-D]{1,8}$"},
                        "phrases": {
                            "type": "array", "minItems": 1,
                            "items": {"type": "string", "minLength": 1},
                        },
                        "goto": LABEL,
                    },
                },
            },
            "input": {"enum": list(INPUTS)},
            "variable": VAR_NAME,
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
            "retries": {"type": "integer", "minimum": 0, "maximum": 10},
            "invalid_prompt": PROMPT_SCHEMA,
            "timeout_prompt": PROMPT_SCHEMA,
            "on_failure": LABEL,
        },
    }

    def falls_through(self, step: Step) -> bool:
        return False

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Every goto and on_failure exist, no key is used twice, prompt files exist."""
        p = step.params
        check_label(step, "on_failure", flow, problems)
        seen: set[str] = set()
        for i, choice in enumerate(p["choices"]):
            target = choice["goto"]
            if target != HANGUP and target not in flow.labels:
                problems.add(step.param_pos.get(f"choices[{i}].goto", step.at("choices")),
                             f"menu: choices[{i}].goto: no step has label '{target}'")
            digits = choice.get("digits")
            if digits is not None:
                if digits in seen:
                    problems.add(step.param_pos.get(f"choices[{i}].digits", step.at("choices")),
                                 f"menu: choices[{i}]: digits '{digits}' used twice")
                seen.add(digits)
        for key in ("prompt", "invalid_prompt", "timeout_prompt"):
            if key in p:
                check_prompt(p[key], step.at(key), flow.dir, "menu", problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        p = step.params
        choices: list[dict[str, Any]] = p["choices"]
        keyed = {c["digits"]: c for c in choices if "digits" in c}
        spoken = {str(i): c["phrases"] for i, c in enumerate(choices) if "phrases" in c}
        matcher = PhraseMatcher(spoken) if spoken else None
        mode = p.get("input", "both" if spoken else "dtmf")
        longest = max((len(d) for d in keyed), default=1)
        rules = DtmfRules(
            timeout=float(p.get("timeout", 5.0)), inter_digit_timeout=2.0, terminator="",
            min_digits=1, max_digits=longest,
        )
        prompt = p.get("prompt")
        for _ in range(int(p.get("retries", 2)) + 1):
            answer = await collect(step, session, prompt=prompt, rules=rules, phrases=matcher,
                                   input_mode=mode)
            if answer.kind is Kind.HUNGUP:
                return HANGUP
            chosen: dict[str, Any] | None = None
            if answer.kind is Kind.DTMF:
                chosen = keyed.get(answer.digits)
            elif answer.kind is Kind.SPEECH and answer.choice is not None:
                chosen = choices[int(answer.choice)]
            await record_answer(step, session, _with_choice(answer, chosen), p.get("variable"))
            if chosen is not None:
                if p.get("variable"):
                    session.vars[p["variable"]] = chosen.get("digits") or chosen["phrases"][0]
                return str(chosen["goto"])
            again = p.get("timeout_prompt" if answer.kind is Kind.TIMEOUT else "invalid_prompt")
            if again is not None and await speak(
                again, step, session, interrupt="none"
            ) is PromptOutcome.HUNGUP:
                return HANGUP
        target = p.get("on_failure")
        return HANGUP if target is None else str(target)


def _with_choice(answer: Answer, chosen: dict[str, Any] | None) -> Answer:
    """The answer as recorded: a key press matching no choice is invalid."""
    if answer.kind is Kind.DTMF and answer.dtmf is not None:
        outcome = Outcome.MATCH if chosen is not None else Outcome.INVALID
        return replace(answer, dtmf=Collected(answer.digits, outcome, answer.dtmf.ended))
    if answer.kind is Kind.SPEECH and chosen is not None:
        return replace(answer, choice=chosen.get("digits") or chosen["phrases"][0])
    return answer


VERB = register(MenuVerb())
