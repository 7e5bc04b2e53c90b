#!/usr/bin/env bash
# Run a two-node Centralita cluster on loopback behind Kamailio, for trying the scale-out shape
# on one machine (the docker-compose.yml topology without Docker):
#   Kamailio (deploy/kamailio/kamailio.cfg)  udp+tcp 127.0.0.1:5060  -> dispatcher over
#   node 1  SIP 127.0.0.1:5071 (TLS 5072)  HTTP 127.0.0.1:8081
#   node 2  SIP 127.0.0.1:5073 (TLS 5074)  HTTP 127.0.0.1:8082
# Both nodes keep the ACD's live state and the login sessions in the machine's Redis
# (127.0.0.1:6379, routing store redis, sessions redis) and the cases in a PostgreSQL database
# this script creates on 127.0.0.1:5432 (centralita_cluster, user postgres). Logs and data go
# to $CLUSTER_DIR (default ./cluster-data). Ctrl-C stops everything it started.
# Extra arguments go to both nodes' `centralita serve` (e.g. --transcription off).
# Ports and addresses: EDGE_LISTEN, NODE1_SIP, NODE2_SIP, NODE1_HTTP, NODE2_HTTP, REDIS_URL,
# PG_ADMIN_URL, PG_DB.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

CLUSTER_DIR="${CLUSTER_DIR:-./cluster-data}"
EDGE_LISTEN="${EDGE_LISTEN:-127.0.0.1:5060}"
NODE1_SIP="${NODE1_SIP:-127.0.0.1:5071}"
NODE2_SIP="${NODE2_SIP:-127.0.0.1:5073}"
NODE1_HTTP="${NODE1_HTTP:-127.0.0.1:8081}"
NODE2_HTTP="${NODE2_HTTP:-127.0.0.1:8082}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
PG_DB="${PG_DB:-centralita_cluster}"
KAMAILIO="$(command -v kamailio || echo /usr/sbin/kamailio)"

mkdir -p "$CLUSTER_DIR"
CLUSTER_DIR="$(cd "$CLUSTER_DIR" && pwd)"

# The machine's Redis and PostgreSQL must answer; the database is created when missing.
CASES_URL="$(python3 - "$REDIS_URL" "$PG_ADMIN_URL" "$PG_DB" <<'PY'
import sys

import psycopg
import redis

redis_url, admin_url, db = sys.argv[1:4]
try:
    redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
except redis.RedisError as exc:
    sys.exit(f"run-cluster: Redis at {redis_url} does not answer: {exc}")
try:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{db}"')
        info = conn.info
        user = f"{info.user}@" if info.user else ""
        print(f"postgresql://{user}{info.host}:{info.port}/{db}")
except psycopg.Error as exc:
    sys.exit(f"run-cluster: PostgreSQL at {admin_url} does not answer: {exc}")
PY
)"

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo "run-cluster: stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all INT TERM EXIT

start_node() {  # name sip http
    local name="$1" sip="$2" http="$3" dir="$CLUSTER_DIR/$1"
    mkdir -p "$dir/data"
    cat >"$dir/centralita.yaml" <<YAML
cases_url: "$CASES_URL"
routing:
  store: redis
  redis_url: "$REDIS_URL"
  key_prefix: "centralita:cluster:routing:"
  node_id: "$name"
  lease_ttl: 10
sessions:
  store: redis
  redis_url: "$REDIS_URL"
  key_prefix: "centralita:cluster:sessions:"
YAML
    python3 -m centralita serve --config "$dir/centralita.yaml" --data-dir "$dir/data" \
        --sip-listen "$sip" --http-listen "$http" --flows ivr/flows \
        --routing routing/demo.yaml "${@:4}" >"$dir/server.log" 2>&1 &
    pids+=($!)
}

start_node node1 "$NODE1_SIP" "$NODE1_HTTP" "$@"
start_node node2 "$NODE2_SIP" "$NODE2_HTTP" "$@"

for http in "$NODE1_HTTP" "$NODE2_HTTP"; do
    for _ in $(seq 1 100); do
        if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "http://$http/healthz" 2>/dev/null; then break; fi
        sleep 0.2
    done
done

mkdir -p "$CLUSTER_DIR/kamailio/run"
printf '1 sip:%s\n1 sip:%s\n' "$NODE1_SIP" "$NODE2_SIP" >"$CLUSTER_DIR/kamailio/dispatcher.list"
"$KAMAILIO" -DD -E -f deploy/kamailio/kamailio.cfg \
    -l "udp:$EDGE_LISTEN" -l "tcp:$EDGE_LISTEN" \
    -A "DS_LIST=\"$CLUSTER_DIR/kamailio/dispatcher.list\"" -A DS_PING_INTERVAL=2 \
    -P "$CLUSTER_DIR/kamailio/kamailio.pid" -Y "$CLUSTER_DIR/kamailio/run" \
    -w "$CLUSTER_DIR/kamailio" -m 256 -M 8 >"$CLUSTER_DIR/kamailio/kamailio.log" 2>&1 &
pids+=($!)

cat <<INFO
run-cluster: up (Ctrl-C stops everything)
  SIP (callers, trunks):  sip:<number>@$EDGE_LISTEN  (Kamailio, round robin over the nodes)
  node 1:  SIP $NODE1_SIP  desk/API http://$NODE1_HTTP
  node 2:  SIP $NODE2_SIP  desk/API http://$NODE2_HTTP
  Redis:   $REDIS_URL (routing state, sessions)
  cases:   $CASES_URL
  logs:    $CLUSTER_DIR/{node1,node2}/server.log  $CLUSTER_DIR/kamailio/kamailio.log
  admin:   the users are in PostgreSQL: the node that created 'admin' wrote its password to
           $CLUSTER_DIR/node1/data/admin-password or $CLUSTER_DIR/node2/data/admin-password
  try:     sipp -sf tests/cluster/scenarios/uac_via_proxy.xml -s 100 -m 10 $EDGE_LISTEN
INFO
wait -n "${pids[@]}" || true
echo "run-cluster: Ctrl-C or a process exited (logs in $CLUSTER_DIR): stopping the rest" >&2
