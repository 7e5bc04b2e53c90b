"""A parsed, validated flow document: what the interpreter runs and the registry serves."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

from ivr.verbs.base import Pos, Step


@dataclass(frozen=True)
class FlowDoc:
    """One flow file, immutable once loaded: a call holds the version it started with.

    `labels` maps each label to its step index; `version` is the file's content hash, so two
    loads of the same bytes are the same version.
    """

    name: str
    path: pathlib.Path
    numbers: tuple[str, ...]
    default: bool
    steps: tuple[Step, ...]
    labels: dict[str, int]
    version: str
    pos: Pos
    number_pos: dict[str, Pos] = field(default_factory=dict)
    max_steps: int | None = None
    answer: bool = True
    # `en`, `es` or `auto` (detected on the caller's first utterance); None: not said (English
    # prompts and recognition, and routing asks for no language).
    language: str | None = None
    # Phrases the call's live transcript should favour (`hints:` at the top of the flow).
    hints: tuple[str, ...] = ()

    @property
    def dir(self) -> pathlib.Path:
        """Where prompt paths resolve."""
        return self.path.parent
