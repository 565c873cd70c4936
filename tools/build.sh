#!/usr/bin/env bash
# Configures and builds into build/ (Release, ccache when present).
#
# The binaries are tuned for this machine's CPU (-march=native: AVX2/AVX-512
# and FMA make the training step about 3x faster than the x86-64 baseline),
# since a worker builds where it runs. TRIBUTARY_NATIVE=OFF builds portable
# binaries, for packaging. TRIBUTARY_TARGETS="tributary-coordinator ..."
# builds only those targets (deploy/Dockerfile: the binaries, not the tests);
# further arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTRIBUTARY_NATIVE="${TRIBUTARY_NATIVE:-ON}" "$@" >/dev/null
targets=()
for target in ${TRIBUTARY_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build build -j"$jobs" "${targets[@]}"
