"""`vosk`: Kaldi streaming recognition with live partials, from an operator's model directory.

Vosk does its own endpointing, so no VAD runs in front: audio goes straight into a
`KaldiRecognizer`, which says when an utterance ended (`AcceptWaveform` returns True) and can
be asked for its current guess at any time (`PartialResult`). The model is always opened by
path (`Model(path)`): `Model(lang=...)` would try to download one.

Phrase hints become a grammar: the recogniser may only hear those phrases, or "[unk]" for
anything else (which comes out as no text, so a menu reprompts rather than guessing). Words
the model's lexicon lacks are dropped by Kaldi with a warning; a grammar needs a model with
a dynamic graph (small models; big ones ignore it).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from media.asr.base import RecognizerEngine, TranscriptResult
from media.asr.models import model_dir
from media.frames import Pcm

# Feed Kaldi 100 ms at a time so endpoints inside a large catch-up chunk are still seen one
# by one (it checks for an endpoint only at the end of each call).
_FEED_S = 0.1


class VoskEngine(RecognizerEngine):
    """Vosk behind the engine interface; one shared `Model`, one recogniser per stream."""

    name = "vosk"

    def __init__(
        self, model_path: str | Path, workers: int = 2, executor: Executor | None = None
    ) -> None:
        super().__init__(executor, workers)
        self.model_path = Path(model_path)
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """The Vosk model, loaded once (blocking: seconds for a large model)."""
        with self._lock:
            if self._model is None:
                import vosk

                path = model_dir(self.model_path)
                vosk.SetLogLevel(-1)  # Kaldi's INFO lines on stderr say nothing an operator needs
                self._model = vosk.Model(str(path))
            return self._model

    def make_recognizer(
        self, sample_rate: int, hints: tuple[str, ...] = ()
    ) -> _VoskRecognizer:
        return _VoskRecognizer(self.load(), sample_rate, hints)


def grammar(hints: tuple[str, ...]) -> str | None:
    """The vosk grammar for `hints` (lower-cased phrases plus "[unk]"), or None for none."""
    phrases = sorted({h.strip().lower() for h in hints if h.strip()})
    return json.dumps([*phrases, "[unk]"]) if phrases else None


class _VoskRecognizer:
    def __init__(self, model: Any, sample_rate: int, hints: tuple[str, ...] = ()) -> None:
        import vosk

        self._rate = sample_rate
        spec = grammar(hints)
        self._rec = (
            vosk.KaldiRecognizer(model, sample_rate)
            if spec is None else vosk.KaldiRecognizer(model, sample_rate, spec)
        )
        self._rec.SetWords(True)
        self._samples = 0
        self._utt_start = 0.0  # where the current utterance began (end of the last final)
        self._last_partial = ""

    def accept(self, pcm: Pcm, want_partial: bool) -> list[TranscriptResult]:
        out: list[TranscriptResult] = []
        step = int(_FEED_S * self._rate)
        for off in range(0, len(pcm), step):
            piece = pcm[off : off + step]
            self._samples += len(piece)
            if self._rec.AcceptWaveform(piece.tobytes()):
                final = self._final(self._rec.Result())
                if final is not None:
                    out.append(final)
        if want_partial:
            text = json.loads(self._rec.PartialResult()).get("partial", "")
            if text and text != self._last_partial:
                self._last_partial = text
                now = self._samples / self._rate
                out.append(TranscriptResult(text, False, self._utt_start, now, None, "vosk"))
        return out

    def flush(self) -> list[TranscriptResult]:
        final = self._final(self._rec.FinalResult())
        return [final] if final is not None else []

    def close(self) -> None:
        self._rec = None

    def _final(self, raw: str) -> TranscriptResult | None:
        doc = json.loads(raw)
        now = self._samples / self._rate
        start, self._utt_start = self._utt_start, now
        self._last_partial = ""
        # A grammar's catch-all: something outside the hints was said.
        text = " ".join(w for w in doc.get("text", "").split() if w != "[unk]")
        if not text:
            return None
        words = doc.get("result") or []
        if words:
            start, end = float(words[0]["start"]), float(words[-1]["end"])
            confidence: float | None = sum(float(w["conf"]) for w in words) / len(words)
        else:
            end, confidence = now, None
        return TranscriptResult(text, True, start, end, confidence, "vosk")
