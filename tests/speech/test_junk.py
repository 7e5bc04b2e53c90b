"""media.asr.junk: what is never stored as a transcript segment, and what is kept."""

from __future__ import annotations

import pytest

from media.asr.junk import is_junk


@pytest.mark.parametrize("text", [
    ".........",  # a call's first line noise, as whisper tiny.en wrote it
    "", "   ", "...", "- -", "?!", "♪ ♪", "♪♪♪",
    "[BLANK_AUDIO]", "[Music]", "(upbeat music)", "*coughs*",
    "Thanks for watching!", "Thank you for watching.", "  please subscribe ",
    "Subtitles by the Amara.org community",
])
def test_no_speech_is_junk(text: str) -> None:
    assert is_junk(text)


@pytest.mark.parametrize("text", [
    "Thank you.", "Bye.", "You", "Yes.", "5", "10 of clubs.", "Hello, I'm calling about my bill.",
    "Thanks for watching my account",  # only the whole caption phrase is junk
    "[laughs] that's right",  # words beside an annotation are speech
])
def test_speech_is_kept(text: str) -> None:
    assert not is_junk(text)
