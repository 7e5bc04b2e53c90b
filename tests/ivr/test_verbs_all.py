"""`ivr.verbs.all` registers every verb module, and a missing one stops the import."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import ivr.verbs
import ivr.verbs.all
from ivr.verbs.all import CONTROL_VERBS, MEDIA_VERBS, load_all

VERBS_DIR = Path(ivr.verbs.__file__).parent


def test_every_verb_module_is_registered() -> None:
    # A module that calls `register(...)` is a verb: each must be imported by `all`.
    modules = sorted(p.stem for p in VERBS_DIR.glob("*.py")
                     if p.stem != "base" and "= register(" in p.read_text(encoding="utf-8"))
    imported = sorted(m.__name__.rsplit(".", 1)[1] for m in (*CONTROL_VERBS, *MEDIA_VERBS))
    assert imported == modules
    assert set(load_all()) >= set(modules)


def test_a_missing_verb_module_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if ivr/verbs/say.py had not been shipped.
    monkeypatch.delattr(ivr.verbs, "say")
    monkeypatch.setitem(sys.modules, "ivr.verbs.say", None)
    try:
        with pytest.raises(ModuleNotFoundError):
            importlib.reload(ivr.verbs.all)
    finally:
        monkeypatch.undo()
        importlib.reload(ivr.verbs.all)
