#!/bin/bash
# One load-generator run against a fresh coordinator: starts
# build/bin/tributary-coordinator with bench/loadgen.textproto on free
# 127.0.0.1 ports, runs build/bin/loadgen with the arguments given, and
# stops the coordinator (also on Ctrl-C). COORDINATOR= runs another
# coordinator binary (an older build, for a before/after comparison).
#
#   bench/loadgen.sh --workers 1000 --duration 60s
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-build/bin}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
grpc_port=$(free_port)
http_port=$(free_port)
log=$(mktemp /tmp/loadgen-coordinator.XXXXXX.log)
"${COORDINATOR:-$bin/tributary-coordinator}" --job bench/loadgen.textproto --listen "127.0.0.1:$grpc_port" \
  --http "127.0.0.1:$http_port" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break
  sleep 0.1
done
echo "coordinator pid $pid on 127.0.0.1:$grpc_port (log $log); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/loadgen" --target "127.0.0.1:$grpc_port" --http "127.0.0.1:$http_port" --coordinator_pid "$pid" "$@"
