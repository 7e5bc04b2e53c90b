"""Speech detectors: score one 20 ms frame of PCM as speech (0.0 … 1.0).

Two implementations behind one small protocol, so the segmenter never knows which it drives:

* `WebRtcDetector` (the default): the WebRTC GMM classifier from `webrtcvad-wheels`, a few
  microseconds per frame, but it calls loud steady noise speech.
* `SileroDetector` (for noisy lines): Silero's ONNX model, loaded from inside the installed
  `silero-vad` wheel and run with onnxruntime directly. The wheel's own Python wrapper needs
  torch, which we do not install, so its recurrent state is carried here by hand.

A detector is stateful and belongs to one stream; `reset()` starts a new stream.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import webrtcvad

from media.frames import Pcm
from media.resample import Resampler

_F32 = npt.NDArray[np.float32]
# The rate webrtcvad classifies at (see WebRtcDetector).
VAD_RATE = 8000


class SpeechDetector(Protocol):
    """Scores frames of one stream; `frame_ms` is the frame length it expects."""

    sample_rate: int
    frame_ms: int

    def speech_probability(self, pcm: Pcm) -> float:
        """Probability that the `frame_ms` frame `pcm` (the stream's next one) is speech."""
        ...

    def reset(self) -> None:
        """Forget the stream (a new call, or after a discontinuity)."""
        ...


class WebRtcDetector:
    """webrtcvad, one decision per frame; `aggressiveness` 0 (lenient) … 3 (strict).

    16 kHz audio is classified at 8 kHz, through the project's decimator (media.resample),
    as telephone audio is. webrtcvad's own 16 kHz mode called the noise floor of real
    recordings speech: measured on the 40 s passage of pocketsphinx-testdata speech
    (tests/speech/passage.py), at 16 kHz it heard no pause at all (two utterances, cut at the
    25 s maximum, one mid-sentence), at 8 kHz it cut at the six reading pauses; and a
    recording converted 16 -> 44.1 -> 16 kHz was cut differently again. Decimated, the same
    speech is cut the same way at either rate.
    """

    def __init__(self, sample_rate: int, aggressiveness: int = 2, frame_ms: int = 20) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {sample_rate}")
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"webrtcvad takes 10, 20 or 30 ms frames, got {frame_ms}")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self._aggressiveness = aggressiveness
        self.reset()

    def speech_probability(self, pcm: Pcm) -> float:
        if self._down is not None:
            pcm = self._down.process(pcm)
        return 1.0 if self._vad.is_speech(pcm.tobytes(), VAD_RATE) else 0.0

    def reset(self) -> None:
        self._vad = webrtcvad.Vad(self._aggressiveness)
        self._down = Resampler(self.sample_rate, VAD_RATE) if self.sample_rate != VAD_RATE else None


def silero_model_path() -> Path:
    """The ONNX model file inside the installed `silero-vad` wheel.

    Found through the import system without importing the package (its `__init__` imports
    torch). Raises `FileNotFoundError` naming what to install when it is missing.
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "Silero VAD needs the silero-vad wheel: pip install --no-deps silero-vad"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"silero-vad is installed but {path} is missing")
    return path


class SileroDetector:
    """Silero VAD (v5+ ONNX graph) on onnxruntime.

    The model scores fixed windows of 512 samples at 16 kHz (256 at 8 kHz, 32 ms either way),
    each preceded by the last 64 (32) samples of the previous window as context, and carries
    an LSTM state of shape (2, 1, 128) from window to window. 20 ms frames do not divide into
    32 ms windows, so samples are buffered and a frame's score is that of the latest complete
    window (at most 32 ms behind).
    """

    frame_ms = 20

    def __init__(self, sample_rate: int, model_path: Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {sample_rate}")
        self.sample_rate = sample_rate
        self._window = 512 if sample_rate == 16000 else 256
        self._context_len = 64 if sample_rate == 16000 else 32
        opts = ort.SessionOptions()
        # One call's VAD must not fan out over every core: many calls run side by side.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session: Any = ort.InferenceSession(
            str(model_path or silero_model_path()), sess_options=opts,
            providers=["CPUExecutionProvider"],
        )
        self._sr = np.array(sample_rate, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state: _F32 = np.zeros((2, 1, 128), dtype=np.float32)
        self._context: _F32 = np.zeros(self._context_len, dtype=np.float32)
        self._pending: _F32 = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def speech_probability(self, pcm: Pcm) -> float:
        self._pending = np.concatenate((self._pending, pcm.astype(np.float32) / 32768.0))
        while len(self._pending) >= self._window:
            chunk = self._pending[: self._window]
            self._pending = self._pending[self._window :]
            self._last = self._run(chunk)
        return self._last

    def _run(self, chunk: _F32) -> float:
        x = np.concatenate((self._context, chunk))[np.newaxis, :]
        out, state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._sr}
        )
        self._state = state
        self._context = chunk[-self._context_len :]
        return float(out[0][0])


def make_detector(kind: str, sample_rate: int, **options: Any) -> SpeechDetector:
    """A detector by name: "webrtc" (default) or "silero"."""
    if kind == "webrtc":
        return WebRtcDetector(sample_rate, **options)
    if kind == "silero":
        return SileroDetector(sample_rate, **options)
    raise ValueError(f"unknown VAD {kind!r}: expected 'webrtc' or 'silero'")
