"""The flow document's JSON Schema, assembled from the document shape and every verb's schema.

`flow.schema.json` next to this module is the shipped copy (editors point at it); a test checks
it equals `flow_schema()`. Regenerate it after changing a verb: `python -m ivr.schema`.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from ivr.verbs.base import Verb

SCHEMA_PATH = pathlib.Path(__file__).with_name("flow.schema.json")

LABEL_NAME: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$",
    "description": "a label (letters, digits, _ and -)",
}

# The document around the steps; `steps` items are checked one by one against their verb.
DOCUMENT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "numbers": {"type": "array", "items": {"type": ["string", "integer"]}},
        "default": {"type": "boolean"},
        "answer": {"type": "boolean"},
        "max_steps": {"type": "integer", "minimum": 1, "maximum": 100000},
        # The callers' language (common.languages); `auto`: detected on the first utterance.
        "language": {"enum": ["en", "es", "auto"]},
        # Phrases the whole call's transcript should favour (product names): whisper hears
        # them as hot words (voice.language_pools); a gather's own phrases come first there.
        "hints": {"type": "array", "maxItems": 100,
                  "items": {"type": "string", "minLength": 1, "maxLength": 100}},
        "steps": {"type": "array", "minItems": 1},
    },
}


def _step_schema(verb: Verb) -> dict[str, Any]:
    params: dict[str, Any] = {"$ref": f"#/$defs/{verb.name}"}
    shorthand = getattr(verb, "shorthand", None)
    forms: list[dict[str, Any]] = [params, {"type": "null"}]
    if shorthand:
        forms.append(verb.schema["properties"][shorthand])
    return {
        "type": "object",
        "required": [verb.name],
        "additionalProperties": False,
        "properties": {
            verb.name: {"anyOf": forms},
            "label": LABEL_NAME,
            "sensitive": {"type": "boolean"},
        },
    }


def flow_schema(verbs: dict[str, Verb]) -> dict[str, Any]:
    """The whole flow document schema (draft 2020-12) for `verbs`."""
    names = sorted(verbs)
    document = json.loads(json.dumps(DOCUMENT))
    document["properties"]["steps"]["items"] = {
        "anyOf": [{"enum": names}] + [_step_schema(verbs[n]) for n in names]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://centralita.dev/schema/flow.schema.json",
        "title": "Centralita IVR flow",
        **document,
        "$defs": {n: verbs[n].schema for n in names},
    }


def render(verbs: dict[str, Verb]) -> str:
    """The schema as the shipped file's text."""
    return json.dumps(flow_schema(verbs), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Write `flow.schema.json` for every registered verb."""
    from ivr.verbs.all import load_all

    SCHEMA_PATH.write_text(render(load_all()), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
