"""`say`: speak text with espeak-ng (synthesized prompts cached on disk).

    - say: "Welcome to Centralita"
    - say:
        text: "Hello ${customer_name}, your balance is ${balance}"
        voice: en-us          # espeak-ng voice, default: the call's language's (es, en-us)
        rate: 160             # words a minute, default 160
        interrupt: dtmf       # dtmf | speech | any | none (default)
        cache: false          # default true; a sensitive step is never cached

`${var}` is rendered before synthesis. The text is never logged (it may carry a caller's data).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ivr.language import session_voice
from ivr.media.prompt import PromptOutcome, play_prompt
from ivr.media.speak import INTERRUPT_SCHEMA
from ivr.media.tts import DEFAULT_RATE, EspeakTts, TtsError
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, register
from media.player import Player

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)


class SayVerb:
    """Text to speech, with optional barge-in."""

    name = "say"
    shorthand = "text"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "minLength": 1},
            "voice": {"type": "string", "pattern": r"^[A-Za-z0-9_+\-]+$"},
            "rate": {"type": "integer", "minimum": 80, "maximum": 450},
            "interrupt": INTERRUPT_SCHEMA,
            "cache": {"type": "boolean"},
        },
    }

    def falls_through(self, step: Step) -> bool:
        return True

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """Nothing beyond the schema (voices are checked when spoken)."""

    async def run(self, step: Step, session: IvrSession) -> str | None:
        tts = session.services.tts
        if not isinstance(tts, EspeakTts):
            log.warning("say step %d: no text-to-speech service; skipped", step.index)
            return None
        p = step.params
        cache = bool(p.get("cache", True)) and not step.sensitive
        try:
            pcm = await tts.synthesize(
                session.render(str(p["text"])), voice=p.get("voice", session_voice(session)),
                rate=int(p.get("rate", DEFAULT_RATE)), cache=cache,
            )
        except TtsError as exc:
            # The caller hears nothing for this step; the flow goes on rather than dropping.
            log.warning("say step %d: synthesis failed: %s", step.index, exc)
            return None
        outcome = await play_prompt(
            session.call, Player(pcm, 8000), session.clock, interrupt=p.get("interrupt", "none")
        )
        return HANGUP if outcome is PromptOutcome.HUNGUP else None


VERB = register(SayVerb())
