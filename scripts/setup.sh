#!/usr/bin/env bash
# Install everything Centralita needs on a fresh Debian machine (idempotent, quiet when done).
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
[ -d /usr/share/pocketsphinx/test/data/librivox ] || need_apt+=(pocketsphinx-testdata)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp=".setup-stamp"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! python3 -c "import centralita, pjsua2, silero_vad" 2>/dev/null; then
    echo "setup: pip install -e .[test]"
    python3 -m pip install -q -e ".[test]"
    # Silero's VAD wheel declares torch as a requirement although only its ONNX file is used
    # (run with onnxruntime): install it without dependencies, pinned.
    python3 -m pip install -q --no-deps "silero-vad==6.2.3"
    touch "$stamp"
fi
