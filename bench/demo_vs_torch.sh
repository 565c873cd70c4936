#!/usr/bin/env bash
# The demo against PyTorch: README command 1's training (a coordinator and
# one local worker with every core, as tools/demo.sh runs them) and then
# single-process PyTorch CPU (bench/gpt_train_torch.py) train the same job
# on this machine, back to back, each for the same wall-clock budget.
# Prints the held-out loss of both at 25, 50, 75 and 100 % of the time and
# when each first reaches PyTorch's final loss; writes both curves to
# DIR/curves.csv (run,time_s,tokens,eval_loss).
#
#   bench/demo_vs_torch.sh [--seconds=600] [--job=FILE] [--epochs=20] [--eval_every_s=30] [--out=DIR]
#       [--torch_only]
#
# --torch_only runs PyTorch again beside the tributary run already in DIR.
#
# The job (default: the demo's, deploy/jobs/gpt-fortunes.textproto) is
# copied with its budget line replaced by `budget { epochs: E seconds: S }`:
# both runs stop at S seconds (E only needs to be more than S seconds hold;
# the ledger holds E x shards items). Time is each run's own: tributary's
# is the coordinator's run time (/api/history; an evaluation is stamped when
# it is recorded, a moment after the model it scores), PyTorch's leaves its
# evaluations out. PyTorch checks that it evaluates on the coordinator's
# held-out sequences, byte for byte. Needs python3-torch and
# python3-protobuf, and libopenblas0-pthread for a fair PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
job=deploy/jobs/gpt-fortunes.textproto
epochs=20
eval_every_s=30
out=""
torch_only=0
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --job=*) job="${arg#*=}" ;;
    --epochs=*) epochs="${arg#*=}" ;;
    --eval_every_s=*) eval_every_s="${arg#*=}" ;;
    --out=*) out="${arg#*=}" ;;
    --torch_only) torch_only=1 ;;
    *) echo "usage: bench/demo_vs_torch.sh [--seconds=N] [--job=FILE] [--epochs=N] [--eval_every_s=N] [--out=DIR] [--torch_only]" >&2
       exit 2 ;;
  esac
done
if ! /usr/bin/python3 -c 'import torch, google.protobuf' 2>/dev/null; then
  echo "demo_vs_torch: needs Debian's python3-torch and python3-protobuf (apt-get install python3-torch" \
       "python3-protobuf libopenblas0-pthread)" >&2
  exit 2
fi
if [ "$(grep -c '^budget' "$job")" != 1 ] || ! grep -q '^budget {.*}$' "$job"; then
  echo "demo_vs_torch: $job: want its budget on one line of its own, \"budget { ... }\"" >&2
  exit 2
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTRIBUTARY_NATIVE="${TRIBUTARY_NATIVE:-ON}" >/dev/null
cmake --build build -j"$(nproc)" --target tributary-coordinator tributary-worker gpt_train >/dev/null

out=${out:-$(mktemp -d /tmp/tributary-vs-torch.XXXXXX)}
mkdir -p "$out"
timed_job="$out/job.textproto"
sed "s/^budget {.*}\$/budget { epochs: $epochs seconds: $seconds }/" "$job" >"$timed_job"
build/bin/gpt_train --job="$timed_job" --eval_records="$out/eval_records.bin"
echo "demo_vs_torch: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//');" \
     "$seconds s each; files in $out"

if [ "$torch_only" = 1 ] && [ ! -s "$out/tributary_history.json" ]; then
  echo "demo_vs_torch: --torch_only needs an earlier run's $out/tributary_history.json" >&2
  exit 2
fi
if [ "$torch_only" = 0 ]; then
grpc_port=${TRIBUTARY_GRPC_PORT:-7070}
http_port=${TRIBUTARY_HTTP_PORT:-8080}
status_url="http://127.0.0.1:$http_port/api/status"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

# Tributary. Without --exit_when_done, so that the history can be read
# after the final evaluation; then it is stopped.
build/bin/tributary-coordinator --job="$timed_job" --listen=127.0.0.1:"$grpc_port" --http=127.0.0.1:"$http_port" \
  --state_dir="$out/state" 2>"$out/coordinator.log" &
coordinator=$!
pids+=("$coordinator")
build/bin/tributary-worker --coordinator=127.0.0.1:"$grpc_port" --name=local-1 --threads="$(nproc)" \
  2>"$out/worker.log" &
worker=$!
pids+=("$worker")
echo "demo_vs_torch: tributary training (status: http://127.0.0.1:$http_port/)"
state() { curl -sf --max-time 5 "$status_url" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])'; }
until [ "$(state 2>/dev/null)" = "done" ]; do
  if ! kill -0 "$coordinator" 2>/dev/null; then
    echo "demo_vs_torch: the coordinator stopped:" >&2
    tail -20 "$out/coordinator.log" >&2
    exit 1
  fi
  sleep 2
done
curl -sf "http://127.0.0.1:$http_port/api/history" -o "$out/tributary_history.json"
curl -sf "$status_url" -o "$out/tributary_status.json"
kill -TERM "$coordinator"
wait "$coordinator" || true
wait "$worker" || true
grep "final:" "$out/coordinator.log" | sed 's/.*final: /demo_vs_torch: tributary final: /'
fi

echo "demo_vs_torch: PyTorch training"
/usr/bin/python3 bench/gpt_train_torch.py --job="$timed_job" --seconds="$seconds" --eval_every_s="$eval_every_s" \
  --check_eval="$out/eval_records.bin" >"$out/torch.csv" 2> >(tee "$out/torch.log" >&2)

/usr/bin/python3 - "$out" "$seconds" <<'EOF'
import csv, json, os, sys

out, seconds = sys.argv[1], float(sys.argv[2])
history = json.load(open(os.path.join(out, "tributary_history.json")))
status = json.load(open(os.path.join(out, "tributary_status.json")))
tokens_per_sample = status["tokens_processed"] / max(1, status["samples_processed"])
curves = {"tributary": [], "pytorch": []}
for t, samples, loss in zip(history["time_s"], history["samples_processed"], history["eval_loss"]):
    if loss is not None:
        curves["tributary"].append((t, round(samples * tokens_per_sample), loss))
for row in csv.DictReader(open(os.path.join(out, "torch.csv"))):
    curves["pytorch"].append((float(row["time_s"]), int(row["tokens"]), float(row["eval_loss"])))
with open(os.path.join(out, "curves.csv"), "w") as f:
    f.write("run,time_s,tokens,eval_loss\n")
    for run, points in curves.items():
        for t, tokens, loss in points:
            f.write(f"{run},{t:.1f},{tokens},{loss:.4f}\n")


def loss_at(points, t):
    """Linear between evaluations; the final one from the end of the budget on."""
    if not points or t < points[0][0]:
        return None
    for (t0, _, l0), (t1, _, l1) in zip(points, points[1:]):
        if t0 <= t <= t1:
            return l0 + (l1 - l0) * (t - t0) / (t1 - t0) if t1 > t0 else l1
    return points[-1][2]


def time_to(points, target):
    """When the curve first reaches `target`, linear between evaluations."""
    for i, (t, _, loss) in enumerate(points):
        if loss <= target:
            if i == 0:
                return t
            t0, _, l0 = points[i - 1]
            return t0 + (t - t0) * (l0 - target) / (l0 - loss)
    return None


if not curves["pytorch"] or not curves["tributary"]:
    sys.exit("demo_vs_torch: a run has no evaluation")
target = curves["pytorch"][-1][2]
fmt = lambda v, spec: "-" if v is None else format(v, spec)
print(f"\nheld-out loss (nats/byte) against wall time, {seconds:g} s each; curves in {out}/curves.csv")
print(f"{'run':<10} {'25%':>7} {'50%':>7} {'75%':>7} {'100%':>7}   reaches PyTorch's final {target:.4f}")
for run, points in curves.items():
    cells = [fmt(loss_at(points, f * seconds), ".4f") for f in (0.25, 0.5, 0.75)] + [f"{points[-1][2]:.4f}"]
    reach = time_to(points, target)
    when = "never" if reach is None else f"at {reach:.0f} s ({100 * reach / seconds:.0f} % of the time)"
    print(f"{run:<10} " + " ".join(f"{c:>7}" for c in cells) + f"   {when}")
EOF
