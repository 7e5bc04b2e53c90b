"""Run one fuzz target with atheris (libFuzzer for Python): `python tests/fuzz/run.py TARGET
--runs N` (or `--seconds S`). Exits
non-zero, with the input that broke it saved as crash-TARGET-*, when an exception the target
does not document escapes. libFuzzer's final stats (`stat::number_of_executed_units`,
`stat::average_exec_per_sec`) give the inputs run and the rate.

    python tests/fuzz/run.py sip --runs 100000
    python tests/fuzz/run.py all --runs 2000     # every target in turn (each in its process)
    python tests/fuzz/run.py sip crash-sip-...    # run a saved input again

The seeds are written to a temporary corpus directory, so runs leave nothing in the tree.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PROGRESS_EVERY = 100_000
OURS = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")


def _run_one(name: str, runs: int | None, seconds: int | None, extra: list[str]) -> None:
    import atheris  # type: ignore[import-untyped]

    from tests.fuzz import targets

    # Only our packages get coverage instrumentation: instrumenting what they import too
    # (yaml, asyncio, numpy, aiohttp...) made every input several times slower, and a bug
    # there is not ours to find.
    with atheris.instrument_imports(include=OURS):
        target = targets.load(name)

    start, done = time.monotonic(), 0

    def one(data: bytes) -> None:
        nonlocal done
        with contextlib.suppress(*target.allowed):
            target.fn(data)
        done += 1
        if done % PROGRESS_EVERY == 0:  # libFuzzer itself only reports at powers of two
            took = time.monotonic() - start
            print(
                f"PROGRESS {name}: {done} inputs, {took:.0f} s, {done / took:.0f}/s, "
                f"{time.strftime('%H:%M:%S', time.gmtime())} UTC",
                file=sys.stderr,
                flush=True,
            )

    # Files given on the command line (a saved crash-*) are run once each, without a corpus.
    replay = [arg for arg in extra if not arg.startswith("-") and pathlib.Path(arg).is_file()]
    corpus = pathlib.Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for i, seed in enumerate(target.seeds):
        (corpus / f"seed{i}").write_bytes(seed)
    args = [
        sys.argv[0],
        *([] if replay else [str(corpus)]),
        "-max_len=4096",
        "-print_final_stats=1",
        f"-artifact_prefix={pathlib.Path.cwd()}/crash-{name}-",
    ]
    if runs is not None and not replay:
        args.append(f"-runs={runs}")
    if seconds is not None and not replay:
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
