"""What one HTTP operation says about itself, as data: summary, parameters, body, answers.

Each route group declares its operations in a module of this package (`web.openapi.groups`)
keyed by method and path exactly as aiohttp's route table spells them; the builder
(`web.openapi.document`) adds what the live application knows (the role from
`web.auth.require`, the 401/403 that role implies) and assembles OpenAPI 3.1.

Schemas are plain JSON Schema 2020-12 dicts (OpenAPI 3.1 uses it as is); the helpers below
keep the declarations short.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

JSON = "application/json"
ERROR_REF: Schema = {"$ref": "#/components/schemas/Error"}


@dataclass(frozen=True)
class Reply:
    """One documented answer: `schema` None means no body (204, a redirect) or one we do
    not describe beyond its media type (`media`)."""

    description: str
    schema: Schema | None = None
    media: str | None = JSON


@dataclass(frozen=True)
class Op:
    """One operation. `replies` maps a status to its `Reply`, or to a description alone for
    the usual error body (`Error`). `query` and `path` give parameter schemas by name
    (`required_query` those that must be there); path parameters not named here are strings.
    `body` is the request body's schema (in `body_media`), required when given."""

    summary: str
    replies: Mapping[int, Reply | str]
    body: Schema | None = None
    body_media: str = JSON
    query: Mapping[str, Schema] = field(default_factory=dict)
    required_query: frozenset[str] = frozenset()
    path: Mapping[str, Schema] = field(default_factory=dict)
    headers: Mapping[str, Schema] = field(default_factory=dict)
    description: str = ""


def obj(required: tuple[str, ...] = (), *, extra: bool = True, **props: Schema) -> Schema:
    """An object schema with `props`; `required` the keys that must be there; `extra` False
    refuses keys not named."""
    schema: Schema = {"type": "object", "properties": dict(props)}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    return schema


def arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY_OBJ: Schema = {"type": "object"}
# A UNIX time or ISO-8601 with its offset, as the figures' `since`/`until` take.
TIME_PARAM: Schema = {"type": "string", "maxLength": 40}


def ok(description: str, schema: Schema | None = None, media: str | None = JSON) -> Reply:
    return Reply(description, schema if schema is not None else (ANY_OBJ if media == JSON
                                                                  else None), media)


NO_CONTENT = Reply("done, no body", None, None)
HTML = Reply("an HTML page", None, "text/html")
