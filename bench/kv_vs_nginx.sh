#!/usr/bin/env bash
# Raw-KV GET and PUT requests/s of one jkd node, measured with wrk, beside
# nginx serving a file of the same size on the same machine.
#
# Usage: bench/kv_vs_nginx.sh [VALUE_BYTES] [DURATION_S] [RUNS]
# Needs a Release build in build/ (scripts/demo or scripts/test makes one)
# and the Debian packages wrk and nginx-light (installed if missing).
# Prints one Markdown table row per measurement with the median of RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

VALUE_BYTES=${1:-1024}
DURATION_S=${2:-10}
RUNS=${3:-3}
THREADS=2
CONNECTIONS=64
JKD_PORT=18080
OPERATOR_PORT=19080
NGINX_PORT=18081

jkd_install_missing wrk nginx-light
jkd_build build Release

WORK=$(mktemp -d /tmp/jkd-bench.XXXXXX)
cleanup() {
  [[ -n "${JKD_PID:-}" ]] && kill -TERM "$JKD_PID" 2>/dev/null && wait "$JKD_PID" 2>/dev/null
  [[ -f "$WORK/nginx.pid" ]] && kill -QUIT "$(cat "$WORK/nginx.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c "$VALUE_BYTES" /dev/zero | tr '\0' 'x' > "$WORK/value.bin"

./build/bin/jkd --node-data-dir "$WORK/data" --http-listen 127.0.0.1:$JKD_PORT \
  --operator-listen 127.0.0.1:$OPERATOR_PORT --log-level warn 2> "$WORK/jkd.log" &
JKD_PID=$!
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:$JKD_PORT/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
TOKEN=$(cat "$WORK/data/operator.token")
curl -fsS -X PUT -H "Authorization: Bearer $TOKEN" --data-binary @"$WORK/value.bin" \
  http://127.0.0.1:$OPERATOR_PORT/kv/v1/bench >/dev/null

mkdir -p "$WORK/www"
cp "$WORK/value.bin" "$WORK/www/value.bin"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
  }
}
NGINX
nginx -c "$WORK/nginx.conf"

cat > "$WORK/put.lua" <<LUA
local counter = 0
local body = string.rep("x", $VALUE_BYTES)
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/kv/v1/bench-put/" .. counter, nil, body)
end
LUA

# Runs wrk RUNS times and prints the median requests/s.
median_rps() {
  local results=()
  for _ in $(seq 1 "$RUNS"); do
    results+=("$(wrk -t$THREADS -c$CONNECTIONS -d"${DURATION_S}s" "$@" | awk '/Requests\/sec/ {print $2}')")
  done
  printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

AUTH="Authorization: Bearer $TOKEN"
echo "| what | value bytes | requests/s (median of $RUNS × ${DURATION_S}s) |"
echo "|---|---|---|"
echo "| nginx static file GET | $VALUE_BYTES | $(median_rps http://127.0.0.1:$NGINX_PORT/value.bin) |"
echo "| jkd raw KV GET | $VALUE_BYTES | $(median_rps -H "$AUTH" http://127.0.0.1:$OPERATOR_PORT/kv/v1/bench) |"
echo "| jkd raw KV PUT (durable) | $VALUE_BYTES | $(median_rps -H "$AUTH" -s "$WORK/put.lua" http://127.0.0.1:$OPERATOR_PORT) |"
