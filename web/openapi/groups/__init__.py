"""Every group's declared operations, merged: `OPERATIONS[(method, path)]` and its tag.

A group module holds `TAG` and `OPERATIONS: dict[(METHOD, path), Op]`, the path spelled as
aiohttp's route table has it (`/api/cases/{id}`), a static directory as `{prefix}/{filename}`
and a literal-words variable as one path per word (`web.openapi.document`).
"""

from __future__ import annotations

from types import ModuleType

from web.openapi.groups import auth, cases, channels, recordings, routing
from web.openapi.model import Op

_GROUPS: tuple[ModuleType, ...] = (auth, cases, channels, routing, recordings)

OPERATIONS: dict[tuple[str, str], Op] = {}
TAGS: dict[tuple[str, str], str] = {}
for _group in _GROUPS:
    for _key, _op in _group.OPERATIONS.items():
        if _key in OPERATIONS:
            raise ValueError(f"{_key} is declared twice")
        OPERATIONS[_key] = _op
        TAGS[_key] = _group.TAG
