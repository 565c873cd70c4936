#!/usr/bin/env bash
# Configures and builds a clang build with sanitizers, only the given targets
# (docs/TESTING.md):
#
#   tools/build-sanitized.sh asan TARGET...   build-asan/: ASan+UBSan, libFuzzer
#                                             coverage, -Werror=thread-safety
#   tools/build-sanitized.sh tsan TARGET...   build-tsan/: TSan
#
# -O1 keeps the sanitized tests quick to build and run; line tables give
# reports file:line stacks. NDEBUG stays off, so asserts check too.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: $0 asan|tsan TARGET...}"
shift
case "$kind" in
  asan) options=(-DTRIBUTARY_SANITIZE=address,undefined -DTRIBUTARY_FUZZ=ON) ;;
  tsan) options=(-DTRIBUTARY_SANITIZE=thread) ;;
  *) echo "$0: unknown build $kind (asan or tsan)" >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "build-$kind" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Sanitized \
  -DCMAKE_CXX_FLAGS_SANITIZED="-O1 -gline-tables-only" "${options[@]}" >/dev/null
cmake --build "build-$kind" -j"$jobs" --target "$@"
