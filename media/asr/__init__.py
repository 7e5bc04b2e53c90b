"""Speech recognition: the engine interface (`base`) and the engines behind it.

See `media.asr.base` for the stream protocol and `media.asr.factory.create_engine` to build an
engine by name ("whisper", "vosk", "pocketsphinx").
"""

from media.asr.base import (
    AsrEngine,
    AsrError,
    AsrStream,
    ModelNotFoundError,
    RecognitionError,
    Recognizer,
    RecognizerEngine,
    TranscriptResult,
    UnsupportedLanguageError,
)

__all__ = [
    "AsrEngine",
    "AsrError",
    "AsrStream",
    "ModelNotFoundError",
    "RecognitionError",
    "Recognizer",
    "RecognizerEngine",
    "TranscriptResult",
    "UnsupportedLanguageError",
]
