#!/usr/bin/env bash
# Installs what building, running and testing Tributary needs, from Debian 12
# packages only. Safe to run again: it installs only what is missing.
#
#   tools/install-deps.sh [--hardening] [--containers] [--test]   build, run, test
#   tools/install-deps.sh --build      only what building the binaries needs
#   tools/install-deps.sh --runtime    only what running them needs
#
# --hardening adds clang and its sanitizer and libFuzzer runtimes, which only
# the test path needs (tools/check-hardening.sh, tools/fuzz.sh); --containers
# adds podman, runc, catatonit (a pod's pause process) and debootstrap for
# deploy/test-image.sh. Running a coordinator or a worker never pulls in
# either. --build and --runtime are the two stages of deploy/Dockerfile:
# compilers and headers in one, shared libraries and the example jobs' data
# in the other. --test adds the real systems the end-to-end tests drive
# (tools/test.sh): Chromium for the dashboard, Prometheus and promtool for
# /metrics, PyTorch for the reference forward pass that checks
# tributary-export --format=hf, tmux for the worker's status line, etcd for
# the coordinators' failover, nginx for the blob cache in front of them.
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libeigen3-dev libssl-dev zlib1g-dev nlohmann-json3-dev
  libcpp-httplib-dev  # the worker's --blob_url client (worker/http_blob_source.cc)
)
# What the binaries link (ldd build/bin/tributary-*), for a machine that
# only runs them; the -dev packages above depend on the same libraries.
runtime_packages=(libgrpc++1.51 libprotobuf32 libabsl20220623 libssl3 zlib1g libgomp1 libcpp-httplib0.11)
# The example jobs' data (deploy/jobs/): read by the coordinator only.
data_packages=(dataset-fashion-mnist fortunes)
test_packages=(
  curl libgtest-dev libgmock-dev libbenchmark-dev openssl
  iproute2 python3  # deploy/netns-cluster.sh and its test: ip, tc; the summary's JSON
  python3-yaml      # tests/deploy: the compose file and Kubernetes manifests
)

usage() {
  echo "usage: tools/install-deps.sh [--hardening] [--containers] [--test] | --build | --runtime" >&2
  exit 2
}

packages=()
case "${1:-}" in
  --build) [ $# -eq 1 ] || usage; packages=("${build_packages[@]}") ;;
  --runtime) [ $# -eq 1 ] || usage; packages=("${runtime_packages[@]}" "${data_packages[@]}") ;;
  *)
    packages=("${build_packages[@]}" "${data_packages[@]}" "${test_packages[@]}")
    for arg in "$@"; do
      case "$arg" in
        --hardening) packages+=(clang-14 libclang-rt-14-dev) ;;
        --containers) packages+=(podman runc catatonit debootstrap) ;;
        --test) packages+=(chromium fonts-dejavu-core prometheus python3-torch tmux etcd-server nginx-light) ;;
        *) usage ;;
      esac
    done
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tributary: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts the packaged Prometheus as a service; the tests start
  # their own on 127.0.0.1, so a machine that only runs them keeps none.
  # The same for etcd and nginx.
  if [ -d /run/systemd/system ]; then
    for service in prometheus etcd nginx; do
      [[ " ${missing[*]} " == *" $service"* ]] && $sudo_cmd systemctl disable --now "$service" >/dev/null 2>&1 || true
    done
  fi
fi
