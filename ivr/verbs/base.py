"""The verb interface: what a flow step is, and what every verb implements.

A flow is a list of `Step`s. Each step names a verb (`play`, `set`, `queue`...) whose module
registers one `Verb` object in `REGISTRY`. The validator asks each verb for its JSON Schema (its
params) and its `check()` (semantic checks); the interpreter calls its `run()` with an
`IvrSession` that carries the call, the flow variables, the injected clock and the services.

`run()` returns what happens next: a label to jump to, `HANGUP` ("__hangup__") to end the call,
or None to go on with the next step.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ivr.flow import FlowDoc
    from ivr.services import Services
    from media.clock import Clock
    from voice.call import Call

# What `Verb.run()` returns to end the call.
HANGUP = "__hangup__"


@dataclass(frozen=True)
class Pos:
    """Where a node sits in a flow file (1-based line and column, from the YAML marks)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Step:
    """One step of a flow: `verb` with its `params`, an optional `label` to jump to.

    `pos` is the position of the verb key; `param_pos` maps each top-level param name to the
    position of its value (fall back to `pos` for a param that is absent). `sensitive` steps
    mask whatever the caller enters (card numbers) in logs, on the case, everywhere.
    """

    index: int
    verb: str
    params: dict[str, Any]
    label: str | None
    pos: Pos
    param_pos: dict[str, Pos] = field(default_factory=dict)
    sensitive: bool = False
    label_pos: Pos | None = None

    def at(self, param: str) -> Pos:
        """The position of `param`'s value, or of the step when it is absent."""
        return self.param_pos.get(param, self.pos)


class Problems:
    """Collects problems found in flow files, each shown as `file:line:column: message`."""

    def __init__(self) -> None:
        self.items: list[tuple[Pos, str]] = []

    def add(self, pos: Pos, message: str) -> None:
        self.items.append((pos, message))

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def lines(self) -> list[str]:
        """Every problem as `file:line:column: message`, in file and position order."""
        ordered = sorted(self.items, key=lambda p: (p[0].file, p[0].line, p[0].column, p[1]))
        return [f"{pos}: {message}" for pos, message in ordered]


class IvrSession(Protocol):
    """What a running verb sees of the call it drives."""

    call: Call
    vars: dict[str, Any]
    clock: Clock
    flow_dir: pathlib.Path
    services: Services

    def render(self, text: str) -> str:
        """`text` with every `${name}` replaced by the flow variable (empty if unset)."""
        ...

    async def record_input(
        self, kind: str, value: Any, *, step: Step, sensitive: bool = False
    ) -> None:
        """Keep an IVR input (digits, speech, variables, path) on the call's interaction."""
        ...


class Verb(Protocol):
    """One verb: its params' JSON Schema, semantic checks, and what it does on a call."""

    name: str
    schema: dict[str, Any]

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Semantic checks beyond the schema (files exist, regexes compile, labels exist...)."""
        ...

    async def run(self, step: Step, session: IvrSession) -> str | None:
        """Do the step; return a label to jump to, `HANGUP`, or None for the next step."""
        ...


REGISTRY: dict[str, Verb] = {}


def register(verb: Verb) -> Verb:
    """Add `verb` to `REGISTRY` under its name (a module-level call in each verb module)."""
    if verb.name in REGISTRY and REGISTRY[verb.name] is not verb:
        raise ValueError(f"verb {verb.name!r} registered twice")
    REGISTRY[verb.name] = verb
    return verb


def check_label(step: Step, param: str, flow: FlowDoc, problems: Problems) -> None:
    """Report `step.params[param]` if it names a label the flow doesn't have."""
    target = step.params.get(param)
    if isinstance(target, str) and target != HANGUP and target not in flow.labels:
        problems.add(step.at(param), f"{step.verb}: {param}: no step has label '{target}'")
