"""`play`: a WAV prompt (path relative to the flow's file), optionally interruptible.

    - play: welcome.wav
    - play:
        file: prompts/offer.wav
        interrupt: any        # dtmf | speech | any | none (default)

On barge-in the prompt stops at once; a key that cut it stays waiting for the next `gather`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ivr.media.prompt import PromptOutcome, play_prompt
from ivr.media.speak import INTERRUPT_SCHEMA, check_prompt
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, register
from media.player import Player, WavFormatError, load_prompt

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)


class PlayVerb:
    """Plays a WAV file (8 or 16 kHz mono 16-bit)."""

    name = "play"
    shorthand = "file"
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "pattern": r"(?i)\.wav$"},
            "interrupt": INTERRUPT_SCHEMA,
        },
    }

    def falls_through(self, step: Step) -> bool:
        return True

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        """The file exists (relative to the flow) and is a WAV we can play."""
        check_prompt(step.params["file"], step.at("file"), flow.dir, "play", problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        path = session.flow_dir / str(step.params["file"])
        try:
            pcm = load_prompt(path, 8000)
        except (OSError, WavFormatError) as exc:
            # Checked at load; a file removed since then costs the prompt, not the call.
            log.warning("play step %d: cannot play: %s", step.index, type(exc).__name__)
            return None
        outcome = await play_prompt(
            session.call, Player(pcm, 8000), session.clock,
            interrupt=step.params.get("interrupt", "none"),
        )
        return HANGUP if outcome is PromptOutcome.HUNGUP else None


VERB = register(PlayVerb())
