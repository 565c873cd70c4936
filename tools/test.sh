#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test; then the
# sanitizer, thread-safety and fuzzing stages (tools/check-hardening.sh) and
# the container image, built and run with podman (deploy/test-image.sh; it
# says SKIP where podman cannot run).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test --containers
tools/build.sh
(cd build && ctest --output-on-failure -j"$(nproc 2>/dev/null || echo 2)" --timeout 900)
tools/check-hardening.sh
deploy/test-image.sh
