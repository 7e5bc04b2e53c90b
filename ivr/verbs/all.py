"""Import every verb module so each registers itself in `REGISTRY`.

The media verbs (play, say, gather, menu, voicemail) are written alongside; until a module
exists its verb is simply unknown to the validator, rather than breaking every import of ivr.
"""

from __future__ import annotations

import importlib

from ivr.verbs import branch, callback, goto, hangup, hours, http, queue, set, transfer
from ivr.verbs.base import REGISTRY, Verb

CONTROL_VERBS = (branch, callback, goto, hangup, hours, http, queue, set, transfer)
MEDIA_VERBS = ("play", "say", "gather", "menu", "voicemail")


def load_all() -> dict[str, Verb]:
    """Every registered verb, media verbs included when their modules are installed."""
    for name in MEDIA_VERBS:
        try:
            importlib.import_module(f"ivr.verbs.{name}")
        except ModuleNotFoundError as exc:
            # Only "that module isn't written yet" is tolerated; its own import errors are real.
            if exc.name != f"ivr.verbs.{name}":
                raise
    return REGISTRY
