"""`gather`: collect digits or a spoken answer into a variable.

    - gather:
        prompt: "Please enter your account number, then press hash"
        input: dtmf               # dtmf (default) | speech | both
        variable: account
        timeout: 5                # seconds to the first key (or speech), default 5
        inter_digit_timeout: 3    # default 3
        terminator: "#"           # default "#"; "" for none
        min_digits: 6             # default 1
        max_digits: 10            # default 20
        pattern: "^[0-9]+$"       # optional regex the whole entry must match
        on_match: lookup          # labels, all optional (default: next step)
        on_invalid: ask_again
        on_timeout: ask_again
        skip_if_known: true       # the case has the fact `account` already: take it, don't ask
      sensitive: true             # card numbers: digits masked (****) in logs and on the case

    - gather:
        prompt: {say: "Say billing or support, or press 1 or 2"}
        input: both
        variable: topic
        phrases: {billing: [billing, invoice, payment], support: [support, help, technical]}

With `phrases`, the variable gets the matched choice ("billing"); `${variable}_text` is not
kept. Every answer is recorded on the interaction: digits as `digits`, speech as `speech`.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from ivr.case_vars import read_case
from ivr.media.collect import INPUTS, Answer, Kind, collect
from ivr.media.dtmf import DtmfRules, mask
from ivr.media.phrases import PhraseMatcher
from ivr.media.speak import PROMPT_SCHEMA, check_prompt
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, check_label, register
from ivr.verbs.goto import LABEL
from ivr.verbs.set import VAR_NAME

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)

KEYS = "0123456789*#ABCD"
PHRASES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {
        "type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
    },
}


class GatherVerb:
    """Digits (timeout, terminator, min/max, pattern) and/or speech matched to phrases."""

    name = "gather"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "prompt": PROMPT_SCHEMA,
            "input": {"enum": list(INPUTS)},
            "variable": VAR_NAME,
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
            "inter_digit_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
            "terminator": {"type": "string", "maxLength": 1},
            "min_digits": {"type": "integer", "minimum": 1, "maximum": 64},
            "max_digits": {"type": "integer", "minimum": 1, "maximum": 64},
            "pattern": {"type": "string", "minLength": 1},
            "phrases": PHRASES_SCHEMA,
            "on_match": LABEL,
            "on_invalid": LABEL,
            "on_timeout": LABEL,
            "skip_if_known": {"type": "boolean"},
        },
    }

    def falls_through(self, step: Step) -> bool:
        return True

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Labels exist, the prompt file exists, digit rules agree, the regex compiles,
        speech input has phrases."""
        p = step.params
        for label in ("on_match", "on_invalid", "on_timeout"):
            check_label(step, label, flow, problems)
        if "prompt" in p:
            check_prompt(p["prompt"], step.at("prompt"), flow.dir, "gather", problems)
        if p.get("min_digits", 1) > p.get("max_digits", 20):
            problems.add(step.at("min_digits"), "gather: min_digits is more than max_digits")
        term = p.get("terminator")
        if term and term not in KEYS:
            problems.add(step.at("terminator"), f"gather: terminator must be one of {KEYS}")
        if "pattern" in p:
            try:
                re.compile(p["pattern"])
            except re.error as exc:
                problems.add(step.at("pattern"), f"gather: bad regex: {exc}")
        if p.get("input", "dtmf") != "dtmf" and "phrases" not in p:
            problems.add(step.at("input"), "gather: speech input needs 'phrases' to match")

    async def run(self, step: Step, session: IvrSession) -> str | None:
        p = step.params
        if p.get("skip_if_known") and p.get("variable") and not step.sensitive:
            # The case knows it already (ivr.case_vars): take it, never ask again.
            known = await read_case(session)
            value = known.facts.get(p["variable"]) if known is not None else None
            if value:
                session.vars[p["variable"]] = value
                log.info("%s step %d: %s known from the case, not asked", step.verb,
                         step.index, p["variable"])
                await session.record_input("variable", {p["variable"]: value}, step=step)
                return _label(p, "on_match")
        rules = rules_of(p)
        phrases = PhraseMatcher(p["phrases"]) if "phrases" in p else None
        answer = await collect(
            step, session, prompt=p.get("prompt"), rules=rules, phrases=phrases,
            input_mode=p.get("input", "dtmf"),
        )
        if answer.kind is Kind.HUNGUP:
            return HANGUP
        await record_answer(step, session, answer, p.get("variable"))
        if answer.kind is Kind.TIMEOUT:
            return _label(p, "on_timeout")
        if not answer.valid:
            return _label(p, "on_invalid")
        variable = p.get("variable")
        if variable:
            session.vars[variable] = (
                answer.choice if answer.kind is Kind.SPEECH else answer.digits
            )
        return _label(p, "on_match")


def rules_of(p: dict[str, Any]) -> DtmfRules:
    return DtmfRules(
        timeout=float(p.get("timeout", 5.0)),
        inter_digit_timeout=float(p.get("inter_digit_timeout", 3.0)),
        terminator=str(p.get("terminator", "#")),
        min_digits=int(p.get("min_digits", 1)),
        max_digits=int(p.get("max_digits", 20)),
        pattern=p.get("pattern"),
    )


def _label(p: dict[str, Any], key: str) -> str | None:
    value = p.get(key)
    return None if value is None else str(value)


async def record_answer(
    step: Step, session: IvrSession, answer: Answer, variable: str | None
) -> None:
    """Keep the answer on the interaction (masked first when the step is sensitive) and log
    only its shape."""
    sensitive = step.sensitive
    outcome = "timeout" if answer.kind is Kind.TIMEOUT else (
        "match" if answer.valid else "invalid"
    )
    log.info(
        "%s step %d: %s %s (%d digits)", step.verb, step.index, answer.kind.value, outcome,
        len(answer.digits),
    )
    if answer.kind is Kind.SPEECH:
        value: dict[str, Any] = {
            "text": mask(answer.text) if sensitive else answer.text,
            "match": answer.choice, "engine": answer.engine, "outcome": outcome,
        }
        kind = "speech"
    else:
        value = {
            "digits": mask(answer.digits) if sensitive else answer.digits,
            "outcome": outcome,
        }
        kind = "digits"
    if variable:
        value["variable"] = variable
    await session.record_input(kind, value, step=step, sensitive=sensitive)


VERB = register(GatherVerb())
