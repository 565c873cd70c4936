#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the default job
# with a coordinator and local workers on this machine. Prints the status
# page's URL while it trains and the final loss when it ends.
#
#   tools/demo.sh [--workers=N] [--job=FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

workers=2
job=""
for arg in "$@"; do
  case "$arg" in
    --workers=*) workers="${arg#*=}" ;;
    --job=*) job="${arg#*=}" ;;
    *) echo "usage: tools/demo.sh [--workers=N] [--job=FILE]" >&2; exit 2 ;;
  esac
done

tools/install-deps.sh
tools/build.sh

grpc_port=${TRIBUTARY_GRPC_PORT:-7070}
http_port=${TRIBUTARY_HTTP_PORT:-8080}
logs=$(mktemp -d /tmp/tributary-demo.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

job_flag=()
[ -n "$job" ] && job_flag=(--job="$job")
build/bin/tributary-coordinator "${job_flag[@]}" --listen=127.0.0.1:"$grpc_port" \
  --http=127.0.0.1:"$http_port" --exit_when_done 2>"$logs/coordinator.log" &
coordinator=$!
pids+=("$coordinator")

threads=$(( $(nproc) / workers )); [ "$threads" -ge 1 ] || threads=1
for i in $(seq 1 "$workers"); do
  build/bin/tributary-worker --coordinator=127.0.0.1:"$grpc_port" --name="local-$i" \
    --threads="$threads" 2>"$logs/worker-$i.log" &
  pids+=("$!")
done

echo "tributary: training with $workers local workers; logs in $logs"
echo "tributary: status page: http://127.0.0.1:$http_port/  (JSON: http://127.0.0.1:$http_port/api/status)"
start=$(date +%s)
# Show each evaluation as the coordinator logs it.
shown=0
while kill -0 "$coordinator" 2>/dev/null; do
  sleep 1
  evals=$(grep -c "eval at version" "$logs/coordinator.log" || true)
  if [ "$evals" -gt "$shown" ]; then
    grep "eval at version" "$logs/coordinator.log" | tail -n +"$((shown + 1))" \
      | sed 's/.*eval at version/  eval at version/'
    shown=$evals
  fi
done
set +e
wait "$coordinator"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "tributary: the coordinator failed (exit $rc):" >&2
  tail -20 "$logs/coordinator.log" >&2
  exit "$rc"
fi
echo "tributary: done in $(( $(date +%s) - start )) s"
grep "final:" "$logs/coordinator.log" | sed 's/.*final: /tributary: final: /'
