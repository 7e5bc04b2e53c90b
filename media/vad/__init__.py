"""Voice activity detection: detectors, utterance segmentation and the VAD processor.

`webrtc` (webrtcvad) is the default detector; `silero` (Silero's ONNX model on onnxruntime)
is the option for noisy lines, where webrtcvad calls steady noise speech.
"""

from media.vad.detectors import (
    SileroDetector,
    SpeechDetector,
    WebRtcDetector,
    make_detector,
    silero_model_path,
)
from media.vad.processor import SpeechStartedFrame, UtteranceFrame, VadProcessor
from media.vad.segmenter import SpeechStarted, Utterance, UtteranceSegmenter, VadConfig, VadEvent

__all__ = [
    "SileroDetector",
    "SpeechDetector",
    "SpeechStarted",
    "SpeechStartedFrame",
    "Utterance",
    "UtteranceFrame",
    "UtteranceSegmenter",
    "VadConfig",
    "VadEvent",
    "VadProcessor",
    "WebRtcDetector",
    "make_detector",
    "silero_model_path",
]
