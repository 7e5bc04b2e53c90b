"""Run one fuzz target with atheris (libFuzzer for Python): `python tests/fuzz/run.py TARGET
--runs N` (or `--seconds S`). Exits
non-zero, with the input that broke it saved as crash-TARGET-*, when an exception the target
does not document escapes. libFuzzer's final stats (`stat::number_of_executed_units`,
`stat::average_exec_per_sec`) give the inputs run and the rate.

    python tests/fuzz/run.py sip --runs 100000
    python tests/fuzz/run.py all --runs 2000     # every target in turn (each in its process)

The seeds are written to a temporary corpus directory, so runs leave nothing in the tree.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _run_one(name: str, runs: int | None, seconds: int | None, extra: list[str]) -> None:
    import atheris  # type: ignore[import-untyped]

    from tests.fuzz import targets

    with atheris.instrument_imports():
        target = targets.load(name)

    def one(data: bytes) -> None:
        with contextlib.suppress(*target.allowed):
            target.fn(data)

    corpus = pathlib.Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for i, seed in enumerate(target.seeds):
        (corpus / f"seed{i}").write_bytes(seed)
    args = [sys.argv[0], str(corpus), "-max_len=4096", "-print_final_stats=1",
            f"-artifact_prefix={pathlib.Path.cwd()}/crash-{name}-"]
    if runs is not None:
        args.append(f"-runs={runs}")
    if seconds is not None:
        args.append(f"-max_total_time={seconds}")
    atheris.Setup(args + extra, one)
    atheris.Fuzz()


def main() -> int:
    from tests.fuzz.targets import LOADERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=[*LOADERS, "all"])
    parser.add_argument("--runs", type=int, default=None, help="inputs to run")
    parser.add_argument("--seconds", type=int, default=None, help="or: time to run")
    opts, extra = parser.parse_known_args()
    if opts.runs is None and opts.seconds is None:
        opts.runs = 10_000
    if opts.target == "all":
        failed = []
        for name in LOADERS:
            cmd = [sys.executable, __file__, name, *extra]
            cmd += [f"--runs={opts.runs}"] if opts.runs is not None else []
            cmd += [f"--seconds={opts.seconds}"] if opts.seconds is not None else []
            if subprocess.run(cmd, check=False).returncode != 0:
                failed.append(name)
        print("FUZZ failed:", ", ".join(failed) if failed else "none")
        return 1 if failed else 0
    _run_one(opts.target, opts.runs, opts.seconds, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
