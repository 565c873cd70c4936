#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, docs/TESTING.md) in build-asan/
# and runs each for N seconds over a copy of its seed corpus, so the
# committed corpus never grows.
#
#   tools/fuzz.sh [--seconds=N] [TARGET...]   TARGETs: codec job_spec checkpoint upload
#   tools/fuzz.sh --write_seeds               regenerates tests/fuzz/corpus/
#
# Prints the executions each target reached. On a crash it stops, prints the
# path of the input that did it (replay: build-asan/bin/TARGET_fuzzer PATH)
# and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: $0 [--seconds=N] [--write_seeds] [codec|job_spec|checkpoint|upload]..."
all=(codec job_spec checkpoint upload)
seconds=60
write_seeds=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#--seconds=}" ;;
    --write_seeds) write_seeds=1 ;;
    codec|job_spec|checkpoint|upload) targets+=("$arg") ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

tools/install-deps.sh --hardening
if [ "$write_seeds" = 1 ]; then
  tools/build-sanitized.sh asan fuzz_write_seeds
  rm -rf tests/fuzz/corpus
  build-asan/bin/fuzz_write_seeds tests/fuzz/corpus
  find tests/fuzz/corpus -type f | sort
  exit 0
fi
tools/build-sanitized.sh asan "${targets[@]/%/_fuzzer}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="build-asan/fuzz-crashes"
mkdir -p "$artifacts"
for target in "${targets[@]}"; do
  cp -r "tests/fuzz/corpus/$target" "$work/$target"
  log="$work/$target.log"
  # -rss_limit_mb: a parser that allocates what its input claims is a bug.
  if ! "build-asan/bin/${target}_fuzzer" "$work/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$target-" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED; input: $(grep -o "$artifacts/$target-[a-z]*-[0-9a-f]*" "$log" | tail -n 1)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  corpus=$(ls "$work/$target" | wc -l)
  echo "fuzz: $target ok: $runs executions in ${seconds}s ($rate/s), corpus $corpus inputs"
done
