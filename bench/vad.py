"""VAD bench: speech recall and false-speech rate per detector, on clean and noisy audio.

    python3 bench/vad.py [--rate 8000]

Audio: three espeak-ng sentences between 1.5 s silences (speech normalised to -20 dBFS),
sox white noise at -20 dBFS alone, and the speech mixed with noise at -30 and -20 dBFS (SNR
+10 and 0 dB). Ground truth per 20 ms frame: inside a sentence's first-to-last loud sample.
Recall = speech frames flagged / speech frames; false speech = non-speech frames flagged /
non-speech frames. Frame decisions at probability >= 0.5, no segmentation smoothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.frames import Pcm  # noqa: E402
from media.vad import make_detector  # noqa: E402
from tests.speech.audio import mix, scale_to_dbfs, silence, speak, speech_bounds, white_noise  # noqa: E402

TEXTS = [
    "Thank you for calling, how can I help you today",
    "I would like to check my order status please",
    "My account number is four five six seven",
]


def labelled_speech(rate: int) -> tuple[Pcm, np.ndarray]:
    parts = [silence(1.0, rate)]
    spans = []
    offset = 1.0
    for text in TEXTS:
        pcm = speak(text, rate)
        s, e = speech_bounds(pcm, rate)
        spans.append((offset + s, offset + e))
        parts += [pcm, silence(1.5, rate)]
        offset += len(pcm) / rate + 1.5
    sig = np.concatenate(parts)
    n_frames = len(sig) // (rate // 50)
    t = (np.arange(n_frames) + 0.5) * 0.02
    truth = np.zeros(n_frames, dtype=bool)
    for s, e in spans:
        truth |= (t >= s) & (t < e)
    # Normalise on the speech only, so silences do not dilute the level.
    speech_rms = float(np.sqrt(np.mean(sig.astype(np.float64) ** 2) / truth.mean()))
    gain = 32768.0 * 10 ** (-20 / 20) / speech_rms
    return np.clip(np.rint(sig * gain), -32768, 32767).astype(np.int16), truth


def decide(kind: str, sig: Pcm, rate: int) -> tuple[np.ndarray, float]:
    det = make_detector(kind, rate)
    step = rate // 50
    n = len(sig) // step
    t0 = time.perf_counter()
    flags = np.array([det.speech_probability(sig[i * step : (i + 1) * step]) >= 0.5 for i in range(n)])
    return flags, (time.perf_counter() - t0) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=8000, choices=(8000, 16000))
    rate = ap.parse_args().rate
    speech, truth = labelled_speech(rate)
    noise = white_noise(len(speech) / rate, rate, -20.0)[: len(speech)]
    cases = {
        "clean speech": (speech, truth),
        "noise -20 dBFS": (noise, np.zeros_like(truth)),
        "speech + noise -30 dBFS": (mix(speech, scale_to_dbfs(noise, -30.0)), truth),
        "speech + noise -20 dBFS": (mix(speech, noise), truth),
    }
    print(f"{rate} Hz, {len(truth)} frames per case, {truth.mean():.0%} speech")
    print(f"{'detector':8} {'case':26} {'recall':>7} {'false sp.':>9} {'us/frame':>9}")
    for kind in ("webrtc", "silero"):
        for name, (sig, lab) in cases.items():
            flags, us = decide(kind, sig, rate)
            lab = lab[: len(flags)]
            recall = f"{flags[lab].mean():.1%}" if lab.any() else "-"
            false = f"{flags[~lab].mean():.1%}"
            print(f"{kind:8} {name:26} {recall:>7} {false:>9} {us:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
