"""`pocketsphinx`: CMU PocketSphinx with the en-us model inside its wheel; live partials.

PocketSphinx is weak (25-45% WER on real speech) but cheap and streams, so it can show a
rough live transcript where no Vosk model is configured. Its model is 16 kHz only: 8 kHz
calls are resampled up first (the missing upper band costs some accuracy).

PocketSphinx decodes one utterance at a time (`start_utt` … `end_utt`). The project's VAD
segmenter marks the utterances; the recogniser keeps the last pre-roll of frames so an
utterance is decoded from just before the frame where the VAD noticed it.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Executor
from typing import Any

import numpy as np

from media.asr.base import RecognizerEngine, TranscriptResult
from media.frames import Pcm, samples_per_frame
from media.resample import Resampler
from media.vad import SpeechStarted, Utterance, UtteranceSegmenter, VadConfig, make_detector

MODEL_RATE = 16000


class PocketSphinxEngine(RecognizerEngine):
    """PocketSphinx behind the engine interface; one decoder (model copy) per stream."""

    name = "pocketsphinx"

    def __init__(
        self,
        vad: str = "webrtc",
        vad_config: VadConfig | None = None,
        workers: int = 2,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(executor, workers)
        self.vad = vad
        self.vad_config = vad_config or VadConfig(hangover_ms=500)
        self._lock = threading.Lock()

    def new_decoder(self) -> Any:
        """A decoder on the packaged en-us model (blocking: loads the model, ~0.3 s)."""
        import pocketsphinx

        with self._lock:  # the model loader is not known to be re-entrant
            return pocketsphinx.Decoder(samprate=MODEL_RATE, loglevel="FATAL")

    def make_recognizer(
        self, sample_rate: int, hints: tuple[str, ...] = ()
    ) -> _SphinxRecognizer:
        # Hints are not used: a pocketsphinx grammar would need a pronunciation per phrase.
        return _SphinxRecognizer(self, sample_rate)


class _SphinxRecognizer:
    name = "pocketsphinx"

    def __init__(self, engine: PocketSphinxEngine, sample_rate: int) -> None:
        self._decoder: Any = engine.new_decoder()
        self._resampler = Resampler(sample_rate, MODEL_RATE)
        cfg = engine.vad_config
        self._segmenter = UtteranceSegmenter(make_detector(engine.vad, MODEL_RATE), cfg)
        self._frame = samples_per_frame(MODEL_RATE)
        self._recent: deque[Pcm] = deque(maxlen=(cfg.pre_roll_ms + cfg.start_ms) // 20 + 1)
        self._pending: Pcm = np.zeros(0, dtype=np.int16)  # < one 20 ms frame, awaiting more
        self._in_utt = False
        self._utt_start = 0.0
        self._samples = 0
        self._last_partial = ""

    def accept(self, pcm: Pcm, want_partial: bool) -> list[TranscriptResult]:
        data = np.concatenate((self._pending, self._resampler.process(pcm)))
        whole = len(data) - len(data) % self._frame
        self._pending = data[whole:]
        out: list[TranscriptResult] = []
        for off in range(0, whole, self._frame):
            self._step(data[off : off + self._frame], out)
        if want_partial and self._in_utt:
            hyp = self._decoder.hyp()
            text = hyp.hypstr if hyp is not None else ""
            if text and text != self._last_partial:
                self._last_partial = text
                now = self._samples / MODEL_RATE
                out.append(TranscriptResult(text, False, self._utt_start, now, None, self.name))
        return out

    def _step(self, frame: Pcm, out: list[TranscriptResult]) -> None:
        self._samples += len(frame)
        self._recent.append(frame)
        was_in = self._in_utt
        if was_in:
            self._decoder.process_raw(frame.tobytes(), False, False)
        for ev in self._segmenter.push(frame):
            if isinstance(ev, Utterance):
                self._end(ev, out)
            elif isinstance(ev, SpeechStarted):
                self._decoder.start_utt()
                self._in_utt = True
                self._utt_start = ev.start
                if not was_in:
                    # Decode from the pre-roll: the frames before the VAD made up its mind.
                    for f in self._recent:
                        self._decoder.process_raw(f.tobytes(), False, False)

    def _end(self, utt: Utterance, out: list[TranscriptResult]) -> None:
        self._decoder.end_utt()
        self._in_utt = False
        self._last_partial = ""
        hyp = self._decoder.hyp()
        if hyp is not None and hyp.hypstr:
            # Its posterior (hyp.prob) is not computed without lattice rescoring: no confidence.
            out.append(TranscriptResult(hyp.hypstr, True, utt.start, utt.end, None, self.name))

    def flush(self) -> list[TranscriptResult]:
        out: list[TranscriptResult] = []
        for ev in self._segmenter.flush():
            if isinstance(ev, Utterance) and self._in_utt:
                self._end(ev, out)
        return out

    def close(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()
        self._decoder = None
