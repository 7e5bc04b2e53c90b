#!/usr/bin/env bash
# Install what is missing, then run lint, types and the whole test suite (slow ones included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check .
python3 -m mypy
exec python3 -m pytest -q -p no:cacheprovider "$@"
