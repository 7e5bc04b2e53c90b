"""Agent assist on live calls: each final caller segment is searched in the knowledge base
and the best articles go to whoever follows the case live (the agent's desk).

`AssistedTranscripts` wraps the `TranscriptStore` transcription writes to (centralita.
call_cases.CallInteractions): it stores the segment first, then searches what the caller just
said and publishes one message on the case's topic, which the case's live WebSocket relays
to the desk's case panel:

    {"type": "assist", "case_id": ..., "interaction_id": ..., "segment_id": ...,
     "suggestions": [{"slug", "title", "url", "snippet", "phrase", "score", "language"}]}

Only the caller's words are searched (the agent's own words would suggest what the agent
already knows). A segment with no match publishes nothing. The search runs inline: the index
is in memory and answers in well under a millisecond (assist.index), so a suggestion follows
its segment at once; a failing search is counted and logged without the text, and the
transcript never waits on or loses anything for it.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3

from assist.index import KnowledgeBase
from cases.events import EventBus
from voice.transcription import InteractionRef, TranscriptStore

log = logging.getLogger(__name__)

SEARCHED_SPEAKER = "caller"


class AssistedTranscripts:
    """A `TranscriptStore` that stores through `inner` and suggests articles for callers."""

    def __init__(
        self, inner: TranscriptStore, kb: KnowledgeBase, bus: EventBus, *, limit: int = 3
    ) -> None:
        self.inner = inner
        self.kb = kb
        self.bus = bus
        self.limit = limit
        self._cases: dict[int, int] = {}  # interaction -> case, for the calls seen
        self._language = "language" in inspect.signature(inner.add_segment).parameters
        self.suggested = 0
        self.failed = 0

    async def start_voice_interaction(
        self, *, caller: str, call_id: str, direction: str = "inbound", dialed: str | None = None
    ) -> InteractionRef:
        ref = await self.inner.start_voice_interaction(
            caller=caller, call_id=call_id, direction=direction, dialed=dialed
        )
        self._cases[ref.interaction_id] = ref.case_id
        return ref

    async def add_segment(
        self, interaction_id: int, *, speaker: str, start: float, end: float, text: str,
        confidence: float | None, engine: str, language: str | None = None,
    ) -> int:
        # The segment's language goes on when the inner store takes it (a newer keyword
        # than the rest: both kinds of store are served).
        more = {"language": language} if language is not None and self._language else {}
        seg_id = await self.inner.add_segment(
            interaction_id, speaker=speaker, start=start, end=end, text=text,
            confidence=confidence, engine=engine, **more,
        )
        case_id = self._cases.get(interaction_id)
        if speaker == SEARCHED_SPEAKER and case_id is not None:
            await self._suggest(case_id, interaction_id, seg_id, text)
        return seg_id

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None:
        self._cases.pop(interaction_id, None)
        await self.inner.end_interaction(interaction_id, outcome=outcome, summary=summary)

    async def _suggest(self, case_id: int, interaction_id: int, seg_id: int, text: str) -> None:
        try:
            found = self.kb.search(text, self.limit)
        except (sqlite3.Error, OSError) as exc:
            self.failed += 1
            log.warning("assist: search failed for interaction %d: %s", interaction_id,
                        type(exc).__name__)
            return
        if not found:
            return
        self.suggested += 1
        await self.bus.publish(f"case:{case_id}", {
            "type": "assist", "case_id": case_id, "interaction_id": interaction_id,
            "segment_id": seg_id, "suggestions": [s.view() for s in found],
        })
