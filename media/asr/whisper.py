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

Two ways to decode an utterance:

* `transcribe()` (this engine's streams, so `centralita transcribe`): faster-whisper's own
  loop, a 30 s window with temperature fallback and language detection. The steadier one: a
  recording and its 44.1 kHz stereo conversion come out word for word the same.
* `decode()` (the live pool, voice.utterance_pool): each utterance gets a mel window of its
  own length plus at least 3 s of silence (10 to 30 s), several go through one `generate`
  call. The encoder's cost falls with the window (30 s padding: ~0.40 s of the ~0.5 s per
  utterance): RTF 0.03-0.07 on the 40 s passage against 0.15 for the loop, and 4.2% WER
  against 6.2% on the same cuts. Greedy decoding of a short window has no temperature
  fallback, and on the passage's 16 -> 44.1 -> 16 kHz copy it ran into loops ("10 of clubs
  10 of clubs 10 of clubs 10 of clubs 10", "5 5 5 5 5 5 ..."): a decode that repeats itself
  (`repeats_in_a_loop`) is done again by the loop, so a call's sentence is never stored
  four times over.

Phrase hints (`hints`: the phrases a menu expects, a queue's product names) go before the
decoder prompt as whisper's "previous text": `<|startofprev|> billing, support, refund<|sot|>`,
which is what faster-whisper's `hotwords` builds. Measured on espeak-ng words through the 8 kHz
telephone band (tiny.en, tests/assist/test_phrase_hints.py): unhinted, "billing" came out
"Really?" and "I need billing" "I need to be a link."; the hotwords form (a comma list) got all
five test words right in the loop, an `initial_prompt` written as sentences ("Billing.
Support.") four of five ("I need to be willing."). So hints are given as the comma list.
CTranslate2 needs <|startoftranscript|> at one position across a batch, so a batch holds
utterances with the same hints only (voice.utterance_pool groups them).
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
HOP = 160  # whisper's mel hop at 16 kHz: 100 frames a second
FULL_WINDOW = 3000  # 30 s: what the model was trained on, and the most it takes
MIN_WINDOW = 1000  # 10 s: shorter windows started to cost accuracy
TAIL_PAD = 300  # ≥ 3 s of silence after the speech (1 s lost words at utterance ends)
# Whisper's own rule for "this window held no speech": both must hold.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
# A decode that repeats one run of up to LOOP_NGRAM tokens this many times in a row is a
# decoding loop ("10 of clubs 10 of clubs 10 of clubs 10 of clubs 10", "5 5 5 5 5 5 ..."),
# seen on a 1.4 s and a 3.7 s utterance of the passage: it is decoded again by
# faster-whisper's loop, whose temperature fallback breaks such loops.
LOOP_REPEATS = 4
LOOP_NGRAM = 6
# Whisper's text context is 448 tokens; faster-whisper keeps previous text to half of it.
MAX_HINT_TOKENS = 223


def repeats_in_a_loop(ids: list[int]) -> bool:
    """Whether some run of 1..LOOP_NGRAM tokens occurs LOOP_REPEATS times back to back."""
    for n in range(1, LOOP_NGRAM + 1):
        for start in range(0, len(ids) - n * LOOP_REPEATS + 1):
            gram = ids[start : start + n]
            if all(ids[start + k * n : start + (k + 1) * n] == gram
                   for k in range(1, LOOP_REPEATS)):
                return True
    return False


def hint_text(hints: tuple[str, ...]) -> str | None:
    """The hints as whisper's previous text (a comma list: see the module docstring)."""
    cleaned = [h.strip() for h in hints if h.strip()]
    return ", ".join(cleaned) if cleaned else None


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
        self._prompt: list[int] | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.loops = 0  # decodes caught in a loop and done again (see repeats_in_a_loop)

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

    def make_recognizer(
        self, sample_rate: int, hints: tuple[str, ...] = ()
    ) -> _WhisperRecognizer:
        return _WhisperRecognizer(self, sample_rate, hints)

    def prompt(self) -> tuple[list[int], Any]:
        """The decoder prompt (start of transcript, language, no timestamps) and the
        tokenizer, made once. Needs a language: detection has no fixed prompt."""
        if self.language is None:
            raise ValueError("decode() needs a language; 'auto' goes through transcribe()")
        model = self.load()
        with self._lock:
            if self._prompt is None:
                from faster_whisper.tokenizer import Tokenizer

                tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                      task="transcribe", language=self.language)
                self._tokenizer = tokenizer
                self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
            return self._prompt, self._tokenizer

    def detect_language(
        self, pcm: Pcm, sample_rate: int, among: tuple[str, ...] = ("en", "es")
    ) -> str:
        """The most likely of `among` for one utterance (blocking): whisper's own language
        detection (faster-whisper `detect_language`, one encoder pass) on a multilingual
        model, its probabilities restricted to the languages the server serves."""
        model = self.load()
        if not model.model.is_multilingual:
            raise UnsupportedLanguageError(
                f"whisper model {self.model_name} is English-only: it cannot detect languages"
            )
        audio = pcm if sample_rate == WHISPER_RATE else resample(pcm, sample_rate, WHISPER_RATE)
        _best, _prob, probs = model.detect_language(audio.astype(np.float32) / 32768.0)
        scores = {code: p for code, p in probs if code in among}
        return max(among, key=lambda code: scores.get(code, 0.0))

    def hinted_prompt(self, hints: tuple[str, ...]) -> list[int]:
        """The decoder prompt with `hints` before it as previous text (none: the plain one)."""
        prompt, tokenizer = self.prompt()
        text = hint_text(hints)
        if text is None:
            return prompt
        tokens = tokenizer.encode(" " + text)[:MAX_HINT_TOKENS]
        return [tokenizer.sot_prev, *tokens, *prompt]

    def decode(
        self, utterances: list[tuple[Pcm, int]], hints: tuple[str, ...] = ()
    ) -> list[tuple[str, float | None]]:
        """Text and confidence of each (samples, rate) utterance, decoded together in one
        `generate` call on short windows (see the module docstring), all with the same
        phrase `hints`. Blocking; safe to call from several threads at once. Empty text: no
        speech (whisper's rule, or junk)."""
        import ctranslate2  # type: ignore[import-untyped]

        model = self.load()
        _, tokenizer = self.prompt()
        prompt = self.hinted_prompt(hints)
        feats = []
        longest = 0.0
        for pcm, rate in utterances:
            audio = pcm if rate == WHISPER_RATE else resample(pcm, rate, WHISPER_RATE)
            frames = len(audio) // HOP
            window = min(FULL_WINDOW, max(MIN_WINDOW, frames + TAIL_PAD))
            padded = np.zeros(window * HOP, np.float32)
            n = min(len(audio), len(padded))
            padded[:n] = audio[:n].astype(np.float32) / 32768.0
            feats.append(model.feature_extractor(padded)[:, :window])
            longest = max(longest, len(audio) / WHISPER_RATE)
        width = max(f.shape[1] for f in feats)
        stacked = np.zeros((len(feats), feats[0].shape[0], width), np.float32)
        for i, f in enumerate(feats):
            # A shorter window in a batch is padded with its own last (silent) columns.
            stacked[i, :, : f.shape[1]] = f
            stacked[i, :, f.shape[1] :] = f[:, -1:]
        results = model.model.generate(
            ctranslate2.StorageView.from_array(stacked),
            [prompt] * len(feats),
            beam_size=self.beam_size,
            # ~8 tokens a second of speech is far above real speech; caps runaway repeats.
            max_length=min(224, 16 + int(8 * longest)),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
        )
        out: list[tuple[str, float | None]] = []
        for (pcm, rate), r in zip(utterances, results, strict=True):
            ids = [t for t in r.sequences_ids[0] if t < tokenizer.eot]
            logprob = float(r.scores[0]) if r.scores else 0.0
            if r.no_speech_prob > NO_SPEECH_PROB and logprob < NO_SPEECH_LOGPROB:
                out.append(("", None))
                continue
            if repeats_in_a_loop(ids):
                self.loops += 1
                out.append(self.transcribe_loop(pcm, rate, hints))
                continue
            text = tokenizer.decode(ids).strip()
            # Dots, "[BLANK_AUDIO]" and the like: nothing was said (media.asr.junk).
            out.append(("", None) if is_junk(text) else (text, math.exp(logprob)))
        return out

    def transcribe(
        self, pcm: Pcm, sample_rate: int, hints: tuple[str, ...] = ()
    ) -> tuple[str, float | None]:
        """Text and confidence of one utterance (blocking): faster-whisper's own loop."""
        return self.transcribe_loop(pcm, sample_rate, hints)

    def transcribe_loop(
        self, pcm: Pcm, sample_rate: int, hints: tuple[str, ...] = ()
    ) -> tuple[str, float | None]:
        """One utterance through faster-whisper's own loop: 30 s window, temperature
        fallback, language detection when the language is None, `hints` as its
        `hotwords` (blocking)."""
        audio = pcm if sample_rate == WHISPER_RATE else resample(pcm, sample_rate, WHISPER_RATE)
        segments, _info = self.load().transcribe(
            audio.astype(np.float32) / 32768.0,
            language=self.language,
            beam_size=self.beam_size,
            # Utterances are independent turns; carrying text over invites repeated phrases.
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            hotwords=hint_text(hints),
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
    def __init__(
        self, engine: WhisperEngine, sample_rate: int, hints: tuple[str, ...] = ()
    ) -> None:
        self._engine = engine
        self._rate = sample_rate
        self._hints = hints
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
                text, conf = self._engine.transcribe(ev.samples, self._rate, self._hints)
                if text:
                    out.append(TranscriptResult(text, True, ev.start, ev.end, conf, "whisper"))
        return out
