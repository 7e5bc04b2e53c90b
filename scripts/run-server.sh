#!/usr/bin/env bash
# Install what is missing, then run the embedded server: one process, SQLite, recordings on
# disk, the demo IVR flow (ivr/flows) and queues (routing/demo.yaml). SIP on udp/tcp 127.0.0.1:5060 (TLS on 5061), HTTP on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python3 -m centralita serve --data-dir "${CENTRALITA_DATA:-./data}" --flows ivr/flows \
    --routing routing/demo.yaml "$@"
