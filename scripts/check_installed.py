"""Is this checkout installed with everything it declares? Exit 0 if so, 1 (saying what) if not.

`scripts/setup.sh` runs this before reinstalling, so a second run on a ready machine costs a
fraction of a second instead of a `pip install -e .[test]`. It checks, without importing any
of the packages (silero-vad's own module imports torch, which is not installed on purpose):

* every requirement of `[project.dependencies]`, of the `test` extra and of
  `scripts/models.txt` is installed at a version its specifier accepts;
* `centralita` is installed editable from this very directory (a second clone elsewhere, or
  a plain non-editable install, needs its own `pip install -e`);
* every top-level package `[tool.setuptools.packages.find]` includes resolves to this
  directory (setuptools' editable finder maps package names at install time, so a new
  top-level package needs a reinstall).

Runs on the standard library (3.11's tomllib) and pip's vendored `packaging` when `packaging`
itself is not installed yet.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata as metadata
import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlparse

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:  # a fresh machine: pip brings its own copy
    from pip._vendor.packaging.requirements import (  # type: ignore[assignment]
        InvalidRequirement,
        Requirement,
    )

ROOT = Path(__file__).resolve().parents[1]


def declared_requirements(root: Path = ROOT) -> list[str]:
    """Requirement strings of the project, its `test` extra and the hash-pinned model wheels."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = [*project.get("dependencies", []),
             *project.get("optional-dependencies", {}).get("test", [])]
    for raw in (root / "scripts" / "models.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line.split()[0])  # drop `--hash=...`
    return lines


def unmet(requirement: str) -> str | None:
    """Why `requirement` is not satisfied here, or None when it is."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement as exc:
        return f"{requirement!r}: unreadable requirement ({exc})"
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return None
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return f"{req.name}: not installed"
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return f"{req.name}: {version} installed, {req.specifier} wanted"
    return None


def editable_here(root: Path = ROOT) -> str | None:
    """None when `centralita` is an editable install of `root`, else what is wrong."""
    for dist in metadata.distributions(name="centralita"):
        text = dist.read_text("direct_url.json")
        if not text:
            continue
        info = json.loads(text)
        url = urlparse(info.get("url", ""))
        if (info.get("dir_info", {}).get("editable") and url.scheme == "file"
                and Path(unquote(url.path)).resolve() == root):
            return None
    return f"centralita: not installed editable from {root}"


def packages_here(root: Path = ROOT) -> list[str]:
    """Top-level packages of the project that do not resolve to `root`."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"].get("include", ["*"])
    problems = []
    for init in sorted(root.glob("*/__init__.py")):
        name = init.parent.name
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if origin != init.resolve():
            problems.append(f"{name}: package not installed from {root}")
    return problems


def main() -> int:
    # Our own directory (scripts/) is sys.path[0]: the repository root must not be on the path,
    # or the packages would resolve to it whether or not they are installed.
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != ROOT]
    problems = [p for p in map(unmet, declared_requirements()) if p]
    problems += [p for p in [editable_here()] if p]
    if not problems:
        problems += packages_here()
    for problem in problems:
        print(f"setup: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
