"""YAML with positions: every value of a flow file keeps the line:column it came from.

`yaml.compose` gives nodes with marks; we build plain Python values from them and, next to
them, a map from each value's path (a tuple of keys and indexes) to its `Pos`, and from each
mapping key's path to the key's `Pos`. Problems are then reported where the user wrote them.

Scalars are read as YAML 1.1 reads them (PyYAML's safe resolver) with two exceptions, because
flows are full of times and dates: `17:30` stays the string "17:30" (not the sexagesimal 1050)
and `2025-12-25` stays a string (the `hours` verb parses and reports bad dates itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ivr.verbs.base import Pos, Problems

Path_ = tuple[str | int, ...]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


@dataclass
class Located:
    """A YAML document as Python values plus where each value and key was written."""

    value: Any
    file: str
    values: dict[Path_, Pos] = field(default_factory=dict)
    keys: dict[Path_, Pos] = field(default_factory=dict)

    def at(self, path: Path_) -> Pos:
        """The position of the value at `path`, or of its nearest enclosing value."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Pos(self.file, 1, 1))

    def key_at(self, path: Path_) -> Pos:
        """The position of the key whose value is at `path` (the value's if it has no key)."""
        return self.keys.get(path) or self.at(path)


def dotted(path: Path_) -> str:
    """`("when", 0, "goto")` as `"when[0].goto"` (how messages and `Step.param_pos` name it)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pos(file: str, node: yaml.Node) -> Pos:
    mark = node.start_mark
    return Pos(file, mark.line + 1, mark.column + 1)


def load_located(text: str, file: str, problems: Problems) -> Located | None:
    """Parse one YAML document; syntax errors and duplicate keys go to `problems`."""
    try:
        # The reader checks for control characters as it is built: that is an error at a
        # position too, not an exception out of the validator (found by tests/fuzz).
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        problems.add(Pos(file, line, column), f"character U+{code:04X} is not allowed in YAML")
        return None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        problems.add(pos, f"YAML syntax error: {exc.problem or exc.context}")
        return None
    except yaml.YAMLError as exc:
        problems.add(Pos(file, 1, 1), f"YAML error: {exc}")
        return None
    finally:
        loader.dispose()
    if node is None:
        problems.add(Pos(file, 1, 1), "empty flow document")
        return None
    located = Located(None, file)
    located.value = _build(node, (), located, loader, problems)
    return located


def _build(
    node: yaml.Node, path: Path_, out: Located, loader: yaml.SafeLoader, problems: Problems
) -> Any:
    out.values[path] = _pos(out.file, node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, out.file, loader, problems)
            if not isinstance(key, str | int | bool) or key is None:
                problems.add(_pos(out.file, key_node), "mapping keys must be plain words")
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                problems.add(_pos(out.file, key_node), f"duplicate key '{key}'")
                continue
            out.keys[(*path, key)] = _pos(out.file, key_node)
            result[key] = _build(value_node, (*path, key), out, loader, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), out, loader, problems)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node, out.file, loader, problems)


def _scalar(node: yaml.Node, file: str, loader: yaml.SafeLoader, problems: Problems) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == _TIMESTAMP or (node.tag in _NUMBERS and ":" in node.value):
        return node.value
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problems.add(_pos(file, node), f"bad value: {getattr(exc, 'problem', None) or exc}")
        return node.value
