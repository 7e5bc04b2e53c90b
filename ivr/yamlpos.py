"""YAML with positions: every value of a flow file keeps the line:column it came from.

`yaml.compose` gives nodes with marks; we build plain Python values from them and, next to
them, a map from each value's path (a tuple of keys and indexes) to its `Pos`, and from each
mapping key's path to the key's `Pos`. Problems are then reported where the user wrote them.

Scalars are read as YAML 1.1 reads them (PyYAML's safe resolver) with two exceptions, because
flows are full of times and dates: `17:30` stays the string "17:30" (not the sexagesimal 1050)
and `2025-12-25` stays a string (the `hours` verb parses and reports bad dates itself).

libyaml (PyYAML's C parser) reads the text, about 20 times faster than PyYAML's pure-Python
one; when libyaml refuses it (or is not installed) PyYAML reads it again, so a syntax error
says what PyYAML says ("expected ',' or ']', but got '<stream end>'", where libyaml only has
"did not find expected ',' or ']'") at the character it names. libyaml also reads a few
spellings the YAML spec allows and PyYAML refuses (a tab after `key:` or inside a plain
scalar, a `?` inside a flow scalar like `{a: b?c}`): such files now load. A document nested deeper than
`MAX_DEPTH` or whose aliases stand for more than `MAX_ALIASED` values is refused with a
positioned problem: both parsers compose recursively (past a few hundred levels PyYAML raises
RecursionError and libyaml overflows the C stack), and an alias is built again each time it is
used, so a few lines of anchors can stand for billions of values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

from ivr.verbs.base import Pos, Problems

Path_ = tuple[str | int, ...]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

MAX_DEPTH = 50  # nested mappings and lists; a flow or routing file needs about 10
MAX_ALIASED = 10_000  # values built again because an alias stands for them

# yaml.CSafeLoader or yaml.SafeLoader: a parser plus PyYAML's SafeConstructor and resolver
# (yaml has no type stubs here).
Loader: TypeAlias = Any
# libyaml when PyYAML was built with it (its wheels are); PyYAML's own parser otherwise.
_FAST: type[Loader] | None = yaml.CSafeLoader if yaml.__with_libyaml__ else None


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
    return _mark_pos(file, node.start_mark)


class _Refused(Exception):
    """The document breaks a limit (`MAX_DEPTH`, `MAX_ALIASED`): one problem, and no value."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


def load_located(text: str, file: str, problems: Problems) -> Located | None:
    """Parse one YAML document; syntax errors and duplicate keys go to `problems`."""
    try:
        composed = _compose(text, file, problems)
        if composed is None:
            return None
        node, loader = composed
        if node is None:
            problems.add(Pos(file, 1, 1), "empty flow document")
            return None
        located = Located(None, file)
        located.value = _Builder(located, loader, problems).build(node, ())
    except _Refused as exc:
        problems.add(exc.pos, exc.message)
        return None
    return located


def _compose(text: str, file: str, problems: Problems) -> tuple[yaml.Node | None, Loader] | None:
    """The document's nodes, or None with the syntax error in `problems`."""
    if _FAST is not None:
        try:
            return _compose_fast(_FAST, text, file)
        except (yaml.YAMLError, UnicodeEncodeError):
            pass  # PyYAML reads it again below and says what is wrong, and where
    loader = None
    try:
        loader = _PyYamlLoader(text, file)
        return loader.get_single_node(), loader
    except yaml.reader.ReaderError as exc:
        # The reader checks for control characters: that is an error at a position too, not
        # an exception out of the validator (found by tests/fuzz).
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        problems.add(Pos(file, line, column), f"character U+{code:04X} is not allowed in YAML")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        problems.add(pos, f"YAML syntax error: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        problems.add(Pos(file, 1, 1), f"YAML error: {exc}")
    finally:
        if loader is not None:
            loader.dispose()
    return None


def _compose_fast(
    loader_class: type[Loader], text: str, file: str
) -> tuple[yaml.Node | None, Loader]:
    # libyaml parses iteratively but composes recursively (in C, unchecked): the depth is
    # checked on the events first.
    depth = 0
    for event in yaml.parse(text, Loader=loader_class):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(_mark_pos(file, event.start_mark), _TOO_DEEP)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    loader = loader_class(text)
    try:
        return loader.get_single_node(), loader
    finally:
        loader.dispose()


class _PyYamlLoader(yaml.SafeLoader):  # type: ignore[misc]  # (no stubs: SafeLoader is Any)
    """PyYAML's loader, refusing to nest deeper than `MAX_DEPTH` as it composes (its composer
    recurses once per level, up to RecursionError)."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if not self.check_event(yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(_mark_pos(self.file, self.peek_event().start_mark), _TOO_DEEP)
        node = super().compose_node(parent, index)
        self.depth -= 1
        return node


def _mark_pos(file: str, mark: yaml.Mark) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1)


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


@dataclass
class _Builder:
    """Python values from a node tree, recording each value's and key's position."""

    out: Located
    loader: Loader
    problems: Problems
    built: set[int] = field(default_factory=set)  # ids of the nodes built so far
    aliased: int = 0  # values built again for an alias
    alias_at: Path_ | None = None  # the path of the outermost alias being built

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if id(node) not in self.built:
            self.built.add(id(node))
            return self._value(node, path)
        # An alias: its anchor's value is built again here.
        outermost = self.alias_at is None
        if outermost:
            self.alias_at = path
        self.aliased += 1
        if self.aliased > MAX_ALIASED:
            raise self._refused(f"aliases stand for more than {MAX_ALIASED} values")
        value = self._value(node, path)
        if outermost:
            self.alias_at = None
        return value

    def _refused(self, message: str) -> _Refused:
        # Reported at the value holding the outermost alias: an alias node is its anchor's
        # node, and only the anchor's position is known.
        return _Refused(self.out.at(self.alias_at[:-1] if self.alias_at else ()), message)

    def _value(self, node: yaml.Node, path: Path_) -> Any:
        file = self.out.file
        if len(path) > MAX_DEPTH:  # only through aliases: the events were checked
            raise self._refused(f"{_TOO_DEEP} (counting what aliases stand for)")
        self.out.values[path] = _pos(file, node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = _scalar(key_node, file, self.loader, self.problems)
                if not isinstance(key, str | int | bool) or key is None:
                    self.problems.add(_pos(file, key_node), "mapping keys must be plain words")
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    self.problems.add(_pos(file, key_node), f"duplicate key '{key}'")
                    continue
                self.out.keys[(*path, key)] = _pos(file, key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return _scalar(node, file, self.loader, self.problems)


def _scalar(node: yaml.Node, file: str, loader: Loader, problems: Problems) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == _TIMESTAMP or (node.tag in _NUMBERS and ":" in node.value):
        return node.value
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problems.add(_pos(file, node), f"bad value: {getattr(exc, 'problem', None) or exc}")
        return node.value
    except (ValueError, LookupError):
        # How PyYAML's constructors fail on an explicitly tagged scalar they cannot read:
        # `!!int ""` (IndexError), `!!bool maybe` (KeyError), `!!int 0x` (ValueError).
        kind = node.tag.rsplit(":", 1)[-1]
        problems.add(_pos(file, node), f"bad value: {node.value!r} is not a valid {kind}")
        return node.value
