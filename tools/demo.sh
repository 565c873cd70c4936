#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the default job
# (deploy/jobs/gpt-fortunes.textproto, a byte-level GPT on the fortunes
# corpus) with a coordinator and a local worker on this machine. Prints the
# status page's URL while it trains, the held-out loss at each evaluation,
# and at the end the final loss, the workers' utilization (compute time over
# wall time, from /api/status) and a text sample from the final checkpoint.
#
#   tools/demo.sh [--workers=N] [--job=FILE]
#
# One worker gets every core by default: on one machine, splitting the
# cores between N asynchronous workers trains the same number of samples
# per second but with stale gradients, which AdamW pays for (see
# docs/BENCHMARKS.md). --workers=N shows the distributed path anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

workers=1
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
  --http=127.0.0.1:"$http_port" --state_dir="$logs/state" --exit_when_done 2>"$logs/coordinator.log" &
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
# The final line's utilization: summed compute time / summed wall time of
# every worker's reported time budget ("none" before any report).
utilization=$(grep -o "final: .* utilization=[^ ]*" "$logs/coordinator.log" | sed 's/.*utilization=//' || true)
case "$utilization" in
  "" | none) utilization="n/a" ;;
  *) utilization=$(awk -v v="$utilization" 'BEGIN { printf "%.1f %%", v * 100 }') ;;
esac
echo "tributary: worker utilization (compute time / wall time, all workers): $utilization"
if grep -q '" (gpt): ' "$logs/coordinator.log"; then
  echo "tributary: a sample from the final checkpoint ($logs/state):"
  echo "----"
  build/bin/tributary-sample --checkpoint="$logs/state" --prompt="Q: What" --length=400 --seed="$RANDOM"
  echo "----"
  echo "tributary: export it with: build/bin/tributary-export --checkpoint=$logs/state --out=model.safetensors"
fi
