#!/usr/bin/env bash
# A wide-area network on one machine: a coordinator and N workers, each in
# its own Linux network namespace, joined by veth pairs on a bridge. Every
# worker's link is rate-limited with tc tbf in both directions, and the
# project's fault proxy (tools/faultproxy) inside each worker's namespace
# adds latency, jitter and occasional stalls (these kernels have no netem).
# It runs one job to its end, bounded in time, prints the status summary,
# and tears everything down on exit, on error and on Ctrl-C.
#
#   sudo deploy/netns-cluster.sh [--workers=4] [--job=FILE] [--rate_mbit=10]
#       [--latency_ms=50] [--jitter_ms=10] [--duration_s=900] [...] [-- WORKER_FLAG...]
#
# Topology (P = --prefix, S = the run's /24, e.g. 10.77.12):
#
#   root namespace
#   +-------------------------------------------------------------------+
#   |  bridge P-br, S.1/24: this script reads http://S.2:8080/api/status|
#   +----+-----------------------+-----------------------+--------------+
#        |                       |                       |
#      P-c (veth)              P-w1 (veth)             P-wN (veth)
#        |                       | tbf on P-w1: into w1  |
#        |                       | tbf on eth0: out of w1|
#   +----+---------------+  +----+--------------------+  +----+--------+
#   | eth0 S.2           |  | eth0 S.11               |  | eth0 S.10+N|
#   | netns P-coord      |  | netns P-w1              |  | netns P-wN |
#   | tributary-         |  |  tributary-worker       |  |  (as w1)   |
#   |  coordinator       |  |   --coordinator=        |  |            |
#   |  gRPC S.2:7070     |  |     127.0.0.1:7071      |  |            |
#   |  HTTP S.2:8080     |  |   | (lo of P-w1)        |  |            |
#   |                    |  |  tributary-faultproxy   |  |            |
#   |                    |  |   127.0.0.1:7071 ->     |  |            |
#   |                    |  |   S.2:7070, + latency,  |  |            |
#   |                    |  |   jitter, stalls        |  |            |
#   +--------------------+  +-------------------------+  +------------+
#
# So every byte between a worker and the coordinator crosses the worker's
# veth (shaped both ways: tbf shapes egress, so there is one on each end)
# and the coordinator's (unshaped); none crosses the root namespace's
# loopback. The bridge does not pass its frames through the host's
# iptables (nf_call_iptables 0), so a host firewall cannot drop them.
#
# Options (defaults in brackets):
#   --workers=N            workers, each in its own namespace [4], at most 100
#   --job=FILE             job spec; empty = the coordinator's built-in default
#                          job (the GPT) []
#   --rate_mbit=R          each worker link's rate, each direction [10]
#   --latency_ms=L         ONE-WAY latency the proxy adds in each direction;
#                          the round trip gets 2 L [50]
#   --jitter_ms=J          each chunk waits a further draw from [0, J), each
#                          direction; bytes are never reordered [10]
#   --stall_probability=P  chance per chunk read that its direction stalls [0.001]
#   --stall_max_ms=M       longest stall [500]
#   --reset_probability=P  chance per chunk read that the connection is reset [0]
#   --duration_s=T         bound on the run: when the job is not done T s
#                          after the start, everything is stopped (seconds
#                          more; at most a minute to stop a finished run
#                          cleanly) and the script fails [900]
#   --worker_threads=K     --threads of each worker [1]
#   --summary=FILE         also write the summary as JSON to FILE: passed,
#                          outcome, elapsed_s, coordinator_exit, settings,
#                          status (the last /api/status), ledger_audit, links
#                          (per veth: bytes into and out of its namespace,
#                          its namespace's loopback bytes, tbf and proxy
#                          counters, the worker's exit code)
#   --logs=DIR             keep every log (and status.json, ledger.json) in DIR
#   --keep_logs            keep the temporary log directory even on success
#   --prefix=NAME          names of namespaces and links, [a-z0-9], at most 9
#                          characters [tb<pid>]; must be unique among runs
#                          that coexist
#   --subnet=10.X.Y.0/24   the run's network [the first free 10.77.X.0/24]
#   --bin_dir=DIR          where the built binaries are [<repo>/build/bin]
#   -- FLAG...             passed to every worker as is
#
# It runs the job to its end and then stops the coordinator itself, as
# --exit_when_done would, after reading the final status and ledger (the
# coordinator's own --exit_when_done would close the status page before
# they could be read). Leftovers of an earlier run that was killed (SIGKILL
# leaves no chance to clean up) are removed first: those with this run's
# prefix, and those of any default-named run whose process is gone.
#
# Exit status: 0 the job finished, every shard done exactly once; 1 it did
# not (time ran out, the coordinator or every worker exited first, the
# audit failed); 2 bad usage; 77 this machine cannot run it (not root, a
# missing tool or binary, network namespaces not permitted).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
readonly ROOT_DIR
readonly GRPC_PORT=7070
readonly HTTP_PORT=8080
readonly PROXY_PORT=7071
readonly DEFAULT_PREFIX_RE='^tb[0-9]+$'

workers=4
job=""
rate_mbit=10
latency_ms=50
jitter_ms=10
stall_probability=0.001
stall_max_ms=500
reset_probability=0
duration_s=900
worker_threads=1
summary=""
logs=""
keep_logs=0
prefix="tb$$"
subnet=""
bin_dir="$ROOT_DIR/build/bin"
worker_extra=()

say() { echo "netns-cluster: $*"; }
die() { echo "netns-cluster: $1" >&2; exit "${2:-1}"; }
# usage [EXIT_CODE]: the options, from this header.
usage() { sed -n '/^# Options/,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-2}"; }

is_number() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
# in_range VALUE MIN MAX: a whole number in [MIN, MAX].
in_range() { is_count "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
is_positive() { is_number "$1" && awk -v r="$1" 'BEGIN { exit !(r > 0) }'; }
# is_subnet TEXT: 10.X.Y.0/24.
is_subnet() {
  [[ "$1" =~ ^10\.([0-9]{1,3})\.([0-9]{1,3})\.0/24$ ]] && [ "${BASH_REMATCH[1]}" -le 255 ] \
    && [ "${BASH_REMATCH[2]}" -le 255 ]
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --workers=*) workers="${1#*=}" ;;
      --job=*) job="${1#*=}" ;;
      --rate_mbit=*) rate_mbit="${1#*=}" ;;
      --latency_ms=*) latency_ms="${1#*=}" ;;
      --jitter_ms=*) jitter_ms="${1#*=}" ;;
      --stall_probability=*) stall_probability="${1#*=}" ;;
      --stall_max_ms=*) stall_max_ms="${1#*=}" ;;
      --reset_probability=*) reset_probability="${1#*=}" ;;
      --duration_s=*) duration_s="${1#*=}" ;;
      --worker_threads=*) worker_threads="${1#*=}" ;;
      --summary=*) summary="${1#*=}" ;;
      --logs=*) logs="${1#*=}" ;;
      --keep_logs) keep_logs=1 ;;
      --prefix=*) prefix="${1#*=}" ;;
      --subnet=*) subnet="${1#*=}" ;;
      --bin_dir=*) bin_dir="${1#*=}" ;;
      --) shift; worker_extra=("$@"); break ;;
      -h|--help) usage 0 ;;
      *) echo "netns-cluster: unknown argument: $1" >&2; usage ;;
    esac
    shift
  done
  in_range "$workers" 1 100 || die "--workers: want 1 to 100, got \"$workers\"" 2
  in_range "$duration_s" 10 86400 || die "--duration_s: want 10 to 86400, got \"$duration_s\"" 2
  in_range "$worker_threads" 1 1024 || die "--worker_threads: want 1 to 1024, got \"$worker_threads\"" 2
  is_positive "$rate_mbit" || die "--rate_mbit: want a positive number, got \"$rate_mbit\"" 2
  for pair in "latency_ms=$latency_ms" "jitter_ms=$jitter_ms" "stall_max_ms=$stall_max_ms" \
              "stall_probability=$stall_probability" "reset_probability=$reset_probability"; do
    is_number "${pair#*=}" || die "--${pair%%=*}: want a number >= 0, got \"${pair#*=}\"" 2
  done
  [[ "$prefix" =~ ^[a-z0-9]{1,9}$ ]] || die "--prefix: want 1 to 9 of [a-z0-9] (link names are short), got \"$prefix\"" 2
  [ -z "$subnet" ] || is_subnet "$subnet" || die "--subnet: want 10.X.Y.0/24, got \"$subnet\"" 2
  if [ -n "$job" ]; then
    [ -r "$job" ] || die "--job: cannot read \"$job\"" 2
    job="$(cd "$(dirname "$job")" && pwd)/$(basename "$job")"
  fi
  return 0
}

check_prerequisites() {
  [ "$(id -u)" -eq 0 ] || die "needs root (it makes network namespaces, veth links and tc qdiscs); run it as root, e.g. with sudo" 77
  local tool
  for tool in ip tc curl python3 awk; do
    command -v "$tool" >/dev/null || die "needs '$tool' (Debian: apt-get install iproute2 curl python3 gawk); tools/install-deps.sh installs them" 77
  done
  local binary
  for binary in tributary-coordinator tributary-worker tributary-faultproxy; do
    [ -x "$bin_dir/$binary" ] || die "$bin_dir/$binary is not built; build it with: cmake --build build --target tributary-coordinator tributary-worker tributary-faultproxy (or pass --bin_dir)" 77
  done
}

# Every namespace, then link, whose name starts with "$1-".
namespaces_of() { ip netns list | awk '{print $1}' | grep -E "^$1-" || true; }
links_of() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E "^$1-" || true; }

# Kills what runs in the prefix's namespaces and deletes them and its links.
remove_prefix() {
  local p="$1" ns pid link
  for ns in $(namespaces_of "$p"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for link in $(links_of "$p"); do ip link del "$link" 2>/dev/null || true; done
}

# Leftovers of killed runs: this prefix, and default prefixes whose script is gone.
remove_stale() {
  local p
  for p in $( (namespaces_of '[a-z0-9]+'; links_of '[a-z0-9]+') | sed 's/-.*//' | sort -u); do
    if [ "$p" = "$prefix" ] || { [[ "$p" =~ $DEFAULT_PREFIX_RE ]] && ! kill -0 "${p#tb}" 2>/dev/null; }; then
      say "removing leftovers of an earlier run: $p-*"
      remove_prefix "$p"
    fi
  done
}

# The first 10.77.X.0/24 that no address or route of this namespace uses.
pick_subnet() {
  local used x i
  used=$( (ip -4 -o addr show; ip -4 route show) | grep -oE '10\.77\.[0-9]+\.' | sort -u || true)
  for i in $(seq 0 255); do
    x=$(( ($$ + i) % 256 ))
    grep -qxF "10.77.$x." <<<"$used" || { echo "10.77.$x.0/24"; return; }
  done
  die "no free 10.77.X.0/24 for this run; pass --subnet" 77
}

pids=()
started=0
outcome="not started"
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  [ "$started" -eq 1 ] && remove_prefix "$prefix"
  if [ -n "${logs_dir:-}" ]; then
    # 77: nothing ran, so the logs hold nothing worth keeping.
    if { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; } && [ "$keep_logs" -eq 0 ]; then
      rm -rf "$logs_dir"
    else
      say "logs: $logs_dir"
    fi
  fi
  exit "$rc"
}

# Runs `ip` and turns a refusal into "this machine cannot".
net() { "$@" 2>"$logs_dir/ip.err" || die "'$*' failed: $(cat "$logs_dir/ip.err")" 77; }

# veth ROOT_NAME NAMESPACE ADDRESS: a veth pair, one end on the bridge, the
# other eth0 of NAMESPACE with ADDRESS.
veth() {
  local name="$1" ns="$2" address="$3"
  net ip netns add "$ns"
  net ip -n "$ns" link set lo up
  net ip link add "$name" type veth peer name "${name}x"
  net ip link set "${name}x" netns "$ns"
  net ip -n "$ns" link set "${name}x" name eth0
  net ip -n "$ns" addr add "$address/24" dev eth0
  net ip -n "$ns" link set eth0 up
  net ip link set "$name" master "$bridge" up
}

# shape ROOT_NAME NAMESPACE: tbf at --rate_mbit on egress of both ends.
shape() {
  local kbit burst
  kbit=$(awk -v r="$rate_mbit" 'BEGIN { printf "%d", r * 1000 }')
  # 20 ms of the rate, at least 16 KiB (less would throttle below the rate).
  burst=$(awk -v k="$kbit" 'BEGIN { b = k * 1000 / 8 * 0.02; printf "%d", b < 16384 ? 16384 : b }')
  net tc qdisc add dev "$1" root tbf rate "${kbit}kbit" burst "$burst" latency 100ms
  net tc -n "$2" qdisc add dev eth0 root tbf rate "${kbit}kbit" burst "$burst" latency 100ms
}

make_network() {
  subnet="${subnet:-$(pick_subnet)}"
  base="${subnet%.0/24}"
  bridge="$prefix-br"
  coordinator_ip="$base.2"
  started=1
  net ip link add "$bridge" type bridge
  ip link set "$bridge" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 2>/dev/null || true
  net ip addr add "$base.1/24" dev "$bridge"
  net ip link set "$bridge" up
  veth "$prefix-c" "$prefix-coord" "$coordinator_ip"
  local i
  for i in $(seq 1 "$workers"); do
    veth "$prefix-w$i" "$prefix-w$i" "$base.$((10 + i))"
    shape "$prefix-w$i" "$prefix-w$i"
  done
}

start_coordinator() {
  local job_flag=()
  [ -n "$job" ] && job_flag=(--job="$job")
  ip netns exec "$prefix-coord" "$bin_dir/tributary-coordinator" "${job_flag[@]}" \
    --listen="$coordinator_ip:$GRPC_PORT" --http="$coordinator_ip:$HTTP_PORT" >"$logs_dir/coordinator.log" 2>&1 &
  coordinator_pid=$!
  pids+=("$coordinator_pid")
  status_url="http://$coordinator_ip:$HTTP_PORT"
  until curl -sf --noproxy "*" --max-time 2 -o /dev/null "$status_url/healthz"; do
    kill -0 "$coordinator_pid" 2>/dev/null || { tail -5 "$logs_dir/coordinator.log" >&2; die "the coordinator failed to start"; }
    [ "$(date +%s)" -lt "$deadline" ] || die "the coordinator did not serve $status_url within --duration_s"
    sleep 0.2
  done
}

start_workers() {
  local i ns
  worker_pids=()
  proxy_pids=()
  for i in $(seq 1 "$workers"); do
    ns="$prefix-w$i"
    ip netns exec "$ns" "$bin_dir/tributary-faultproxy" --target="$coordinator_ip:$GRPC_PORT" \
      --allow_target_cidr="$subnet" --listen_port="$PROXY_PORT" --latency_ms="$latency_ms" \
      --jitter_ms="$jitter_ms" --stall_probability="$stall_probability" --stall_max_ms="$stall_max_ms" \
      --reset_probability="$reset_probability" --seed="$i" --duration_s="$((duration_s + 60))" \
      >"$logs_dir/proxy-w$i.log" 2>&1 &
    proxy_pids+=("$!")
    pids+=("$!")
  done
  for i in $(seq 1 "$workers"); do
    until grep -q "forwarding" "$logs_dir/proxy-w$i.log"; do
      grep -q "tributary-faultproxy:" "$logs_dir/proxy-w$i.log" && die "proxy of w$i: $(cat "$logs_dir/proxy-w$i.log")"
      [ "$(date +%s)" -lt "$deadline" ] || die "the proxy of w$i did not start"
      sleep 0.1
    done
    ip netns exec "$prefix-w$i" "$bin_dir/tributary-worker" --coordinator="127.0.0.1:$PROXY_PORT" --name="w$i" \
      --threads="$worker_threads" "${worker_extra[@]}" >"$logs_dir/worker-w$i.log" 2>&1 &
    worker_pids+=("$!")
    pids+=("$!")
  done
}

# Reads /api/status into status.json; prints "STATE VERSION DONE TOTAL EVAL_LOSS".
poll_status() {
  curl -sf --noproxy "*" --max-time 5 -o "$logs_dir/status.json.new" "$status_url/api/status" || return 1
  mv "$logs_dir/status.json.new" "$logs_dir/status.json"
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
loss = "n/a" if s["eval_loss"] is None else "%.4f" % s["eval_loss"]
print(s["state"], s["model_version"], s["shards"]["done"], s["shards"]["total"], loss)' "$logs_dir/status.json"
}

# Whether any worker is still running.
workers_alive() {
  local pid
  for pid in "${worker_pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

# Waits for the job to be done, the coordinator to die, every worker to
# exit, or the deadline.
wait_for_job() {
  local line="" last_print=0 now workers_gone=""
  outcome="timeout"
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if ! kill -0 "$coordinator_pid" 2>/dev/null; then
      outcome="coordinator_failed"
      return
    fi
    line=$(poll_status) || line=""
    now=$(date +%s)
    if [ -n "$line" ] && { [ $((now - last_print)) -ge 10 ] || [ "${line%% *}" = "done" ]; }; then
      read -r state version shards_done shards_total eval_loss <<<"$line"
      say "$((now - start_time)) s: $state, model_version $version, shards $shards_done/$shards_total, eval_loss $eval_loss"
      last_print=$now
    fi
    if [ "${line%% *}" = "done" ]; then
      outcome="done"
      return
    fi
    # Workers leave when the last shard is applied; the run is done only
    # after its final evaluation, so give that a minute.
    if ! workers_alive; then
      workers_gone=${workers_gone:-$now}
      if [ $((now - workers_gone)) -ge 60 ]; then
        outcome="workers_exited"
        return
      fi
    fi
    sleep 1
  done
}

# collect_workers SECONDS: gives each worker up to SECONDS (within the
# deadline) to see the job end and leave; records exit codes, "running" for
# one that did not.
collect_workers() {
  local pid until_s=$(( $(date +%s) + $1 ))
  [ "$until_s" -le "$deadline" ] || until_s=$deadline
  worker_exits=()
  for pid in "${worker_pids[@]}"; do
    reap "$pid" "$until_s"
    worker_exits+=("$reaped")
  done
}

# reap PID UNTIL_S: waits for a child until the time UNTIL_S (epoch
# seconds); sets `reaped` to its exit code, or "running". (Not a command
# substitution: a subshell cannot wait for this shell's children.)
reap() {
  while kill -0 "$1" 2>/dev/null && [ "$(date +%s)" -lt "$2" ]; do sleep 0.2; done
  reaped="running"
  kill -0 "$1" 2>/dev/null && return
  reaped=0
  wait "$1" || reaped=$?
}

# Stops the proxies, which log what they forwarded and the faults they drew.
stop_proxies() {
  local pid until_s=$(( $(date +%s) + 5 ))
  for pid in "${proxy_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${proxy_pids[@]}"; do reap "$pid" "$until_s"; done
}

# Link counters (bytes) of every worker and of the coordinator, as JSON.
# The root-side veth's tx is what went into the namespace, rx what came out;
# a worker's tbf qdiscs count what they passed (and dropped) each way.
read_links() {
  local i name
  {
    echo "{\"coordinator\": $(link_json "$prefix-c" "$prefix-coord" coordinator "" 0), \"workers\": ["
    for i in $(seq 1 "$workers"); do
      name="$prefix-w$i"
      [ "$i" -gt 1 ] && echo ","
      link_json "$name" "$name" "w$i" "${worker_exits[$((i - 1))]:-running}" 1
    done
    echo "]}"
  } >"$logs_dir/links.json"
}

# link_json VETH NAMESPACE NAME EXIT_CODE SHAPED: one link's counters.
link_json() {
  local veth="$1" ns="$2" name="$3" exit_code="$4" into out lo tbf_into=null tbf_out=null
  into=$(cat "/sys/class/net/$veth/statistics/tx_bytes")
  out=$(cat "/sys/class/net/$veth/statistics/rx_bytes")
  lo=$(ip netns exec "$ns" cat /sys/class/net/lo/statistics/rx_bytes)
  if [ "$5" -eq 1 ]; then
    tbf_into=$(tc -s qdisc show dev "$veth" | tbf_json)
    tbf_out=$(tc -n "$ns" -s qdisc show dev eth0 | tbf_json)
  fi
  printf '{"name": "%s", "namespace": "%s", "veth": "%s", "into_namespace_bytes": %s, "out_of_namespace_bytes": %s, "namespace_loopback_bytes": %s, "tbf_into": %s, "tbf_out": %s, "exit_code": "%s"}' \
    "$name" "$ns" "$veth" "$into" "$out" "$lo" "$tbf_into" "$tbf_out" "$exit_code"
}

# `tc -s qdisc show` on stdin: the tbf's {"bytes": sent, "dropped_packets": N}.
tbf_json() {
  awk '/^qdisc tbf/ { tbf = 1; next }
       tbf && $1 == "Sent" { sub(",", "", $7); printf "{\"bytes\": %s, \"dropped_packets\": %s}", $2, $7; exit }'
}

read_ledger() {
  curl -sf --noproxy "*" --max-time 10 -o "$logs_dir/ledger.json" "$status_url/api/ledger" || rm -f "$logs_dir/ledger.json"
}

# Stops the coordinator (SIGTERM: it writes its final log line and exits 0).
stop_coordinator() {
  kill -TERM "$coordinator_pid" 2>/dev/null || true
  reap "$coordinator_pid" $(( $(date +%s) + 30 ))
  coordinator_exit=$reaped
}

# Prints the summary and writes it as JSON; exits 0 when the run passed.
report() {
  python3 - "$logs_dir" "$outcome" "$coordinator_exit" "$(( $(date +%s) - start_time ))" "$summary" \
    workers="$workers" job="${job:-built-in default}" rate_mbit="$rate_mbit" latency_ms="$latency_ms" \
    jitter_ms="$jitter_ms" stall_probability="$stall_probability" stall_max_ms="$stall_max_ms" \
    reset_probability="$reset_probability" duration_s="$duration_s" worker_threads="$worker_threads" \
    prefix="$prefix" subnet="$subnet" coordinator_address="$coordinator_ip:$GRPC_PORT" <<'PYTHON'
import json
import os
import re
import sys

logs, outcome, coordinator_exit, elapsed_s, summary_path = sys.argv[1:6]


def number_or_text(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


settings = {k: number_or_text(v) for k, v in (arg.split("=", 1) for arg in sys.argv[6:])}


def load(name):
    path = os.path.join(logs, name)
    return json.load(open(path)) if os.path.exists(path) else None


status = load("status.json")
ledger = load("ledger.json")
links = load("links.json")


def audit(ledger):
    if ledger is None:
        return None
    items = ledger.get("items", [])
    seen = set()
    duplicates = 0
    for item in items:
        key = (item.get("epoch"), item.get("shard"))
        duplicates += key in seen
        seen.add(key)
    # A run its time budget ended leaves work undone (never leased, or
    # released at the end); what was done, was done once.
    timed = bool(status) and (status.get("budget") or {}).get("ended_by") == "time"
    not_done = sum(item.get("state") != "done" for item in items)
    not_once = sum(item.get("completions") != (1 if item.get("state") == "done" else 0) for item in items)
    total = status["shards"]["total"] if status else None
    return {"items": len(items), "not_done": not_done, "completions_not_one": not_once,
            "duplicates": duplicates, "ended_by_time": timed,
            "ok": len(items) == total and (timed or not_done == 0) and not_once == 0 and duplicates == 0}


def fmt(value, spec="{}"):
    return "n/a" if value is None else spec.format(value)


def mib(n):
    return "{:.2f} MiB".format(n / 2**20)


def proxy_stats(name):
    """What the worker's proxy logged when it stopped, or None."""
    path = os.path.join(logs, "proxy-{}.log".format(name))
    text = open(path).read() if os.path.exists(path) else ""
    match = re.search(r"done: (\d+) connections, (\d+) bytes, (\d+) stalls, (\d+) resets", text)
    if not match:
        return None
    return dict(zip(["connections", "bytes", "stalls", "resets"], map(int, match.groups())))


if links:
    for link in links["workers"]:
        link["proxy"] = proxy_stats(link["name"])
ledger_audit = audit(ledger)
done = status is not None and status.get("state") == "done"
shards_ok = done and (status["shards"]["done"] == status["shards"]["total"]
                     or (status.get("budget") or {}).get("ended_by") == "time")
passed = (outcome == "done" and shards_ok and coordinator_exit == "0"
          and (ledger_audit is None or ledger_audit["ok"]))
summary = {"passed": passed, "outcome": outcome, "elapsed_s": int(elapsed_s),
           "coordinator_exit": coordinator_exit, "settings": settings, "status": status,
           "ledger_audit": ledger_audit, "links": links}
if summary_path:
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=2)

print("netns-cluster: ---- summary ({}, {} s) ----".format(outcome, elapsed_s))
print("link: {rate_mbit} Mbit/s each way per worker, {latency_ms} ms one way (+ up to {jitter_ms} ms jitter), "
      "stalls p={stall_probability} up to {stall_max_ms} ms".format(**settings))
if status is None:
    print("status: never read")
else:
    print("job {!r}: state {}, model_version {}, shards {}/{}, eval_loss {}, eval_accuracy {}".format(
        status["job"], status["state"], status["model_version"], status["shards"]["done"],
        status["shards"]["total"], fmt(status.get("eval_loss"), "{:.4f}"),
        fmt(status.get("eval_accuracy"), "{:.4f}")))
    print("utilization (run): {}".format(fmt(status.get("utilization"), "{:.3f}")))
    budget_keys = ["compute_s", "encode_s", "download_s", "upload_s", "wait_task_s", "wait_apply_s", "other_s"]
    print("{:<8} {:<7} {:>6} {:>11}  {}".format("worker", "state", "tasks", "utilization", "time budget (s)"))
    for w in status["workers"]:
        budget = w.get("time_budget")
        budget_text = "n/a" if not budget else " ".join(
            "{}={}".format(k[:-2], fmt(budget.get(k), "{:.1f}")) for k in budget_keys)
        print("{:<8} {:<7} {:>6} {:>11}  {}".format(w["name"], w["state"], w["tasks_done"],
                                                 fmt(w.get("utilization"), "{:.3f}"), budget_text))
if ledger_audit is None:
    print("ledger audit: n/a (/api/ledger not read)")
else:
    print("ledger audit: {items} items, {not_done} not done, {completions_not_one} with a wrong completion count "
          "(done once, else never), {duplicates} duplicates{timed}: {verdict}".format(
              verdict="ok" if ledger_audit["ok"] else "FAILED",
              timed=" (ended by its time budget)" if ledger_audit["ended_by_time"] else "", **ledger_audit))
if links:
    for link in [links["coordinator"]] + links["workers"]:
        print("veth {:<10} {:<12} into namespace {:>12}, out {:>12}; its loopback {}{}".format(
            link["veth"], link["name"], mib(link["into_namespace_bytes"]), mib(link["out_of_namespace_bytes"]),
            mib(link["namespace_loopback_bytes"]),
            "" if link["name"] == "coordinator" else ", exit " + link["exit_code"]))
        if link.get("tbf_into") and link.get("tbf_out"):
            print("  its tbf qdiscs passed {} in, {} out; dropped {} packets in, {} out".format(
                mib(link["tbf_into"]["bytes"]), mib(link["tbf_out"]["bytes"]),
                link["tbf_into"]["dropped_packets"], link["tbf_out"]["dropped_packets"]))
        proxy = link.get("proxy")
        if proxy:
            print("  its proxy: {connections} connection(s), {stalls} stall(s), {resets} reset(s)".format(**proxy))
if status is not None:
    b = status["bytes"]
    print("coordinator counted: sent_wire {}, received_wire {}".format(mib(b["sent_wire"]), mib(b["received_wire"])))
print("netns-cluster: {}".format("PASSED" if passed else "FAILED"))
sys.exit(0 if passed else 1)
PYTHON
}

main() {
  parse_args "$@"
  check_prerequisites
  trap cleanup EXIT
  trap 'say "interrupted"; exit 130' INT
  trap 'say "terminated"; exit 143' TERM
  if [ -n "$logs" ]; then
    mkdir -p "$logs"
    logs_dir="$(cd "$logs" && pwd)"
    keep_logs=1
  else
    logs_dir=$(mktemp -d "/tmp/tributary-netns-$prefix.XXXXXX")
  fi
  start_time=$(date +%s)
  deadline=$((start_time + duration_s))
  remove_stale
  make_network
  say "network $subnet: coordinator $coordinator_ip (netns $prefix-coord), $workers worker(s) at $rate_mbit Mbit/s, $latency_ms ms one way (netns $prefix-w1..$workers)"
  start_coordinator
  say "status page: $status_url/ (from this machine's root namespace)"
  start_workers
  wait_for_job
  coordinator_exit="not stopped"
  if [ "$outcome" = "done" ]; then
    collect_workers 20
    poll_status >/dev/null || true  # The final status, the workers gone.
    stop_proxies
    read_links
    read_ledger
    stop_coordinator
  else
    case "$outcome" in
      timeout) say "the job was not done within --duration_s=$duration_s; stopping everything" ;;
      workers_exited) say "every worker exited before the job was done (logs: worker-w*.log)" ;;
      *) say "the coordinator exited before the job was done; the end of its log:"
         tail -5 "$logs_dir/coordinator.log" >&2 || true ;;
    esac
    collect_workers 0
    stop_proxies
    read_links
    read_ledger
    reap "$coordinator_pid" 0
    [ "$reaped" = running ] || coordinator_exit=$reaped
  fi
  report
}

main "$@"
