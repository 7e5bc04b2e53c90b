"""The language a call is in, as flows set it and verbs use it.

A flow names its callers' language at the top (`language: es`), a `language` step switches it
mid-flow, and `language: auto` leaves it to the caller's first utterance (the gather's
recogniser detects it: ivr.media.collect). The language lives on the call (`call.language`),
where the live transcript's streams read it for each utterance (voice.language_pools) and the
`queue` verb turns it into a `lang:<code>` skill (routing.strategies); the flow sees it as
`${language}` (`en` until anything says otherwise) and can branch on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.languages import AUTO, DEFAULT_LANGUAGE, LANGUAGES, language_skill, voice_for

if TYPE_CHECKING:
    from ivr.verbs.base import IvrSession


def call_language(session: IvrSession | Any) -> str | None:
    """The call's language (`en`, `es`, `auto` while undetected), or None when no flow said."""
    value = getattr(session.call, "language", None)
    return value if isinstance(value, str) else None


def set_language(session: IvrSession | Any, code: str | None) -> None:
    """Put the call in `code` (None: unsaid) and mirror it in `${language}`."""
    session.call.language = code
    session.vars["language"] = code or DEFAULT_LANGUAGE


def detected(session: IvrSession | Any, code: str | None) -> bool:
    """Take a detected language if the call waits for one (`auto`); True when taken."""
    if code and call_language(session) == AUTO:
        set_language(session, code)
        return True
    return False


def language_skills(session: IvrSession | Any) -> tuple[str, ...]:
    """What the `queue` step asks of agents for the call's language: `lang:<code>` once the
    language is known (routing matches it against the agents' `languages`), else nothing."""
    code = call_language(session)
    return (language_skill(code),) if code in LANGUAGES else ()


def session_voice(session: IvrSession | Any) -> str:
    """The espeak-ng voice for the call's language (English while `auto` is undetected)."""
    return voice_for(call_language(session))
