"""A small JSON Schema validator for the subset flow schemas use, with positioned messages.

Why not the `jsonschema` package: it is not a dependency of the server, and its messages
("'x' is not of type 'object'") name neither the verb nor the parameter the way a flow author
needs. The shipped `flow.schema.json` stays standard JSON Schema (draft 2020-12) for editors;
this module reads the keywords below and reports each error at the value (or key) it concerns:

    type, enum, const, pattern, minLength, minimum, maximum, exclusiveMinimum,
    properties, required, additionalProperties, propertyNames, minProperties,
    items, minItems, anyOf
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ivr.yamlpos import Path_, dotted

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}


@dataclass(frozen=True)
class SchemaError:
    """One schema violation: where (a path under the validated value) and what."""

    path: Path_
    message: str
    at_key: bool = False  # report at the key (unknown property) rather than the value


def describe(value: Any) -> str:
    """The YAML kind of `value`, for messages ("got a list")."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _is(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "null":
        return value is None
    raise ValueError(f"schema type {kind!r} is not supported")


def validate(
    value: Any, schema: dict[str, Any], path: Path_ = (), *, noun: str = "parameter"
) -> Iterator[SchemaError]:
    """Every way `value` breaks `schema`; messages are prefixed with the dotted path.

    `noun` names what a mapping's entries are in messages ("unknown parameter 'x'").
    """
    prefix = f"{dotted(path)}: " if path else ""
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            names = [_TYPE_NAMES[k] for k in kinds]
            wanted = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
            yield SchemaError(path, f"{prefix}expected {wanted}, got {describe(value)}")
            return
    if "anyOf" in schema:
        options = schema["anyOf"]
        if not any(next(validate(value, opt, path, noun=noun), None) is None for opt in options):
            # One option that fits the value's type explains best; else say none matched.
            typed = [o for o in options if "type" in o and _fits_type(value, o["type"])]
            if len(typed) == 1:
                yield from validate(value, typed[0], path, noun=noun)
            else:
                yield SchemaError(path, f"{prefix}{describe(value)} is not allowed here")
            return
    if "const" in schema and value != schema["const"]:
        yield SchemaError(path, f"{prefix}must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        yield SchemaError(path, f"{prefix}must be one of {allowed}, got {value!r}")
    if isinstance(value, str):
        yield from _string(value, schema, path, prefix)
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield from _number(value, schema, path, prefix)
    if isinstance(value, dict):
        yield from _object(value, schema, path, prefix, noun)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            yield SchemaError(path, f"{prefix}needs at least {schema['minItems']} item(s)")
        if "items" in schema:
            for index, item in enumerate(value):
                yield from validate(item, schema["items"], (*path, index), noun=noun)


def _fits_type(value: Any, kinds: str | list[str]) -> bool:
    return any(_is(value, k) for k in ([kinds] if isinstance(kinds, str) else kinds))


def _string(value: str, schema: dict[str, Any], path: Path_, prefix: str) -> Iterator[SchemaError]:
    if len(value) < schema.get("minLength", 0):
        yield SchemaError(path, f"{prefix}must not be empty")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        hint = schema.get("description", f"pattern {schema['pattern']}")
        yield SchemaError(path, f"{prefix}{value!r} is not {hint}")


def _number(
    value: float, schema: dict[str, Any], path: Path_, prefix: str
) -> Iterator[SchemaError]:
    if "minimum" in schema and value < schema["minimum"]:
        yield SchemaError(path, f"{prefix}must be at least {schema['minimum']}, got {value}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        yield SchemaError(
            path, f"{prefix}must be more than {schema['exclusiveMinimum']}, got {value}"
        )
    if "maximum" in schema and value > schema["maximum"]:
        yield SchemaError(path, f"{prefix}must be at most {schema['maximum']}, got {value}")


def _object(
    value: dict[str, Any], schema: dict[str, Any], path: Path_, prefix: str, noun: str
) -> Iterator[SchemaError]:
    for name in schema.get("required", []):
        if name not in value:
            yield SchemaError(path, f"{prefix}missing required {noun} '{name}'")
    if len(value) < schema.get("minProperties", 0):
        yield SchemaError(path, f"{prefix}needs at least {schema['minProperties']} entries")
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    for key, item in value.items():
        sub = (*path, key)
        if names is not None:
            for err in validate(key, names, ()):
                yield SchemaError(sub, f"{prefix}name '{key}': {err.message}", at_key=True)
        if key in props:
            yield from validate(item, props[key], sub, noun=noun)
        elif extra is False:
            yield SchemaError(sub, f"{prefix}unknown {noun} '{key}'", at_key=True)
        elif isinstance(extra, dict):
            yield from validate(item, extra, sub, noun=noun)
