#!/usr/bin/env bash
# Install what is missing, then run lint, types and the whole test suite (slow ones included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are the machine's own services:
# stop here, naming the missing one, rather than fail every store and cluster test.
python3 scripts/check_servers.py
python3 -m ruff check .
python3 -m mypy
# Independent tests run in parallel (pytest-xdist; each e2e test has its own ports and data
# dir): most end-to-end time is waiting on the wall clock, not CPU. A file's tests stay on one
# worker (module fixtures are made once). CENTRALITA_TEST_WORKERS=0 runs them one by one.
# 3: tests/e2e on both databases took 1,301 s with 3 workers and 868 s with 5 on the shared
# 2-core machine (load 10-13 from other work), but the whole suite at 5 took 41 min with 19
# failures, most of them audio, SIPp-load and speech tests starved of CPU (2026-12-07).
exec python3 -m pytest -q -p no:cacheprovider -n "${CENTRALITA_TEST_WORKERS:-3}" \
    --dist loadfile "$@"
