#!/usr/bin/env bash
# Worker utilization over a simulated wide-area network: runs the flagship
# GPT model (3.26 M parameters) with 4 workers through
# deploy/netns-cluster.sh (each worker in its own network namespace, its
# link shaped with tc tbf, latency and jitter from the fault proxy) in
# several configurations, and prints one table row per run: utilization
# (compute / wall, summed over the workers) and where the rest of the time
# went, from the workers' time budgets (UpdateHeader.time).
#
#   sudo bench/wan_utilization.sh [--configs=plain,int8,diloco,overlap]
#       [--rates=10] [--latency_ms=50] [--loopback] [--out=DIR]
#
# Configurations (all on the same 3-file slice of the fortunes corpus, so
# an epoch is 39 DiLoCo tasks; see the job texts below):
#   plain    gradients of 16 sequences, fp32 both ways, AdamW on the coordinator
#   int8     the same with int8 gradients and int8 model deltas
#   diloco   8 local AdamW steps of 16 sequences per task, int8 + deltas
#   overlap  diloco with overlap: true
# plain and int8 run for a fixed time (their link, not the samples, is the
# point); diloco and overlap run one epoch, so their final eval loss is
# after equal samples. --loopback also runs each configuration with its
# coordinator and workers on 127.0.0.1 of this namespace (no shaping, no
# proxy), the reference the WAN losses are compared with.
#
# Writes DIR/results.csv and each run's summary JSON; prints a Markdown
# table. Needs root (network namespaces) and the built binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

configs=plain,int8,diloco,overlap
rates=10
latency_ms=50
loopback=0
out=""
for arg in "$@"; do
  case "$arg" in
    --configs=*) configs="${arg#*=}" ;;
    --rates=*) rates="${arg#*=}" ;;
    --latency_ms=*) latency_ms="${arg#*=}" ;;
    --loopback) loopback=1 ;;
    --out=*) out="${arg#*=}" ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "wan_utilization: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "wan_utilization: needs root (network namespaces)" >&2; exit 77; }
[ -n "$out" ] || out=$(mktemp -d /tmp/tributary-wan.XXXXXX)
mkdir -p "$out"

corpus='files: "/usr/share/games/fortunes/cookie" files: "/usr/share/games/fortunes/computers" files: "/usr/share/games/fortunes/songs-poems" eval_fraction: 0.1'
model='model { gpt { layers: 4 heads: 4 channels: 256 context: 128 } }'
job_text() {
  case "$1" in
    plain|int8)
      echo "name: \"wan-$1\" $model data { text { $corpus } shard_examples: 16 }"
      echo 'eval { interval_versions: 1000000 max_examples: 200 }'
      echo 'optimizer { kind: ADAMW lr: 0.003 warmup_steps: 20 clip_norm: 1 weight_decay: 0.1 }'
      echo 'budget { seconds: 120 epochs: 1 } lease { lease_timeout_s: 40 }'
      [ "$1" = int8 ] && echo 'codec { name: "int8" model_deltas: true } aggregation { max_staleness: 32 }'
      ;;
    diloco|overlap)
      echo "name: \"wan-$1\" $model data { text { $corpus } shard_examples: 128 }"
      echo 'eval { interval_versions: 1000000 max_examples: 200 } local_steps: 8'
      echo 'inner_optimizer { kind: ADAMW lr: 0.003 warmup_steps: 20 clip_norm: 1 weight_decay: 0.1 }'
      echo 'optimizer { kind: SGD lr: 0.5 momentum: 0 nesterov: false schedule: CONSTANT }'
      echo 'budget { epochs: 1 } lease { lease_timeout_s: 60 } codec { name: "int8" model_deltas: true }'
      # Deltas come from the last model a worker downloaded whole, while the
      # coordinator still holds it: with 4 workers a worker's own rounds are
      # 4 versions apart, so keep 32 (33 x 13 MB on the coordinator).
      echo 'aggregation { max_staleness: 32 }'
      [ "$1" = overlap ] && echo 'overlap: true'
      ;;
    *) echo "wan_utilization: unknown configuration $1" >&2; exit 2 ;;
  esac
  return 0
}

# The same job on loopback: a coordinator and 4 workers on 127.0.0.1.
run_loopback() {
  local job=$1 summary=$2 dir
  dir=$(mktemp -d /tmp/tributary-wan-lo.XXXXXX)
  local port=$((20000 + RANDOM % 20000)) http=$((40000 + RANDOM % 20000))
  build/bin/tributary-coordinator --job="$job" --listen=127.0.0.1:$port --http=127.0.0.1:$http \
    2>"$dir/coordinator.log" &
  local coordinator=$! pids=()
  for i in 1 2 3 4; do
    build/bin/tributary-worker --coordinator=127.0.0.1:$port --threads=1 --name="lo$i" 2>"$dir/w$i.log" &
    pids+=("$!")
  done
  local deadline=$((SECONDS + 900)) state=""
  while [ $SECONDS -lt $deadline ]; do
    sleep 2
    state=$(curl -sf "http://127.0.0.1:$http/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' || true)
    [ "$state" = done ] && break
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  curl -sf "http://127.0.0.1:$http/api/status" | python3 -c '
import json, sys
print(json.dumps({"passed": True, "settings": {"rate_mbit": "loopback"}, "status": json.load(sys.stdin)}))' >"$summary"
  kill "$coordinator" 2>/dev/null || true
  wait "$coordinator" 2>/dev/null || true
  rm -rf "$dir"
}

IFS=, read -r -a config_list <<<"$configs"
IFS=, read -r -a rate_list <<<"$rates"
for config in "${config_list[@]}"; do
  job="$out/$config.textproto"
  job_text "$config" >"$job"
  for rate in "${rate_list[@]}"; do
    echo "wan_utilization: $config at $rate Mbit/s, $latency_ms ms one way" >&2
    deploy/netns-cluster.sh --workers=4 --job="$job" --rate_mbit="$rate" --latency_ms="$latency_ms" \
      --duration_s=900 --summary="$out/$config-$rate.json" >"$out/$config-$rate.log" 2>&1 ||
      echo "wan_utilization: $config at $rate Mbit/s did not pass (see $out/$config-$rate.log)" >&2
  done
  if [ "$loopback" = 1 ]; then
    echo "wan_utilization: $config on loopback" >&2
    run_loopback "$job" "$out/$config-loopback.json"
  fi
done

python3 - "$out" <<'PY'
import csv, glob, json, os, sys
out = sys.argv[1]
rows = []
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(path)[:-5]
    config, _, rate = name.rpartition("-")
    with open(path) as f:
        summary = json.load(f)
    s = summary.get("status") or {}
    tb = s.get("time_budget") or {}
    wall = sum(tb.get(k, 0) for k in ("compute_s", "encode_s", "download_s", "upload_s", "wait_task_s",
                                       "wait_apply_s", "other_s"))
    share = lambda k: tb.get(k, 0) / wall if wall else 0
    samples = s.get("samples_processed", 0)
    rows.append({
        "config": config, "link": rate, "passed": summary.get("passed"),
        "utilization": s.get("utilization"), "tasks": s.get("updates_applied"), "samples": samples,
        "eval_loss": s.get("eval_loss"),
        "compute": share("compute_s"), "encode": share("encode_s"), "download": share("download_s"),
        "upload": share("upload_s"), "wait_task": share("wait_task_s"), "wait_apply": share("wait_apply_s"),
        "other": share("other_s"),
        "wire_bytes_per_sample": ((s.get("bytes", {}).get("received_wire", 0) + s.get("bytes", {}).get("sent_wire", 0))
                                  / samples) if samples else None,
    })
with open(os.path.join(out, "results.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["config"])
    w.writeheader()
    w.writerows(rows)
pct = lambda v: "n/a" if v is None else "{:.1f} %".format(100 * v)
print("| config | link (Mbit/s) | utilization | compute | encode | download | upload | wait task | wait apply | other | tasks | samples | eval loss | wire B/sample |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        r["config"], r["link"], pct(r["utilization"]), pct(r["compute"]), pct(r["encode"]), pct(r["download"]),
        pct(r["upload"]), pct(r["wait_task"]), pct(r["wait_apply"]), pct(r["other"]), r["tasks"], r["samples"],
        "n/a" if r["eval_loss"] is None else "{:.4f}".format(r["eval_loss"]),
        "n/a" if r["wire_bytes_per_sample"] is None else "{:.0f}".format(r["wire_bytes_per_sample"])))
print("\nresults:", os.path.join(out, "results.csv"))
PY
