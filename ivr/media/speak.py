"""Prompts as flow steps write them, turned into audio sources.

A prompt is either a WAV file (relative to the flow's directory) or text to speak:

    prompt: welcome.wav                      # a string ending in .wav is a file
    prompt: "Hello ${name}"                  # any other string is spoken
    prompt: {say: "Hello", voice: en-us, rate: 160}   # voice: default the call's language's
    prompt: {play: prompts/hello.wav}

Text is rendered (`${var}`) before synthesis; a sensitive step's render is synthesized
without the disk cache and never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.language import session_voice
from ivr.media.prompt import PromptOutcome, play_prompt
from ivr.media.tts import DEFAULT_RATE, EspeakTts
from ivr.verbs.base import IvrSession, Pos, Problems, Step
from media.player import Player, WavFormatError, load_prompt, read_wav

PROMPT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["say"],
            "properties": {
                "say": {"type": "string", "minLength": 1},
                "voice": {"type": "string", "pattern": r"^[A-Za-z0-9_+\-]+$"},
                "rate": {"type": "integer", "minimum": 80, "maximum": 450},
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["play"],
            "properties": {"play": {"type": "string", "minLength": 1}},
        },
    ]
}
INTERRUPT_SCHEMA: dict[str, Any] = {"enum": ["dtmf", "speech", "any", "none"]}


class PromptUnavailable(Exception):
    """A prompt cannot be made: no TTS service, or a WAV that is missing or malformed."""


def wav_of(spec: Any) -> str | None:
    """The WAV path a prompt spec plays, or None if it speaks text."""
    if isinstance(spec, str):
        return spec if spec.lower().endswith(".wav") else None
    if isinstance(spec, dict) and "play" in spec:
        return str(spec["play"])
    return None


def check_prompt(spec: Any, pos: Pos, flow_dir: Path, what: str, problems: Problems) -> None:
    """Report a prompt's WAV that is missing or not 8/16 kHz mono 16-bit."""
    wav = wav_of(spec)
    if wav is None:
        return
    path = flow_dir / wav
    if not path.is_file():
        problems.add(pos, f"{what}: prompt file '{wav}' not found")
        return
    try:
        read_wav(path)
    except WavFormatError as exc:
        problems.add(pos, f"{what}: {str(exc).split(': ', 1)[-1]}")


async def prompt_source(spec: Any, session: IvrSession, *, sensitive: bool) -> Player:
    """A player for the prompt `spec` (see the module docstring)."""
    wav = wav_of(spec)
    if wav is not None:
        path = session.flow_dir / wav
        try:
            return Player(load_prompt(path, 8000), 8000)
        except (OSError, WavFormatError) as exc:
            raise PromptUnavailable(f"prompt file '{wav}': {type(exc).__name__}") from exc
    tts = session.services.tts
    if not isinstance(tts, EspeakTts):
        raise PromptUnavailable("no text-to-speech service on this server")
    if isinstance(spec, dict):
        text, voice, rate = spec["say"], spec.get("voice", session_voice(session)), spec.get(
            "rate", DEFAULT_RATE
        )
    else:
        text, voice, rate = str(spec), session_voice(session), DEFAULT_RATE
    rendered = session.render(text)
    pcm = await tts.synthesize(rendered, voice=voice, rate=rate, cache=not sensitive)
    return Player(pcm, 8000)


async def speak(
    spec: Any, step: Step, session: IvrSession, *, interrupt: str
) -> PromptOutcome:
    """Play one prompt with barge-in as `interrupt` says."""
    source = await prompt_source(spec, session, sensitive=step.sensitive)
    return await play_prompt(session.call, source, session.clock, interrupt=interrupt)
