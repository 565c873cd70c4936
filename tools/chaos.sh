#!/bin/bash
# The long chaos test: ChaosTest.Long (tests/e2e/fault_test.cc) N times with
# seeds 1000, 1001, ...: 4 workers behind the fault proxy, workers and the
# coordinator SIGKILLed at random and restarted, a torn checkpoint planted,
# each run audited (every shard applied once per epoch, finite weights, final
# loss within 5 % of a fault-free run). Prints how many runs passed.
#
#   tools/chaos.sh [--runs=N] [--build=DIR]     (defaults: 10 runs, build/)
set -euo pipefail
runs=10
build=build
for arg in "$@"; do
  case "$arg" in
    --runs=*) runs="${arg#--runs=}" ;;
    --build=*) build="${arg#--build=}" ;;
    *) echo "usage: $0 [--runs=N] [--build=DIR]" >&2; exit 2 ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then echo "--runs: a positive number, got \"$runs\"" >&2; exit 2; fi
if [[ ! -x "$build/bin/fault_test" ]]; then
  echo "$build/bin/fault_test not found: build first (cmake -S . -B $build && cmake --build $build -j2)" >&2
  exit 2
fi
TRIBUTARY_CHAOS_RUNS="$runs" "$build/bin/fault_test" --gtest_filter=ChaosTest.Long 2>&1 |
  grep -E "^chaos|FAILED|PASSED|Failure" || true
