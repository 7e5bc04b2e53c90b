"""Import every verb module so each registers itself in `REGISTRY`.

The list is plain imports on purpose: a verb module that is missing or broken is an
ImportError the moment `ivr` starts (the validator, the interpreter and `centralita flows
check` all come through here), never a verb that is quietly unknown to the validator.
"""

from __future__ import annotations

from ivr.verbs import (
    branch,
    callback,
    gather,
    goto,
    handover,
    hangup,
    hours,
    http,
    language,
    menu,
    play,
    queue,
    say,
    set,
    sms,
    transfer,
    voicemail,
)
from ivr.verbs.base import REGISTRY, Verb

CONTROL_VERBS = (branch, callback, goto, handover, hangup, hours, http, language, queue, set,
                 sms, transfer)
MEDIA_VERBS = (play, say, gather, menu, voicemail)


def load_all() -> dict[str, Verb]:
    """Every verb, by name (all registered when this module was imported)."""
    return REGISTRY
