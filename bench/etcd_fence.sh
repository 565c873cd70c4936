#!/usr/bin/env bash
# Starts a throwaway etcd on 127.0.0.1 (data in a temp directory, removed
# on exit) and runs bench/etcd_fence against it: the cost of the fenced
# write the failover makes per applied model version (docs/HA.md).
#   bench/etcd_fence.sh [--writes=N]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v etcd >/dev/null || { echo "etcd not found: apt-get install etcd-server" >&2; exit 1; }
[ -x build/bin/etcd_fence ] || { echo "build/bin/etcd_fence missing: tools/build.sh" >&2; exit 1; }
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
client=$(free_port)
peer=$(free_port)
etcd --name=bench --data-dir="$dir/etcd" --log-level=warn \
  --listen-client-urls="http://127.0.0.1:$client" --advertise-client-urls="http://127.0.0.1:$client" \
  --listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
  --initial-cluster="bench=http://127.0.0.1:$peer" >"$dir/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$client/health" >/dev/null && break
  sleep 0.1
done
echo "etcd $(etcd --version | head -1 | awk '{print $3}') on 127.0.0.1:$client, data in $dir ($(df -T "$dir" | awk 'NR==2 {print $2}'))"
build/bin/etcd_fence --etcd="127.0.0.1:$client" "$@"
