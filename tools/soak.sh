#!/usr/bin/env bash
# Soak: a real coordinator with churning real workers for N minutes, its
# memory, file descriptors and threads sampled every 10 s. The peers' users
# report RAM growing over hours (hivemind #264, #654); this is how we look
# for it. Not part of ctest (it runs for minutes to hours).
#
#   tools/soak.sh [--minutes=60] [--workers=32] [--churn_s=20] [--job=FILE]
#
# Every --churn_s seconds one worker leaves, by SIGTERM or SIGKILL in turn,
# and a new one joins. The job is an MLP whose budget an hour does not
# reach (1,000 epochs of 200 shards: the ledger holds every work item of
# the budget, about 100 bytes each, so a budget of 100,000 epochs would be
# 20 M items and gigabytes), checkpointed every 30 s into a temporary
# --state_dir. Workers pause 1 s
# per task (--test_task_delay), so 32 of them share two cores with the
# coordinator; at about 32 versions a second an update is some 30 versions
# stale, so the staleness bound is 64 (at the default 8 nearly every
# update was refused, and the soak measured refusals, not training). Everything listens on 127.0.0.1 and stops at the end.
#
# Prints the samples (also in $dir/samples.csv) and a verdict over the last
# 75 % of the run: RSS growth < 5 % (last sample over the window's first),
# and no growth of open file descriptors or threads beyond the churn's own
# jitter. Exits 1 when a check fails. Build first (tools/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=60 workers=32 churn_s=20 job=""
for arg in "$@"; do
  case "$arg" in
    --minutes=*) minutes="${arg#*=}" ;;
    --workers=*) workers="${arg#*=}" ;;
    --churn_s=*) churn_s="${arg#*=}" ;;
    --job=*) job="${arg#*=}" ;;
    *) echo "usage: tools/soak.sh [--minutes=N] [--workers=N] [--churn_s=S] [--job=FILE]" >&2; exit 2 ;;
  esac
done
for bin in tributary-coordinator tributary-worker; do
  [ -x "build/bin/$bin" ] || { echo "soak: build/bin/$bin missing: run tools/build.sh" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/tributary-soak.XXXXXX)
if [ -z "$job" ]; then
  job="$dir/job.textproto"
  cat > "$job" <<'EOF'
name: "soak-mlp"
model { mlp { hidden: 64 } }
data { fashion_mnist { max_train_examples: 20000 } shard_examples: 100 }
eval { interval_versions: 500 max_examples: 1000 }
optimizer { lr: 0.05 }
aggregation { max_staleness: 64 }
budget { epochs: 1000 }
lease { lease_timeout_s: 10 heartbeat_interval_s: 1 heartbeat_timeout_s: 5 }
limits { joins_per_minute_per_ip: 100000 joins_per_minute_per_identity: 100000 max_sessions_per_identity: 1000 }
checkpoint { interval_s: 30 }
EOF
fi

pids=()
coordinator=""
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  [ -n "$coordinator" ] && kill "$coordinator" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

build/bin/tributary-coordinator --job="$job" --listen=127.0.0.1:0 --http=127.0.0.1:0 \
  --state_dir="$dir/state" > "$dir/coordinator.log" 2>&1 &
coordinator=$!
for _ in $(seq 600); do
  grep -q "workers connect to port" "$dir/coordinator.log" && break
  kill -0 "$coordinator" 2>/dev/null || { cat "$dir/coordinator.log" >&2; exit 1; }
  sleep 0.1
done
line=$(grep -m1 "workers connect to port" "$dir/coordinator.log")
grpc_port=$(sed -E 's/.*workers connect to port ([0-9]+).*/\1/' <<< "$line")
http_port=$(sed -E 's|.*http://[^:]+:([0-9]+)/.*|\1|' <<< "$line")

next=0
start_worker() {
  build/bin/tributary-worker --coordinator=127.0.0.1:"$grpc_port" --threads=1 --name="soak-$next" \
    --test_task_delay=1s > "$dir/worker-$next.log" 2>&1 &
  pids+=($!)
  next=$((next + 1))
}
for _ in $(seq "$workers"); do start_worker; done

sample() {  # elapsed_s,rss_kib,fds,threads,model_version
  local rss threads fds version
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/"$coordinator"/status)
  threads=$(awk '/^Threads:/ {print $2}' /proc/"$coordinator"/status)
  fds=$(find /proc/"$coordinator"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  version=$(python3 -c 'import json,sys,urllib.request as u; print(json.load(u.urlopen(sys.argv[1]))["model_version"])' \
    "http://127.0.0.1:$http_port/api/status" 2>/dev/null || echo -1)
  echo "$((SECONDS - started)),$rss,$fds,$threads,$version"
}

echo "soak: $workers workers, one replaced every $churn_s s, for $minutes min; logs in $dir"
echo "elapsed_s,rss_kib,fds,threads,model_version" | tee "$dir/samples.csv"
started=$SECONDS
end=$((started + minutes * 60))
next_churn=$((started + churn_s))
next_sample=$started
churned=0
while [ $SECONDS -lt $end ]; do
  kill -0 "$coordinator" 2>/dev/null || { echo "soak: the coordinator died" >&2; tail "$dir/coordinator.log" >&2; exit 1; }
  if [ $SECONDS -ge "$next_sample" ]; then
    sample | tee -a "$dir/samples.csv"
    next_sample=$((next_sample + 10))
  fi
  if [ $SECONDS -ge "$next_churn" ]; then
    victim=$((churned % ${#pids[@]}))
    if [ $((churned % 2)) -eq 0 ]; then kill -TERM "${pids[$victim]}" 2>/dev/null || true
    else kill -KILL "${pids[$victim]}" 2>/dev/null || true; fi
    wait "${pids[$victim]}" 2>/dev/null || true
    unset 'pids[victim]'
    pids=("${pids[@]}")
    start_worker
    churned=$((churned + 1))
    next_churn=$((next_churn + churn_s))
  fi
  sleep 1
done
sample | tee -a "$dir/samples.csv"

# The verdict over the last 75 % of the run.
python3 - "$dir/samples.csv" "$churned" <<'EOF'
import csv, sys
rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
total = rows[-1]["elapsed_s"]
window = [r for r in rows if r["elapsed_s"] >= total * 0.25]
first, last = window[0], window[-1]
growth = (last["rss_kib"] - first["rss_kib"]) / first["rss_kib"]
fds = max(r["fds"] for r in window) - min(r["fds"] for r in window)
threads = max(r["threads"] for r in window) - min(r["threads"] for r in window)
print(f"soak: {total} s, {sys.argv[2]} workers replaced, model version {last['model_version']}")
print(f"soak: over the last 75 % ({first['elapsed_s']}-{last['elapsed_s']} s): RSS {first['rss_kib']} -> "
      f"{last['rss_kib']} KiB ({100 * growth:+.1f} %, peak {max(r['rss_kib'] for r in window)} KiB), "
      f"open fds {min(r['fds'] for r in window)}-{max(r['fds'] for r in window)}, "
      f"threads {min(r['threads'] for r in window)}-{max(r['threads'] for r in window)}")
# A worker's connection is one socket; the churn moves a few at a time.
ok = growth < 0.05 and fds <= 8 and threads <= 4
print("soak: PASS" if ok else "soak: FAIL (RSS growth >= 5 %, or fds or threads grew)")
sys.exit(0 if ok else 1)
EOF
