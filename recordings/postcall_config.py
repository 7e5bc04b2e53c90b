"""The `post_call:` section of the config file: the post-call accuracy pass (recordings.postcall).

    post_call:
      enabled: true            # off by default; needs recordings: {enabled: true}
      models:                  # by the language the call was recognised in
        en: tiny.en            # default: measured better than base over a whole recording
        es: base               # default
      model: base              # calls in any other language, or not known (detected)
      priority: idle           # idle (SCHED_IDLE: only spare CPU) or nice
      nice: 19                 # the worker's nice increment (0-19), with either priority
      cpu_threads: 1           # CTranslate2 threads of the worker (at most this many cores)
      beam_size: 5
      lease: 600               # seconds a running job is held before another start takes it
      attempts: 3              # tries before a job is 'failed'

A model is "tiny.en", "base" (packaged wheels, media.asr.models) or a CTranslate2 whisper
model directory. Every mistake is a `PostCallConfigError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODELS = {"en": "tiny.en", "es": "base"}


class PostCallConfigError(ValueError):
    """A bad `post_call:` section; the message names the key."""


@dataclass(frozen=True)
class PostCallConfig:
    """The pass, all of it; `PostCallConfig()` is off."""

    enabled: bool = False
    models: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    model: str = "base"
    priority: str = "idle"
    nice: int = 19
    cpu_threads: int = 1
    beam_size: int = 5
    lease: float = 600.0
    attempts: int = 3

    def model_for(self, language: str | None) -> str:
        """The model for a call recognised in `language` (None: not known)."""
        if language is not None and language in self.models:
            return self.models[language]
        return self.model


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PostCallConfigError(f"{where} must be a whole number from {low} to {high}")
    return value


def parse_post_call(value: Any, where: str = "post_call") -> PostCallConfig:
    """Read the section (a mapping) into a `PostCallConfig`."""
    if not isinstance(value, dict):
        raise PostCallConfigError(f"{where} must be a mapping")
    known = {"enabled", "models", "model", "priority", "nice", "cpu_threads", "beam_size",
             "lease", "attempts"}
    unknown = set(value) - known
    if unknown:
        raise PostCallConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise PostCallConfigError(f"{where}.enabled must be true or false")
    models = dict(DEFAULT_MODELS)
    raw_models = value.get("models", {})
    if not isinstance(raw_models, dict):
        raise PostCallConfigError(f"{where}.models must map a language to a model")
    for lang, model in raw_models.items():
        if not isinstance(lang, str) or not isinstance(model, str) or not model:
            raise PostCallConfigError(f"{where}.models.{lang}: a model name or directory")
        models[lang] = model
    model = value.get("model", "base")
    if not isinstance(model, str) or not model:
        raise PostCallConfigError(f"{where}.model: a model name or directory")
    priority = value.get("priority", "idle")
    if priority not in ("idle", "nice"):
        raise PostCallConfigError(f"{where}.priority must be idle or nice")
    lease = value.get("lease", 600)
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not 5 <= lease <= 86400:
        raise PostCallConfigError(f"{where}.lease must be 5 to 86400 seconds")
    return PostCallConfig(
        enabled=enabled, models=models, model=model, priority=priority,
        nice=_int(value.get("nice", 19), f"{where}.nice", 0, 19),
        cpu_threads=_int(value.get("cpu_threads", 1), f"{where}.cpu_threads", 1, 16),
        beam_size=_int(value.get("beam_size", 5), f"{where}.beam_size", 1, 10),
        lease=float(lease), attempts=_int(value.get("attempts", 3), f"{where}.attempts", 1, 20))
