"""Spanish recognition bench: whisper base (language "es") on espeak-ng Spanish through 8 kHz
PCMU, its WER and CPU per utterance, and language detection's accuracy over Spanish and
English sentences.

    python3 bench/languages_wer.py [--speed 130] [--sentences 10]

No recording of real Spanish speech with reference transcripts installs from a registry here,
so the speech is synthetic (espeak-ng `-v es`): the figure says how well the pipeline hears a
clear voice through the telephone band, not how well it hears people. Each sentence is decoded
as the live pool decodes an utterance (`WhisperEngine.decode`: short windows, greedy).

Measured on this project's 2-core machine (one run, the machine shared):
    130 wpm: WER 35.6% over 10 sentences (59 words), 0.27 s CPU per utterance; language
    detection 9/10 Spanish and 5/5 English right. Half the sentences come back word for word
    ("quiero hablar de facturación"); espeak-ng's Spanish consonants through mu-law are what
    base misses ("ayuda" -> "ayuno"), and the WER's normaliser spells digits in English, so
    "siete cuatro dos" heard as "7.4" counts as wrong words.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.asr.wer import wer  # noqa: E402
from media.asr.whisper import WhisperEngine  # noqa: E402
from media.codecs.g711 import ulaw_decode, ulaw_encode  # noqa: E402
from tests.speech.audio import speak  # noqa: E402

SPANISH = [
    "quiero hablar de facturación",
    "tengo una pregunta sobre los pagos",
    "mi número de cliente es siete cuatro dos",
    "necesito cambiar la dirección de envío",
    "el pedido no ha llegado todavía",
    "quiero cancelar mi suscripción",
    "la factura de este mes es demasiado alta",
    "por favor llámeme mañana por la tarde",
    "no puedo entrar en mi cuenta",
    "gracias por su ayuda",
]
ENGLISH = [
    "I have a question about my bill",
    "my order has not arrived yet",
    "I want to cancel my subscription",
    "please call me back tomorrow",
    "thank you for your help",
]
RATE = 8000


def telephone(text: str, voice: str, speed: int) -> np.ndarray:
    """`text` spoken, through G.711 mu-law at 8 kHz, with silence around it."""
    pcm = ulaw_decode(ulaw_encode(speak(text, RATE, voice=voice, speed=speed)))
    return np.concatenate([np.zeros(RATE // 2, np.int16), pcm, np.zeros(RATE, np.int16)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=int, default=130, help="espeak-ng words a minute")
    parser.add_argument("--sentences", type=int, default=len(SPANISH),
                        help="how many of the Spanish (and English) sentences to use")
    args = parser.parse_args()
    spanish, english = SPANISH[: args.sentences], ENGLISH[: args.sentences]
    with tempfile.TemporaryDirectory() as cache:
        engine = WhisperEngine("base", cache_dir=Path(cache), language="es")
        engine.load()
        engine.prompt()
        hyps, cpu = [], 0.0
        audio = [telephone(s, "es", args.speed) for s in spanish]
        for pcm in audio:
            t0 = time.process_time()
            hyps.append(engine.decode([(pcm, RATE)])[0][0])
            cpu += time.process_time() - t0
        words = sum(len(s.split()) for s in spanish)
        print(f"whisper base, es, espeak-ng {args.speed} wpm through 8 kHz PCMU: "
              f"WER {100 * wer(spanish, hyps):.1f}% over {len(spanish)} sentences "
              f"({words} words), {cpu / len(spanish):.2f} s CPU per utterance")
        es_right = sum(engine.detect_language(p, RATE) == "es" for p in audio)
        en_right = sum(engine.detect_language(telephone(s, "en-us", 150), RATE) == "en"
                       for s in english)
        print(f"language detection: {es_right}/{len(spanish)} Spanish, "
              f"{en_right}/{len(english)} English right")
        for ref, hyp in zip(spanish, hyps, strict=True):
            print(f"  {ref!r} -> {hyp!r}")


if __name__ == "__main__":
    main()
