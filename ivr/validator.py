"""Load and validate flow files: every problem as `file:line:column: message`.

One file at a time (`load_flow`): YAML syntax, the document schema, each step's verb (unknown
verbs, its params against the verb's schema, then the verb's own `check()`), labels (duplicate,
missing targets) and unreachable steps. Across files (`check_numbers`): a dialed number served
by two flows, or two default flows.
"""

from __future__ import annotations

import difflib
import hashlib
import pathlib
from collections.abc import Iterable, Iterator
from typing import Any

from ivr.flow import FlowDoc
from ivr.schema import DOCUMENT, LABEL_NAME
from ivr.schema_check import describe, validate
from ivr.verbs.all import load_all
from ivr.verbs.base import Pos, Problems, Step, Verb
from ivr.yamlpos import Located, Path_, dotted, load_located

_STEP_KEYS = ("label", "sensitive")


def load_flow(path: pathlib.Path, problems: Problems, *, name: str | None = None) -> FlowDoc | None:
    """Parse and check one flow file; None (and `problems`) if it is not usable."""
    file = name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.add(Pos(file, 1, 1), f"cannot read flow: {exc.strerror}")
        return None
    return parse_flow(raw, path, problems, file=file)


def parse_flow(raw: bytes, path: pathlib.Path, problems: Problems, *, file: str) -> FlowDoc | None:
    """Check the flow in `raw` (the bytes of `path`); problems are reported against `file`."""
    before = len(problems)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.add(Pos(file, 1, 1), "flow is not UTF-8 text")
        return None
    doc = load_located(text, file, problems)
    if doc is None:
        return None
    if not isinstance(doc.value, dict):
        problems.add(doc.at(()), f"a flow is a mapping (name, numbers, steps), got {describe(doc.value)}")
        return None
    for err in validate(doc.value, DOCUMENT, noun="key"):
        problems.add(doc.key_at(err.path) if err.at_key else doc.at(err.path), err.message)
    if len(problems) > before:
        return None
    value = doc.value
    if not value.get("numbers") and not value.get("default"):
        problems.add(doc.at(()), "flow serves no number: add numbers: or default: true")
    verbs = load_all()
    steps: list[Step] = []
    broken: set[int] = set()
    for index, item in enumerate(value["steps"]):
        step = _parse_step(doc, index, item, verbs, problems)
        if step is None:
            broken.add(index)
            # Keep indexes aligned: a placeholder nobody runs (the flow is rejected anyway).
            step = Step(index, "", {}, None, doc.at(("steps", index)))
        steps.append(step)
    labels = _labels(steps, problems)
    flow = FlowDoc(
        name=value["name"],
        path=path,
        numbers=tuple(str(n) for n in value.get("numbers", [])),
        default=bool(value.get("default", False)),
        steps=tuple(steps),
        labels=labels,
        version=hashlib.sha256(raw).hexdigest()[:12],
        pos=doc.at(()),
        number_pos={str(n): doc.at(("numbers", i)) for i, n in enumerate(value.get("numbers", []))},
        max_steps=value.get("max_steps"),
        answer=bool(value.get("answer", True)),
        language=value.get("language"),
        hints=tuple(dict.fromkeys(value.get("hints", []))),
    )
    for step in steps:
        if step.index not in broken:
            verbs[step.verb].check(step, flow, problems)
    if not broken:
        _unreachable(flow, verbs, problems)
    return flow if len(problems) == before else None


def _parse_step(
    doc: Located, index: int, item: Any, verbs: dict[str, Verb], problems: Problems
) -> Step | None:
    here: Path_ = ("steps", index)
    if isinstance(item, str):
        item = {item: None}
        key_pos = {item_key: doc.at(here) for item_key in item}
    elif isinstance(item, dict):
        key_pos = {k: doc.key_at((*here, k)) for k in item}
    else:
        problems.add(doc.at(here), f"a step is a mapping like '- say: {{...}}', got {describe(item)}")
        return None
    names = [k for k in item if k not in _STEP_KEYS]
    if not names:
        problems.add(doc.at(here), "step has no verb")
        return None
    if len(names) > 1:
        problems.add(key_pos[names[1]], f"step has more than one verb: {', '.join(names)} "
                     "(one verb per step)")
        return None
    verb_name = names[0]
    if verb_name not in verbs:
        close = difflib.get_close_matches(verb_name, sorted(verbs), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.add(key_pos[verb_name], f"unknown verb '{verb_name}'{hint}")
        return None
    ok = True
    label = item.get("label")
    if label is not None:
        for err in validate(label, LABEL_NAME):
            problems.add(doc.at((*here, "label")), f"label: {err.message}")
            ok = False
    sensitive = item.get("sensitive", False)
    if not isinstance(sensitive, bool):
        problems.add(doc.at((*here, "sensitive")), f"sensitive: expected true or false, got {describe(sensitive)}")
        ok = False
    verb = verbs[verb_name]
    base: Path_ = (*here, verb_name)
    params = item[verb_name]
    param_pos: dict[str, Pos] = {}
    shorthand = getattr(verb, "shorthand", None)
    short = False  # `- goto: main` for `- goto: {label: main}`
    if params is None:
        params = {}
    elif shorthand and not isinstance(params, dict | list):
        params = {shorthand: params}
        param_pos[shorthand] = doc.at(base)
        short = True
    if isinstance(params, dict):
        param_pos.update(_positions(doc, base))
    for err in validate(params, verb.schema):
        where = err.path if err.path else ()
        # (Was `shorthand not in item[verb_name]`: TypeError on `- goto: 5`, found by tests/fuzz.)
        if short and err.path and err.path[0] == shorthand:
            pos = doc.at(base)
        else:
            pos = doc.key_at((*base, *where)) if err.at_key else doc.at((*base, *where))
        problems.add(pos, f"{verb_name}: {err.message}")
        ok = False
    if not ok:
        return None
    label_pos = doc.at((*here, "label")) if label is not None else None
    return Step(index, verb_name, params, label, key_pos[verb_name], param_pos, sensitive,
                label_pos)


def _positions(doc: Located, base: Path_) -> dict[str, Pos]:
    """Positions of every value under `base`, keyed by their dotted path ("when[0].goto")."""
    return {dotted(path[len(base):]): pos for path, pos in doc.values.items()
            if len(path) > len(base) and path[:len(base)] == base}


def _labels(steps: list[Step], problems: Problems) -> dict[str, int]:
    labels: dict[str, int] = {}
    for step in steps:
        if step.label is None:
            continue
        if step.label in labels:
            first = steps[labels[step.label]].pos
            problems.add(step.label_pos or step.pos, f"duplicate label '{step.label}' (first at line {first.line})")
        else:
            labels[step.label] = step.index
    return labels


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _unreachable(flow: FlowDoc, verbs: dict[str, Verb], problems: Problems) -> None:
    """Report the first step of each run that no path from the first step reaches.

    Jumps are found generously (any parameter string naming a label counts), so a verb whose
    label parameters we don't know (a media verb's menu options) never makes a step look dead.
    """
    seen: set[int] = set()
    todo = [0]
    while todo:
        index = todo.pop()
        if index in seen or index >= len(flow.steps):
            continue
        seen.add(index)
        step = flow.steps[index]
        falls = getattr(verbs[step.verb], "falls_through", None)
        if falls is None or falls(step):
            todo.append(index + 1)
        todo.extend(flow.labels[s] for s in _strings(step.params) if s in flow.labels)
    for step in flow.steps:
        if step.index not in seen and step.index - 1 in seen:
            problems.add(step.pos, f"unreachable step: no step jumps here and "
                         f"the step before ({flow.steps[step.index - 1].verb}) never continues")


def check_numbers(flows: Iterable[FlowDoc], problems: Problems) -> None:
    """A dialed number served by two flows, or two default flows, is a problem in the later."""
    owners: dict[str, FlowDoc] = {}
    default: FlowDoc | None = None
    for flow in flows:
        for number in flow.numbers:
            other = owners.setdefault(number, flow)
            if other is not flow:
                problems.add(flow.number_pos[number], f"number '{number}' is already served "
                             f"by flow '{other.name}' ({other.number_pos[number]})")
        if flow.default:
            if default is not None:
                problems.add(flow.pos, f"second default flow: '{default.name}' ({default.path}) "
                             "is already the default")
            else:
                default = flow


def flow_files(paths: Iterable[pathlib.Path]) -> list[pathlib.Path]:
    """The flow files named by `paths`: files as given, directories' *.yaml and *.yml sorted."""
    files: list[pathlib.Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def check_paths(paths: Iterable[pathlib.Path]) -> tuple[list[FlowDoc], Problems]:
    """Load every flow under `paths` and check them together."""
    problems = Problems()
    flows = [f for f in (load_flow(p, problems) for p in flow_files(paths)) if f is not None]
    check_numbers(flows, problems)
    return flows, problems
