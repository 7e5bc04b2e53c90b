"""`whisper`: faster-whisper (CTranslate2) on utterances cut by the VAD.

Whisper is not a streaming model: it decodes a whole window at once, always padded to 30 s,
so its cost per call is roughly constant (~0.85 s CPU for tiny.en on this project's
machines) whatever the utterance length. The stream therefore runs the project's VAD
segmenter in front and transcribes each finished utterance once; it gives finals only.

The model is loaded from a directory (a packaged one or the operator's), never by hub name,
and with `local_files_only` so a wrong path can never turn into a download attempt.

Language: an ISO 639-1 code whisper knows ("en", "es"...), or None to detect it per utterance.
An English-only model (tiny.en) asked for another language is an `UnsupportedLanguageError`
when the model loads: faster-whisper would silently decode as English and return garbage.
Text with no speech in it (media.asr.junk) is dropped as if nothing was said.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from media.asr.base import RecognizerEngine, TranscriptResult, UnsupportedLanguageError
from media.asr.junk import is_junk
from media.asr.models import model_dir, whisper_base_dir, whisper_tiny_en_dir
from media.frames import Pcm
from media.resample import resample
from media.vad import Utterance, UtteranceSegmenter, VadConfig, make_detector

WHISPER_RATE = 16000


def check_language(language: str | None) -> str | None:
    """`language` as whisper takes it: a known code, or None for detection ("auto")."""
    if language is None or language == "auto":
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # type: ignore[import-untyped]

    code = language.lower()
    if code not in _LANGUAGE_CODES:
        raise UnsupportedLanguageError(
            f"unknown language {language!r}: use an ISO 639-1 code whisper knows "
            "(en, es, fr, de, pt, ...) or auto"
        )
    return code


def resolve_whisper_model(model: str, cache_dir: Path | None) -> Path:
    """"tiny.en" (packaged), "base" (joined into `cache_dir`), or a model directory path."""
    if model == "tiny.en":
        return whisper_tiny_en_dir()
    if model == "base":
        if cache_dir is None:
            raise ValueError("whisper base needs a cache directory to join its two halves into")
        return whisper_base_dir(cache_dir)
    return model_dir(model)


class WhisperEngine(RecognizerEngine):
    """faster-whisper behind the engine interface.

    `vad` picks the segmenter's detector ("webrtc" or "silero"); `beam_size` 1 is greedy
    decoding (fastest), 5 is Whisper's usual beam. `cpu_threads` is per decoding call and
    `workers` calls may run at once (one per pool thread), so on a 2-core machine the
    defaults (1 × 2) use both cores with two calls' utterances in flight.
    """

    name = "whisper"

    def __init__(
        self,
        model: str = "tiny.en",
        cache_dir: Path | None = None,
        language: str | None = "en",
        beam_size: int = 1,
        vad: str = "webrtc",
        vad_config: VadConfig | None = None,
        cpu_threads: int = 1,
        workers: int = 2,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(executor, workers)
        self.model_name = model
        self.cache_dir = cache_dir
        self.language = check_language(language)
        self.beam_size = beam_size
        self.vad = vad
        # The live pool's cut (voice.utterance_pool): `centralita transcribe` cuts a file where
        # a call would be cut. On the 40 s passage (bench/transcribe_passage.py) 500 ms merged
        # sentences into 6 utterances at 7.3% WER, 300 ms cut at the 10 reading pauses, 6.2%.
        self.vad_config = vad_config or VadConfig(hangover_ms=300)
        self._cpu_threads = cpu_threads
        self._workers = workers
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """The faster-whisper model, loaded once (blocking; call it off the event loop)."""
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                path = resolve_whisper_model(self.model_name, self.cache_dir)
                model = WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self._cpu_threads,
                    num_workers=self._workers,
                    local_files_only=True,
                )
                if self.language != "en" and not model.model.is_multilingual:
                    wanted = self.language or "auto (language detection)"
                    raise UnsupportedLanguageError(
                        f"whisper model {self.model_name} is English-only and cannot "
                        f"recognise language {wanted}: use a multilingual model "
                        "(--model base, or a multilingual model directory)"
                    )
                self._model = model
            return self._model

    def make_recognizer(self, sample_rate: int) -> _WhisperRecognizer:
        return _WhisperRecognizer(self, sample_rate)

    def transcribe(self, pcm: Pcm, sample_rate: int) -> tuple[str, float | None]:
        """Text and confidence of one utterance (blocking)."""
        audio = pcm if sample_rate == WHISPER_RATE else resample(pcm, sample_rate, WHISPER_RATE)
        segments, _info = self.load().transcribe(
            audio.astype(np.float32) / 32768.0,
            language=self.language,
            beam_size=self.beam_size,
            # Utterances are independent turns; carrying text over invites repeated phrases.
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        texts: list[str] = []
        logprobs: list[float] = []
        for seg in segments:
            text = seg.text.strip()
            if text and not is_junk(text):
                texts.append(text)
                logprobs.append(seg.avg_logprob)
        if not texts:
            return "", None
        return " ".join(texts), math.exp(sum(logprobs) / len(logprobs))


class _WhisperRecognizer:
    def __init__(self, engine: WhisperEngine, sample_rate: int) -> None:
        self._engine = engine
        self._rate = sample_rate
        engine.load()  # fail here, at stream start, if the model is missing
        self._segmenter = UtteranceSegmenter(
            make_detector(engine.vad, sample_rate), engine.vad_config
        )

    def accept(self, pcm: Pcm, want_partial: bool) -> list[TranscriptResult]:
        return self._finals(self._segmenter.push(pcm))

    def flush(self) -> list[TranscriptResult]:
        return self._finals(self._segmenter.flush())

    def close(self) -> None:
        pass

    def _finals(self, events: list[Any]) -> list[TranscriptResult]:
        out: list[TranscriptResult] = []
        for ev in events:
            if isinstance(ev, Utterance):
                text, conf = self._engine.transcribe(ev.samples, self._rate)
                if text:
                    out.append(TranscriptResult(text, True, ev.start, ev.end, conf, "whisper"))
        return out
