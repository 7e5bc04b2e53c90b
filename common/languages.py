"""The languages Centralita speaks, listens to and shows pages in: one list for every package.

Codes are BCP-47 primary language subtags (ISO 639-1). A flow, a queue, an agent and a user
name theirs with these codes; `auto` (flows only) means "detect it on the caller's first
utterance". Each language names the espeak-ng voice that says prompts in it and the whisper
model that hears it (tiny.en is English only; base is multilingual).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LANGUAGE = "en"
AUTO = "auto"


@dataclass(frozen=True)
class Language:
    """One supported language: its code, name, espeak-ng voice and whisper model."""

    code: str
    name: str
    voice: str
    whisper_model: str


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "en-us", "tiny.en"),
    "es": Language("es", "Español", "es", "base"),
}


# A call's language travels to routing as a skill `lang:<code>`, matched against the agents'
# `languages` rather than skill levels (routing.strategies).
LANGUAGE_PREFIX = "lang:"


def language_skill(code: str) -> str:
    """The skill that asks for an agent speaking `code`."""
    return f"{LANGUAGE_PREFIX}{code}"


def check_language(value: object, *, auto_ok: bool = False) -> str:
    """`value` as a supported code, or ValueError saying what is accepted."""
    allowed = [*LANGUAGES, *([AUTO] if auto_ok else [])]
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise ValueError(f"unsupported language {value!r}: expected one of {', '.join(allowed)}")


def voice_for(language: str | None) -> str:
    """The espeak-ng voice for `language` (English when None, unknown or `auto`)."""
    return LANGUAGES.get(language or DEFAULT_LANGUAGE, LANGUAGES[DEFAULT_LANGUAGE]).voice
