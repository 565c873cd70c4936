#!/usr/bin/env bash
# The checks after the Release build's tests (docs/TESTING.md); tools/test.sh
# runs them, and so can anyone:
#   1. build-asan/ (clang, -Werror=thread-safety): the unit tests under
#      ASan+UBSan, and both binaries, so that all the code gets the lock check
#   2. build-tsan/: the tests with threads of their own under TSan
#   3. each fuzzer for FUZZ_SECONDS (default 60) over its seed corpus
# Each stage builds only what it runs and prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --hardening
jobs=$(nproc 2>/dev/null || echo 2)
tsan_tests=(service_test run_test delta_cache_test attack_test backoff_test payload_cache_test progress_test trainer_test serial_executor_test worker_simulation_test)

stage_start=$SECONDS
stage_done() {
  echo "hardening: $1 took $((SECONDS - stage_start)) s"
  stage_start=$SECONDS
}

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1
tools/build-sanitized.sh asan tributary_unit_tests tributary-coordinator tributary-worker
stage_done "ASan+UBSan build"
(cd build-asan && ctest -L unit --output-on-failure -j"$jobs" --timeout 900)
stage_done "ASan+UBSan unit tests"

tools/build-sanitized.sh tsan "${tsan_tests[@]}"
stage_done "TSan build"
# Accesses that Abseil and gRPC, built without TSan, make through
# intercepted calls (memcpy) are theirs to answer for, not ours.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1
for test in "${tsan_tests[@]}"; do
  echo "hardening: TSan $test"
  "build-tsan/bin/$test" --gtest_brief=1
done
stage_done "TSan tests"

tools/fuzz.sh --seconds="${FUZZ_SECONDS:-60}"
stage_done "fuzzers"
